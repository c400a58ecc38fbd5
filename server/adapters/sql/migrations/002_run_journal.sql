-- Schema 2: live runs survive a restart. A run is rebuilt from its input log (every input that can change
-- its output, with the step at which it applied) and checked against its event log (the exact frames that
-- were sent). Both belong to the session. Why a paused session is paused (server_restart after a restart).

ALTER TABLE sessions ADD COLUMN pause_reason text
  CHECK (pause_reason IN ('user', 'disconnect', 'server_restart'));

CREATE TABLE run_inputs (
  user_id    text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  seq        integer NOT NULL,
  step       integer NOT NULL,
  kind       text NOT NULL
             CHECK (kind IN ('start', 'orders', 'cancel', 'pause', 'resume', 'stop', 'strategy_error')),
  payload    jsonb NOT NULL,
  PRIMARY KEY (user_id, session_id, seq),
  FOREIGN KEY (user_id, session_id) REFERENCES sessions (user_id, session_id) ON DELETE CASCADE
);

-- Frames as text: a replay sends them byte for byte (jsonb would reorder keys).
CREATE TABLE run_events (
  user_id    text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  seq        bigint NOT NULL,
  frame      text NOT NULL,
  PRIMARY KEY (user_id, session_id, seq),
  FOREIGN KEY (user_id, session_id) REFERENCES sessions (user_id, session_id) ON DELETE CASCADE
);
