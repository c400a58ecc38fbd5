// SessionManager: every session rule in one transport-free service. REST routes and WebSocket handlers
// call these same methods, so an operation validates, errs and behaves identically over both.
// Rules live here; storage is behind SessionStore; canonical symbols and tick estimates come from market data.
import { randomBytes } from 'node:crypto'
import type { TSchema, Static } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { Plan, PlanLimits } from '../../schemas/common.js'
import { Timeframe } from '../../schemas/market-data.js'
import {
  CreateSessionBody,
  ListSessionsQuery,
  SESSION_DEFAULTS,
  SessionState,
  UpdateSessionBody,
  type Session,
  type SessionDeleted,
  type SessionList,
  type SessionUsage
} from '../../schemas/sessions.js'
import { AppError } from '../app-error.js'
import { DEFAULT_MAX_JSON_DEPTH, jsonDepth } from '../json-depth.js'
import { formatMoney, parseMoney, type Fixed } from '../money.js'
import { valueErrorMessage } from '../validation-messages.js'
import {
  DEFAULT_SESSION_TTL_MINUTES,
  limitsFor as defaultLimitsFor
} from '../plans.js'
import { capitalOutOfRange } from './capital-bounds.js'
import { IdempotencyCache, canonicalJson } from './idempotency.js'
import { assertTransition } from './lifecycle.js'
import type { PauseReason, SessionRecord, SessionStore } from '../ports/session-store.js'
import type { IdempotencyStore } from '../ports/idempotency-store.js'
import type { SessionEvent, SessionEventKind, SessionListener } from '../ports/session-events.js'

/** The authenticated caller, as the transports know it from the JWT. */
export interface SessionUser {
  readonly user_id: string
  readonly plan: Plan
}

/** What the manager needs from the market-data service (implemented in server/market-data). */
export interface SessionMarketData {
  /** Canonical symbols (request order) and the tick count; throws INVALID_SYMBOL / INVALID_DATE_RANGE / VALIDATION_FAILED. */
  validateSessionRequest (req: { symbols: string[], start_date: string, end_date: string, timeframe: Timeframe }):
    | { symbols: string[], estimated_ticks: number }
    | Promise<{ symbols: string[], estimated_ticks: number }>
}

// The events' shape belongs to the port that carries them to every instance.
export type { SessionEvent, SessionEventKind, SessionListener } from '../ports/session-events.js'

export interface SessionManagerOptions {
  store: SessionStore
  /** Where idempotency records live (default: in this process). */
  idempotency?: IdempotencyStore
  marketData: SessionMarketData
  now?: () => number
  idFactory?: () => string
  limitsFor?: (plan: Plan) => PlanLimits
  /** Idle time after which a session is deleted (default 60). */
  ttlMinutes?: number
  /** Finished sessions (completed/error) last changed longer ago are deleted by the sweep (default 30). */
  retentionDays?: number
  /** Cap on JSON.stringify(metadata) in UTF-8 bytes (default 16384). */
  maxMetadataBytes?: number
  /** Deepest nesting accepted in metadata (default 32, as MAX_JSON_DEPTH); the transports cap whole messages too. */
  maxJsonDepth?: number
  /** Period of the expiry sweep started by startSweeper (default 60 000). */
  sweepIntervalMs?: number
  /** Stamped on new sessions so results can be tied to the fill rules they were simulated with. */
  fillPolicyVersion?: string
  /** Where a throwing listener's error goes (default: a process warning); it never fails the operation. */
  onListenerError?: (err: unknown, event: SessionEvent) => void
}

export interface CreateOptions {
  idempotencyKey?: string
}

export interface CreateResult {
  session: Session
  /** true when an idempotency key matched an earlier request and its response is returned again. */
  replayed: boolean
}

export interface TransitionOptions {
  /** Only with `to: 'error'`. */
  error_message?: string
  progress?: number
  /** Only with `to: 'paused'`: why (shown as the session's pause_reason). */
  pause_reason?: PauseReason
}

const HOUR_MS = 60 * 60 * 1000
export const DEFAULT_MAX_METADATA_BYTES = 16 * 1024
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000
export const DEFAULT_SESSION_RETENTION_DAYS = 30
export const FILL_POLICY_VERSION = '1'

