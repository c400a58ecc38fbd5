// SessionStore in SQL (PGlite or PostgreSQL, same statements). The guarded insert is one statement (a
// function of the schema) whose transaction holds a per-user advisory lock while it counts the user's
// active sessions (those holding a slot: not a run paused for no_strategy) and recent creations and then
// writes, so concurrent creates by one user, from any number of processes, never overshoot a plan limit;
// resuming a no_strategy pause takes the same lock to take its slot back (updateTakingSlot).
// Updates and conditional deletes lock the row (SELECT … FOR UPDATE) while the caller's function decides.
import type { SessionState } from '../../../schemas/sessions.js'
import { AppError } from '../../app-error.js'
import { formatMoney, parseDecimal } from '../../money.js'
import { ACTIVE_STATES } from '../../sessions/lifecycle.js'
import { decodeCursor, encodeCursor } from '../../sessions/session-cursor.js'
import type {
  InsertGuard,
  InsertOutcome,
  ListByUserOptions,
  PauseReason,
  SessionPage,
  SessionRecord,
  SessionStore,
  SlotUpdateOutcome
} from '../../ports/session-store.js'
import { LOCK_NAMESPACE_USERS } from './migrate.js'
import { sqlState, type SqlClient, type SqlQueryable } from './sql-client.js'

/** Columns as SessionRecord fields; int8 and numeric as text or float8, which both drivers return alike. */
const COLUMNS = `user_id, session_id, symbols, to_char(start_date, 'YYYY-MM-DD') AS start_date,
  to_char(end_date, 'YYYY-MM-DD') AS end_date, timeframe, initial_capital::text AS initial_capital,
  commission_per_share::text AS commission_per_share, min_commission_per_order::text AS min_commission_per_order,
  slippage_bps, allow_short, volume_participation, fill_policy_version, state, created_at, updated_at, expires_at,
  metadata::text AS metadata_json, estimated_ticks::float8 AS estimated_ticks, progress, error_message, pause_reason`

const ACTIVE = [...ACTIVE_STATES]
/** The sessions that hold a concurrent-session slot (lifecycle.ts holdsSlot), given the active states as $2. */
const HOLDS_SLOT = "state = ANY ($2::text[]) AND pause_reason IS DISTINCT FROM 'no_strategy'"

interface Row {
  user_id: string
  session_id: string
  symbols: string[]
  start_date: string
  end_date: string
  timeframe: SessionRecord['timeframe']
  initial_capital: string
  commission_per_share: string
  min_commission_per_order: string
  slippage_bps: number
  allow_short: boolean
  volume_participation: number | null
  fill_policy_version: string
  state: SessionRecord['state']
  created_at: Date
  updated_at: Date
  expires_at: Date | null
  metadata_json: string
  estimated_ticks: number
  progress: number
  error_message: string | null
  pause_reason: PauseReason | null
}

function toRecord (row: Row): SessionRecord {
  return Object.freeze({
    user_id: row.user_id,
    session_id: row.session_id,
    symbols: Object.freeze(row.symbols),
    start_date: row.start_date,
    end_date: row.end_date,
    timeframe: row.timeframe,
    initial_capital: parseDecimal(row.initial_capital),
    commission_per_share: parseDecimal(row.commission_per_share),
    min_commission_per_order: parseDecimal(row.min_commission_per_order),
    slippage_bps: row.slippage_bps,
    allow_short: row.allow_short,
    volume_participation: row.volume_participation,
    fill_policy_version: row.fill_policy_version,
    state: row.state,
    created_at: row.created_at.getTime(),
    updated_at: row.updated_at.getTime(),
    expires_at: row.expires_at === null ? null : row.expires_at.getTime(),
    metadata_json: row.metadata_json,
    estimated_ticks: row.estimated_ticks,
    progress: row.progress,
    error_message: row.error_message,
    ...(row.pause_reason !== null ? { pause_reason: row.pause_reason } : {})
  })
}

const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | null): string | null => ms === null ? null : iso(ms)
/** PostgreSQL text cannot hold NUL; a strategy's error message may (it is only ever shown). */
const storableText = (s: string | null): string | null => s === null ? null : s.replaceAll('\u0000', '\uFFFD')

/** Values of every column after user_id and session_id, in COLUMNS order, as statement parameters. */
function valuesOf (r: SessionRecord): unknown[] {
  return [
    [...r.symbols], r.start_date, r.end_date, r.timeframe,
    formatMoney(r.initial_capital), formatMoney(r.commission_per_share), formatMoney(r.min_commission_per_order),
    r.slippage_bps, r.allow_short, r.volume_participation, r.fill_policy_version, r.state,
    iso(r.created_at), iso(r.updated_at), isoOrNull(r.expires_at), r.metadata_json,
    r.estimated_ticks, r.progress, storableText(r.error_message)
  ]
}

