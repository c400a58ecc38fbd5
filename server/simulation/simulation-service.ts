// The one way into a run, for both transports: starts a session's run (loading its bars) and routes
// control, orders, account, results, event-log reads, resume and watching to the run. The runner is
// private here; every public method answers with a wire (schema) type. Ownership is checked through the
// SessionManager, so another user's session is SESSION_NOT_FOUND here too.
//
// State: the store is the commit point. A move a user asks for (pause, resume, cancel, strategy_error) is
// checked against the lifecycle table, written through SessionManager.transition, and only then applied
// to the runner (which holds stepping meanwhile). Moves the run makes itself (completion, failure, a
// dropped connection) and progress are committed in the order they happened, on the run's one chain.
//
// Finished runs: when a run completes, is cancelled or fails, its results, final account and orders go to
// the RunStore before the store shows the session finished (for a move the user asked for, before the
// answer), so that …/results, …/account and …/orders answer the same after a restart.
//
// Memory: while running, a run's log is a ring of `eventLogMaxBytesPerRun`. Its bars and their merged
// timeline are shared, read only, with every other live run of the same symbols, timeframe and range
// (reference counted: 50 runs of AAPL 1m 2023 hold one copy). When a run finishes, its engine and its
// hold on the bars are released (results, final account and orders stay); the bars go with the last run
// that held them. Its log is kept only within `eventLogUserBytes` per user (newest runs first) and for
// `eventLogRetentionHours`, then released.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import type { Plan, PlanLimits } from '../../schemas/common.js'
import type { Timeframe } from '../../schemas/market-data.js'
import type { Session } from '../../schemas/sessions.js'
import type { AccountSnapshot, BatchAck, MarketSession, Order, OrderBatchData, OrderUpdate, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { EventPage, SessionEvent, SimulationStateData, StateSyncData, SubscriptionData } from '../../schemas/simulation-control.js'
import { AppError, isAppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import { SharedCache, type Lease, type SharedCacheStats } from '../market-data/shared-cache.js'
import { limitsFor as defaultLimitsFor } from '../plans.js'
import { MemoryRunStore } from '../adapters/memory/memory-run-store.js'
import type { RunStore, StoredRun } from '../ports/run-store.js'
import type { EventStore, InputKind, InputLog, LoggedInput, StoredFrame } from '../ports/run-journal.js'
import type { SessionManager, SessionUser } from '../sessions/session-manager.js'
import { DEFAULT_LOG_MAX_BYTES } from './event-log.js'
import { SimulationRunner, type EventSink, type RunOptions, type RunState } from './runner.js'
import { buildTimeline, type Timeline } from './timeline.js'

export type { EventSink } from './runner.js'

export interface SeriesLoader {
  /**
   * A symbol's bars for a run, shared with the other runs of the same symbol, timeframe and range (read only);
   * the lease's key names that series (source, symbol, timeframe, range), its release() lets go of it.
   */
  acquireSeries: (symbol: string, timeframe: Timeframe, start: string, end: string) => Promise<Lease<BarSeries>>
  /** The symbol's market session at an instant (pre, regular, after, closed), for intraday ticks. */
  marketSessionAt?: (symbol: string, epochMs: number) => MarketSession
}

/** Durable runs: where inputs and events go (absent in `:memory:` mode). */
export interface RunJournal {
  readonly inputs: InputLog
  readonly events: EventStore
}

export interface EventLogRetention {
  /** Bytes of newest frames a run's log keeps while running (ring). */
  maxBytesPerRun?: number
  /** With a journal: bytes of newest frames a run keeps in memory (older ones are read from the event store). */
  memoryBytesPerRun?: number
  /** With a journal: frames are appended to the event store every this many events, or after flushMs. */
  flushEvents?: number
  flushMs?: number
  /** Bytes of finished runs' logs kept per user, newest runs first. */
  userBytes?: number
  /** Hours a finished run's log is kept (within userBytes); 0 releases it when the run finishes. */
  retentionHours?: number
}

export interface SimulationServiceOptions {
  sessions: SessionManager
  /** Where finished runs are kept (default: in this process). */
  runs?: RunStore
  marketData: SeriesLoader
  limitsFor?: (plan: Plan) => PlanLimits
  /** Where failures of background state updates are reported. */
  onError?: (err: unknown) => void
  /** A strategy reported its exception (strategy_error): for the server's log. */
  onStrategyError?: (info: { user_id: string, session_id: string, message: string, stack?: string }) => void
  /** Runner tuning (benchmarks, tests). */
  runner?: { sliceSteps?: number, sliceMs?: number, highWaterMark?: number }
  eventLog?: EventLogRetention
  /** Runs survive a restart: inputs logged before they apply, events appended in batches. */
  journal?: RunJournal
  now?: () => number
}

/** Default in-memory window of a durable run's events. */
export const DEFAULT_MEMORY_WINDOW_BYTES = 4 << 20
const DEFAULT_FLUSH_EVENTS = 512
const DEFAULT_FLUSH_MS = 20
/** A rebuild steps for at most this long per event-loop turn. */
const REBUILD_SLICE_MS = 8
/** Stored frames read per page while a rebuild checks its events. */
const REBUILD_PAGE = 4096

/** Paging of state_sync and GET …/events: at most this many events and characters per frame/page. */
export const PAGE_MAX_EVENTS = 1000
export const PAGE_MAX_CHARS = 1 << 20
/** A replay waits while more than this is queued for the connection, so it never floods one socket. */
const REPLAY_HIGH_WATER = 1 << 20
const RETENTION_SWEEP_MS = 60_000

const DEFAULT_RUN_OPTIONS: RunOptions = { flow_control: true, max_pending_ticks: 1, account_update_frequency: 'every_fill', include_bars: true }

function keyOf (userId: string, sessionId: string): string { return `${userId}\u0000${sessionId}` }

/** One run and what orders the work on it. */
interface Run {
  readonly key: string
  readonly user: SessionUser
  readonly sessionId: string
  readonly runner: SimulationRunner
  /** Store writes of this run, in order (user moves await theirs; the run's own are logged on failure). */
  commits: Promise<unknown>
  /** resume_session requests of this run, one at a time (each until its replay has been sent). */
  resumes: Promise<unknown>
  /** When the run finished (for log retention). */
  finishedAt: number | undefined
  /** Durable runs: input numbering, the ordered chain of store writes, and frames waiting for the store. */
  journal?: JournalState
}

interface JournalState {
  /** Seq of the last logged input. */
  seq: number
  /** Input inserts and event appends, in order (an input is always stored before the frames it causes). */
  chain: Promise<unknown>
  pending: StoredFrame[]
  timer: NodeJS.Timeout | undefined
  /** Set while the run is being rebuilt: regenerated frames are checked, not stored. */
  rebuild: RebuildCheck | undefined
}

interface RebuildCheck {
  readonly storedLast: number
  /** Stored frames from seq `pageFrom` on. */
  page: string[]
  pageFrom: number
  /** First seq whose regenerated frame differs from the stored one. */
  diverged: number | undefined
}

interface StartInput { options: RunOptions, request_id: string | null }

/** What a run replays: shared, read-only series and timeline, and the one call that lets go of both. */
interface RunBars {
  readonly series: readonly BarSeries[]
  readonly timeline: Timeline
  readonly release: () => void
}

export class SimulationService {
  readonly #sessions: SessionManager
  readonly #runStore: RunStore
  readonly #marketData: SeriesLoader
  readonly #limitsFor: (plan: Plan) => PlanLimits
  readonly #onError: (err: unknown) => void
  readonly #onStrategyError: SimulationServiceOptions['onStrategyError']
  readonly #runnerTuning: SimulationServiceOptions['runner']
  readonly #runs = new Map<string, Run>()
  readonly #starting = new Set<string>()
  /** Finished runs whose log is still kept, per user, oldest first. */
  readonly #retained = new Map<string, Run[]>()
  readonly #logMaxBytes: number
  readonly #userLogBytes: number
  readonly #retentionMs: number
  readonly #now: () => number
  readonly #journal: RunJournal | undefined
  readonly #flushEvents: number
  readonly #flushMs: number
  readonly #rebuilds = new Map<string, Promise<Run>>()
  /** Merged timelines, one per ordered list of series keys, shared like the series they are built from. */
  readonly #timelines = new SharedCache<Timeline>()
  readonly #sweep: NodeJS.Timeout
  readonly #unsubscribe: () => void

  constructor (opts: SimulationServiceOptions) {
    this.#sessions = opts.sessions
    this.#runStore = opts.runs ?? new MemoryRunStore()
    this.#marketData = opts.marketData
    this.#limitsFor = opts.limitsFor ?? defaultLimitsFor
    this.#onError = opts.onError ?? ((err) => { process.emitWarning(`simulation: ${String(err)}`) })
    this.#onStrategyError = opts.onStrategyError
    this.#runnerTuning = opts.runner
    this.#journal = opts.journal
    this.#logMaxBytes = opts.journal !== undefined
      ? opts.eventLog?.memoryBytesPerRun ?? DEFAULT_MEMORY_WINDOW_BYTES
      : opts.eventLog?.maxBytesPerRun ?? DEFAULT_LOG_MAX_BYTES
    this.#flushEvents = opts.eventLog?.flushEvents ?? DEFAULT_FLUSH_EVENTS
    this.#flushMs = opts.eventLog?.flushMs ?? DEFAULT_FLUSH_MS
    this.#userLogBytes = opts.eventLog?.userBytes ?? 64 << 20
    this.#retentionMs = (opts.eventLog?.retentionHours ?? 24) * 3_600_000
    this.#now = opts.now ?? Date.now
    this.#sweep = setInterval(() => {
      this.#sweepRetained()
      this.pruneStoredLogs().catch(this.#onError)
    }, RETENTION_SWEEP_MS)
    this.#sweep.unref()
    // Deleting (or expiring) a session stops its run and frees everything it held.
    this.#unsubscribe = this.#sessions.subscribe((event) => {
      if (event.kind !== 'deleted' && event.kind !== 'expired') return
      // A SQL store deletes a finished run with its session; the memory store needs telling.
      this.#runStore.delete(event.user_id, event.session.session_id).catch(this.#onError)
      this.#journal?.inputs.delete(event.user_id, event.session.session_id).catch(this.#onError)
      this.#journal?.events.delete(event.user_id, event.session.session_id).catch(this.#onError)
      const run = this.#runs.get(keyOf(event.user_id, event.session.session_id))
      if (run === undefined) return
      run.runner.dispose()
      this.#runs.delete(run.key)
      this.#forgetRetained(run)
    })
  }

  get activeRuns (): number { return this.#runs.size }

  /** Sharing of merged timelines across live runs (the series' own sharing is the SeriesLoader's). */
  get timelineStats (): SharedCacheStats { return this.#timelines.stats() }

  async start (user: SessionUser, sessionId: string, start: Partial<Omit<StartSimulationData, 'session_id'>>, sink: EventSink | undefined, requestId?: string): Promise<SimulationStateData> {
    const key = keyOf(user.user_id, sessionId)
    const session = await this.#sessions.get(user, sessionId)
    if (this.#runs.has(key) || this.#starting.has(key) || session.state !== 'ready') {
      const state = this.#runs.get(key)?.runner.state ?? session.state
      throw new AppError('INVALID_STATE', `Session ${sessionId} is ${state}; only a ready session can be started`, { from: state, to: 'running' })
    }
    this.#starting.add(key)
    try {
      const bars = await this.#acquireBars(session)
      const options: RunOptions = { ...DEFAULT_RUN_OPTIONS, ...stripUndefined(start) }
      let run: Run | undefined
      try {
        run = this.#createRun(user, sessionId, session, bars, options)
        await this.#sessions.transition(user, sessionId, 'running')
      } catch (err) {
        run?.runner.dispose()
        bars.release()
        throw err
      }
      this.#runs.set(key, run)
      const startInput: StartInput = { options, request_id: requestId ?? null }
      if (run.journal !== undefined) await this.#logInput(run, 'start', startInput)
      run.runner.start(sink, requestId)
      return run.runner.stateData()
    } finally {
      this.#starting.delete(key)
    }
  }

  /**
   * The session's series and their timeline, shared with every other live run of the same symbols,
   * timeframe and range. The caller hands `release` to the runner (which calls it when it drops its
   * engine) or calls it itself when the run does not come about.
   */
  async #acquireBars (session: Session): Promise<RunBars> {
    const acquired = await Promise.allSettled(session.symbols.map(async (symbol) =>
      await this.#marketData.acquireSeries(symbol, session.timeframe, session.start_date, session.end_date)))
    const leases: Array<Lease<BarSeries>> = []
    for (const a of acquired) if (a.status === 'fulfilled') leases.push(a.value)
    const failed = acquired.find((a) => a.status === 'rejected')
    let timeline: Lease<Timeline>
    try {
      if (failed !== undefined) throw failed.reason
      const series = leases.map((l) => l.value)
      timeline = await this.#timelines.acquire(leases.map((l) => l.key).join('\n'), () => Object.freeze(buildTimeline(series)))
    } catch (err) {
      for (const l of leases) l.release()
      throw err
    }
    let held = true
    return {
      series: leases.map((l) => l.value),
      timeline: timeline.value,
      release: () => {
        if (!held) return
        held = false
        timeline.release()
        for (const l of leases) l.release()
      }
    }
  }

  /** A run and its runner, with the hooks that commit what the run does by itself. */
  #createRun (user: SessionUser, sessionId: string, session: Session, bars: RunBars, options: RunOptions): Run {
    // eslint-disable-next-line prefer-const -- the hooks close over the run, which needs the runner
    let run: Run
    const journal: JournalState | undefined = this.#journal === undefined
      ? undefined
      : { seq: 0, chain: Promise.resolve(), pending: [], timer: undefined, rebuild: undefined }
    const runner = new SimulationRunner({
      sessionId,
      userId: user.user_id,
      series: bars.series,
      timeline: bars.timeline,
      releaseBars: bars.release,
      initialCapital: session.initial_capital,
      settings: {
        commission_per_share: Number(session.commission_per_share),
        min_commission_per_order: Number(session.min_commission_per_order),
        slippage_bps: session.slippage_bps,
        allow_short: session.allow_short,
        ...(session.volume_participation !== undefined ? { volume_participation: session.volume_participation } : {})
      },
      options,
      ordersPerMinute: this.#limitsFor(user.plan).orders_per_minute,
      ...(this.#marketData.marketSessionAt !== undefined ? { marketSessionAt: this.#marketData.marketSessionAt.bind(this.#marketData) } : {}),
      ...this.#runnerTuning,
      logMaxBytes: this.#logMaxBytes,
      hooks: {
        // Moves the run made itself: committed in the order made, failures logged. A rebuild only replays.
        onState: (to, detail) => {
          if (journal?.rebuild !== undefined) return
          // A dropped connection paused the run: an input like any other, logged before its event is stored.
          if (to === 'paused' && journal !== undefined) this.#logInput(run, 'pause', { reason: 'disconnect', request_id: null }).catch(this.#onError)
          if (to === 'completed' || to === 'error') this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
          this.#enqueue(run, async () => {
            await this.#sessions.transition(user, sessionId, to, {
              progress: detail.progress,
              ...(detail.error_message !== undefined ? { error_message: detail.error_message } : {}),
              ...(to === 'paused' ? { pause_reason: 'disconnect' as const } : {})
            })
          }).catch(this.#onError)
        },
        onProgress: (progress) => {
          if (journal?.rebuild !== undefined) return
          this.#enqueue(run, async () => { await this.#sessions.setProgress(user, sessionId, progress) }).catch(this.#onError)
        },
        onFinished: () => {
          if (journal !== undefined) {
            if (journal.rebuild === undefined) { this.#flush(run); this.#retainDurable(run) }
            return
          }
          this.#retain(run)
        },
        ...(journal !== undefined ? { onFrame: (seq: number, frame: string) => { this.#onFrame(run, seq, frame) } } : {})
      }
    })
    run = { key: keyOf(user.user_id, sessionId), user, sessionId, runner, commits: Promise.resolve(), resumes: Promise.resolve(), finishedAt: undefined, ...(journal !== undefined ? { journal } : {}) }
    return run
  }

  /**
   * tick_ack, the hot path: synchronous when the run is here (a map lookup and the runner's ack), and
   * then returns whether the ack moved the run's window. When the run is not here, a rejected promise
   * explains why (SESSION_NOT_FOUND / INVALID_STATE). A connection that is not driving the run is refused
   * (STREAM_TAKEN_OVER when its stream was taken over, INVALID_STATE otherwise).
   */
  ack (user: SessionUser, sessionId: string, sinkId: number, step: number, status: 'ready' | 'processing' | 'need_time'): boolean | Promise<never> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    if (run === undefined) return this.#missing(user, sessionId)
    return run.runner.ack(sinkId, step, status)
  }

  /**
   * An order batch: the ack is the caller's reply (`onAck` sends it before the orders' events, which go to
   * the run's stream).
   */
  async submitOrders (user: SessionUser, batch: OrderBatchData, requestId?: string, onAck?: (ack: BatchAck) => void): Promise<BatchAck> {
    const run = await this.#run(user, batch.session_id)
    return await this.#input(run, 'orders', { batch, request_id: requestId ?? null }, () => run.runner.submitBatch(batch, requestId, onAck))
  }

  /**
   * Synchronous twin of submitOrders for the WebSocket hot path; undefined when the run is not here, or
   * when the batch must be logged first (durable runs: use submitOrders).
   */
  submitOrdersNow (user: SessionUser, batch: OrderBatchData, requestId: string | undefined, onAck: (ack: BatchAck) => void): BatchAck | undefined {
    if (this.#journal !== undefined) return undefined
    return this.#runs.get(keyOf(user.user_id, batch.session_id))?.runner.submitBatch(batch, requestId, onAck)
  }

  async cancelOrder (user: SessionUser, sessionId: string, orderId: string, requestId?: string): Promise<OrderUpdate> {
    const run = await this.#run(user, sessionId)
    return await this.#input(run, 'cancel', { order_id: orderId, request_id: requestId ?? null }, () => run.runner.cancelOrder(orderId, requestId))
  }

  /** A run's orders; a finished run's come from the RunStore when it is not in memory (after a restart). */
  async orders (user: SessionUser, sessionId: string): Promise<Order[]> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    return run !== undefined ? run.runner.orders() : (await this.#stored(user, sessionId)).orders
  }

  async account (user: SessionUser, sessionId: string): Promise<AccountSnapshot> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    return run !== undefined ? run.runner.account() : (await this.#stored(user, sessionId)).account
  }

  async results (user: SessionUser, sessionId: string): Promise<SimulationResults> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    if (run !== undefined) return run.runner.results()
    const stored = await this.#stored(user, sessionId)
    if (stored.results === null) {
      throw new AppError('INVALID_STATE', 'Results are available when the simulation has completed', { state: stored.state })
    }
    return stored.results
  }

  async state (user: SessionUser, sessionId: string): Promise<SimulationStateData> {
    return (await this.#run(user, sessionId)).runner.stateData()
  }

  /** Whether connection `sinkId` hears this run's events (so a control reply would duplicate one). */
  streamsTo (user: SessionUser, sessionId: string, sinkId: number): boolean {
    return this.#runs.get(keyOf(user.user_id, sessionId))?.runner.streamsTo(sinkId) ?? false
  }

  async pause (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    const run = await this.#run(user, sessionId)
    let data: SimulationStateData | undefined
    await this.#userMove(run, 'paused', () => { data = run.runner.pause('user', requestId) }, undefined, { kind: 'pause', payload: { reason: 'user', request_id: requestId ?? null } })
    return data ?? run.runner.stateData()
  }

  /** Resumes a paused run; a headless run paused by a server restart is rebuilt first. */
  async resume (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId)) ?? await this.#rebuild(user, sessionId, 0, true)
    if (run.runner.pausedBy === 'restart') {
      await this.#userMove(run, 'running', () => { run.runner.resumeAfterRestart() })
    } else {
      await this.#userMove(run, 'running', () => { run.runner.resume(requestId) }, undefined, { kind: 'resume', payload: { request_id: requestId ?? null } })
    }
    return run.runner.stateData()
  }

  async cancel (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    const run = await this.#run(user, sessionId)
    await this.#userMove(run, 'completed', () => { run.runner.cancel(requestId) }, undefined, { kind: 'stop', payload: { request_id: requestId ?? null } })
    return run.runner.stateData()
  }

  /** strategy_error: the strategy threw; the run ends in state error with its message. */
  async strategyError (user: SessionUser, sessionId: string, message: string, stack: string | undefined): Promise<Session> {
    const run = await this.#run(user, sessionId)
    const session = await this.#userMove(run, 'error', () => { run.runner.failByStrategy(message) }, message, { kind: 'strategy_error', payload: { message } })
    this.#onStrategyError?.({ user_id: user.user_id, session_id: sessionId, message, ...(stack !== undefined ? { stack } : {}) })
    return session
  }

  /** GET …/events: at most `limit` (≤ 1,000) events and about 1 MiB after `afterSeq`. */
  async events (user: SessionUser, sessionId: string, afterSeq: number, limit: number): Promise<EventPage> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    if (run === undefined) return await this.#storedEvents(user, sessionId, afterSeq, limit)
    this.#expireIfDue(run)
    const log = run.runner.log
    const frames = await this.#framesAfter(run, afterSeq, Math.min(limit, PAGE_MAX_EVENTS), PAGE_MAX_CHARS)
    // A durable run reads from the event store, which the retention sweep empties once the run is old enough.
    if (frames.length === 0 && afterSeq < log.lastSequenceId && run.journal !== undefined) throw eventsSwept(sessionId, afterSeq, log.lastSequenceId)
    return {
      session_id: sessionId,
      events: frames.map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: log.lastSequenceId,
      has_more: afterSeq + frames.length < log.lastSequenceId
    }
  }

  /**
   * resume_session: `sink` takes the run over. Resumes of one run are served one at a time. The answer
   * (state_sync) carries the first page of missed events; the rest follow on later event-loop turns as
   * the original frames, in order; then `sink` becomes the strategy connection, and only then does a run
   * paused by the disconnect continue. The connection that drove the run before hears STREAM_TAKEN_OVER.
   */
  async attach (user: SessionUser, sessionId: string, sink: EventSink, lastProcessed: number): Promise<StateSyncData> {
    // After a restart the run is rebuilt here first (a durable run), up to what the client has seen.
    const run = this.#runs.get(keyOf(user.user_id, sessionId)) ?? await this.#rebuild(user, sessionId, lastProcessed, false)
    let answered!: (sync: StateSyncData) => void
    let failed!: (err: unknown) => void
    const answer = new Promise<StateSyncData>((resolve, reject) => { answered = resolve; failed = reject })
    const turn = run.resumes.then(async () => {
      let begun: { sync: StateSyncData, cursor: number }
      try {
        this.#expireIfDue(run)
        begun = await this.#beginAttach(run, sink, lastProcessed)
      } catch (err) { failed(err); return }
      answered(begun.sync)
      await this.#replay(run, sink, begun.cursor)
    })
    run.resumes = turn.catch(this.#onError)
    return await answer
  }

  async watch (user: SessionUser, sessionId: string, sink: EventSink): Promise<SubscriptionData> {
    const last = (await this.#run(user, sessionId)).runner.watch(sink)
    return { session_id: sessionId, subscribed: true, last_sequence_id: last }
  }

  async unwatch (user: SessionUser, sessionId: string, sink: EventSink): Promise<SubscriptionData> {
    const runner = (await this.#run(user, sessionId)).runner
    runner.unwatch(sink)
    return { session_id: sessionId, subscribed: false, last_sequence_id: runner.log.lastSequenceId }
  }

  /** A connection closed: every run it drove pauses, every run it watched forgets it. */
  detach (sink: EventSink): void {
    for (const run of this.#runs.values()) run.runner.detach(sink)
  }

  /** Bytes and events of a run's log (benchmarks, tests). */
  async logStats (user: SessionUser, sessionId: string): Promise<{ last_sequence_id: number, first_available_sequence_id: number, approximate_bytes: number }> {
    const log = (await this.#run(user, sessionId)).runner.log
    return { last_sequence_id: log.lastSequenceId, first_available_sequence_id: log.firstAvailableSequenceId, approximate_bytes: log.approximateBytes }
  }

  /** Stops every run, then waits for the store writes already queued (the app closes storage after this). */
  async close (): Promise<void> {
    for (const run of this.#runs.values()) this.#flush(run)
    const pending = [...this.#runs.values()].map(async (run) => { await run.commits; await run.journal?.chain })
    this.stop()
    await Promise.all(pending)
  }

  stop (): void {
    clearInterval(this.#sweep)
    this.#unsubscribe()
    for (const run of this.#runs.values()) {
      clearTimeout(run.journal?.timer)
      run.runner.dispose()
    }
    this.#runs.clear()
    this.#retained.clear()
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────

  async #run (user: SessionUser, sessionId: string): Promise<Run> {
    const run = this.#runs.get(keyOf(user.user_id, sessionId))
    if (run !== undefined) return run
    return await this.#missing(user, sessionId)
  }

  /** SESSION_NOT_FOUND for other users' ids, INVALID_STATE for a session whose run is not here. */
  async #missing (user: SessionUser, sessionId: string): Promise<never> {
    throw notHere(sessionId, (await this.#sessions.get(user, sessionId)).state, this.#journal !== undefined)
  }

  /**
   * GET …/events of a run that is not in memory: a durable run that finished before a restart pages from the
   * event store (EVENTS_EXPIRED once the retention sweep emptied it); anything else is #missing's answer.
   */
  async #storedEvents (user: SessionUser, sessionId: string, afterSeq: number, limit: number): Promise<EventPage> {
    const session = await this.#sessions.get(user, sessionId)
    const journal = this.#journal
    if (journal === undefined || (session.state !== 'completed' && session.state !== 'error')) {
      throw notHere(sessionId, session.state, journal !== undefined)
    }
    const last = await journal.events.lastSeq(user.user_id, sessionId)
    if (last === 0) throw eventsSwept(sessionId, afterSeq)
    const frames = afterSeq >= last ? [] : await journal.events.read(user.user_id, sessionId, afterSeq, Math.min(limit, PAGE_MAX_EVENTS), PAGE_MAX_CHARS)
    return {
      session_id: sessionId,
      events: frames.map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: last,
      has_more: afterSeq + frames.length < last
    }
  }

  /** A finished run from the RunStore (the session's owner checked first); INVALID_STATE when there is none. */
  async #stored (user: SessionUser, sessionId: string): Promise<StoredRun> {
    const session = await this.#sessions.get(user, sessionId)
    const stored = await this.#runStore.get(user.user_id, sessionId)
    if (stored === undefined) throw notHere(sessionId, session.state)
    return stored
  }

  /** The run ended: what …/results, …/account and …/orders answer goes to the RunStore. */
  async #saveFinished (run: Run): Promise<void> {
    const final = run.runner.final
    const state = run.runner.state
    if (final === undefined || (state !== 'completed' && state !== 'error')) return
    await this.#runStore.save(run.user.user_id, run.sessionId, {
      state,
      results: final.results ?? null,
      account: final.account,
      orders: final.orders,
      finished_at: this.#now()
    })
    // Deleted while it was being saved: the memory store has no cascade to drop it.
    if (!this.#runs.has(run.key)) await this.#runStore.delete(run.user.user_id, run.sessionId)
  }

  // ── durable runs: input log, event store, rebuild ──────────────────────────────────────────────

  /** Appends to the run's journal chain (input inserts and event appends, in order). */
  #journaled<T> (run: Run, write: () => Promise<T>): Promise<T> {
    const j = run.journal as JournalState
    const p = j.chain.then(write)
    j.chain = p.catch(() => undefined)
    return p
  }

  /** Logs one input durably, with the step the (held or paused) run is at; resolves once it is stored. */
  async #logInput (run: Run, kind: InputKind, payload: unknown): Promise<void> {
    const journal = this.#journal
    if (journal === undefined) return
    await this.#journaled(run, async () => {
      const j = run.journal as JournalState
      const input: LoggedInput = { seq: j.seq + 1, step: run.runner.ticksSent, kind, payload }
      await journal.inputs.append(run.user.user_id, run.sessionId, input)
      j.seq = input.seq
    })
  }

  /**
   * An input from the strategy (order batch, cancel): durable runs log it first (stepping holds meanwhile,
   * so it applies at the step it was logged with), then `apply` it.
   */
  async #input<T> (run: Run, kind: InputKind, payload: unknown, apply: () => T): Promise<T> {
    if (run.journal === undefined) return apply()
    run.runner.hold()
    try {
      await this.#logInput(run, kind, payload)
      return apply()
    } finally {
      run.runner.release()
    }
  }

  /** Each event of a durable run: batched for the event store, or (rebuilding) checked against it. */
  #onFrame (run: Run, seq: number, frame: string): void {
    const j = run.journal as JournalState
    const check = j.rebuild
    if (check !== undefined && seq <= check.storedLast) {
      const stored = check.page[seq - check.pageFrom]
      if (check.diverged === undefined && (stored === undefined || withoutStamp(stored) !== withoutStamp(frame))) check.diverged = seq
      return
    }
    j.pending.push({ seq, frame })
    if (check !== undefined) return
    if (j.pending.length >= this.#flushEvents) this.#flush(run)
    else if (j.timer === undefined) {
      j.timer = setTimeout(() => { j.timer = undefined; this.#flush(run) }, this.#flushMs)
      j.timer.unref()
    }
  }

  /** Hands the frames waiting for the event store to the journal chain. */
  #flush (run: Run): void {
    const j = run.journal
    const journal = this.#journal
    if (j === undefined || journal === undefined || j.pending.length === 0) return
    clearTimeout(j.timer)
    j.timer = undefined
    const frames = j.pending
    j.pending = []
    this.#journaled(run, async () => { await journal.events.append(run.user.user_id, run.sessionId, frames) }).catch(this.#onError)
  }

  /** Frames after `after`: from memory when the window holds them, else (durable runs) from the event store. */
  async #framesAfter (run: Run, after: number, limit: number, maxChars: number): Promise<string[]> {
    const log = run.runner.log
    const journal = this.#journal
    if (run.journal !== undefined && journal !== undefined && (log.released || after < log.firstAvailableSequenceId - 1)) {
      this.#flush(run)
      await run.journal.chain
      return await journal.events.read(run.user.user_id, run.sessionId, after, limit, maxChars)
    }
    return log.framesAfter(after, limit, maxChars)
  }

  /** Rebuilds a durable run that is not here (the server restarted), one rebuild per run at a time. */
  async #rebuild (user: SessionUser, sessionId: string, lastProcessed: number, headless: boolean): Promise<Run> {
    const key = keyOf(user.user_id, sessionId)
    const running = this.#rebuilds.get(key)
    if (running !== undefined) return await running
    const p = this.#rebuildRun(user, sessionId, lastProcessed, headless)
    this.#rebuilds.set(key, p)
    try {
      return await p
    } finally {
      this.#rebuilds.delete(key)
    }
  }

  /**
   * Replays the bars and the logged inputs through the engine, in slices, up to the last stored event (or
   * the last the client saw), checking every regenerated event against the stored one (the envelope's
   * timestamp aside). A difference moves the session to error and answers REPLAY_DIVERGED.
   */
  async #rebuildRun (user: SessionUser, sessionId: string, lastProcessed: number, headless: boolean): Promise<Run> {
    const journal = this.#journal
    const session = await this.#sessions.get(user, sessionId)
    if (journal === undefined || (session.state !== 'paused' && session.state !== 'running')) throw notHere(sessionId, session.state, journal !== undefined)
    const inputs = await journal.inputs.list(user.user_id, sessionId)
    if (inputs.length === 0 || inputs[0].kind !== 'start') throw notHere(sessionId, session.state, false)
    const start = inputs[0].payload as StartInput
    if (headless && start.options.flow_control) {
      throw new AppError('INVALID_STATE', `Session ${sessionId} was paused by a server restart; its strategy resumes it with resume_session ` +
        '(POST …/resume resumes only a headless run)', { state: session.state, pause_reason: session.pause_reason ?? null })
    }
    const existing = this.#runs.get(keyOf(user.user_id, sessionId))
    if (existing !== undefined) return existing
    const bars = await this.#acquireBars(session)
    let run: Run | undefined
    let storedLast: number
    try {
      run = this.#createRun(user, sessionId, session, bars, start.options)
      storedLast = await journal.events.lastSeq(user.user_id, sessionId)
    } catch (err) {
      run?.runner.dispose()
      bars.release()
      throw err
    }
    const j = run.journal as JournalState
    const { runner } = run
    const check: RebuildCheck = { storedLast, page: [], pageFrom: 1, diverged: undefined }
    j.rebuild = check
    j.seq = inputs[inputs.length - 1].seq
    const target = Math.max(storedLast, lastProcessed)
    runner.hold()
    const fetchPage = async (): Promise<void> => {
      const from = runner.log.lastSequenceId
      check.pageFrom = from + 1
      check.page = from >= storedLast ? [] : await journal.events.read(user.user_id, sessionId, from, REBUILD_PAGE, Number.POSITIVE_INFINITY)
    }
    try {
      await fetchPage()
      runner.start(undefined, start.request_id ?? undefined)
      let i = 1
      for (;;) {
        const deadline = performance.now() + REBUILD_SLICE_MS
        let more = true
        while (performance.now() < deadline) {
          if (check.diverged !== undefined) { more = false; break }
          const input = inputs[i]
          if (input !== undefined && (input.step <= runner.ticksSent || runner.state !== 'running')) {
            applyInput(run, input)
            i++
            continue
          }
          if (input === undefined && runner.log.lastSequenceId >= target) { more = false; break }
          if (runner.state !== 'running') { more = false; break }
          // Refill the page of stored frames before the check could run past it.
          if (check.pageFrom + check.page.length - 1 < Math.min(storedLast, runner.log.lastSequenceId + REBUILD_PAGE / 2)) break
          runner.replayStep()
        }
        if (!more) break
        if (check.pageFrom + check.page.length - 1 < Math.min(storedLast, runner.log.lastSequenceId + REBUILD_PAGE / 2)) await fetchPage()
        await nextTurn()
      }
      if (check.diverged === undefined && runner.log.lastSequenceId < storedLast) check.diverged = runner.log.lastSequenceId + 1
    } catch (err) {
      runner.dispose()
      throw err
    }
    j.rebuild = undefined
    if (check.diverged !== undefined) {
      runner.dispose()
      const message = `Replaying the run's inputs gave a different event ${check.diverged} than its event log holds`
      await this.#sessions.transition(user, sessionId, 'error', { error_message: `REPLAY_DIVERGED: ${message}` })
      throw new AppError('REPLAY_DIVERGED', `${message}; the session is now in state error`, { session_id: sessionId, sequence_id: check.diverged })
    }
    // Events regenerated past the stored ones (they were sent, but not yet stored, when the server stopped).
    this.#flush(run)
    this.#runs.set(run.key, run)
    if (runner.state === 'running') runner.pauseForRestart()
    runner.release()
    if (runner.finished) {
      // It had finished when the server stopped, before its end was stored.
      await this.#enqueue(run, async () => { await this.#saveFinished(run) })
      await this.#sessions.transition(user, sessionId, runner.state, { progress: runner.progress }).catch(() => undefined)
      this.#retainDurable(run)
    }
    return run
  }

  /** A finished durable run keeps no events in memory: the event store has them. */
  #retainDurable (run: Run): void {
    run.finishedAt = this.#now()
    run.runner.log.release()
  }

  #enqueue<T> (run: Run, write: () => Promise<T>): Promise<T> {
    const p = run.commits.then(write)
    run.commits = p.catch(() => undefined)
    return p
  }

  /**
   * A move a user asked for: checked against the lifecycle table now, committed to the store (after any
   * earlier writes of the run), then applied by `apply`. Stepping holds meanwhile, so the run cannot
   * finish between the commit and the apply (a resumed run steps once the hold is released).
   */
  async #userMove (run: Run, to: RunState, apply?: () => void, errorMessage?: string, input?: { kind: InputKind, payload: unknown }): Promise<Session> {
    const runner = run.runner
    runner.assertCan(to)
    runner.hold()
    let session: Session
    try {
      session = await this.#enqueue(run, async () => await this.#sessions.transition(run.user, run.sessionId, to, {
        progress: to === 'completed' ? 1 : runner.progress,
        ...(errorMessage !== undefined ? { error_message: errorMessage } : {}),
        ...(to === 'paused' ? { pause_reason: 'user' as const } : {})
      }))
      if (input !== undefined && run.journal !== undefined) await this.#logInput(run, input.kind, input.payload)
      apply?.()
      // Ended by the user (cancel, strategy_error): kept before the answer goes out.
      if (to === 'completed' || to === 'error') await this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
    } finally {
      runner.release()
    }
    return session
  }

  async #beginAttach (run: Run, sink: EventSink, lastProcessed: number): Promise<{ sync: StateSyncData, cursor: number }> {
    const { runner } = run
    runner.beginAttach(sink, lastProcessed, run.journal !== undefined)
    let frames: string[]
    try {
      frames = await this.#framesAfter(run, lastProcessed, PAGE_MAX_EVENTS, PAGE_MAX_CHARS)
    } catch (err) {
      runner.abortAttach(sink)
      throw err
    }
    const last = lastProcessed + frames.length
    const sync: StateSyncData = {
      session_id: run.sessionId,
      state: runner.state,
      account: runner.account(),
      missed_events: frames.map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: runner.log.lastSequenceId,
      has_more: last < runner.log.lastSequenceId
    }
    return { sync, cursor: last }
  }

  /** Sends the rest of the log after state_sync in pages, one page per event-loop turn, then hands over. */
  async #replay (run: Run, sink: EventSink, from: number): Promise<void> {
    const { runner } = run
    let cursor = from
    try {
      for (;;) {
        await nextTurn()
        while (sink.open && runner.isSyncing(sink.id) && sink.backlogBytes() > REPLAY_HIGH_WATER) await sleep(2)
        if (!sink.open || !runner.isSyncing(sink.id)) { runner.abortAttach(sink); return }
        const frames = await this.#framesAfter(run, cursor, PAGE_MAX_EVENTS, PAGE_MAX_CHARS)
        if (!sink.open || !runner.isSyncing(sink.id)) { runner.abortAttach(sink); return }
        if (frames.length === 0) break
        sink.cork?.()
        for (const f of frames) sink.send(f)
        sink.uncork?.()
        cursor += frames.length
      }
    } catch (err) {
      runner.abortAttach(sink)
      if (isAppError(err) && sink.open) {
        sink.send(JSON.stringify({ type: 'session_error', data: err.toBody(), timestamp: new Date().toISOString() }))
        return
      }
      throw err
    }
    if (!runner.finishAttach(sink)) return
    // The run was paused only because its connection dropped (or the server restarted): resume it, through
    // the store.
    try {
      if (runner.pausedBy === 'restart') await this.#userMove(run, 'running', () => { runner.resumeAfterRestart() })
      else await this.#userMove(run, 'running', () => { runner.resume() }, undefined, { kind: 'resume', payload: { request_id: null } })
    } catch (err) {
      if (!isAppError(err)) throw err
    }
  }

  /** The run finished: keep its log within the user's budget and the retention time, newest first. */
  #retain (run: Run): void {
    run.finishedAt = this.#now()
    if (this.#retentionMs <= 0 || this.#userLogBytes <= 0) { run.runner.log.release(); return }
    const list = this.#retained.get(run.user.user_id) ?? []
    list.push(run)
    this.#retained.set(run.user.user_id, list)
    let bytes = 0
    for (let i = list.length - 1; i >= 0; i--) {
      bytes += list[i].runner.log.approximateBytes
      if (bytes > this.#userLogBytes) {
        for (const old of list.splice(0, i + 1)) old.runner.log.release()
        break
      }
    }
  }

  #expireIfDue (run: Run): void {
    if (run.finishedAt !== undefined && !run.runner.log.released && this.#now() - run.finishedAt >= this.#retentionMs) {
      run.runner.log.release()
      this.#forgetRetained(run)
    }
  }

  #forgetRetained (run: Run): void {
    const list = this.#retained.get(run.user.user_id)
    if (list === undefined) return
    const i = list.indexOf(run)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.#retained.delete(run.user.user_id)
  }

  /**
   * Deletes the stored input and event logs of runs that finished more than the event-log retention ago
   * (their results stay, with the session); resolves how many runs' event logs went. Run by the periodic sweep.
   */
  async pruneStoredLogs (): Promise<number> {
    if (this.#journal === undefined) return 0
    const before = this.#now() - this.#retentionMs
    const [, events] = await Promise.all([
      this.#journal.inputs.deleteFinishedBefore(before),
      this.#journal.events.deleteFinishedBefore(before)
    ])
    return events
  }

  #sweepRetained (): void {
    const now = this.#now()
    for (const [user, list] of this.#retained) {
      while (list.length > 0 && now - (list[0].finishedAt ?? now) >= this.#retentionMs) list.shift()?.runner.log.release()
      if (list.length === 0) this.#retained.delete(user)
    }
  }
}

