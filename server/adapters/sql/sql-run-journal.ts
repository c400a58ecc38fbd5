// InputLog and EventStore in SQL (PGlite or PostgreSQL, migrations 002 and 004). One row per input; events
// are appended in batches, one row per batch, so the event log costs no round trip per tick. Rows go with their session (foreign keys, ON DELETE CASCADE).
import { InputTakenError, type EventStore, type InputKind, type InputLog, type LoggedInput, type StoredFrame } from '../../ports/run-journal.js'
import { sqlState, type SqlClient } from './sql-client.js'

export class SqlInputLog implements InputLog {
  readonly #db: SqlClient

  constructor (db: SqlClient) { this.#db = db }

  async append (userId: string, sessionId: string, input: LoggedInput): Promise<void> {
    try {
      await this.#db.query('INSERT INTO run_inputs (user_id, session_id, seq, step, kind, payload) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
        [userId, sessionId, input.seq, input.step, input.kind, JSON.stringify(input.payload ?? null)])
    } catch (err) {
      // 23505: unique_violation on the primary key (user_id, session_id, seq).
      throw sqlState(err) === '23505' ? new InputTakenError(sessionId, input.seq) : err
    }
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

  /**
   * One row for the whole batch (migration 004). It must follow the stored frames exactly: a batch that
   * overlaps them, or leaves a gap, inserts nothing and rejects.
   */
  async append (userId: string, sessionId: string, frames: readonly StoredFrame[]): Promise<void> {
    if (frames.length === 0) return
    const first = frames[0].seq
    const last = frames[frames.length - 1].seq
    if (last - first !== frames.length - 1) throw new Error(`events ${first}..${last} of ${sessionId} are not consecutive`)
    let joined = frames[0].frame
    for (let i = 1; i < frames.length; i++) joined += '\n' + frames[i].frame
    const rows = await this.#db.query<{ ok: number }>(
      `INSERT INTO run_event_batches (user_id, session_id, first_seq, last_seq, frames)
        SELECT $1, $2, $3, $4, $5
        WHERE coalesce((SELECT max(last_seq) FROM run_event_batches WHERE user_id = $1 AND session_id = $2), 0) = $3::bigint - 1
        RETURNING 1 AS ok`,
      [userId, sessionId, first, last, joined])
    if (rows.length === 0) throw new Error(`events ${first}..${last} of ${sessionId} do not follow the stored ones`)
  }

  async read (userId: string, sessionId: string, afterSeq: number, limit: number, maxChars: number): Promise<string[]> {
    const after = Math.max(0, Math.floor(afterSeq))
    if (limit <= 0) return []
    const rows = await this.#db.query<{ first_seq: number, frames: string }>(
      `SELECT first_seq::float8 AS first_seq, frames FROM run_event_batches
        WHERE user_id = $1 AND session_id = $2 AND last_seq > $3 AND first_seq <= $3::bigint + $4
        ORDER BY last_seq`,
      [userId, sessionId, after, limit])
    const out: string[] = []
    let chars = 0
    for (const row of rows) {
      const frames = row.frames.split('\n')
      for (let i = Math.max(0, after + 1 - row.first_seq); i < frames.length; i++) {
        const f = frames[i]
        chars += f.length
        if (out.length >= limit || (chars > maxChars && out.length > 0)) return out
        out.push(f)
      }
    }
    return out
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT coalesce(max(last_seq), 0)::float8 AS n FROM run_event_batches WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
    return row.n
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM run_event_batches WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
  }

  async deleteFinishedBefore (before: number, since?: number): Promise<number> {
    return await deleteFinished(this.#db, 'run_event_batches', before, since)
  }
}

/**
 * The retention sweep of one log table: the logs of runs stored as finished in [since, before). With `since`
 * (every sweep but a process's first) it reads only those runs, through run_results_by_finished
 * (migration 003), and their rows through the log's primary key.
 */
async function deleteFinished (db: SqlClient, table: 'run_inputs' | 'run_event_batches', before: number, since: number | undefined): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `WITH gone AS (
      DELETE FROM ${table} t USING run_results r
      WHERE t.user_id = r.user_id AND t.session_id = r.session_id AND r.finished_at < $1${since !== undefined ? ' AND r.finished_at >= $2' : ''}
      RETURNING t.user_id, t.session_id)
    SELECT count(DISTINCT (user_id, session_id))::int AS n FROM gone`,
    [new Date(before).toISOString(), ...(since !== undefined ? [new Date(since).toISOString()] : [])])
  return row.n
}