/**
 * jsonb refuses what JSON text may hold but PostgreSQL text may not (\u0000, unpaired surrogates): say
 * so as a validation error of the metadata rather than fail the request with a 500.
 */
async function withMetadataCheck<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    const state = sqlState(err)
    if (state === '22P05' || state === '22P02' || state === '22021') {
      throw new AppError('VALIDATION_FAILED', 'metadata may not contain NUL characters or unpaired surrogates', { field: 'metadata' })
    }
    throw err
  }
}

export class SqlSessionStore implements SessionStore {
  readonly #db: SqlClient

  constructor (db: SqlClient) {
    this.#db = db
  }

  async insert (record: SessionRecord, guard: InsertGuard): Promise<InsertOutcome> {
    // One statement, one round trip: insert_session_guarded (migrations/001_init.sql) takes the user's
    // advisory lock, counts and inserts inside the statement's own transaction.
    const [row] = await withMetadataCheck(async () => await this.#db.query<{ outcome: string, current_count: number | null, frees_at: Date | null }>(
      `SELECT outcome, current_count, frees_at FROM insert_session_guarded($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
      [record.user_id, record.session_id, ...valuesOf(record), guard.max_active, guard.max_created_in_window,
        iso(guard.window_start), LOCK_NAMESPACE_USERS]))
    switch (row.outcome) {
      case 'ok': return { ok: true }
      case 'duplicate_id': return { ok: false, reason: 'duplicate_id' }
      case 'concurrent_sessions': return { ok: false, reason: 'concurrent_sessions', current: row.current_count as number }
      case 'sessions_per_hour':
        return { ok: false, reason: 'sessions_per_hour', current: row.current_count as number, frees_at: (row.frees_at as Date).getTime() }
      default: throw new Error(`insert_session_guarded answered ${row.outcome}`)
    }
  }

  async get (userId: string, sessionId: string): Promise<SessionRecord | undefined> {
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM sessions WHERE user_id = $1 AND session_id = $2`, [userId, sessionId])
    return rows.length === 0 ? undefined : toRecord(rows[0])
  }