/** INVALID_STATE for a session whose run this process does not hold, saying why from its stored state. */
/** EVENTS_EXPIRED for a finished run whose stored event log the retention sweep deleted. */
function eventsSwept (sessionId: string, after: number, last?: number): AppError {
  return new AppError('EVENTS_EXPIRED', `The event log of session ${sessionId} is no longer kept (EVENT_LOG_RETENTION_HOURS); its results are`, {
    after_sequence_id: after,
    ...(last !== undefined ? { first_available_sequence_id: last + 1, last_sequence_id: last } : {})
  })
}

function notHere (sessionId: string, state: Session['state'], durable = false): AppError {
  switch (state) {
    case 'running': case 'paused':
      return new AppError('INVALID_STATE', durable
        ? `Session ${sessionId} was paused by a server restart; resume it (resume_session, or POST …/resume for a headless run) to rebuild its run`
        : `Session ${sessionId} was paused by a server restart; its run cannot be resumed in this version. ` +
        'Delete the session and start a new one.', { state })
    case 'completed': case 'error':
      return new AppError('INVALID_STATE', `The run of session ${sessionId} (state ${state}) was not kept`, { state })
    default:
      return new AppError('INVALID_STATE', `Session ${sessionId} has not been started (state ${state})`, { state })
  }
}

/** A frame without its envelope's wall-clock timestamp (the one thing a replay may change). */
function withoutStamp (frame: string): string {
  return frame.replace(/,"timestamp":"[^"]*"(,"sequence_id":\d+\})$/, '$1')
}

/** Applies one logged input to a run being rebuilt; an input refused then is refused again (same events). */
function applyInput (run: Run, input: LoggedInput): void {
  const { runner } = run
  const p = (input.payload ?? {}) as { request_id?: string | null, batch?: OrderBatchData, order_id?: string, reason?: string, message?: string }
  const rid = p.request_id ?? undefined
  try {
    switch (input.kind) {
      case 'orders': runner.submitBatch(p.batch as OrderBatchData, rid); break
      case 'cancel': runner.cancelOrder(p.order_id ?? '', rid); break
      case 'pause': runner.pause(p.reason === 'disconnect' ? 'disconnect' : 'user', rid); break
      case 'resume': runner.resume(rid); break
      case 'stop': runner.cancel(rid); break
      case 'strategy_error': runner.failByStrategy(p.message ?? ''); break
      case 'start': break
    }
  } catch (err) {
    if (!isAppError(err)) throw err
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
