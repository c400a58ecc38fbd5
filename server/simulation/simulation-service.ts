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
// Memory: while running, a run's log is a ring of `eventLogMaxBytesPerRun`. When a run finishes, its
// engine and bars are released (results, final account and orders stay); its log is kept only within
// `eventLogUserBytes` per user (newest runs first) and for `eventLogRetentionHours`, then released.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import type { Plan, PlanLimits } from '../../schemas/common.js'
import type { Timeframe } from '../../schemas/market-data.js'
import type { Session } from '../../schemas/sessions.js'
import type { AccountSnapshot, BatchAck, MarketSession, Order, OrderBatchData, OrderUpdate, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { EventPage, SessionEvent, SimulationStateData, StateSyncData, SubscriptionData } from '../../schemas/simulation-control.js'
import { AppError, isAppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import { limitsFor as defaultLimitsFor } from '../plans.js'
import { MemoryRunStore } from '../adapters/memory/memory-run-store.js'
import type { RunStore, StoredRun } from '../ports/run-store.js'
import type { SessionManager, SessionUser } from '../sessions/session-manager.js'
import { DEFAULT_LOG_MAX_BYTES } from './event-log.js'
import { SimulationRunner, type EventSink, type RunOptions, type RunState } from './runner.js'

export type { EventSink } from './runner.js'

export interface SeriesLoader {
  loadSeries: (symbol: string, timeframe: Timeframe, start: string, end: string) => Promise<BarSeries>
  /** The symbol's market session at an instant (pre, regular, after, closed), for intraday ticks. */
  marketSessionAt?: (symbol: string, epochMs: number) => MarketSession
}

export interface EventLogRetention {
  /** Bytes of newest frames a run's log keeps while running (ring). */
  maxBytesPerRun?: number
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
  now?: () => number
}

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
    this.#logMaxBytes = opts.eventLog?.maxBytesPerRun ?? DEFAULT_LOG_MAX_BYTES
    this.#userLogBytes = opts.eventLog?.userBytes ?? 64 << 20
    this.#retentionMs = (opts.eventLog?.retentionHours ?? 24) * 3_600_000
    this.#now = opts.now ?? Date.now
    this.#sweep = setInterval(() => { this.#sweepRetained() }, RETENTION_SWEEP_MS)
    this.#sweep.unref()
    // Deleting (or expiring) a session stops its run and frees everything it held.
    this.#unsubscribe = this.#sessions.subscribe((event) => {
      if (event.kind !== 'deleted' && event.kind !== 'expired') return
      // A SQL store deletes a finished run with its session; the memory store needs telling.
      this.#runStore.delete(event.user_id, event.session.session_id).catch(this.#onError)
      const run = this.#runs.get(keyOf(event.user_id, event.session.session_id))
      if (run === undefined) return
      run.runner.dispose()
      this.#runs.delete(run.key)
      this.#forgetRetained(run)
    })
  }

  get activeRuns (): number { return this.#runs.size }

  async start (user: SessionUser, sessionId: string, start: Partial<Omit<StartSimulationData, 'session_id'>>, sink: EventSink | undefined, requestId?: string): Promise<SimulationStateData> {
    const key = keyOf(user.user_id, sessionId)
    const session = await this.#sessions.get(user, sessionId)
    if (this.#runs.has(key) || this.#starting.has(key) || session.state !== 'ready') {
      const state = this.#runs.get(key)?.runner.state ?? session.state
      throw new AppError('INVALID_STATE', `Session ${sessionId} is ${state}; only a ready session can be started`, { from: state, to: 'running' })
    }
    this.#starting.add(key)
    try {
      const series = await Promise.all(session.symbols.map((symbol) =>
        this.#marketData.loadSeries(symbol, session.timeframe, session.start_date, session.end_date)))
      const options: RunOptions = { ...DEFAULT_RUN_OPTIONS, ...stripUndefined(start) }
      // eslint-disable-next-line prefer-const -- the hooks close over the run, which needs the runner
      let run: Run
      const runner = new SimulationRunner({
        sessionId,
        userId: user.user_id,
        series,
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
          // Moves the run made itself: committed in the order made, failures logged.
          onState: (to, detail) => {
            if (to === 'completed' || to === 'error') this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
            this.#enqueue(run, async () => {
              await this.#sessions.transition(user, sessionId, to, { progress: detail.progress, ...(detail.error_message !== undefined ? { error_message: detail.error_message } : {}) })
            }).catch(this.#onError)
          },
          onProgress: (progress) => {
            this.#enqueue(run, async () => { await this.#sessions.setProgress(user, sessionId, progress) }).catch(this.#onError)
          },
          onFinished: () => { this.#retain(run) }
        }
      })
      run = { key, user, sessionId, runner, commits: Promise.resolve(), resumes: Promise.resolve(), finishedAt: undefined }
      await this.#sessions.transition(user, sessionId, 'running')
      this.#runs.set(key, run)
      runner.start(sink, requestId)
      return runner.stateData()
    } finally {
      this.#starting.delete(key)
    }
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
    return (await this.#run(user, batch.session_id)).runner.submitBatch(batch, requestId, onAck)
  }

  /** Synchronous twin of submitOrders for the WebSocket hot path; undefined when the run is not here. */
  submitOrdersNow (user: SessionUser, batch: OrderBatchData, requestId: string | undefined, onAck: (ack: BatchAck) => void): BatchAck | undefined {
    return this.#runs.get(keyOf(user.user_id, batch.session_id))?.runner.submitBatch(batch, requestId, onAck)
  }

  async cancelOrder (user: SessionUser, sessionId: string, orderId: string, requestId?: string): Promise<OrderUpdate> {
    return (await this.#run(user, sessionId)).runner.cancelOrder(orderId, requestId)
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
    await this.#userMove(run, 'paused')
    return run.runner.pause('user', requestId)
  }

  async resume (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    const run = await this.#run(user, sessionId)
    await this.#userMove(run, 'running', () => { run.runner.resume(requestId) })
    return run.runner.stateData()
  }

  async cancel (user: SessionUser, sessionId: string, requestId?: string): Promise<SimulationStateData> {
    const run = await this.#run(user, sessionId)
    await this.#userMove(run, 'completed', () => { run.runner.cancel(requestId) })
    return run.runner.stateData()
  }

  /** strategy_error: the strategy threw; the run ends in state error with its message. */
  async strategyError (user: SessionUser, sessionId: string, message: string, stack: string | undefined): Promise<Session> {
    const run = await this.#run(user, sessionId)
    const session = await this.#userMove(run, 'error', () => { run.runner.failByStrategy(message) }, message)
    this.#onStrategyError?.({ user_id: user.user_id, session_id: sessionId, message, ...(stack !== undefined ? { stack } : {}) })
    return session
  }

  /** GET …/events: at most `limit` (≤ 1,000) events and about 1 MiB after `afterSeq`. */
  async events (user: SessionUser, sessionId: string, afterSeq: number, limit: number): Promise<EventPage> {
    const run = await this.#run(user, sessionId)
    this.#expireIfDue(run)
    const log = run.runner.log
    const frames = log.framesAfter(afterSeq, Math.min(limit, PAGE_MAX_EVENTS), PAGE_MAX_CHARS)
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
    const run = await this.#run(user, sessionId)
    let answered!: (sync: StateSyncData) => void
    let failed!: (err: unknown) => void
    const answer = new Promise<StateSyncData>((resolve, reject) => { answered = resolve; failed = reject })
    const turn = run.resumes.then(async () => {
      let begun: { sync: StateSyncData, cursor: number }
      try {
        this.#expireIfDue(run)
        begun = this.#beginAttach(run, sink, lastProcessed)
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
    const pending = [...this.#runs.values()].map(async (run) => await run.commits)
    this.stop()
    await Promise.all(pending)
  }

  stop (): void {
    clearInterval(this.#sweep)
    this.#unsubscribe()
    for (const run of this.#runs.values()) run.runner.dispose()
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
    throw notHere(sessionId, (await this.#sessions.get(user, sessionId)).state)
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
  async #userMove (run: Run, to: RunState, apply?: () => void, errorMessage?: string): Promise<Session> {
    const runner = run.runner
    runner.assertCan(to)
    runner.hold()
    let session: Session
    try {
      session = await this.#enqueue(run, async () => await this.#sessions.transition(run.user, run.sessionId, to, {
        progress: to === 'completed' ? 1 : runner.progress,
        ...(errorMessage !== undefined ? { error_message: errorMessage } : {})
      }))
      apply?.()
      // Ended by the user (cancel, strategy_error): kept before the answer goes out.
      if (to === 'completed' || to === 'error') await this.#enqueue(run, async () => { await this.#saveFinished(run) }).catch(this.#onError)
    } finally {
      runner.release()
    }
    return session
  }

  #beginAttach (run: Run, sink: EventSink, lastProcessed: number): { sync: StateSyncData, cursor: number } {
    const { runner } = run
    runner.beginAttach(sink, lastProcessed)
    const frames = runner.log.framesAfter(lastProcessed, PAGE_MAX_EVENTS, PAGE_MAX_CHARS)
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
        const frames = runner.log.framesAfter(cursor, PAGE_MAX_EVENTS, PAGE_MAX_CHARS)
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
    // The run was paused only because its connection dropped: resume it, through the store.
    try {
      await this.#userMove(run, 'running', () => { runner.resume() })
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

  #sweepRetained (): void {
    const now = this.#now()
    for (const [user, list] of this.#retained) {
      while (list.length > 0 && now - (list[0].finishedAt ?? now) >= this.#retentionMs) list.shift()?.runner.log.release()
      if (list.length === 0) this.#retained.delete(user)
    }
  }
}

/** INVALID_STATE for a session whose run this process does not hold, saying why from its stored state. */
function notHere (sessionId: string, state: Session['state']): AppError {
  switch (state) {
    case 'running': case 'paused':
      return new AppError('INVALID_STATE', `Session ${sessionId} was paused by a server restart; its run cannot be resumed in this version. ` +
        'Delete the session and start a new one.', { state })
    case 'completed': case 'error':
      return new AppError('INVALID_STATE', `The run of session ${sessionId} (state ${state}) was not kept`, { state })
    default:
      return new AppError('INVALID_STATE', `Session ${sessionId} has not been started (state ${state})`, { state })
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
