-- Schema 1: sessions, the creation log behind the hourly quota, idempotency records, finished runs.
-- Money is numeric (exact decimals, 8 places as in the API), instants timestamptz, JSON jsonb. Ids use the
-- "C" collation so that listings order session ids byte-wise, as the API's cursors do.

CREATE TABLE sessions (
  user_id                  text COLLATE "C" NOT NULL,
  session_id               text COLLATE "C" NOT NULL,
  symbols                  text[] NOT NULL,
  start_date               date NOT NULL,
  end_date                 date NOT NULL,
  timeframe                text NOT NULL,
  initial_capital          numeric(38, 8) NOT NULL,
  commission_per_share     numeric(38, 8) NOT NULL,
  min_commission_per_order numeric(38, 8) NOT NULL,
  slippage_bps             double precision NOT NULL,
  allow_short              boolean NOT NULL,
  volume_participation     double precision,
  fill_policy_version      text NOT NULL,
  state                    text NOT NULL
                           CHECK (state IN ('initializing', 'ready', 'running', 'paused', 'completed', 'error')),
  created_at               timestamptz NOT NULL,
  updated_at               timestamptz NOT NULL,
  expires_at               timestamptz,
  metadata                 jsonb NOT NULL,
  estimated_ticks          bigint NOT NULL,
  progress                 double precision NOT NULL,
  error_message            text,
  PRIMARY KEY (user_id, session_id)
);
-- GET /sessions: a user's sessions newest first, keyset-paged on (created_at, session_id).
CREATE INDEX sessions_by_user_newest ON sessions (user_id, created_at DESC, session_id DESC);
-- The plan's concurrent-session limit and /me: active sessions per user.
CREATE INDEX sessions_active_by_user ON sessions (user_id)
  WHERE state IN ('initializing', 'ready', 'running', 'paused');
-- The expiry sweep.
CREATE INDEX sessions_by_expiry ON sessions (expires_at) WHERE expires_at IS NOT NULL;

-- Every creation, kept after the session is deleted, so that deleting does not refund the hourly quota.
CREATE TABLE creation_log (
  user_id    text COLLATE "C" NOT NULL,
  session_id text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX creation_log_by_user ON creation_log (user_id, created_at);
CREATE INDEX creation_log_by_time ON creation_log (created_at);

-- Idempotency keys: a claim (response null) while the request runs, then its recorded response.
CREATE TABLE idempotency (
  user_id     text COLLATE "C" NOT NULL,
  key         text COLLATE "C" NOT NULL,
  fingerprint text NOT NULL,
  claim_token text NOT NULL,
  response    jsonb,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

-- Finished runs: what GET …/results, …/account and …/orders answer. Deleting the session deletes its run.
CREATE TABLE run_results (
  user_id      text COLLATE "C" NOT NULL,
  session_id   text COLLATE "C" NOT NULL,
  state        text NOT NULL CHECK (state IN ('completed', 'error')),
  final_equity numeric(38, 8) NOT NULL,
  results      jsonb,
  account      jsonb NOT NULL,
  orders       jsonb NOT NULL,
  finished_at  timestamptz NOT NULL,
  PRIMARY KEY (user_id, session_id),
  FOREIGN KEY (user_id, session_id) REFERENCES sessions (user_id, session_id) ON DELETE CASCADE
);
