-- Schema 4: a run's events are stored one row per appended batch instead of one row per frame. The frames of
-- a batch (consecutive seqs first_seq..last_seq) are joined by a newline, which a JSON frame never contains
-- raw. Appending a batch is one small row, and reading a page is a few rows: PGlite spent 52–98 µs of the
-- server's CPU per stored frame with one row per frame, 12–30 µs this way (docs/benchmarks.md §4), and a
-- rebuild reads every frame of its run.
CREATE TABLE run_event_batches (
  user_id    text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  first_seq  bigint NOT NULL,
  last_seq   bigint NOT NULL,
  frames     text NOT NULL,
  CHECK (first_seq >= 1 AND last_seq >= first_seq),
  -- A page after seq N reads the batches with last_seq > N, in order, stopping past N + limit.
  PRIMARY KEY (user_id, session_id, last_seq),
  FOREIGN KEY (user_id, session_id) REFERENCES sessions (user_id, session_id) ON DELETE CASCADE
);

-- The frames stored before this version become batches of one.
INSERT INTO run_event_batches (user_id, session_id, first_seq, last_seq, frames)
  SELECT user_id, session_id, seq, seq, frame FROM run_events;
DROP TABLE run_events;
