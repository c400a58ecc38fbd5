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

-- The guarded insert of SessionStore.insert in one round trip: under a per-user advisory lock (held to the
-- end of the calling statement's transaction), refuse a duplicate id, an active session past max_active or
-- a creation past max_created since window_start; otherwise insert the session and log its creation.
-- VOLATILE, so each query inside sees what committed before the lock was granted.
CREATE FUNCTION insert_session_guarded (
  p_user_id text, p_session_id text, p_symbols text[], p_start_date date, p_end_date date, p_timeframe text,
  p_initial_capital numeric, p_commission_per_share numeric, p_min_commission_per_order numeric,
  p_slippage_bps double precision, p_allow_short boolean, p_volume_participation double precision,
  p_fill_policy_version text, p_state text, p_created_at timestamptz, p_updated_at timestamptz,
  p_expires_at timestamptz, p_metadata jsonb, p_estimated_ticks bigint, p_progress double precision,
  p_error_message text, p_max_active bigint, p_max_created bigint, p_window_start timestamptz,
  p_lock_namespace integer)
RETURNS TABLE (outcome text, current_count integer, frees_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_active integer;
  v_created integer;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_user_id));
  IF EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = p_user_id AND s.session_id = p_session_id) THEN
    RETURN QUERY SELECT 'duplicate_id'::text, NULL::integer, NULL::timestamptz;
    RETURN;
  END IF;
  IF p_state IN ('initializing', 'ready', 'running', 'paused') THEN
    SELECT count(*) INTO v_active FROM sessions s
      WHERE s.user_id = p_user_id AND s.state IN ('initializing', 'ready', 'running', 'paused');
    IF v_active >= p_max_active THEN
      RETURN QUERY SELECT 'concurrent_sessions'::text, v_active, NULL::timestamptz;
      RETURN;
    END IF;
  END IF;
  SELECT count(*) INTO v_created FROM creation_log c WHERE c.user_id = p_user_id AND c.created_at >= p_window_start;
  IF v_created >= p_max_created THEN
    -- The window frees a slot once enough of the oldest creations have aged out of it.
    RETURN QUERY SELECT 'sessions_per_hour'::text, v_created, (
      SELECT c.created_at FROM creation_log c WHERE c.user_id = p_user_id AND c.created_at >= p_window_start
      ORDER BY c.created_at OFFSET greatest(0, v_created - p_max_created) LIMIT 1);
    RETURN;
  END IF;
  INSERT INTO sessions (user_id, session_id, symbols, start_date, end_date, timeframe, initial_capital,
    commission_per_share, min_commission_per_order, slippage_bps, allow_short, volume_participation,
    fill_policy_version, state, created_at, updated_at, expires_at, metadata, estimated_ticks, progress, error_message)
  VALUES (p_user_id, p_session_id, p_symbols, p_start_date, p_end_date, p_timeframe, p_initial_capital,
    p_commission_per_share, p_min_commission_per_order, p_slippage_bps, p_allow_short, p_volume_participation,
    p_fill_policy_version, p_state, p_created_at, p_updated_at, p_expires_at, p_metadata, p_estimated_ticks,
    p_progress, p_error_message);
  INSERT INTO creation_log (user_id, session_id, created_at) VALUES (p_user_id, p_session_id, p_created_at);
  RETURN QUERY SELECT 'ok'::text, NULL::integer, NULL::timestamptz;
END
$$;
