// The one way into a run, for both transports: starts a session's run (loading its bars) and routes
// control, orders, account, results, event-log reads, resume and watching to the run. The runner is
// private here; every public method answers with a wire (schema) type. Ownership is checked through the
// SessionManager, so another user's session is SESSION_NOT_FOUND here too.
//
// State: a move a user asks for (pause, resume, cancel, strategy_error) is checked against the lifecycle
// table and, in `:memory:` mode, written through SessionManager.transition and only then applied to the
// runner (which holds stepping meanwhile). A durable run's commit point is its input log instead: the input
// is logged first, then applied, then the store is told (#userMove says why, and what a crash at each
// point leaves). Moves the run makes itself (completion, failure, a dropped connection) and progress are
// committed in the order they happened, on the run's one chain. The store follows the run: a state it
// failed to take is owed, and written before the run's next store write (#commitMoved).
//
// Finished runs: when a run completes, is cancelled or fails, its results, final account and orders go to
// the RunStore before the store shows the session finished, so that …/results, …/account and …/orders
// answer the same after a restart.
//
// Memory: while running, a run's log is a ring of `eventLogMaxBytesPerRun`. Its bars and their merged
// timeline are shared, read only, with every other live run of the same symbols, timeframe and range
// (reference counted: 50 runs of AAPL 1m 2023 hold one copy). When a run finishes, its engine and its
// hold on the bars are released (results, final account and orders stay); the bars go with the last run
// that held them. Its log is kept only within `eventLogUserBytes` per user (newest runs first) and for
// `eventLogRetentionHours`, then released.
//
// Several instances (a `cluster`: REDIS_URL with a SQL journal): a live run is owned by the one instance
// that holds its lease (run-ownership.ts); its events go to a fenced, shared event stream. A call for a run
// owned elsewhere is sent to the owner as a command and answered as the owner answers; resume_session takes
// the run over (the owner hands it over at a step boundary, or its lease lapses) and rebuilds it here by
// replay; watchers follow the shared stream; runs whose owner died are picked up (headless) or shown paused
// (lockstep) once their lease has lapsed. See docs/deployment.md, "Run ownership and failover".
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import type { Plan, PlanLimits } from '../../schemas/common.js'
import type { ErrorCode } from '../../schemas/errors.js'
import type { Timeframe } from '../../schemas/market-data.js'
import type { Session, SessionState } from '../../schemas/sessions.js'
import type { AccountSnapshot, BatchAck, MarketSession, Order, OrderBatchData, OrderUpdate, ReplaceOrderBody, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { EventPage, OrderStatusFilter, PositionList, SessionEvent, SimulationStateData, StateSyncData, SubscriptionData } from '../../schemas/simulation-control.js'
import { ordersWithStatus } from './order-filter.js'
import type { EquityHistory } from '../../schemas/equity-history.js'
import { dailyEquityHistory, type EquityWindow } from './equity-history.js'
import { AppError, isAppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import { SharedCache, type Lease, type SharedCacheStats } from '../market-data/shared-cache.js'
import { limitsFor as defaultLimitsFor } from '../plans.js'
import { MemoryRunStore } from '../adapters/memory/memory-run-store.js'
import type { RunStore, StoredRun } from '../ports/run-store.js'
import { inputNotLogged } from './input-not-logged.js'
import { InputTakenError, type EventStore, type InputKind, type InputLog, type LoggedInput, type StoredFrame } from '../ports/run-journal.js'
import { FencedAppendError, NoAnswerError, tokenInstance, type EventFollower, type RunCommand, type RunCommands, type RunLeases, type RunRef, type RunReply } from '../ports/run-registry.js'
import { RunOwnership } from './run-ownership.js'
import type { SessionManager, SessionUser, TransitionOptions } from '../sessions/session-manager.js'
import type { SessionEvents } from '../ports/session-events.js'
import { DEFAULT_LOG_MAX_BYTES } from './event-log.js'
import { restateTradeStats } from './metrics.js'
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
  /** When the symbol's daily bar of trading day `day` (yyyymmdd) closes, from its market's calendar (epoch ms). */
  dailyCloseAt?: (symbol: string, day: number) => number
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
  /** Session events of every instance (deleted/expired stop the run wherever it is); default: `sessions`' own. */
  sessionEvents?: Pick<SessionEvents, 'subscribe'>
  /** Where finished runs are kept (default: in this process). */
  runs?: RunStore
  marketData: SeriesLoader
  limitsFor?: (plan: Plan) => PlanLimits
  /** Where failures of background state updates are reported. */
  onError?: (err: unknown) => void
  /** A strategy reported its exception (strategy_error): for the server's log. */
  onStrategyError?: (info: { user_id: string, session_id: string, message: string, stack?: string }) => void
  /** Runner tuning (benchmarks, tests). */
  runner?: { sliceSteps?: number, sliceMs?: number, highWaterMark?: number, unattendedPauseMs?: number }
  eventLog?: EventLogRetention
  /** Runs survive a restart: inputs logged before they apply, events appended in batches. */
  journal?: RunJournal
  /** Several instances as one service (needs a journal whose event store takes fenced appends). */
  cluster?: RunClusterOptions
  now?: () => number
}

export interface RunClusterOptions {
  instanceId: string
  /** RUN_LEASE_MS. */
  leaseMs: number
  leases: RunLeases
  commands: RunCommands
  follower: EventFollower
  /** Sessions stored as running whose run may have lost its owner (state running, updated before `before`). */
  listRunning: (before: number, limit: number, offset: number) => Promise<Array<{ user_id: string, session_id: string }>>
  /** How often (ms) to look for orphaned runs; default leaseMs / 2. 0: never (tests). */
  pickupEveryMs?: number
  /** Where ownership changes are told (picked up, handed over, lost). */
  onInfo?: (info: Record<string, unknown>, message: string) => void
}

interface ClusterState {
  readonly instanceId: string
  readonly leaseMs: number
  readonly ownership: RunOwnership
  readonly commands: RunCommands
  readonly follower: EventFollower
  readonly listRunning: RunClusterOptions['listRunning']
  readonly onInfo: NonNullable<RunClusterOptions['onInfo']>
  readonly pickup: NodeJS.Timeout | undefined
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
/** A watcher more than this far behind is dropped (as the runner drops a local one). */
const WATCHER_MAX_BACKLOG = 16 << 20
/** How long a command to a run's owner may take before the caller answers BUS_UNAVAILABLE. */
const COMMAND_TIMEOUT_MS = 5000
/** A command that found the run gone from its owner (it was moving) is routed again this many times. */
const COMMAND_REROUTES = 5
/** Orphaned runs looked at per pickup round. */
const PICKUP_BATCH = 50
/** The internal reply of an instance asked about a run it does not hold (the caller routes again). */
const NOT_HERE = 'NOT_HERE'
/** A sweep of stored logs also rereads the runs that finished this long before the previous cutoff. */
const LOG_SWEEP_OVERLAP_MS = 3_600_000
/** A state the store failed to take is written again after this long, then twice as long… up to the max. */
const OWED_RETRY_FIRST_MS = 250
const OWED_RETRY_MAX_MS = 30_000

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
  /** A state the store failed to take after the run had moved to it: written before the next store write. */
  owed: OwedState | undefined
  /** Operations that log and apply an input (user moves, orders, cancels), one at a time. */
  inputs: Promise<unknown>
  /** resume_session requests of this run, one at a time (each until its replay has been sent). */
  resumes: Promise<unknown>
  /** Set while a resume_session takes the run over (replay, then going on): inputs wait for it (#input says why). */
  takingOver?: Promise<unknown> | undefined
  /** When the run finished (for log retention). */
  finishedAt: number | undefined
  /** Durable runs: input numbering, the ordered chain of store writes, and frames waiting for the store. */
  journal?: JournalState
  /** Several instances: set while the run is being handed over (calls wait for it, then go to the new owner). */
  leaving?: Promise<void>
  /** Several instances: the run left this instance (handed over or lost); nothing more is written for it. */
  dropped?: boolean
  /** Rebuilt while the store still said running (its owner died or handed it over): resuming needs no store move. */
  storeRunning?: boolean
  /** A durable run that ended: lets its final events be appended, once the store shows the end (#endStored). */
  endStored?: () => void
}

interface JournalState {
  /** Seq of the last logged input. */
  seq: number
  /**
   * Every store write of the run: event appends in order, each after the inputs logged before it was handed
   * over (an input is always stored before the frames it causes). Waiting for it waits for everything.
   */
  chain: Promise<unknown>
  /**
   * Input inserts, in order. On one instance an input does not wait for the event appends queued before it
   * (their frames do not depend on it, and stepping holds until the input is stored); with several
   * instances inputs stay on `chain`, behind the fenced appends.
   */
  inputs: Promise<unknown>
  pending: StoredFrame[]
  timer: NodeJS.Timeout | undefined
  /** Seq of the last frame stored, and the highest handed to the store (several instances: a take-back checks the stream). */
  appended: number
  tried: number
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

/** The start input; `plan` (the starter's) fixes the run's order limit for a rebuild by any instance. */
interface StartInput { options: RunOptions, request_id: string | null, plan?: Plan }

/** What a run replays: shared, read-only series and timeline, and the one call that lets go of both. */
interface RunBars {
  readonly series: readonly BarSeries[]
  readonly timeline: Timeline
  readonly release: () => void
}

interface OwedState {
  readonly to: SessionState
  readonly options: TransitionOptions
  /** Retry of the write while nothing else writes (backing off). */
  timer: NodeJS.Timeout | undefined
  delayMs: number
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
  /** The cutoff of the last completed sweep of stored logs (none yet: the next one sweeps everything). */
  #logsSweptBefore: number | undefined
  readonly #sweep: NodeJS.Timeout
  readonly #unsubscribe: () => void
  readonly #cluster: ClusterState | undefined
  /** Watchers of runs owned elsewhere: per connection, the stop function of each run it follows. */
  readonly #remoteWatches = new Map<number, Map<string, () => void>>()
  /** Strategy connections of runs that left this instance (their acks answer STREAM_TAKEN_OVER). */
  readonly #displaced = new Map<number, Set<string>>()
  #pickingUp = false
  /** Where the next pickup round looks (rounds page through the candidates, so none is starved). */
  #pickupOffset = 0

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
    this.#cluster = opts.cluster !== undefined ? this.#joinCluster(opts.cluster) : undefined
    // Deleting (or expiring) a session stops its run and frees everything it held.
    this.#unsubscribe = (opts.sessionEvents ?? this.#sessions).subscribe((event) => {
      if (event.kind !== 'deleted' && event.kind !== 'expired') return
      // A SQL store deletes a finished run with its session; the memory store needs telling.
      this.#runStore.delete(event.user_id, event.session.session_id).catch(this.#onError)
      this.#journal?.inputs.delete(event.user_id, event.session.session_id).catch(this.#onError)
      this.#journal?.events.delete(event.user_id, event.session.session_id).catch(this.#onError)
      const run = this.#runs.get(keyOf(event.user_id, event.session.session_id))
      if (run === undefined) {
        // Owned by another instance: it stops the run there (its next write would fail anyway).
        if (this.#cluster !== undefined) this.#tellOwner(event.user_id, event.session.session_id, 'drop').catch(() => undefined)
        return
      }
      this.#disposeRun(run)
    })
  }

  #disposeRun (run: Run): void {
    run.runner.dispose()
    clearTimeout(run.owed?.timer)
    if (run.journal !== undefined) clearTimeout(run.journal.timer)
    this.#runs.delete(run.key)
    this.#forgetRetained(run)
    const cluster = this.#cluster
    if (cluster !== undefined && cluster.ownership.holds(run.key)) cluster.ownership.release(run.key).catch(() => undefined)
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
    const cluster = this.#cluster
    let leased = false
    try {
      const bars = await this.#acquireBars(session)
      const options: RunOptions = { ...DEFAULT_RUN_OPTIONS, ...stripUndefined(start) }
      let run: Run | undefined
      try {
        run = this.#createRun(user, sessionId, session, bars, options)
        // Several instances: the lease first, so a session stored as running always has an owner.
        if (cluster !== undefined) {
          const ref = refOf(run)
          leased = await onBus(async () => await cluster.ownership.acquire(key, ref))
          if (!leased) throw new AppError('INVALID_STATE', `Session ${sessionId} is being started elsewhere`, { from: session.state, to: 'running' })
        }
        if (run.journal !== undefined && this.#journal !== undefined) {
          // Logged before the session shows running, so that a running session always has its start. A start
          // logged by an attempt that then failed (or crashed) left the session ready: that log is void.
          await this.#journal.inputs.delete(user.user_id, sessionId)
          await this.#logInput(run, 'start', { options, request_id: requestId ?? null, plan: user.plan } satisfies StartInput)
        }
        await this.#sessions.transition(user, sessionId, 'running')
      } catch (err) {
        run?.runner.dispose()
        bars.release()
        throw err
      }
      this.#runs.set(key, run)
      run.runner.start(sink, requestId)
      leased = false
      return run.runner.stateData()
    } finally {
      this.#starting.delete(key)
      if (leased) await cluster?.ownership.release(key).catch(() => undefined)
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
  #createRun (user: SessionUser, sessionId: string, session: Session, bars: RunBars, options: RunOptions, plan?: Plan): Run {
    // eslint-disable-next-line prefer-const -- the hooks close over the run, which needs the runner
    let run: Run
    const journal: JournalState | undefined = this.#journal === undefined
      ? undefined
      : { seq: 0, chain: Promise.resolve(), inputs: Promise.resolve(), pending: [], timer: undefined, rebuild: undefined, appended: 0, tried: 0 }
    const key = keyOf(user.user_id, sessionId)
    const ownership = this.#cluster?.ownership
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
      ordersPerMinute: this.#limitsFor(plan ?? user.plan).orders_per_minute,
      ...(this.#marketData.marketSessionAt !== undefined ? { marketSessionAt: this.#marketData.marketSessionAt.bind(this.#marketData) } : {}),
      ...(this.#marketData.dailyCloseAt !== undefined ? { dailyCloseAt: this.#marketData.dailyCloseAt.bind(this.#marketData) } : {}),
      ...this.#runnerTuning,
      logMaxBytes: this.#logMaxBytes,
      holdFinal: true,
      hooks: {
        // Moves the run made itself: committed in the order made, failures logged. A rebuild only replays.
        onState: (to, detail) => {
          if (journal?.rebuild !== undefined) return
          // A dropped connection (or no strategy at all) paused the run: an input like any other, logged before
          // its event is stored, and before the store is told (the commit chain waits for it).
          const pauseReason = detail.pause_reason ?? 'disconnect'
          if (to === 'paused' && journal !== undefined) {
            const logged = this.#logInput(run, 'pause', { reason: pauseReason, request_id: null })
            logged.catch((err: unknown) => { if (!(err instanceof NotHereError)) this.#onError(err) })
            this.#enqueue(run, async () => { await logged }).catch(() => undefined)
          }
          if (to === 'completed' || to === 'error') this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
          this.#commitMoved(run, to, {
            progress: detail.progress,
            ...(detail.error_message !== undefined ? { error_message: detail.error_message } : {}),
            ...(to === 'paused' ? { pause_reason: pauseReason } : {})
          }).catch(this.#onError)
        },
        onProgress: (progress) => {
          if (journal?.rebuild !== undefined) return
          this.#enqueue(run, async () => { await this.#sessions.setProgress(user, sessionId, progress) }).catch(this.#onError)
        },
        onFinished: () => {
          if (journal !== undefined) {
            if (journal.rebuild === undefined) {
              // The final frame reaches the shared stream (and remote watchers) after the store shows the end.
              const stored = new Promise<void>((resolve) => { run.endStored = resolve })
              this.#journaled(run, async () => { await stored }).catch(() => undefined)
              this.#flush(run, true)
              this.#retainDurable(run)
              this.#releaseWhenStored(run)
            }
            return
          }
          this.#retain(run)
        },
        ...(journal !== undefined ? { onFrame: (seq: number, frame: string) => { this.#onFrame(run, seq, frame) } } : {}),
        ...(ownership !== undefined ? { owned: () => ownership.valid(key) } : {}),
        // A rebuild replays the run's own pauses from its input log; it makes none.
        maySelfPause: () => journal?.rebuild === undefined
      }
    })
    run = { key, user, sessionId, runner, commits: Promise.resolve(), owed: undefined, inputs: Promise.resolve(), resumes: Promise.resolve(), finishedAt: undefined, ...(journal !== undefined ? { journal } : {}) }
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
    if (run === undefined) return this.#notDriving(user, sessionId, sinkId)
    return run.runner.ack(sinkId, step, status)
  }

  /**
   * An order batch: the ack is the caller's reply (`onAck` sends it before the orders' events, which go to
   * the run's stream).
   */
  async submitOrders (user: SessionUser, batch: OrderBatchData, requestId?: string, onAck?: (ack: BatchAck) => void): Promise<BatchAck> {
    return await this.#routed(user, batch.session_id, 'orders', { batch, request_id: requestId ?? null },
      async (run) => await this.#ordersHere(run, batch, requestId, onAck),
      async (ack: BatchAck) => { onAck?.(ack); return ack })
  }

  /**
   * Synchronous twin of submitOrders for the WebSocket hot path; undefined when the run is not here, or
   * when the batch must be logged first (durable runs: use submitOrders) or wait for a takeover (#input).
   */
  submitOrdersNow (user: SessionUser, batch: OrderBatchData, requestId: string | undefined, onAck: (ack: BatchAck) => void): BatchAck | undefined {
    if (this.#journal !== undefined) return undefined
    const run = this.#runs.get(keyOf(user.user_id, batch.session_id))
    if (run === undefined || run.takingOver !== undefined) return undefined
    run.runner.fillWindow()
    return run.runner.submitBatch(batch, requestId, onAck)
  }

  /** Replace a working order (as Alpaca's replace); resolves the replacing order's order_update. */
  async replaceOrder (user: SessionUser, sessionId: string, orderId: string, changes: ReplaceOrderBody, requestId?: string): Promise<OrderUpdate> {
    return await this.#routed(user, sessionId, 'replace_order', { order_id: orderId, changes, request_id: requestId ?? null },
      async (run) => await this.#replaceOrderHere(run, orderId, changes, requestId))
  }

  async cancelOrder (user: SessionUser, sessionId: string, orderId: string, requestId?: string): Promise<OrderUpdate> {
    return await this.#routed(user, sessionId, 'cancel_order', { order_id: orderId, request_id: requestId ?? null },
      async (run) => await this.#cancelOrderHere(run, orderId, requestId))
  }

  /**
   * A run's orders, those `status` keeps; a finished run's come from the RunStore when it is not in memory
   * (after a restart). Filtered here, not by the owner, so the command between instances is unchanged.
   */
  async orders (user: SessionUser, sessionId: string, status: OrderStatusFilter = 'all'): Promise<Order[]> {
    const orders = await this.#routed(user, sessionId, 'list_orders', {}, async (run) => run.runner.orders(),
      undefined, async () => (await this.#stored(user, sessionId)).orders)
    return ordersWithStatus(orders, status)
  }

  /** The open positions of the run's account: as `account` reads it (the owner while running, the store once finished). */
  async positions (user: SessionUser, sessionId: string): Promise<PositionList> {
    const account = await this.account(user, sessionId)
    return { session_id: sessionId, sim_time: account.sim_time, positions: account.positions }
  }

  async account (user: SessionUser, sessionId: string): Promise<AccountSnapshot> {
    return await this.#routed(user, sessionId, 'account', {}, async (run) => run.runner.account(),
      undefined, async () => (await this.#stored(user, sessionId)).account)
  }

  async results (user: SessionUser, sessionId: string): Promise<SimulationResults> {
    return await this.#routed(user, sessionId, 'results', {}, async (run) => run.runner.results(), undefined, async () => {
      const stored = await this.#stored(user, sessionId)
      if (stored.results === null) {
        throw new AppError('INVALID_STATE', 'Results are available when the simulation has completed', { state: stored.state })
      }
      return restateTradeStats(stored.results)
    })
  }

  /** The run's equity curve so far, thinned (equity-history.ts); a finished run's from its stored results. */
  async equity (user: SessionUser, sessionId: string, window: EquityWindow): Promise<EquityHistory> {
    return await this.#routed(user, sessionId, 'equity', { ...window }, async (run) => run.runner.equityHistory(window), undefined, async () => {
      const { estimated_ticks: total } = await this.#sessions.get(user, sessionId)
      const { results, state } = await this.#stored(user, sessionId)
      if (results === null) throw new AppError('INVALID_STATE', 'The run failed; it has no equity curve to show', { state })
      return dailyEquityHistory(results, total, window)
    })
  }

  async state (user: SessionUser, sessionId: string): Promise<SimulationStateData> {
    return await this.#routed(user, sessionId, 'state', {}, async (run) => run.runner.stateData())
  }

  /** Whether connection `sinkId` hears this run's events (so a control reply would duplicate one). */
  streamsTo (user: SessionUser, sessionId: string, sinkId: number): boolean {
    const key = keyOf(user.user_id, sessionId)
    return this.#runs.get(key)?.runner.streamsTo(sinkId) ?? this.#remoteWatches.get(sinkId)?.has(key) ?? false
  }

  async pause (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    return await this.#routed(user, sessionId, 'pause', { request_id: requestId ?? null }, async (run) => await this.#pauseHere(run, requestId))
  }

  /** Resumes a paused run; a headless run paused by a server restart (or whose owner died) is rebuilt first. */
  async resume (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    return await this.#routed(user, sessionId, 'resume', { request_id: requestId ?? null }, async (run) => await this.#resumeHere(run, requestId),
      undefined, async () => await this.#resumeHere(await this.#takeOver(user, sessionId, 0, true), requestId))
  }

  async cancel (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    return await this.#routed(user, sessionId, 'cancel', { request_id: requestId ?? null }, async (run) => await this.#cancelHere(run, requestId))
  }

  /** strategy_error: the strategy threw; the run ends in state error with its message. */
  async strategyError (user: SessionUser, sessionId: string, message: string, stack: string | undefined): Promise<Session> {
    const session = await this.#routed(user, sessionId, 'strategy_error', { message }, async (run) => await this.#strategyErrorHere(run, message))
    this.#onStrategyError?.({ user_id: user.user_id, session_id: sessionId, message, ...(stack !== undefined ? { stack } : {}) })
    return session
  }

  /** GET …/events: at most `limit` (≤ 1,000) events and about 1 MiB after `afterSeq`. */
  async events (user: SessionUser, sessionId: string, afterSeq: number, limit: number): Promise<EventPage> {
    return await this.#routed(user, sessionId, 'events', { after: afterSeq, limit }, async (run) => await this.#eventsHere(run, afterSeq, limit),
      undefined, async () => await this.#storedEvents(user, sessionId, afterSeq, limit))
  }

  /**
   * resume_session: `sink` takes the run over. Resumes of one run are served one at a time. The answer
   * (state_sync) carries the first page of missed events; the rest follow on later event-loop turns as
   * the original frames, in order; then `sink` becomes the strategy connection, and only then does a run
   * paused by the disconnect continue. The connection that drove the run before hears STREAM_TAKEN_OVER.
   * Several instances: a run owned elsewhere is taken over first (handed over by its owner, or taken once
   * its lease lapsed) and rebuilt here.
   */
  async attach (user: SessionUser, sessionId: string, sink: EventSink, lastProcessed: number | undefined): Promise<StateSyncData> {
    // After a restart the run is rebuilt here first (a durable run), up to what the client has seen.
    const run = await this.#here(user, sessionId) ?? await this.#takeOver(user, sessionId, lastProcessed ?? 0, false)
    this.#undisplace(sink.id, run.key)
    let answered!: (sync: StateSyncData) => void
    let failed!: (err: unknown) => void
    const answer = new Promise<StateSyncData>((resolve, reject) => { answered = resolve; failed = reject })
    const turn = run.resumes.then(async () => {
      let begun: { sync: StateSyncData, cursor: number }
      try {
        this.#expireIfDue(run)
        // No last_processed_sequence_id: a new strategy process attaches at the end of the log.
        begun = await this.#beginAttach(run, sink, lastProcessed ?? run.runner.log.lastSequenceId)
      } catch (err) { failed(err); return }
      answered(begun.sync)
      await this.#replay(run, sink, begun.cursor)
    })
    run.resumes = turn.catch(this.#onError)
    const takingOver = run.resumes
    run.takingOver = takingOver
    void takingOver.then(() => { if (run.takingOver === takingOver) run.takingOver = undefined })
    return await answer
  }

  async watch (user: SessionUser, sessionId: string, sink: EventSink): Promise<SubscriptionData> {
    const run = await this.#here(user, sessionId)
    if (run !== undefined) return { session_id: sessionId, subscribed: true, last_sequence_id: run.runner.watch(sink) }
    const cluster = this.#cluster
    if (cluster === undefined) return await this.#missing(user, sessionId)
    const session = await this.#sessions.get(user, sessionId)
    if (session.state !== 'running' && session.state !== 'paused') throw notHere(sessionId, session.state, true)
    // Owned elsewhere (or waiting for an owner): follow its shared stream from its end.
    const ref = { userId: user.user_id, sessionId }
    const last = await onBus(async () => await cluster.follower.lastSeq(ref))
    this.#followRemote(ref, sink, last)
    return { session_id: sessionId, subscribed: true, last_sequence_id: last }
  }

  async unwatch (user: SessionUser, sessionId: string, sink: EventSink): Promise<SubscriptionData> {
    const key = keyOf(user.user_id, sessionId)
    const cluster = this.#cluster
    if (cluster !== undefined && this.#remoteWatches.get(sink.id)?.has(key) === true) {
      this.#unfollow(sink.id, key)
      const last = await onBus(async () => await cluster.follower.lastSeq({ userId: user.user_id, sessionId }))
      return { session_id: sessionId, subscribed: false, last_sequence_id: last }
    }
    const runner = (await this.#run(user, sessionId)).runner
    runner.unwatch(sink)
    return { session_id: sessionId, subscribed: false, last_sequence_id: runner.log.lastSequenceId }
  }

  /** A connection closed: every run it drove pauses, every run it watched forgets it. */
  detach (sink: EventSink): void {
    for (const run of this.#runs.values()) run.runner.detach(sink)
    for (const key of [...this.#remoteWatches.get(sink.id)?.keys() ?? []]) this.#unfollow(sink.id, key)
    this.#displaced.delete(sink.id)
  }

  /** Bytes and events of a run's log (benchmarks, tests). */
  async logStats (user: SessionUser, sessionId: string): Promise<{ last_sequence_id: number, first_available_sequence_id: number, approximate_bytes: number }> {
    const log = (await this.#run(user, sessionId)).runner.log
    return { last_sequence_id: log.lastSequenceId, first_available_sequence_id: log.firstAvailableSequenceId, approximate_bytes: log.approximateBytes }
  }

  /** Runs this instance owns now (several instances; tests and /metrics). */
  get ownedRuns (): number { return this.#cluster?.ownership.size ?? 0 }

  /**
   * Stops every run, then waits for the store writes already queued (the app closes storage after this).
   * Several instances: each live run's events are stored and its lease given up first, so another instance
   * can take it at once (its strategy's resume_session, or the pickup of a headless run).
   */
  async close (): Promise<void> {
    const cluster = this.#cluster
    if (cluster !== undefined) {
      clearInterval(cluster.pickup)
      const live = [...this.#runs.values()].filter((run) => cluster.ownership.holds(run.key))
      for (const run of live) run.runner.hold()
      for (const run of live) this.#flush(run)
      await Promise.all(live.map(async (run) => {
        await run.commits
        await run.journal?.chain
        run.dropped = true
        await cluster.ownership.release(run.key).catch(() => undefined)
      }))
    }
    for (const run of this.#runs.values()) this.#flush(run)
    const pending = [...this.#runs.values()].map(async (run) => { await run.commits; await run.journal?.chain })
    this.stop()
    await Promise.all(pending)
    if (cluster !== undefined) await Promise.all([cluster.commands.close(), cluster.follower.close()])
  }

  stop (): void {
    clearInterval(this.#sweep)
    this.#unsubscribe()
    if (this.#cluster !== undefined) {
      clearInterval(this.#cluster.pickup)
      this.#cluster.ownership.stop()
      for (const sinkId of [...this.#remoteWatches.keys()]) for (const key of [...this.#remoteWatches.get(sinkId)?.keys() ?? []]) this.#unfollow(sinkId, key)
    }
    for (const run of this.#runs.values()) {
      clearTimeout(run.journal?.timer)
      clearTimeout(run.owed?.timer)
      run.runner.dispose()
    }
    this.#runs.clear()
    this.#retained.clear()
  }

  // ── the operations on a run held here (also what commands from other instances run) ─────────────

  async #ordersHere (run: Run, batch: OrderBatchData, requestId: string | undefined, onAck?: (ack: BatchAck) => void): Promise<BatchAck> {
    return await this.#input(run, 'orders', { batch, request_id: requestId ?? null }, () => run.runner.submitBatch(batch, requestId, onAck))
  }

  async #cancelOrderHere (run: Run, orderId: string, requestId: string | undefined): Promise<OrderUpdate> {
    return await this.#input(run, 'cancel', { order_id: orderId, request_id: requestId ?? null }, () => run.runner.cancelOrder(orderId, requestId))
  }

  async #replaceOrderHere (run: Run, orderId: string, changes: ReplaceOrderBody, requestId: string | undefined): Promise<OrderUpdate> {
    return await this.#input(run, 'replace', { order_id: orderId, changes, request_id: requestId ?? null }, () => run.runner.replaceOrder(orderId, changes, requestId))
  }

  async #pauseHere (run: Run, requestId: string | undefined): Promise<SimulationStateData> {
    let data: SimulationStateData | undefined
    await this.#userMove(run, 'paused', () => { data = run.runner.pause('user', requestId) }, undefined, { kind: 'pause', payload: { reason: 'user', request_id: requestId ?? null } })
    return data ?? run.runner.stateData()
  }

  async #resumeHere (run: Run, requestId: string | undefined): Promise<SimulationStateData> {
    if (run.runner.pausedBy === 'restart') {
      await this.#continueRebuilt(run)
    } else {
      await this.#userMove(run, 'running', () => { run.runner.resume(requestId) }, undefined, { kind: 'resume', payload: { request_id: requestId ?? null } })
    }
    return run.runner.stateData()
  }

  async #cancelHere (run: Run, requestId: string | undefined): Promise<SimulationStateData> {
    await this.#userMove(run, 'completed', () => { run.runner.cancel(requestId) }, undefined, { kind: 'stop', payload: { request_id: requestId ?? null } })
    return run.runner.stateData()
  }

  async #strategyErrorHere (run: Run, message: string): Promise<Session> {
    return await this.#userMove(run, 'error', () => { run.runner.failByStrategy(message) }, message, { kind: 'strategy_error', payload: { message } })
  }

  async #eventsHere (run: Run, afterSeq: number, limit: number): Promise<EventPage> {
    this.#expireIfDue(run)
    const log = run.runner.log
    const frames = await this.#framesAfter(run, afterSeq, Math.min(limit, PAGE_MAX_EVENTS), PAGE_MAX_CHARS)
    // A durable run reads from the event store, which the retention sweep empties once the run is old enough.
    if (frames.length === 0 && afterSeq < log.lastSequenceId && run.journal !== undefined) throw eventsSwept(run.sessionId, afterSeq, log.lastSequenceId)
    return {
      session_id: run.sessionId,
      events: frames.map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: log.lastSequenceId,
      has_more: afterSeq + frames.length < log.lastSequenceId
    }
  }

  /** A rebuilt run paused by the restart (or the move) goes on; the store hears of it unless it still says running. */
  async #continueRebuilt (run: Run): Promise<void> {
    if (run.storeRunning === true) {
      await this.#whenOwned(run)
      run.storeRunning = false
      run.runner.resumeAfterRestart()
      return
    }
    await this.#userMove(run, 'running', () => { run.runner.resumeAfterRestart() })
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

  // ── several instances: where a run is, commands to its owner, takeover, handover, pickup ──────────

  /**
   * The run if it is held here: waits for a handover under way (then it is not), and in cluster mode for a
   * rebuild under way.
   */
  async #here (user: SessionUser, sessionId: string): Promise<Run | undefined> {
    const key = keyOf(user.user_id, sessionId)
    let run = this.#runs.get(key)
    if (run?.leaving !== undefined) {
      await run.leaving
      run = this.#runs.get(key)
    }
    if (run === undefined && this.#cluster !== undefined) {
      const rebuilding = this.#rebuilds.get(key)
      if (rebuilding !== undefined) run = await rebuilding.catch(() => undefined)
    }
    return run
  }

  /**
   * One operation on a run, wherever it is: `here` when this instance holds it; a command to the instance
   * that owns it (its answer, as the owner gave it; `remote` adapts it); or `orphan` (default: the
   * INVALID_STATE/SESSION_NOT_FOUND answer of a run nobody holds).
   */
  async #routed<T> (user: SessionUser, sessionId: string, op: string, args: Record<string, unknown>, here: (run: Run) => Promise<T>,
    remote?: (value: T) => T | Promise<T>, orphan?: () => Promise<T>): Promise<T> {
    const cluster = this.#cluster
    for (let attempt = 0; ; attempt++) {
      const run = await this.#here(user, sessionId)
      if (run !== undefined) {
        try {
          return await here(run)
        } catch (err) {
          // It left this instance while the call waited for it: ask again where it is.
          if (!(err instanceof NotHereError)) throw err
          if (attempt < COMMAND_REROUTES) continue
          throw new AppError('BUS_UNAVAILABLE', 'The run is moving between instances; retry shortly')
        }
      }
      const owner = cluster !== undefined ? await this.#ownerElsewhere(user, sessionId) : undefined
      if (owner === undefined) return orphan !== undefined ? await orphan() : await this.#missing(user, sessionId)
      let reply: RunReply
      try {
        reply = await this.#call(owner, { op, user: { user_id: user.user_id, plan: user.plan }, session_id: sessionId, args })
      } catch (err) {
        // Reads of a finished run need no owner (one that died before giving its lease up): the store has them.
        if (orphan === undefined || !await this.#endedInStore(user, sessionId)) throw err
        return await orphan()
      }
      if (reply.ok) return remote !== undefined ? await remote(reply.value as T) : reply.value as T
      // The run left that instance meanwhile (handed over, lost): ask again where it is.
      if (reply.error.error_code === NOT_HERE && attempt < COMMAND_REROUTES) { await sleep(20 * (attempt + 1)); continue }
      throw replyError(reply)
    }
  }

  /** Whether the store shows the session finished (completed or error): its results, account and orders are stored. */
  async #endedInStore (user: SessionUser, sessionId: string): Promise<boolean> {
    const state = (await this.#sessions.get(user, sessionId).catch(() => undefined))?.state
    return state === 'completed' || state === 'error'
  }

  /** The instance (not this one) whose lease holds the run; undefined when nobody's does. */
  async #ownerElsewhere (user: SessionUser, sessionId: string): Promise<string | undefined> {
    const cluster = this.#cluster as ClusterState
    const holder = await onBus(async () => await cluster.ownership.leases.holder({ userId: user.user_id, sessionId }))
    if (holder === undefined) return undefined
    const instance = tokenInstance(holder.token)
    // A lease of this instance's earlier life (same INSTANCE_ID, restarted): nobody runs it; it lapses.
    return instance === cluster.instanceId ? undefined : instance
  }

  async #call (instance: string, command: RunCommand, timeoutMs = COMMAND_TIMEOUT_MS): Promise<RunReply> {
    const cluster = this.#cluster as ClusterState
    try {
      return await cluster.commands.call(instance, command, timeoutMs)
    } catch (err) {
      if (!(err instanceof NoAnswerError)) throw err
      throw new AppError('BUS_UNAVAILABLE', err.reason === 'bus'
        ? BUS_DOWN
        : 'The instance that runs this session is not answering; retry shortly (a run whose instance stopped is taken over once its lease lapses)')
    }
  }

  /** Sends `op` (no answer awaited) to the run's owner, if another instance owns it. */
  async #tellOwner (userId: string, sessionId: string, op: string): Promise<void> {
    const owner = await this.#ownerElsewhere({ user_id: userId, plan: 'free' }, sessionId)
    if (owner !== undefined) await this.#call(owner, { op, user: { user_id: userId, plan: 'free' }, session_id: sessionId })
  }

  /** tick_ack for a run not held here: why this connection cannot drive it. */
  async #notDriving (user: SessionUser, sessionId: string, sinkId: number): Promise<never> {
    const key = keyOf(user.user_id, sessionId)
    if (this.#displaced.get(sinkId)?.has(key) === true) {
      throw new AppError('STREAM_TAKEN_OVER', 'Another connection took this run over with resume_session; this connection no longer drives it', { session_id: sessionId })
    }
    if (this.#cluster !== undefined && await this.#ownerElsewhere(user, sessionId) !== undefined) {
      await this.#sessions.get(user, sessionId)
      throw new AppError('INVALID_STATE', 'Only the connection driving the run may acknowledge its ticks (send resume_session to take it over)', { session_id: sessionId, state: 'running' })
    }
    return await this.#missing(user, sessionId)
  }

  #undisplace (sinkId: number, key: string): void {
    const set = this.#displaced.get(sinkId)
    if (set === undefined) return
    set.delete(key)
    if (set.size === 0) this.#displaced.delete(sinkId)
  }

  /**
   * Several instances: an input or a move is made only while this instance owns the run. Past the lease's
   * local deadline (the bus is down, or the process stalled) it waits for the ownership to be confirmed or
   * taken back, for up to two leases; then BUS_UNAVAILABLE. A run that left meanwhile is NotHereError (the
   * call is routed again).
   */
  async #whenOwned (run: Run): Promise<void> {
    const cluster = this.#cluster
    if (cluster === undefined || run.runner.finished) return
    const giveUp = performance.now() + 2 * cluster.leaseMs
    while (!cluster.ownership.valid(run.key)) {
      if (run.dropped === true || !cluster.ownership.holds(run.key)) throw new NotHereError()
      if (performance.now() > giveUp) throw new AppError('BUS_UNAVAILABLE', 'This instance cannot confirm it still owns the run (the shared bus is unavailable); retry shortly')
      await sleep(25)
    }
  }

  /**
   * A run not held here, for resume_session (or a REST resume of a headless run): take its lease (handed
   * over by a live owner, or once a dead owner's lease lapsed), then rebuild it here by replay, checked
   * against its stream. Without a cluster, this is the rebuild after a restart.
   */
  async #takeOver (user: SessionUser, sessionId: string, lastProcessed: number, headless: boolean): Promise<Run> {
    const cluster = this.#cluster
    if (cluster === undefined) return await this.#rebuild(user, sessionId, lastProcessed, headless)
    const key = keyOf(user.user_id, sessionId)
    const running = this.#rebuilds.get(key)
    if (running !== undefined) return await running
    const session = await this.#sessions.get(user, sessionId)
    if (session.state !== 'running' && session.state !== 'paused') throw notHere(sessionId, session.state, true)
    await this.#takeLease(user, sessionId)
    try {
      return await this.#rebuild(user, sessionId, lastProcessed, headless)
    } catch (err) {
      if (this.#runs.get(key) === undefined) await cluster.ownership.release(key).catch(() => undefined)
      throw err
    }
  }

  /**
   * Takes a run's lease: at once when nobody holds it; from a live owner by a handover (it stops at a step
   * boundary, stores its events and hands the lease to this instance's token); from a dead owner once its
   * lease lapses. Bounded: BUS_UNAVAILABLE when the owner neither answers nor lets its lease lapse.
   */
  async #takeLease (user: SessionUser, sessionId: string): Promise<void> {
    const cluster = this.#cluster as ClusterState
    const { ownership, leaseMs, instanceId } = cluster
    const key = keyOf(user.user_id, sessionId)
    const ref = { userId: user.user_id, sessionId }
    const token = ownership.newToken()
    const giveUp = performance.now() + 2 * leaseMs + COMMAND_TIMEOUT_MS
    while (performance.now() < giveUp) {
      if (await onBus(async () => await ownership.acquire(key, ref, token))) return
      const holder = await onBus(async () => await ownership.leases.holder(ref))
      if (holder === undefined) continue
      const owner = tokenInstance(holder.token)
      if (owner !== instanceId) {
        const sent = performance.now()
        let reply: RunReply | undefined
        try {
          // A stopped owner answers nothing: past a lease its lease has lapsed anyway (below).
          reply = await cluster.commands.call(owner, { op: 'handover', user: { user_id: user.user_id, plan: user.plan }, session_id: sessionId, args: { token } }, Math.min(COMMAND_TIMEOUT_MS, leaseMs))
        } catch (err) {
          if (!(err instanceof NoAnswerError)) throw err
          if (err.reason === 'bus') throw new AppError('BUS_UNAVAILABLE', BUS_DOWN)
          // Gone, or not answering: its lease lapses by itself (below).
        }
        if (reply?.ok === true) {
          ownership.adopt(key, ref, token, sent)
          cluster.onInfo({ session_id: sessionId, from: owner }, 'run handed over to this instance')
          return
        }
        if (reply !== undefined && reply.error.error_code !== NOT_HERE) throw replyError(reply)
        if (reply !== undefined) { await sleep(50); continue }
      }
      // A dead owner's lease (or one of this instance's earlier life): wait for it to lapse.
      await sleep(Math.max(10, Math.min(holder.ttlMs + 5, 250)))
    }
    throw new AppError('BUS_UNAVAILABLE', `The instance that runs session ${sessionId} neither handed it over nor let its lease lapse; retry shortly`)
  }

  /**
   * This instance's run is taken over (a handover command from the resuming instance): stop at a step
   * boundary, let inputs and store writes under way finish, store the events, hand the lease to `next`,
   * then drop the run (its strategy connection hears STREAM_TAKEN_OVER).
   */
  async #handOver (run: Run, next: string): Promise<{ last_sequence_id: number }> {
    const cluster = this.#cluster as ClusterState
    if (run.leaving !== undefined) { await run.leaving; throw new NotHereError() }
    let left!: () => void
    run.leaving = new Promise<void>((resolve) => { left = resolve })
    run.runner.hold()
    try {
      // Inputs already accepted apply (and are stored) before the run leaves.
      for (let i = 0; i < 100; i++) {
        const commits = run.commits
        const chain = run.journal?.chain
        await commits
        await chain
        await nextTurn()
        if (commits === run.commits && chain === run.journal?.chain) break
      }
      this.#flush(run, run.runner.finished)
      await run.journal?.chain
      const last = run.runner.log.lastSequenceId
      if (run.dropped === true || !await onBus(async () => await cluster.ownership.transfer(run.key, next))) {
        this.#dropRun(run, 'its lease was no longer this instance\'s')
        throw new NotHereError()
      }
      this.#dropRun(run, 'Another connection took this run over with resume_session (on another instance)', false)
      cluster.onInfo({ session_id: run.sessionId }, 'run handed over to another instance')
      return { last_sequence_id: last }
    } finally {
      run.runner.release()
      run.leaving = undefined
      left()
    }
  }

  /**
   * The run is not this instance's any more (handed over, or its lease lost): stop it here without writing
   * anything; its strategy connection hears STREAM_TAKEN_OVER and its watchers go on from the shared stream.
   */
  #dropRun (run: Run, why: string, lost = true): void {
    if (run.dropped === true) return
    run.dropped = true
    const cluster = this.#cluster as ClusterState
    cluster.ownership.forget(run.key)
    clearTimeout(run.owed?.timer)
    if (run.journal !== undefined) {
      clearTimeout(run.journal.timer)
      run.journal.timer = undefined
      run.journal.pending = []
    }
    const last = run.runner.log.lastSequenceId
    const { displaced, watchers } = run.runner.relinquish(lost ? `This instance lost the run (${why}); send resume_session to go on` : why, lost)
    for (const id of displaced) {
      const set = this.#displaced.get(id) ?? new Set<string>()
      set.add(run.key)
      this.#displaced.set(id, set)
    }
    run.runner.dispose()
    if (this.#runs.get(run.key) === run) this.#runs.delete(run.key)
    this.#forgetRetained(run)
    const ref = refOf(run)
    for (const w of watchers) this.#followRemote(ref, w, last)
    if (lost) cluster.onInfo({ session_id: run.sessionId, why }, 'run dropped: this instance no longer owns it')
  }

  #joinCluster (opts: RunClusterOptions): ClusterState {
    const journal = this.#journal
    const ownership = new RunOwnership({
      leases: opts.leases,
      instanceId: opts.instanceId,
      leaseMs: opts.leaseMs,
      hooks: {
        lost: (key, why) => {
          const run = this.#runs.get(key)
          if (run !== undefined) this.#dropRun(run, why)
        },
        renewed: (key) => { this.#runs.get(key)?.runner.poke() },
        appended: (key) => {
          const j = this.#runs.get(key)?.journal
          return { through: j?.appended ?? 0, tried: j?.tried ?? 0 }
        },
        unchanged: async (key) => {
          const run = this.#runs.get(key)
          if (run?.journal === undefined || journal === undefined) return false
          return await journal.inputs.lastSeq(run.user.user_id, run.sessionId) === run.journal.seq
        },
        onError: this.#onError
      }
    })
    const every = opts.pickupEveryMs ?? Math.floor(opts.leaseMs / 2)
    const pickup = every > 0 ? setInterval(() => { this.pickUpOrphans().catch(this.#onError) }, every) : undefined
    pickup?.unref()
    opts.commands.serve(async (command) => await this.#serve(command))
    return {
      instanceId: opts.instanceId,
      leaseMs: opts.leaseMs,
      ownership,
      commands: opts.commands,
      follower: opts.follower,
      listRunning: opts.listRunning,
      onInfo: opts.onInfo ?? (() => {}),
      pickup
    }
  }

  /** A command from another instance, for a run this instance holds (NOT_HERE otherwise: the caller routes again). */
  async #serve (command: RunCommand): Promise<RunReply> {
    const user: SessionUser = { user_id: command.user.user_id, plan: command.user.plan as Plan }
    const args = (command.args ?? {}) as { request_id?: string | null, batch?: OrderBatchData, order_id?: string, changes?: ReplaceOrderBody, message?: string, after?: number, limit?: number, token?: string }
    const rid = args.request_id ?? undefined
    const run = await this.#here(user, command.session_id)
    const cluster = this.#cluster as ClusterState
    if (run === undefined || run.dropped === true || (!run.runner.finished && !cluster.ownership.holds(run.key))) {
      return { ok: false, error: { error_code: NOT_HERE, message: 'not held here' } }
    }
    try {
      let value: unknown
      switch (command.op) {
        case 'orders': value = await this.#ordersHere(run, args.batch as OrderBatchData, rid); break
        case 'cancel_order': value = await this.#cancelOrderHere(run, args.order_id ?? '', rid); break
        case 'replace_order': value = await this.#replaceOrderHere(run, args.order_id ?? '', args.changes ?? {}, rid); break
        case 'list_orders': value = run.runner.orders(); break
        case 'account': value = run.runner.account(); break
        case 'results': value = run.runner.results(); break
        case 'equity': value = run.runner.equityHistory(args as unknown as EquityWindow); break
        case 'state': value = run.runner.stateData(); break
        case 'pause': value = await this.#pauseHere(run, rid); break
        case 'resume': value = await this.#resumeHere(run, rid); break
        case 'cancel': value = await this.#cancelHere(run, rid); break
        case 'strategy_error': value = await this.#strategyErrorHere(run, args.message ?? ''); break
        case 'events': value = await this.#eventsHere(run, args.after ?? 0, args.limit ?? PAGE_MAX_EVENTS); break
        case 'handover': value = await this.#handOver(run, args.token ?? ''); break
        case 'drop': this.#disposeRun(run); value = null; break
        default: throw new AppError('INVALID_MESSAGE', `unknown run command ${command.op}`)
      }
      return { ok: true, value }
    } catch (err) {
      if (err instanceof NotHereError) return { ok: false, error: { error_code: NOT_HERE, message: 'not held here' } }
      if (isAppError(err)) return { ok: false, error: err.toBody() }
      this.#onError(err)
      return { ok: false, error: { error_code: 'INTERNAL_ERROR', message: 'The owner of the run failed to answer' } }
    }
  }

  /** `sink` hears the frames of a run held elsewhere, from its shared stream after `after`, in order. */
  #followRemote (ref: RunRef, sink: EventSink, after: number): void {
    const cluster = this.#cluster
    if (cluster === undefined || !sink.open) return
    const key = keyOf(ref.userId, ref.sessionId)
    const watches = this.#remoteWatches.get(sink.id) ?? new Map<string, () => void>()
    if (watches.has(key)) return
    this.#remoteWatches.set(sink.id, watches)
    const stop = cluster.follower.follow(ref, after, (frames) => {
      if (!sink.open || sink.backlogBytes() > WATCHER_MAX_BACKLOG) { this.#unfollow(sink.id, key); return }
      sink.cork?.()
      for (const f of frames) sink.send(f)
      sink.uncork?.()
      // The run ended: nothing more will come.
      if (frames.some(isFinalFrame)) this.#unfollow(sink.id, key)
    })
    watches.set(key, stop)
  }

  #unfollow (sinkId: number, key: string): void {
    const watches = this.#remoteWatches.get(sinkId)
    const stop = watches?.get(key)
    if (watches === undefined || stop === undefined) return
    watches.delete(key)
    if (watches.size === 0) this.#remoteWatches.delete(sinkId)
    stop()
  }

  /**
   * One pickup round (every RUN_LEASE_MS / 2): sessions stored as running that no instance holds, untouched
   * for a lease or more (so their owner's lease has lapsed). A headless run is taken and rebuilt here, then
   * goes on by itself; a lockstep run is shown paused (server_restart) until its strategy resumes it
   * anywhere. Bounded per round; resolves how many runs it took or paused.
   */
  async pickUpOrphans (): Promise<number> {
    const cluster = this.#cluster
    const journal = this.#journal
    if (cluster === undefined || journal === undefined || this.#pickingUp) return 0
    this.#pickingUp = true
    let n = 0
    try {
      const candidates = await cluster.listRunning(this.#now() - cluster.leaseMs, PICKUP_BATCH, this.#pickupOffset)
      this.#pickupOffset = candidates.length < PICKUP_BATCH ? 0 : this.#pickupOffset + PICKUP_BATCH
      for (const c of candidates) {
        const key = keyOf(c.user_id, c.session_id)
        if (this.#runs.has(key) || this.#rebuilds.has(key)) continue
        const ref = { userId: c.user_id, sessionId: c.session_id }
        // The bus is down (a Redis restart): the next pass tries again.
        const acquired = await cluster.ownership.acquire(key, ref).catch(() => undefined)
        if (acquired === undefined) break
        if (!acquired) continue
        try {
          const inputs = await journal.inputs.list(c.user_id, c.session_id)
          const start = inputs[0]?.kind === 'start' ? inputs[0].payload as StartInput : undefined
          const user: SessionUser = { user_id: c.user_id, plan: start?.plan ?? 'free' }
          if (start !== undefined && !start.options.flow_control) {
            const run = await this.#rebuild(user, c.session_id, 0, true)
            if (run.runner.pausedBy === 'restart') await this.#continueRebuilt(run)
            cluster.onInfo({ session_id: c.session_id }, 'headless run picked up after its owner\'s lease lapsed')
          } else {
            await this.#sessions.transition(user, c.session_id, 'paused', { pause_reason: 'server_restart' })
            await cluster.ownership.release(key)
            cluster.onInfo({ session_id: c.session_id }, 'run whose owner stopped is paused until its strategy resumes it')
          }
          n++
        } catch (err) {
          if (this.#runs.get(key) === undefined) await cluster.ownership.release(key).catch(() => undefined)
          if (!isAppError(err)) this.#onError(err)
        }
      }
    } finally {
      this.#pickingUp = false
    }
    return n
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
    if (!this.#runs.has(run.key) && run.dropped !== true) await this.#runStore.delete(run.user.user_id, run.sessionId)
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
    const j = run.journal as JournalState
    const write = async (): Promise<void> => {
      // Dropped while this waited its turn: the run's next owner logs from where the log is.
      if (run.dropped === true) throw new NotHereError()
      const input: LoggedInput = { seq: j.seq + 1, step: run.runner.ticksSent, kind, payload }
      await journal.inputs.append(run.user.user_id, run.sessionId, input).catch((err: unknown) => { throw inputNotLogged(kind, err, this.#onError) })
      j.seq = input.seq
    }
    if (this.#cluster !== undefined) {
      try {
        await this.#journaled(run, write)
      } catch (err) {
        if (!(err instanceof InputTakenError)) throw err
        // Another instance logged this input: it took the run over (its lease) while this one still held it
        // by its local clock. The run is not this instance's: drop it; the caller asks again where it is.
        this.#dropRun(run, 'another instance logged an input of it')
        throw new NotHereError()
      }
      return
    }
    const p = j.inputs.then(write)
    j.inputs = p.catch(() => undefined)
    // Event appends handed over from now on, and whoever waits for all of the run's writes, wait for it.
    j.chain = Promise.all([j.chain, j.inputs])
    await p
  }

  /**
   * An input from the strategy (order batch, cancel): durable runs log it first (stepping holds meanwhile,
   * so it applies at the step it was logged with), then `apply` it.
   * With flow control it applies once the run has stepped as far as the acks received before it allow
   * (fillWindow), and after a takeover in progress has finished (the replay sent, a run paused by the drop going
   * on): an order sent in reply to tick k then applies at the same step with or without a reconnect in between,
   * instead of at whatever step the run had reached when it arrived (docs/simulation-protocol.md).
   */
  async #input<T> (run: Run, kind: InputKind, payload: unknown, apply: () => T): Promise<T> {
    if (run.takingOver !== undefined) await run.takingOver
    if (run.journal === undefined) { run.runner.fillWindow(); return apply() }
    return await this.#inOrder(run, async () => {
      await this.#whenOwned(run)
      run.runner.fillWindow()
      run.runner.hold()
      try {
        await this.#logInput(run, kind, payload)
        return apply()
      } finally {
        run.runner.release()
      }
    })
  }

  /** Each event of a durable run: batched for the event store, or (rebuilding) checked against it. */
  #onFrame (run: Run, seq: number, frame: string): void {
    const j = run.journal as JournalState
    const check = j.rebuild
    if (check !== undefined && seq <= check.storedLast) {
      const stored = check.page[seq - check.pageFrom]
      if (check.diverged === undefined && (stored === undefined || !sameButStamp(stored, frame))) check.diverged = seq
      return
    }
    j.pending.push({ seq, frame })
    // The final frame waits for the end's store write (onFinished flushes it).
    if (check !== undefined || isFinalFrame(frame)) return
    if (j.pending.length >= this.#flushEvents) this.#flush(run)
    else if (j.timer === undefined) {
      j.timer = setTimeout(() => { j.timer = undefined; this.#flush(run) }, this.#flushMs)
      j.timer.unref()
    }
  }

  /** Hands the frames waiting for the event store to the journal chain (`final`: the run has ended). */
  #flush (run: Run, final = false): void {
    const j = run.journal
    const journal = this.#journal
    if (j === undefined || journal === undefined || (j.pending.length === 0 && (!final || this.#cluster === undefined))) return
    clearTimeout(j.timer)
    j.timer = undefined
    let frames = j.pending
    j.pending = []
    // A run's final frame waits for the end's store write; only the final flush (chained after it) takes it.
    const last = frames.at(-1)
    if (!final && run.endStored !== undefined && last !== undefined && isFinalFrame(last.frame)) {
      j.pending = [last]
      frames = frames.slice(0, -1)
      if (frames.length === 0) return
    }
    if (this.#cluster !== undefined) {
      this.#journaled(run, async () => { await this.#appendShared(run, frames, final) }).catch(this.#onError)
      return
    }
    this.#journaled(run, async () => { await journal.events.append(run.user.user_id, run.sessionId, frames) }).catch(this.#onError)
  }

  /**
   * Several instances: a fenced append to the shared stream. While the bus is down it is tried again, in
   * place (so later batches wait behind it, and the stream never has a gap); the run itself stops at its
   * lease's deadline meanwhile. A refused append (the lease is someone else's, or the stream moved on)
   * means the run is not this instance's any more: it is dropped at once.
   */
  async #appendShared (run: Run, frames: StoredFrame[], final: boolean): Promise<void> {
    const cluster = this.#cluster as ClusterState
    const journal = this.#journal as RunJournal
    const j = run.journal as JournalState
    for (let attempt = 0; ; attempt++) {
      const token = cluster.ownership.token(run.key)
      // Not this instance's any more: the next owner regenerates these frames by replay.
      if (run.dropped === true || token === undefined) return
      if (frames.length > 0) j.tried = Math.max(j.tried, frames[frames.length - 1].seq)
      try {
        await journal.events.append(run.user.user_id, run.sessionId, frames, { token, ...(final ? { finalTtlMs: Math.max(this.#retentionMs, RETENTION_SWEEP_MS) } : {}) })
        if (frames.length > 0) j.appended = frames[frames.length - 1].seq
        return
      } catch (err) {
        if (err instanceof FencedAppendError) { this.#dropRun(run, `its events could not be stored: ${err.message}`); return }
        await sleep(Math.min(1000, 25 << Math.min(attempt, 6)))
      }
    }
  }

  /** A finished run's lease is given up once its end is stored (events and results), so nobody picks it up. */
  #releaseWhenStored (run: Run): void {
    const cluster = this.#cluster
    if (cluster === undefined || run.journal === undefined) return
    Promise.all([run.commits, run.journal.chain]).then(async () => {
      // A user's move (cancel) stores its results after this; wait for those too.
      await nextTurn()
      await run.commits
      if (run.dropped !== true) await cluster.ownership.release(run.key)
    }).catch(this.#onError)
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
      run = this.#createRun(user, sessionId, session, bars, start.options, start.plan)
      storedLast = await journal.events.lastSeq(user.user_id, sessionId)
    } catch (err) {
      run?.runner.dispose()
      bars.release()
      throw err
    }
    run.storeRunning = session.state === 'running' && this.#cluster !== undefined
    const j = run.journal as JournalState
    j.appended = storedLast
    j.tried = storedLast
    const { runner } = run
    const check: RebuildCheck = { storedLast, page: [], pageFrom: 1, diverged: undefined }
    j.rebuild = check
    j.seq = inputs[inputs.length - 1].seq
    const target = Math.max(storedLast, lastProcessed)
    runner.hold()
    // Stored frames are read a page ahead: the next page is on its way while the replay checks this one.
    let ahead: { after: number, frames: Promise<string[]> } | undefined
    const read = (after: number): Promise<string[]> => after >= storedLast
      ? Promise.resolve([])
      : journal.events.read(user.user_id, sessionId, after, REBUILD_PAGE, Number.POSITIVE_INFINITY)
    const pageEnd = (): number => check.pageFrom + check.page.length - 1
    const readAhead = (): void => {
      if (ahead === undefined && pageEnd() < storedLast) ahead = { after: pageEnd(), frames: read(pageEnd()) }
      ahead?.frames.catch(() => undefined)
    }
    const fetchPage = async (): Promise<void> => {
      const from = runner.log.lastSequenceId
      const next = ahead
      ahead = undefined
      if (next !== undefined && next.after === pageEnd() && from + 1 >= check.pageFrom && from <= pageEnd()) {
        // The frames not yet checked, then the page read ahead.
        const rest = check.page.slice(from + 1 - check.pageFrom)
        const frames = await next.frames
        check.page = rest.length === 0 ? frames : rest.concat(frames)
      } else {
        check.page = await read(from)
      }
      check.pageFrom = from + 1
      readAhead()
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
          if (pageEnd() < Math.min(storedLast, runner.log.lastSequenceId + REBUILD_PAGE / 2)) break
          runner.replayStep()
        }
        if (!more) break
        if (pageEnd() < Math.min(storedLast, runner.log.lastSequenceId + REBUILD_PAGE / 2)) await fetchPage()
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
      this.#flush(run, true)
      this.#retainDurable(run)
      this.#releaseWhenStored(run)
    }
    return run
  }

  /** A finished durable run keeps no events in memory: the event store has them. */
  #retainDurable (run: Run): void {
    run.finishedAt = this.#now()
    run.runner.log.release()
  }

  /** A store write of the run, after its earlier ones (and after the state it owes the store, if any). */
  #enqueue<T> (run: Run, write: () => Promise<T>): Promise<T> {
    const p = run.commits.then(async () => {
      await this.#payOwed(run)
      return await write()
    })
    run.commits = p.catch(() => undefined)
    return p
  }

  /**
   * Tells the store the state the run has already moved to. If that fails, the run owes the store that
   * state: it is written before the run's next store write (so later writes never overtake it), and
   * retried meanwhile with a backoff, so the session catches up as soon as the store answers again. (Until
   * then GET /sessions/{id} shows the state before; after a restart, the rebuild from the input log has the
   * final word.)
   */
  async #commitMoved (run: Run, to: SessionState, options: TransitionOptions): Promise<Session> {
    try {
      return await this.#enqueue(run, async () => await this.#sessions.transition(run.user, run.sessionId, to, options))
    } catch (err) {
      if (isAppError(err) && (err.error_code === 'SESSION_NOT_FOUND' || err.error_code === 'INVALID_STATE')) throw err
      clearTimeout(run.owed?.timer)
      run.owed = { to, options, timer: undefined, delayMs: OWED_RETRY_FIRST_MS }
      this.#retryOwed(run)
      throw err
    } finally {
      // The end was stored (or the store refused it; it is owed then): the final frame goes out now.
      if (to === 'completed' || to === 'error') {
        run.runner.releaseFinal()
        run.endStored?.()
        run.endStored = undefined
      }
    }
  }

  #retryOwed (run: Run): void {
    const owed = run.owed
    if (owed === undefined) return
    owed.timer = setTimeout(() => {
      owed.timer = undefined
      if (run.owed !== owed || this.#runs.get(run.key) !== run) return
      this.#enqueue(run, async () => {}).catch(() => {
        if (run.owed !== owed) return
        owed.delayMs = Math.min(owed.delayMs * 2, OWED_RETRY_MAX_MS)
        this.#retryOwed(run)
      })
    }, owed.delayMs)
    owed.timer.unref()
  }

  /** Writes the state the run owes the store (unless the store already shows it). */
  async #payOwed (run: Run): Promise<void> {
    const owed = run.owed
    if (owed === undefined) return
    try {
      const now = await this.#sessions.get(run.user, run.sessionId)
      if (now.state !== owed.to) await this.#sessions.transition(run.user, run.sessionId, owed.to, owed.options)
    } catch (err) {
      // Deleted meanwhile, or a state the store cannot take from where it is: nothing more to owe.
      if (!isAppError(err) || (err.error_code !== 'SESSION_NOT_FOUND' && err.error_code !== 'INVALID_STATE')) throw err
      this.#onError(err)
    }
    if (run.owed === owed) {
      clearTimeout(owed.timer)
      run.owed = undefined
    }
  }

  /** Runs `op` after the run's earlier input operations: inputs apply in the order they are logged. */
  #inOrder<T> (run: Run, op: () => Promise<T>): Promise<T> {
    const p = run.inputs.then(op)
    run.inputs = p.catch(() => undefined)
    return p
  }

  /**
   * A move a user asked for (pause, resume, stop, strategy_error; or going on after a restart), after the
   * run's earlier input operations, checked against the lifecycle table first. Stepping holds throughout,
   * so the move applies at the step it was checked (and logged) at.
   *
   * `:memory:` mode (nothing logged): committed to the store, then applied, so a failed commit changes
   * nothing. A durable run logs the input first (the "log every input before it takes effect"):
   * once logged, the input is part of the run, because a rebuild will apply it. So it is then applied, and
   * only then is the store told. What a crash (kill -9) at each point leaves, after a restart and a rebuild:
   *  - before the input is stored: nothing happened (the client had no answer); the rebuilt run goes on
   *    without it;
   *  - after it is stored, before the store is told: the session shows its state before (a running one
   *    comes back paused, server_restart); the rebuild applies the input at its step, so the rebuilt run is
   *    paused, going on, or finished, as if the answer had gone out (a finished one is saved and committed
   *    by the rebuild);
   *  - after the store is told: log and store agree.
   * A commit that fails after the input was logged (the database dropped between the two writes) does not
   * undo the move: skipping a logged input would make the run in memory differ from what its log rebuilds
   * (REPLAY_DIVERGED after the next restart). The caller gets the commit's error (the session record did
   * not change), and the run owes the store the state (#commitMoved). A run that ends (stop,
   * strategy_error) saves its results before the store shows it finished, in every mode.
   */
  async #userMove (run: Run, to: RunState, apply?: () => void, errorMessage?: string, input?: { kind: InputKind, payload: unknown }): Promise<Session> {
    return await this.#inOrder(run, async () => {
      const { runner } = run
      runner.assertCan(to)
      await this.#whenOwned(run)
      runner.assertCan(to)
      runner.hold()
      try {
        const options: TransitionOptions = {
          progress: to === 'completed' ? 1 : runner.progress,
          ...(errorMessage !== undefined ? { error_message: errorMessage } : {}),
          ...(to === 'paused' ? { pause_reason: 'user' as const } : {})
        }
        const logged = input !== undefined && run.journal !== undefined
        if (logged) await this.#logInput(run, input.kind, input.payload)
        const finishing = to === 'completed' || to === 'error'
        if (!logged && !finishing) {
          const session = await this.#enqueue(run, async () => await this.#sessions.transition(run.user, run.sessionId, to, options))
          apply?.()
          return session
        }
        apply?.()
        if (finishing) await this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
        return await this.#commitMoved(run, to, options)
      } finally {
        runner.release()
      }
    })
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
      if (runner.pausedBy === 'restart') await this.#continueRebuilt(run)
      else await this.#userMove(run, 'running', () => { runner.resume() }, undefined, { kind: 'resume', payload: { request_id: null } })
    } catch (err) {
      if (!isAppError(err)) throw err
      // A run that paused for want of a strategy gave its slot up, and the plan's are all held: say so.
      if (err.error_code === 'SESSION_LIMIT_EXCEEDED' && sink.open) sink.send(JSON.stringify({ type: 'session_error', data: err.toBody(), timestamp: new Date().toISOString() }))
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
    // After this process's first sweep, only runs that finished since the previous cutoff (less a margin
    // for a clock step, or a save still in flight then): every older one was swept already.
    const since = this.#logsSweptBefore === undefined ? undefined : this.#logsSweptBefore - LOG_SWEEP_OVERLAP_MS
    const [, events] = await Promise.all([
      this.#journal.inputs.deleteFinishedBefore(before, since),
      this.#journal.events.deleteFinishedBefore(before, since)
    ])
    this.#logsSweptBefore = Math.max(before, this.#logsSweptBefore ?? before)
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

/** A command reached an instance that does not hold the run (any more): the caller asks again where it is. */
class NotHereError extends Error {
  constructor () { super('the run is not held here') }
}

function refOf (run: Run): RunRef { return { userId: run.user.user_id, sessionId: run.sessionId } }

/** The reply of another instance as the error it carries (the same code, message and details). */
function replyError (reply: RunReply & { ok: false }): AppError {
  return new AppError(reply.error.error_code as ErrorCode, reply.error.message, reply.error.details)
}

const BUS_DOWN = 'The shared bus (Redis) is unavailable; retry shortly'

/** Runs an operation on the shared bus; any failure of the bus itself becomes BUS_UNAVAILABLE (503). */
async function onBus<T> (op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    throw isAppError(err) ? err : new AppError('BUS_UNAVAILABLE', BUS_DOWN)
  }
}

/** A frame after which a run sends nothing more (it completed, was stopped, or failed). */
function isFinalFrame (frame: string): boolean {
  return frame.startsWith('{"type":"simulation_complete"') || frame.startsWith('{"type":"session_error"')
}

/** EVENTS_EXPIRED for a finished run whose stored event log the retention sweep deleted. */
function eventsSwept (sessionId: string, after: number, last?: number): AppError {
  return new AppError('EVENTS_EXPIRED', `The event log of session ${sessionId} is no longer kept (EVENT_LOG_RETENTION_HOURS); its results are`, {
    after_sequence_id: after,
    ...(last !== undefined ? { first_available_sequence_id: last + 1, last_sequence_id: last } : {})
  })
}

/** INVALID_STATE for a session whose run this process does not hold, saying why from its stored state. */
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

const STAMP = ',"timestamp":"'

/**
 * Whether two frames are the same but for their envelopes' wall-clock timestamp (the one thing a replay may
 * change): `…,"timestamp":"<any>","sequence_id":N}`. Compared in place, without copying either frame: a
 * rebuild checks every regenerated event this way.
 */
export function sameButStamp (a: string, b: string): boolean {
  if (a === b) return true
  const ia = a.lastIndexOf(STAMP)
  if (ia < 0 || ia !== b.lastIndexOf(STAMP)) return false
  const ea = a.indexOf('"', ia + STAMP.length)
  const eb = b.indexOf('"', ia + STAMP.length)
  if (ea < 0 || eb < 0 || a.length - ea !== b.length - eb || !a.startsWith(',"sequence_id":', ea + 1)) return false
  for (let i = 0; i < ia; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false
  for (let i = ea, j = eb; i < a.length; i++, j++) if (a.charCodeAt(i) !== b.charCodeAt(j)) return false
  return true
}

/** Applies one logged input to a run being rebuilt; an input refused then is refused again (same events). */
function applyInput (run: Run, input: LoggedInput): void {
  const { runner } = run
  const p = (input.payload ?? {}) as { request_id?: string | null, batch?: OrderBatchData, order_id?: string, changes?: ReplaceOrderBody, reason?: string, message?: string }
  const rid = p.request_id ?? undefined
  try {
    switch (input.kind) {
      case 'orders': runner.submitBatch(p.batch as OrderBatchData, rid); break
      case 'cancel': runner.cancelOrder(p.order_id ?? '', rid); break
      case 'replace': runner.replaceOrder(p.order_id ?? '', p.changes ?? {}, rid); break
      case 'pause': runner.pause(p.reason === 'disconnect' || p.reason === 'no_strategy' ? p.reason : 'user', rid); break
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
