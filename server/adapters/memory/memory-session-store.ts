// In-process SessionStore: per-user shelves (so one user's listing costs O(that user's sessions)),
// frozen records of one hidden class, and interned repeated strings to keep an idle session small.
// Each method does its work synchronously before resolving, which is what makes insert's limit
// check atomic: no other call can interleave between counting and writing.
import type { SessionState } from '../../../schemas/sessions.js'
import { AppError } from '../../app-error.js'
import { holdsSlot } from '../../sessions/lifecycle.js'
import { compareListOrder, decodeCursor, encodeCursor, type CursorKey } from '../../sessions/session-cursor.js'
import type {
  InsertGuard,
  InsertOutcome,
  ListByUserOptions,
  SessionPage,
  SessionRecord,
  SessionStore,
  SlotUpdateOutcome
} from '../../ports/session-store.js'

interface UserShelf {
  readonly userId: string
  readonly byId: Map<string, SessionRecord>
  /** Session ids sorted oldest first (created_at asc, session_id asc); listings walk it backwards. */
  readonly order: string[]
  /** Epoch ms of creations still inside some rate window; deletion does not remove entries. */
  creations: number[]
}

export class MemorySessionStore implements SessionStore {
  readonly #shelves = new Map<string, UserShelf>()
  /**
   * Symbols, dates, timeframes and policy versions repeat across thousands of sessions; one shared copy
   * each saves ~20–40 bytes per string (a 500-symbol session would otherwise hold ~15 KB of strings).
   * The pool only grows with distinct catalogue symbols and calendar dates, which are bounded.
   */
  readonly #pool = new Map<string, string>()
  #count = 0

  async insert (record: SessionRecord, guard: InsertGuard): Promise<InsertOutcome> {
    const shelf = this.#shelfFor(record.user_id)
    if (shelf.byId.has(record.session_id)) return { ok: false, reason: 'duplicate_id' }

    const active = this.#slotsHeld(shelf)
    if (holdsSlot(record.state, record.pause_reason) && active >= guard.max_active) {
      this.#dropIfEmpty(shelf)
      return { ok: false, reason: 'concurrent_sessions', current: active }
    }

    shelf.creations = shelf.creations.filter((t) => t >= guard.window_start)
    if (shelf.creations.length >= guard.max_created_in_window) {
      const sorted = [...shelf.creations].sort((a, b) => a - b)
      // The window frees a slot once enough of the oldest creations have aged out of it.
      const freesAt = sorted[Math.max(0, sorted.length - guard.max_created_in_window)]
      this.#dropIfEmpty(shelf)
      return { ok: false, reason: 'sessions_per_hour', current: sorted.length, frees_at: freesAt }
    }

    const stored = this.#compact(shelf, record)
    shelf.byId.set(stored.session_id, stored)
    shelf.order.splice(this.#lowerBound(shelf, stored), 0, stored.session_id)
    shelf.creations.push(stored.created_at)
    this.#count++
    return { ok: true }
  }

  async get (userId: string, sessionId: string): Promise<SessionRecord | undefined> {
    return this.#shelves.get(userId)?.byId.get(sessionId)
  }

  async update (
    userId: string,
    sessionId: string,
    change: (current: SessionRecord) => SessionRecord
  ): Promise<SessionRecord | undefined> {
    const shelf = this.#shelves.get(userId)
    const current = shelf?.byId.get(sessionId)
    if (shelf === undefined || current === undefined) return undefined
    const next = change(current)
    if (next.user_id !== current.user_id || next.session_id !== current.session_id || next.created_at !== current.created_at) {
      throw new AppError('INTERNAL_ERROR', 'A session update may not change its identity', { session_id: sessionId })
    }
    const stored = this.#compact(shelf, next, current)
    shelf.byId.set(sessionId, stored)
    return stored
  }

  async updateTakingSlot (userId: string, sessionId: string, maxSlots: number, change: (current: SessionRecord) => SessionRecord): Promise<SlotUpdateOutcome> {
    const shelf = this.#shelves.get(userId)
    if (shelf === undefined || !shelf.byId.has(sessionId)) return { ok: false, reason: 'not_found' }
    const held = this.#slotsHeld(shelf)
    if (held >= maxSlots) return { ok: false, reason: 'concurrent_sessions', current: held }
    const record = await this.update(userId, sessionId, change)
    return record === undefined ? { ok: false, reason: 'not_found' } : { ok: true, record }
  }

  #slotsHeld (shelf: UserShelf): number {
    let n = 0
    for (const r of shelf.byId.values()) if (holdsSlot(r.state, r.pause_reason)) n++
    return n
  }