// Compiled once; the manager re-checks its inputs because it is also called by code other than the
// transports (the runner, scripts), and the WebSocket path does not fill defaults.
const checkCreate = TypeCompiler.Compile(CreateSessionBody, [Timeframe])
const checkUpdate = TypeCompiler.Compile(UpdateSessionBody)
const checkList = TypeCompiler.Compile(ListSessionsQuery, [SessionState])
const checkState = TypeCompiler.Compile(SessionState)

/** A create request after local validation: defaults applied, money exact, metadata serialised. */
type CreateRequest = Pick<SessionRecord,
  'symbols' | 'start_date' | 'end_date' | 'timeframe' | 'initial_capital' | 'commission_per_share' |
  'min_commission_per_order' | 'slippage_bps' | 'allow_short' | 'volume_participation' | 'metadata_json'> & {
  readonly symbols: string[]
  /** Client-chosen id, or null to generate one. */
  readonly session_id: string | null
  /** Canonical JSON of all of the above: the identity of the request for idempotency. */
  readonly fingerprint: string
}

export class SessionManager {
  readonly #store: SessionStore
  readonly #marketData: SessionMarketData
  readonly #now: () => number
  readonly #idFactory: () => string
  readonly #limitsFor: (plan: Plan) => PlanLimits
  readonly #ttlMs: number
  readonly #retentionMs: number
  readonly #maxMetadataBytes: number
  readonly #maxJsonDepth: number
  readonly #sweepIntervalMs: number
  readonly #fillPolicyVersion: string
  readonly #onListenerError: (err: unknown, event: SessionEvent) => void
  readonly #idempotency: IdempotencyCache<Session>
  readonly #listeners = new Set<SessionListener>()
  #sweeper: NodeJS.Timeout | undefined
  #sweeping = false

