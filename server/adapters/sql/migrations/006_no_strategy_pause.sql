-- Schema 6: a flow-controlled run that no strategy drives pauses itself (pause_reason no_strategy) and gives its
-- concurrent-session slot up, so an abandoned run does not block the next one: the guarded insert no longer
-- counts such a session. Resuming it takes a slot again (SqlSessionStore.updateTakingSlot, same lock).

ALTER TABLE sessions DROP CONSTRAINT sessions_pause_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_pause_reason_check
  CHECK (pause_reason IN ('user', 'disconnect', 'server_restart', 'no_strategy'));

CREATE OR REPLACE FUNCTION insert_session_guarded (
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
      WHERE s.user_id = p_user_id AND s.state IN ('initializing', 'ready', 'running', 'paused')
        AND s.pause_reason IS DISTINCT FROM 'no_strategy';
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
