-- A balance per band, never negative (examples/http-api moves money
-- between bands), and a log of the transfers.
ALTER TABLE bands ADD COLUMN balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0);
CREATE TABLE transfers (
  id        bigserial PRIMARY KEY,
  from_band bigint NOT NULL REFERENCES bands,
  to_band   bigint NOT NULL REFERENCES bands,
  amount    bigint NOT NULL CHECK (amount > 0),
  status    text NOT NULL CHECK (status IN ('done', 'declined')),
  at        timestamptz NOT NULL DEFAULT now()
);
