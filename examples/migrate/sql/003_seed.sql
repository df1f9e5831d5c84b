-- A few bands to start with.
INSERT INTO bands (name, popularity, balance) VALUES
  ('Pythonistas', 1000, 1000),
  ('Rustaceans', 800, 1000),
  ('C-Sharps', 600, 1000);