  async update (
    userId: string,
    sessionId: string,
    change: (current: SessionRecord) => SessionRecord
  ): Promise<SessionRecord | undefined> {
    return await withMetadataCheck(async () => await this.#db.transaction(async (tx) => {
      const current = await this.#locked(tx, userId, sessionId)
      if (current === undefined) return undefined
      return await this.#write(tx, current, change(current))
    }))
  }

  async updateTakingSlot (userId: string, sessionId: string, maxSlots: number, change: (current: SessionRecord) => SessionRecord): Promise<SlotUpdateOutcome> {
    return await withMetadataCheck(async () => await this.#db.transaction(async (tx): Promise<SlotUpdateOutcome> => {
      // The lock insert_session_guarded takes: a create and this resume count one after the other.
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE_USERS, userId])
      const current = await this.#locked(tx, userId, sessionId)
      if (current === undefined) return { ok: false, reason: 'not_found' }
      const [row] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND ${HOLDS_SLOT}`, [userId, ACTIVE])
      if (row.n >= maxSlots) return { ok: false, reason: 'concurrent_sessions', current: row.n }
      return { ok: true, record: await this.#write(tx, current, change(current)) }
    }))
  }

  /** Writes `next` over the locked `current` (same identity), within the caller's transaction. */
  async #write (tx: SqlQueryable, current: SessionRecord, next: SessionRecord): Promise<SessionRecord> {
    const { user_id: userId, session_id: sessionId } = current
    if (next.user_id !== current.user_id || next.session_id !== current.session_id || next.created_at !== current.created_at) {
      throw new AppError('INTERNAL_ERROR', 'A session update may not change its identity', { session_id: sessionId })
    }
    await tx.query(
      `UPDATE sessions SET symbols = $3, start_date = $4, end_date = $5, timeframe = $6, initial_capital = $7,
        commission_per_share = $8, min_commission_per_order = $9, slippage_bps = $10, allow_short = $11,
        volume_participation = $12, fill_policy_version = $13, state = $14, updated_at = $16, expires_at = $17,
        metadata = $18::jsonb, estimated_ticks = $19, progress = $20, error_message = $21, pause_reason = $22
      WHERE user_id = $1 AND session_id = $2 AND created_at = $15`,
      [userId, sessionId, ...valuesOf(next), next.state === 'paused' ? (next.pause_reason ?? null) : null])
    return Object.isFrozen(next) ? next : Object.freeze({ ...next, symbols: Object.freeze([...next.symbols]) })
  }

  async delete (
    userId: string,
    sessionId: string,
    when?: (current: SessionRecord) => boolean
  ): Promise<SessionRecord | undefined> {
    if (when === undefined) {
      const rows = await this.#db.query<Row>(`DELETE FROM sessions WHERE user_id = $1 AND session_id = $2 RETURNING ${COLUMNS}`, [userId, sessionId])
      return rows.length === 0 ? undefined : toRecord(rows[0])
    }
    return await this.#db.transaction(async (tx) => {
      const current = await this.#locked(tx, userId, sessionId)
      if (current === undefined || !when(current)) return undefined
      await tx.query('DELETE FROM sessions WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
      return current
    })
  }

  async listByUser (userId: string, options: ListByUserOptions): Promise<SessionPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor)
    const params: unknown[] = [userId, options.limit + 1]
    let where = 'user_id = $1'
    if (options.state !== undefined) {
      params.push(options.state)
      where += ` AND state = $${params.length}`
    }
    if (after !== undefined) {
      params.push(iso(after.created_at), after.session_id)
      where += ` AND (created_at, session_id) < ($${params.length - 1}::timestamptz, $${params.length}::text)`
    }
    const rows = await this.#db.query<Row>(
      `SELECT ${COLUMNS} FROM sessions WHERE ${where} ORDER BY created_at DESC, session_id DESC LIMIT $2`, params)
    const more = rows.length > options.limit
    const records = rows.slice(0, options.limit).map(toRecord)
    const last = records.at(-1)
    return { records, next_cursor: more && last !== undefined ? encodeCursor(last) : null }
  }

  async countActive (userId: string): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND ${HOLDS_SLOT}`, [userId, ACTIVE])
    return row.n
  }

  async countCreatedSince (userId: string, since: number): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM creation_log WHERE user_id = $1 AND created_at >= $2', [userId, iso(since)])
    return row.n
  }

  async listExpired (now: number): Promise<SessionRecord[]> {
    const rows = await this.#db.query<Row>(`SELECT ${COLUMNS} FROM sessions WHERE expires_at <= $1 ORDER BY expires_at`, [iso(now)])
    return rows.map(toRecord)
  }

  async listFinishedBefore (before: number): Promise<SessionRecord[]> {
    const rows = await this.#db.query<Row>(
      `SELECT ${COLUMNS} FROM sessions WHERE state IN ('completed', 'error') AND updated_at < $1 ORDER BY updated_at`, [iso(before)])
    return rows.map(toRecord)
  }

  async listRunningBefore (before: number, limit: number, offset: number): Promise<Array<{ user_id: string, session_id: string }>> {
    return await this.#db.query<{ user_id: string, session_id: string }>(
      `SELECT user_id, session_id FROM sessions WHERE state = 'running' AND updated_at < $1
       ORDER BY updated_at, user_id, session_id LIMIT $2 OFFSET $3`, [iso(before), limit, offset])
  }

  async pruneCreationLog (before: number): Promise<void> {
    await this.#db.query('DELETE FROM creation_log WHERE created_at < $1', [iso(before)])
  }

  async pauseInterrupted (now: number, expiresAt: number): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      `WITH paused AS (
        UPDATE sessions SET state = 'paused', pause_reason = 'server_restart', updated_at = $1, expires_at = $2 WHERE state = 'running' RETURNING 1)
      SELECT count(*)::int AS n FROM paused`, [iso(now), iso(expiresAt)])
    return row.n
  }

  async countByState (): Promise<Partial<Record<SessionState, number>>> {
    const rows = await this.#db.query<{ state: SessionState, n: number }>('SELECT state, count(*)::int AS n FROM sessions GROUP BY state')
    return Object.fromEntries(rows.map((r) => [r.state, r.n]))
  }

  async size (): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>('SELECT count(*)::float8 AS n FROM sessions')
    return row.n
  }

  async #locked (tx: SqlQueryable, userId: string, sessionId: string): Promise<SessionRecord | undefined> {
    const rows = await tx.query<Row>(`SELECT ${COLUMNS} FROM sessions WHERE user_id = $1 AND session_id = $2 FOR UPDATE`, [userId, sessionId])
    return rows.length === 0 ? undefined : toRecord(rows[0])
  }
}
