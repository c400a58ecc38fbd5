// InputLog and EventStore in SQL (PGlite or PostgreSQL, migration 002). One row per input; events are
// appended in batches (one statement per batch through unnest), so the event log costs no round trip per
// tick. Rows go with their session (foreign keys, ON DELETE CASCADE).
import type { EventStore, InputKind, InputLog, LoggedInput, StoredFrame } from '../../ports/run-journal.js'
import { trimToChars } from '../memory/memory-run-journal.js'
import type { SqlClient } from './sql-client.js'

export class SqlInputLog implements InputLog {
  readonly #db: SqlClient

  constructor (db: SqlClient) { this.#db = db }

  async append (userId: string, sessionId: string, input: LoggedInput): Promise<void> {
    await this.#db.query('INSERT INTO run_inputs (user_id, session_id, seq, step, kind, payload) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
      [userId, sessionId, input.seq, input.step, input.kind, JSON.stringify(input.payload ?? null)])
  }

  async list (userId: string, sessionId: string): Promise<LoggedInput[]> {
    const rows = await this.#db.query<{ seq: number, step: number, kind: InputKind, payload: string }>(
      'SELECT seq, step, kind, payload::text AS payload FROM run_inputs WHERE user_id = $1 AND session_id = $2 ORDER BY seq', [userId, sessionId])
    return rows.map((r) => ({ seq: r.seq, step: r.step, kind: r.kind, payload: JSON.parse(r.payload) as unknown }))
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT coalesce(max(seq), 0)::int AS n FROM run_inputs WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
    return row.n
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM run_inputs WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
  }

  async deleteFinishedBefore (before: number, since?: number): Promise<number> {
    return await deleteFinished(this.#db, 'run_inputs', before, since)
  }
}

export class SqlEventStore implements EventStore {
  readonly #db: SqlClient

  constructor (db: SqlClient) { this.#db = db }

  async append (userId: string, sessionId: string, frames: readonly StoredFrame[]): Promise<void> {
    if (frames.length === 0) return
    await this.#db.query(
      'INSERT INTO run_events (user_id, session_id, seq, frame) SELECT $1, $2, s, f FROM unnest($3::bigint[], $4::text[]) AS u (s, f)',
      [userId, sessionId, frames.map((f) => f.seq), frames.map((f) => f.frame)])
  }

  async read (userId: string, sessionId: string, afterSeq: number, limit: number, maxChars: number): Promise<string[]> {
    const rows = await this.#db.query<{ frame: string }>(
      'SELECT frame FROM run_events WHERE user_id = $1 AND session_id = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [userId, sessionId, afterSeq, limit])
    return trimToChars(rows.map((r) => r.frame), maxChars)
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT coalesce(max(seq), 0)::float8 AS n FROM run_events WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
    return row.n
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM run_events WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
  }

  async deleteFinishedBefore (before: number, since?: number): Promise<number> {
    return await deleteFinished(this.#db, 'run_events', before, since)
  }
}

/**
 * The retention sweep of one log table: the logs of runs stored as finished in [since, before). With `since`
 * (every sweep but a process's first) it reads only those runs, through run_results_by_finished
 * (migration 003), and their rows through the log's primary key.
 */
async function deleteFinished (db: SqlClient, table: 'run_inputs' | 'run_events', before: number, since: number | undefined): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `WITH gone AS (
      DELETE FROM ${table} t USING run_results r
      WHERE t.user_id = r.user_id AND t.session_id = r.session_id AND r.finished_at < $1${since !== undefined ? ' AND r.finished_at >= $2' : ''}
      RETURNING t.user_id, t.session_id)
    SELECT count(DISTINCT (user_id, session_id))::int AS n FROM gone`,
    [new Date(before).toISOString(), ...(since !== undefined ? [new Date(since).toISOString()] : [])])
  return row.n
}
