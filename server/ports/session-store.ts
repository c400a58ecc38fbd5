// Storage port of the session manager: stored sessions and the creation log behind the hourly quota. The
// manager only talks to this interface; adapters: server/adapters/memory (one process) and server/adapters/sql
// (PGlite or PostgreSQL). Every method is async for the durable ones.
import type { Timeframe } from '../../schemas/market-data.js'
import type { SessionState } from '../../schemas/sessions.js'
import type { Fixed } from '../money.js'

/**
 * A stored session: the wire Session in its compact internal form (money as 1e-8 bigint units, instants
 * as epoch milliseconds, metadata as its JSON text), plus the owner. The manager renders it to the wire.
 * Records are immutable: changes go through SessionStore.update, which swaps in a new record.
 */
export interface SessionRecord {
  readonly user_id: string
  readonly session_id: string
  readonly symbols: readonly string[]
  readonly start_date: string
  readonly end_date: string
  readonly timeframe: Timeframe
  readonly initial_capital: Fixed
  readonly commission_per_share: Fixed
  readonly min_commission_per_order: Fixed
  readonly slippage_bps: number
  readonly allow_short: boolean
  /** null = no volume cap. */
  readonly volume_participation: number | null
  readonly fill_policy_version: string
  readonly state: SessionState
  readonly created_at: number
  readonly updated_at: number
  /** Epoch ms after which the idle session may be swept; null while running. */
  readonly expires_at: number | null
  /** Serialised JSON object; text keeps records small and makes aliasing of caller objects impossible. */
  readonly metadata_json: string
  readonly estimated_ticks: number
  readonly progress: number
  /** null unless state is error. */
  readonly error_message: string | null
  /** Why a paused session is paused (absent or null when it is not paused, or unknown). */
  readonly pause_reason?: PauseReason | null
}

export type PauseReason = 'user' | 'disconnect' | 'server_restart' | 'no_strategy'

export type SlotUpdateOutcome =
  | { readonly ok: true, readonly record: SessionRecord }
  | { readonly ok: false, readonly reason: 'not_found' }
  | { readonly ok: false, readonly reason: 'concurrent_sessions', readonly current: number }

/** Plan limits checked atomically with an insert, so they hold exactly under concurrent creates. */
export interface InsertGuard {
  /** Most sessions in an active state the user may hold, the new one included. */
  readonly max_active: number
  /** Most creations since `window_start` the user may have, the new one included. */
  readonly max_created_in_window: number
  /** Epoch ms; creations at or after it count against max_created_in_window. */
  readonly window_start: number
}

export type InsertOutcome =
  | { readonly ok: true }
  | { readonly ok: false, readonly reason: 'duplicate_id' }
  | { readonly ok: false, readonly reason: 'concurrent_sessions', readonly current: number }
  /** `frees_at`: epoch ms of the creation whose leaving the window frees a slot. */
  | { readonly ok: false, readonly reason: 'sessions_per_hour', readonly current: number, readonly frees_at: number }

export interface ListByUserOptions {
  readonly state?: SessionState
  readonly limit: number
  /** Opaque cursor from a previous page (see session-cursor.ts); invalid → VALIDATION_FAILED. */
  readonly cursor?: string
}

export interface SessionPage {
  readonly records: readonly SessionRecord[]
  readonly next_cursor: string | null
}

export interface SessionStore {
  /**
   * Inserts unless `(user_id, session_id)` exists or a guard limit would be exceeded; the checks and the
   * write are one atomic step (the memory store does them without yielding; a SQL store in one transaction
   * holding a per-user lock). A successful insert is also recorded in the user's creation log, which
   * survives deletion so that deleting does not refund the hourly quota.
   */
  insert (record: SessionRecord, guard: InsertGuard): Promise<InsertOutcome>
  get (userId: string, sessionId: string): Promise<SessionRecord | undefined>
  /**
   * Atomically replaces the record with `change(current)`; resolves undefined if there is none.
   * `change` is synchronous and may throw (e.g. INVALID_STATE), in which case nothing changes.
   * It must not alter user_id, session_id or created_at.
   */
  update (userId: string, sessionId: string, change: (current: SessionRecord) => SessionRecord): Promise<SessionRecord | undefined>
  /**
   * As update, for a change that takes one of the plan's concurrent-session slots back (resuming a session
   * paused for no_strategy, which gave its slot up): the slots the user's sessions hold are counted under the
   * user's lock, as insert counts them, so creates and such resumes together never exceed `maxSlots`. When
   * they are all taken, `change` is not called.
   */
  updateTakingSlot (userId: string, sessionId: string, maxSlots: number, change: (current: SessionRecord) => SessionRecord): Promise<SlotUpdateOutcome>
  /** Deletes and resolves the removed record; with `when`, only if `when(current)` holds at deletion time. */
  delete (userId: string, sessionId: string, when?: (current: SessionRecord) => boolean): Promise<SessionRecord | undefined>
  /** The user's sessions ordered created_at desc, then session_id desc; stable under inserts and deletes. */
  listByUser (userId: string, options: ListByUserOptions): Promise<SessionPage>
  countActive (userId: string): Promise<number>
  countCreatedSince (userId: string, since: number): Promise<number>
  /** Records whose expires_at is at or before `now`. */
  listExpired (now: number): Promise<SessionRecord[]>
  /** Finished sessions (completed or error) whose updated_at is before `before` (retention). */
  listFinishedBefore (before: number): Promise<SessionRecord[]>
  /**
   * Sessions stored as running, last changed before `before`, oldest change first (`offset` pages on): the
   * candidates of the pickup of runs whose owner stopped (several instances; a live run's progress keeps
   * its updated_at recent).
   */
  listRunningBefore (before: number, limit: number, offset: number): Promise<Array<{ user_id: string, session_id: string }>>
  /** Forgets creation-log entries older than `before` (they no longer count against any window). */
  pruneCreationLog (before: number): Promise<void>
  /**
   * Moves every `running` session to `paused` (pause_reason server_restart) with the given expiry, and
   * resolves how many moved. Called at start: the process that ran them is gone, so none of them is running.
   */
  pauseInterrupted (now: number, expiresAt: number): Promise<number>
  /** How many sessions are stored in each state (states without any are left out). */
  countByState (): Promise<Partial<Record<SessionState, number>>>
  size (): Promise<number>
}
