-- The table the other examples use too.
CREATE TABLE bands (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  popularity integer NOT NULL DEFAULT 0
);