  async delete (
    userId: string,
    sessionId: string,
    when?: (current: SessionRecord) => boolean
  ): Promise<SessionRecord | undefined> {
    const shelf = this.#shelves.get(userId)
    const current = shelf?.byId.get(sessionId)
    if (shelf === undefined || current === undefined) return undefined
    if (when !== undefined && !when(current)) return undefined
    // Locate before removing from byId: the binary search reads records through it.
    const at = this.#lowerBound(shelf, current)
    if (shelf.order[at] === sessionId) shelf.order.splice(at, 1)
    shelf.byId.delete(sessionId)
    this.#count--
    this.#dropIfEmpty(shelf)
    return current
  }

  async listByUser (userId: string, options: ListByUserOptions): Promise<SessionPage> {
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor)
    const shelf = this.#shelves.get(userId)
    if (shelf === undefined) return { records: [], next_cursor: null }

    // Start just below the cursor's position in ascending order, i.e. just after it in listing order.
    let i = after === undefined ? shelf.order.length - 1 : this.#lowerBound(shelf, after) - 1
    const records: SessionRecord[] = []
    let more = false
    for (; i >= 0; i--) {
      const r = shelf.byId.get(shelf.order[i]) as SessionRecord
      if (options.state !== undefined && r.state !== options.state) continue
      if (records.length === options.limit) {
        more = true
        break
      }
      records.push(r)
    }
    const last = records.at(-1)
    return {
      records,
      next_cursor: more && last !== undefined ? encodeCursor(last) : null
    }
  }

  async countActive (userId: string): Promise<number> {
    const shelf = this.#shelves.get(userId)
    return shelf === undefined ? 0 : this.#slotsHeld(shelf)
  }

  async countCreatedSince (userId: string, since: number): Promise<number> {
    let n = 0
    for (const t of this.#shelves.get(userId)?.creations ?? []) if (t >= since) n++
    return n
  }

  async listFinishedBefore (before: number): Promise<SessionRecord[]> {
    const old: SessionRecord[] = []
    for (const shelf of this.#shelves.values()) {
      for (const r of shelf.byId.values()) if ((r.state === 'completed' || r.state === 'error') && r.updated_at < before) old.push(r)
    }
    return old
  }

  async listRunningBefore (before: number, limit: number, offset: number): Promise<Array<{ user_id: string, session_id: string }>> {
    const running: SessionRecord[] = []
    for (const shelf of this.#shelves.values()) {
      for (const r of shelf.byId.values()) if (r.state === 'running' && r.updated_at < before) running.push(r)
    }
    running.sort((a, b) => a.updated_at - b.updated_at || cmp(a.user_id, b.user_id) || cmp(a.session_id, b.session_id))
    return running.slice(offset, offset + limit).map((r) => ({ user_id: r.user_id, session_id: r.session_id }))
  }

  async listExpired (now: number): Promise<SessionRecord[]> {
    // A full scan: at 100k sessions it costs a few ms per sweep; a durable store would index expires_at.
    const expired: SessionRecord[] = []
    for (const shelf of this.#shelves.values()) {
      for (const r of shelf.byId.values()) if (r.expires_at !== null && r.expires_at <= now) expired.push(r)
    }
    return expired
  }

  async pruneCreationLog (before: number): Promise<void> {
    for (const shelf of this.#shelves.values()) {
      shelf.creations = shelf.creations.filter((t) => t >= before)
      this.#dropIfEmpty(shelf)
    }
  }

  async pauseInterrupted (now: number, expiresAt: number): Promise<number> {
    let moved = 0
    for (const shelf of this.#shelves.values()) {
      for (const r of shelf.byId.values()) {
        if (r.state !== 'running') continue
        shelf.byId.set(r.session_id, this.#compact(shelf, { ...r, state: 'paused', pause_reason: 'server_restart', updated_at: now, expires_at: expiresAt }, r))
        moved++
      }
    }
    return moved
  }

  async countByState (): Promise<Partial<Record<SessionState, number>>> {
    const counts: Partial<Record<SessionState, number>> = {}
    for (const shelf of this.#shelves.values()) {
      for (const r of shelf.byId.values()) counts[r.state] = (counts[r.state] ?? 0) + 1
    }
    return counts
  }

  async size (): Promise<number> {
    return this.#count
  }

  #shelfFor (userId: string): UserShelf {
    let shelf = this.#shelves.get(userId)
    if (shelf === undefined) {
      shelf = { userId, byId: new Map(), order: [], creations: [] }
      this.#shelves.set(userId, shelf)
    }
    return shelf
  }

  #dropIfEmpty (shelf: UserShelf): void {
    if (shelf.byId.size === 0 && shelf.creations.length === 0) this.#shelves.delete(shelf.userId)
  }

  /** First index in `order` whose key is ≥ `key` in ascending (created_at, session_id) order. */
  #lowerBound (shelf: UserShelf, key: CursorKey): number {
    let lo = 0
    let hi = shelf.order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const r = shelf.byId.get(shelf.order[mid]) as SessionRecord
      // compareListOrder is newest-first; ascending order is its reverse.
      if (compareListOrder(r, key) > 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  #intern (s: string): string {
    const pooled = this.#pool.get(s)
    if (pooled !== undefined) return pooled
    this.#pool.set(s, s)
    return s
  }

  /**
   * The record as stored: fixed property order (one hidden class), shared strings, frozen. Unchanged
   * symbol lists are reused from `previous` so frequent small updates (progress) stay cheap.
   */
  #compact (shelf: UserShelf, r: SessionRecord, previous?: SessionRecord): SessionRecord {
    const symbols = previous !== undefined && r.symbols === previous.symbols
      ? previous.symbols
      : Object.freeze(r.symbols.map((s) => this.#intern(s)))
    return Object.freeze({
      user_id: shelf.userId,
      session_id: r.session_id,
      symbols,
      start_date: this.#intern(r.start_date),
      end_date: this.#intern(r.end_date),
      timeframe: this.#intern(r.timeframe) as SessionRecord['timeframe'],
      initial_capital: r.initial_capital,
      commission_per_share: r.commission_per_share,
      min_commission_per_order: r.min_commission_per_order,
      slippage_bps: r.slippage_bps,
      allow_short: r.allow_short,
      volume_participation: r.volume_participation,
      fill_policy_version: this.#intern(r.fill_policy_version),
      state: r.state,
      created_at: r.created_at,
      updated_at: r.updated_at,
      expires_at: r.expires_at,
      // The empty object is by far the commonest metadata; the literal is one shared string.
      metadata_json: r.metadata_json === '{}' ? '{}' : r.metadata_json,
      estimated_ticks: r.estimated_ticks,
      progress: r.progress,
      error_message: r.error_message,
      ...(r.state === 'paused' && r.pause_reason !== undefined && r.pause_reason !== null ? { pause_reason: r.pause_reason } : {})
    })
  }
}

/** Byte-wise order of ids (as the SQL store's "C" collation). */
function cmp (a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0 }