  constructor (options: SessionManagerOptions) {
    this.#store = options.store
    this.#marketData = options.marketData
    this.#now = options.now ?? Date.now
    this.#idFactory = options.idFactory ?? newSessionId
    this.#limitsFor = options.limitsFor ?? ((plan) => defaultLimitsFor(plan))
    this.#ttlMs = (options.ttlMinutes ?? DEFAULT_SESSION_TTL_MINUTES) * 60_000
    this.#retentionMs = (options.retentionDays ?? DEFAULT_SESSION_RETENTION_DAYS) * 86_400_000
    this.#maxMetadataBytes = options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES
    this.#maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH
    this.#sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    this.#fillPolicyVersion = options.fillPolicyVersion ?? FILL_POLICY_VERSION
    this.#onListenerError = options.onListenerError ?? ((err) => {
      process.emitWarning(`Session event listener failed: ${err instanceof Error ? err.message : String(err)}`)
    })
    this.#idempotency = new IdempotencyCache<Session>({
      now: this.#now,
      ...(options.idempotency !== undefined ? { store: options.idempotency } : {})
    })
  }

  /**
   * Validates and stores a new session, which starts out ready. Order of checks: the request itself
   * (schema, capital, money, metadata, a reused session_id), then market data (symbols, dates), then the
   * plan limits (symbols per session, bar events per session, concurrent sessions, sessions per hour). The limit check and the
   * insert are one atomic store step, so N concurrent creates can never overshoot a limit; a failed
   * create stores nothing and does not count towards the hourly quota.
   */
  async create (user: SessionUser, body: CreateSessionBody, options: CreateOptions = {}): Promise<CreateResult> {
    const request = this.#normaliseCreate(body)
    if (options.idempotencyKey === undefined) {
      return { session: await this.#createValidated(user, request), replayed: false }
    }
    const { value, replayed } = await this.#idempotency.run(
      user.user_id,
      options.idempotencyKey,
      request.fingerprint,
      () => this.#createValidated(user, request)
    )
    return { session: value, replayed }
  }

  /** One of the caller's sessions; refreshes its idle expiry. Others' sessions are SESSION_NOT_FOUND. */
  async get (user: SessionUser, sessionId: string): Promise<Session> {
    return await this.touch(user, sessionId)
  }

  /** Refreshes the idle expiry (last activity + TTL) without counting as a modification. */
  async touch (user: SessionUser, sessionId: string): Promise<Session> {
    const { after } = await this.#change(user, sessionId, (cur, now) => this.#withExpiry(cur, cur.state, now))
    return this.#render(after)
  }

  /** Replaces metadata when given; `{}` is a keep-alive that only refreshes the expiry. */
  async update (user: SessionUser, sessionId: string, patch: UpdateSessionBody): Promise<Session> {
    const valid = validate(checkUpdate, patch, 'update')
    if (valid.metadata === undefined) return await this.touch(user, sessionId)
    const metadataJson = this.#serialiseMetadata(valid.metadata)
    const { after } = await this.#change(user, sessionId, (cur, now) => ({
      ...this.#withExpiry(cur, cur.state, now),
      metadata_json: metadataJson,
      updated_at: now
    }))
    this.#emit('updated', user.user_id, after)
    return this.#render(after)
  }

  /** Deletes in any state; listeners (the runner) stop a running simulation on the 'deleted' event. */
  async delete (user: SessionUser, sessionId: string): Promise<SessionDeleted> {
    const now = this.#now()
    const gone = await this.#store.delete(user.user_id, sessionId)
    if (gone === undefined) throw notFound(sessionId)
    if (this.#isExpired(gone, now)) {
      // It had already expired (the sweep just had not run): report what the sweep would have.
      this.#emit('expired', user.user_id, gone)
      throw notFound(sessionId)
    }
    this.#emit('deleted', user.user_id, gone)
    return { session_id: sessionId, deleted: true }
  }

  /**
   * The caller's sessions, newest first, keyset-paginated. Listing does not refresh expiry. Sessions past
   * their expiry but not yet swept are left out, so a page may be shorter than `limit` while more follow.
   */
  async list (user: SessionUser, query: ListSessionsQuery = {}): Promise<SessionList> {
    const valid = validate(checkList, query, 'list query')
    const now = this.#now()
    const page = await this.#store.listByUser(user.user_id, {
      limit: valid.limit ?? 20,
      ...(valid.state === undefined ? {} : { state: valid.state }),
      ...(valid.cursor === undefined ? {} : { cursor: valid.cursor })
    })
    return {
      sessions: page.records.filter((r) => !this.#isExpired(r, now)).map((r) => this.#render(r)),
      next_cursor: page.next_cursor
    }
  }

  /**
   * Moves a session along the lifecycle (lifecycle.ts); an illegal move is INVALID_STATE and changes
   * nothing. The check and the write are atomic, so two concurrent starts cannot both succeed.
   */
  async transition (user: SessionUser, sessionId: string, to: SessionState, options: TransitionOptions = {}): Promise<Session> {
    const target = validate(checkState, to, 'state')
    if (options.progress !== undefined) assertProgress(options.progress)
    if (options.error_message !== undefined && target !== 'error') {
      throw new AppError('VALIDATION_FAILED', 'error_message is only allowed when moving to error', { field: 'error_message' })
    }
    // Resuming a run that paused itself for want of a strategy takes back the slot it gave up.
    const takesSlot = target === 'running' && (await this.#store.get(user.user_id, sessionId))?.pause_reason === 'no_strategy'
    const { before, after } = await this.#change(user, sessionId, (cur, now) => {
      assertTransition(cur.state, target)
      return {
        ...this.#withExpiry(cur, target, now),
        state: target,
        updated_at: now,
        progress: options.progress ?? cur.progress,
        error_message: target === 'error' ? (options.error_message ?? 'Simulation failed') : null,
        pause_reason: target === 'paused' ? (options.pause_reason ?? null) : null
      }
    }, takesSlot ? this.#limitsFor(user.plan).concurrent_sessions : undefined)
    this.#emit('state_changed', user.user_id, after, before.state)
    return this.#render(after)
  }

  /** Progress of a run, 0..1. High-frequency, so it emits no event (the runner streams its own ticks). */
  async setProgress (user: SessionUser, sessionId: string, progress: number): Promise<void> {
    assertProgress(progress)
    await this.#change(user, sessionId, (cur, now) => ({ ...this.#withExpiry(cur, cur.state, now), progress, updated_at: now }))
  }

  /** The `usage` of GET /me. */
  async usage (user: SessionUser): Promise<SessionUsage> {
    const now = this.#now()
    const [active, created] = await Promise.all([
      this.#store.countActive(user.user_id),
      this.#store.countCreatedSince(user.user_id, hourWindowStart(now))
    ])
    return { active_sessions: active, sessions_created_last_hour: created }
  }

  /**
   * Deletes every session past its expiry, and every finished one (completed/error) last changed more than
   * the retention ago, emitting 'expired' (listeners delete its run data); forgets stale quota and
   * idempotency entries.
   */
  async cleanupExpired (): Promise<number> {
    const now = this.#now()
    let removed = 0
    for (const r of await this.#store.listExpired(now)) {
      if (await this.#expire(r.user_id, r.session_id, now)) removed++
    }
    const before = now - this.#retentionMs
    for (const r of await this.#store.listFinishedBefore(before)) {
      const gone = await this.#store.delete(r.user_id, r.session_id,
        (cur) => (cur.state === 'completed' || cur.state === 'error') && cur.updated_at < before)
      if (gone === undefined) continue
      this.#emit('expired', r.user_id, gone)
      removed++
    }
    await this.#store.pruneCreationLog(hourWindowStart(now))
    await this.#idempotency.prune()
    return removed
  }

  /**
   * At start: sessions stored as running lost their run with the process that held it, so they become
   * paused (and idle-expire like any paused session). Resolves how many there were.
   */
  async pauseInterruptedRuns (): Promise<number> {
    const now = this.#now()
    return await this.#store.pauseInterrupted(now, now + this.#ttlMs)
  }

  /**
   * Several instances: sessions stored as running and unchanged since `before` (their owner may be gone;
   * the caller checks their leases). Oldest first, `limit` from `offset`.
   */
  async listRunningBefore (before: number, limit: number, offset = 0): Promise<Array<{ user_id: string, session_id: string }>> {
    return await this.#store.listRunningBefore(before, limit, offset)
  }

  /** Stored sessions per state (metrics start from it: the store may hold sessions of earlier processes). */
  async countByState (): Promise<Partial<Record<SessionState, number>>> {
    return await this.#store.countByState()
  }

  /** Starts the periodic expiry sweep; unref'd so it never keeps the process alive. Idempotent. */
  startSweeper (): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => { void this.#sweepOnce() }, this.#sweepIntervalMs)
    this.#sweeper.unref()
  }

  /** Stops the sweep; the app calls it on close. Safe to call more than once. */
  stop (): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  /** Listens to session changes; returns the unsubscribe function. */
  subscribe (listener: SessionListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  async #sweepOnce (): Promise<void> {
    // A slow store must not stack sweeps on top of each other.
    if (this.#sweeping) return
    this.#sweeping = true
    try {
      await this.cleanupExpired()
    } catch (err) {
      process.emitWarning(`Session expiry sweep failed: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.#sweeping = false
    }
  }

  #normaliseCreate (body: CreateSessionBody): CreateRequest {
    const valid = validate(checkCreate, body, 'create-session request')
    const initialCapital = parseMoney(valid.initial_capital ?? SESSION_DEFAULTS.initial_capital, 'initial_capital')
    const capitalError = capitalOutOfRange(initialCapital)
    if (capitalError !== undefined) throw capitalError
    const commission = nonNegativeMoney(valid.commission_per_share ?? SESSION_DEFAULTS.commission_per_share, 'commission_per_share')
    const minCommission = nonNegativeMoney(
      valid.min_commission_per_order ?? SESSION_DEFAULTS.min_commission_per_order,
      'min_commission_per_order'
    )
    const metadataJson = this.#serialiseMetadata(valid.metadata ?? {})
    const request = {
      symbols: [...valid.symbols],
      start_date: valid.start_date,
      end_date: valid.end_date,
      timeframe: valid.timeframe ?? SESSION_DEFAULTS.timeframe,
      initial_capital: initialCapital,
      commission_per_share: commission,
      min_commission_per_order: minCommission,
      slippage_bps: valid.slippage_bps ?? SESSION_DEFAULTS.slippage_bps,
      allow_short: valid.allow_short ?? SESSION_DEFAULTS.allow_short,
      volume_participation: valid.volume_participation ?? null,
      metadata_json: metadataJson,
      session_id: valid.session_id ?? null
    }
    const fingerprint = canonicalJson({
      ...request,
      initial_capital: formatMoney(initialCapital),
      commission_per_share: formatMoney(commission),
      min_commission_per_order: formatMoney(minCommission),
      metadata_json: undefined,
      metadata: valid.metadata ?? {}
    })
    return { ...request, fingerprint }
  }

  async #createValidated (user: SessionUser, req: CreateRequest): Promise<Session> {
    const limits = this.#limitsFor(user.plan)
    // Checked early for a clear error before market-data work; the insert re-checks atomically.
    if (req.session_id !== null && (await this.#store.get(user.user_id, req.session_id)) !== undefined) {
      throw duplicateSessionId(req.session_id)
    }

    const validated = await this.#marketData.validateSessionRequest({
      symbols: [...req.symbols],
      start_date: req.start_date,
      end_date: req.end_date,
      timeframe: req.timeframe
    })
    // `aapl` and `AAPL` are one instrument: count and keep canonical symbols once each.
    const symbols = [...new Set(validated.symbols)]
    if (symbols.length > limits.symbols_per_session) {
      throw new AppError('SESSION_LIMIT_EXCEEDED', `Your plan allows ${limits.symbols_per_session} symbols per session`, {
        limit_name: 'symbols_per_session',
        limit: limits.symbols_per_session,
        requested: symbols.length
      })
    }
    // The event log and the replay grow with bars, not ticks: cap ticks × symbols, an upper bound on the
    // bars replayed (exact when the symbols share a calendar; estimated_ticks is the merged timeline).
    const barEvents = validated.estimated_ticks * symbols.length
    if (barEvents > limits.bar_events_per_session) {
      throw new AppError('SESSION_LIMIT_EXCEEDED',
        `This session would replay up to ${grouped(barEvents)} bar events (${grouped(validated.estimated_ticks)} ticks × ${symbols.length} ` +
        `symbol${symbols.length === 1 ? '' : 's'}); your plan allows ${grouped(limits.bar_events_per_session)} per session. ` +
        'Use fewer symbols, a shorter date range or a larger timeframe.', {
          limit_name: 'bar_events_per_session',
          limit: limits.bar_events_per_session,
          requested: barEvents,
          estimated_ticks: validated.estimated_ticks,
          symbols: symbols.length
        })
    }

    const now = this.#now()
    // Validation is complete, so the session leaves initializing before anyone can observe it.
    assertTransition('initializing', 'ready')
    const guard = {
      max_active: limits.concurrent_sessions,
      max_created_in_window: limits.sessions_per_hour,
      window_start: hourWindowStart(now)
    }
    // A generated id colliding with one of the user's ids is astronomically unlikely; retry anyway.
    for (let attempt = 0; attempt < 3; attempt++) {
      const record: SessionRecord = {
        user_id: user.user_id,
        session_id: req.session_id ?? this.#idFactory(),
        symbols,
        start_date: req.start_date,
        end_date: req.end_date,
        timeframe: req.timeframe,
        initial_capital: req.initial_capital,
        commission_per_share: req.commission_per_share,
        min_commission_per_order: req.min_commission_per_order,
        slippage_bps: req.slippage_bps,
        allow_short: req.allow_short,
        volume_participation: req.volume_participation,
        fill_policy_version: this.#fillPolicyVersion,
        state: 'ready',
        created_at: now,
        updated_at: now,
        expires_at: now + this.#ttlMs,
        metadata_json: req.metadata_json,
        estimated_ticks: validated.estimated_ticks,
        progress: 0,
        error_message: null
      }
      const outcome = await this.#store.insert(record, guard)
      if (outcome.ok) {
        this.#emit('created', user.user_id, record)
        return this.#render(record)
      }
      switch (outcome.reason) {
        case 'duplicate_id':
          if (req.session_id !== null) throw duplicateSessionId(req.session_id)
          continue
        case 'concurrent_sessions':
          throw new AppError('SESSION_LIMIT_EXCEEDED', `Your plan allows ${limits.concurrent_sessions} active sessions at a time`, {
            limit_name: 'concurrent_sessions',
            limit: limits.concurrent_sessions,
            current: outcome.current
          })
        case 'sessions_per_hour':
          throw new AppError('SESSION_LIMIT_EXCEEDED', `Your plan allows ${limits.sessions_per_hour} new sessions per hour`, {
            limit_name: 'sessions_per_hour',
            limit: limits.sessions_per_hour,
            current: outcome.current,
            retry_after_seconds: Math.max(1, Math.ceil((outcome.frees_at + HOUR_MS - now) / 1000))
          })
      }
    }
    throw new AppError('INTERNAL_ERROR', 'Could not allocate a unique session id')
  }

  /**
   * Atomically applies `change` to one of the caller's sessions. A session past its expiry counts as
   * gone even before the sweep reaches it (it is removed now), so behaviour never depends on sweep timing.
   */
  /** `maxSlots`: the change takes a concurrent-session slot (SESSION_LIMIT_EXCEEDED when the plan's are all held). */
  async #change (
    user: SessionUser,
    sessionId: string,
    change: (current: SessionRecord, now: number) => SessionRecord,
    maxSlots?: number
  ): Promise<{ before: SessionRecord, after: SessionRecord }> {
    const now = this.#now()
    let before: SessionRecord | undefined
    let expired = false
    const apply = (cur: SessionRecord): SessionRecord => {
      if (this.#isExpired(cur, now)) {
        expired = true
        return cur
      }
      before = cur
      return change(cur, now)
    }
    let after: SessionRecord | undefined
    if (maxSlots === undefined) {
      after = await this.#store.update(user.user_id, sessionId, apply)
    } else {
      const outcome = await this.#store.updateTakingSlot(user.user_id, sessionId, maxSlots, apply)
      if (!outcome.ok && outcome.reason === 'concurrent_sessions') throw slotsTaken(sessionId, maxSlots, outcome.current)
      after = outcome.ok ? outcome.record : undefined
    }
    if (expired) {
      await this.#expire(user.user_id, sessionId, now)
      throw notFound(sessionId)
    }
    if (after === undefined || before === undefined) throw notFound(sessionId)
    return { before, after }
  }

  async #expire (userId: string, sessionId: string, now: number): Promise<boolean> {
    // Conditional: a session touched since it was listed as expired must survive.
    const gone = await this.#store.delete(userId, sessionId, (cur) => this.#isExpired(cur, now))
    if (gone === undefined) return false
    this.#emit('expired', userId, gone)
    return true
  }

  #isExpired (r: SessionRecord, now: number): boolean {
    return r.expires_at !== null && r.expires_at <= now
  }

  /** Running sessions never idle out (expires_at null); any other state expires TTL after last activity. */
  #withExpiry (r: SessionRecord, state: SessionState, now: number): SessionRecord {
    return { ...r, expires_at: state === 'running' ? null : now + this.#ttlMs }
  }

  #serialiseMetadata (metadata: Record<string, unknown>): string {
    let json: string
    try {
      json = JSON.stringify(metadata)
    } catch {
      throw new AppError('VALIDATION_FAILED', 'metadata must be serialisable as JSON', { field: 'metadata' })
    }
    const bytes = Buffer.byteLength(json, 'utf8')
    if (bytes > this.#maxMetadataBytes) {
      throw new AppError('VALIDATION_FAILED', `metadata may be at most ${this.#maxMetadataBytes} bytes as JSON`, {
        field: 'metadata',
        max_bytes: this.#maxMetadataBytes,
        actual_bytes: bytes
      })
    }
    // Checked here as well as by the transports, so any caller (WebSocket, scripts) gets the same rule and
    // nothing downstream (fingerprint, render) meets an arbitrarily deep value.
    if (jsonDepth(json, this.#maxJsonDepth) > this.#maxJsonDepth) {
      throw new AppError('VALIDATION_FAILED', `metadata is nested deeper than ${this.#maxJsonDepth} levels`, {
        field: 'metadata',
        max_depth: this.#maxJsonDepth
      })
    }
    return json
  }

  #emit (kind: SessionEventKind, userId: string, record: SessionRecord, previousState?: SessionState): void {
    if (this.#listeners.size === 0) return
    for (const listener of [...this.#listeners]) {
      // Each listener gets its own copy: one mutating it must not affect another or the caller's result.
      const event: SessionEvent = previousState === undefined
        ? { kind, user_id: userId, session: this.#render(record) }
        : { kind, user_id: userId, session: this.#render(record), previous_state: previousState }
      try {
        listener(event)
      } catch (err) {
        this.#onListenerError(err, event)
      }
    }
  }

  #render (r: SessionRecord): Session {
    const session: Session = {
      session_id: r.session_id,
      symbols: [...r.symbols],
      start_date: r.start_date,
      end_date: r.end_date,
      timeframe: r.timeframe,
      initial_capital: formatMoney(r.initial_capital),
      commission_per_share: formatMoney(r.commission_per_share),
      min_commission_per_order: formatMoney(r.min_commission_per_order),
      slippage_bps: r.slippage_bps,
      allow_short: r.allow_short,
      fill_policy_version: r.fill_policy_version,
      state: r.state,
      created_at: new Date(r.created_at).toISOString(),
      updated_at: new Date(r.updated_at).toISOString(),
      expires_at: r.expires_at === null ? null : new Date(r.expires_at).toISOString(),
      metadata: JSON.parse(r.metadata_json) as Record<string, unknown>,
      estimated_ticks: r.estimated_ticks,
      progress: r.progress
    }
    if (r.volume_participation !== null) session.volume_participation = r.volume_participation
    if (r.state === 'error' && r.error_message !== null) session.error_message = r.error_message
    if (r.state === 'paused' && r.pause_reason !== undefined && r.pause_reason !== null) session.pause_reason = r.pause_reason
    return session
  }
}

/** 2628000 → "2,628,000": numbers in messages read at a glance. */
function grouped (n: number): string {
  return n.toLocaleString('en-US')
}

/** The rolling hour is (now − 1 h, now]: a creation exactly an hour old no longer counts. */
function hourWindowStart (now: number): number {
  return now - HOUR_MS + 1
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** `sess_` + 16 base62 characters (~95 bits) from the CSPRNG, without modulo bias. */
export function newSessionId (): string {
  let id = 'sess_'
  while (id.length < 21) {
    for (const byte of randomBytes(24)) {
      // 248 = 4 × 62: rejecting 248..255 keeps every character equally likely.
      if (byte < 248 && id.length < 21) id += BASE62[byte % 62]
    }
  }
  return id
}

/** The same error, byte for byte, for a missing id and for another user's id: existence never leaks. */
function notFound (sessionId: string): AppError {
  return new AppError('SESSION_NOT_FOUND', `Session ${sessionId} not found`, { session_id: sessionId })
}

/** A client-chosen id already in use by the caller is a bad request, not a conflict on the resource. */
function duplicateSessionId (sessionId: string): AppError {
  return new AppError('VALIDATION_FAILED', `session_id ${sessionId} is already used by one of your sessions`, {
    field: 'session_id',
    reason: 'already_exists'
  })
}

function validate<T extends TSchema> (check: TypeCheck<T>, value: unknown, what: string): Static<T> {
  if (check.Check(value)) return value
  const first = check.Errors(value).First()
  const path = first?.path ?? ''
  throw new AppError('VALIDATION_FAILED', `Invalid ${what}: ${path === '' ? '' : `${path} `}${first === undefined ? 'does not match the schema' : valueErrorMessage(first)}`, {
    field: path.split('/')[1] ?? '',
    path
  })
}

/** A run paused for no_strategy gave its slot up; resuming it needs one, and the plan's are all held. */
function slotsTaken (sessionId: string, limit: number, current: number): AppError {
  return new AppError('SESSION_LIMIT_EXCEEDED', `Your plan allows ${limit} active sessions at a time, and ${current} hold a slot: session ` +
    `${sessionId} gave its slot up when it paused for want of a strategy; finish, cancel or delete another session to resume it`, {
    limit_name: 'concurrent_sessions',
    limit,
    current,
    session_id: sessionId
  })
}

function nonNegativeMoney (value: number | string, field: string): Fixed {
  const amount = parseMoney(value, field)
  if (amount < 0n) throw new AppError('VALIDATION_FAILED', `${field} may not be negative`, { field, value: formatMoney(amount) })
  return amount
}

function assertProgress (progress: number): void {
  if (!Number.isFinite(progress) || progress < 0 || progress > 1) {
    throw new AppError('VALIDATION_FAILED', 'progress must be a number from 0 to 1', { field: 'progress', value: progress })
  }
}
