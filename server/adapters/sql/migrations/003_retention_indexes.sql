-- Schema 3: indexes for the retention sweeps, which run every minute and should read only what they delete
-- (without them each sweep reads the whole sessions or run_results table).
-- SESSION_RETENTION_DAYS (SqlSessionStore.listFinishedBefore): finished sessions by last change, oldest first.
CREATE INDEX sessions_finished_by_updated ON sessions (updated_at) WHERE state IN ('completed', 'error');
-- EVENT_LOG_RETENTION_HOURS (deleteFinishedBefore of the input log and the event store): finished runs by
-- when they finished; their logs are then found through the logs' primary keys (user_id, session_id, seq).
CREATE INDEX run_results_by_finished ON run_results (finished_at);
