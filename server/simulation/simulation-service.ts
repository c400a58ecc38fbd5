// The simulation service both transports call: starts a session's run (loading its bars), and routes
// control, orders, account, results, event-log reads, resume and watching to the session's runner.
// Ownership is checked through the SessionManager, so another user's session is SESSION_NOT_FOUND here too.
import type { Plan, PlanLimits } from '../../schemas/common.js'
import type { Timeframe } from '../../schemas/market-data.js'
import type { AccountSnapshot, BatchAck, MarketSession, Order, OrderBatchData, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { EventPage, SessionEvent, StateSyncData } from '../../schemas/simulation-control.js'
import { AppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import { limitsFor as defaultLimitsFor } from '../plans.js'
import type { SessionManager, SessionUser } from '../sessions/session-manager.js'
import { SimulationRunner, type EventSink, type RunOptions } from './runner.js'

export interface SeriesLoader {
  loadSeries: (symbol: string, timeframe: Timeframe, start: string, end: string) => Promise<BarSeries>
  /** The symbol's market session at an instant (pre, regular, after, closed), for intraday ticks. */
  marketSessionAt?: (symbol: string, epochMs: number) => MarketSession
}

export interface SimulationServiceOptions {
  sessions: SessionManager
  marketData: SeriesLoader
  limitsFor?: (plan: Plan) => PlanLimits
  /** Where failures of background state updates are reported. */
  onError?: (err: unknown) => void
  /** Runner tuning (benchmarks, tests). */
  runner?: { sliceSteps?: number, sliceMs?: number, highWaterMark?: number }
}

const DEFAULT_RUN_OPTIONS: RunOptions = { flow_control: true, max_pending_ticks: 1, account_update_frequency: 'every_fill', include_bars: true }

function keyOf (userId: string, sessionId: string): string { return `${userId}\u0000${sessionId}` }

export class SimulationService {
  readonly #sessions: SessionManager
  readonly #marketData: SeriesLoader
  readonly #limitsFor: (plan: Plan) => PlanLimits
  readonly #onError: (err: unknown) => void
  readonly #runnerTuning: SimulationServiceOptions['runner']
  readonly #runners = new Map<string, SimulationRunner>()
  readonly #starting = new Set<string>()
  readonly #unsubscribe: () => void

  constructor (opts: SimulationServiceOptions) {
    this.#sessions = opts.sessions
    this.#marketData = opts.marketData
    this.#limitsFor = opts.limitsFor ?? defaultLimitsFor
    this.#onError = opts.onError ?? ((err) => { process.emitWarning(`simulation: ${String(err)}`) })
    this.#runnerTuning = opts.runner
    // Deleting (or expiring) a session stops its run and frees the runner.
    this.#unsubscribe = this.#sessions.subscribe((event) => {
      if (event.kind !== 'deleted' && event.kind !== 'expired') return
      const key = keyOf(event.user_id, event.session.session_id)
      this.#runners.get(key)?.dispose()
      this.#runners.delete(key)
    })
  }

  get activeRuns (): number { return this.#runners.size }

  async start (user: SessionUser, sessionId: string, start: Partial<Omit<StartSimulationData, 'session_id'>>, sink: EventSink | undefined, requestId?: string): Promise<SimulationRunner> {
    const key = keyOf(user.user_id, sessionId)
    const session = await this.#sessions.get(user, sessionId)
    if (this.#runners.has(key) || this.#starting.has(key) || session.state !== 'ready') {
      const state = this.#runners.get(key)?.state ?? session.state
      throw new AppError('INVALID_STATE', `Session ${sessionId} is ${state}; only a ready session can be started`, { from: state, to: 'running' })
    }
    this.#starting.add(key)
    try {
      const series = await Promise.all(session.symbols.map((symbol) =>
        this.#marketData.loadSeries(symbol, session.timeframe, session.start_date, session.end_date)))
      const options: RunOptions = { ...DEFAULT_RUN_OPTIONS, ...stripUndefined(start) }
      let chain: Promise<unknown> = Promise.resolve()
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
        hooks: {
          // State changes are applied in the order the runner made them.
          onState: (to, detail) => {
            chain = chain.then(async () => {
              await this.#sessions.transition(user, sessionId, to, { progress: detail.progress, ...(detail.error_message !== undefined ? { error_message: detail.error_message } : {}) })
            }).catch(this.#onError)
          },
          onProgress: (progress) => {
            chain = chain.then(async () => { await this.#sessions.setProgress(user, sessionId, progress) }).catch(this.#onError)
          }
        }
      })
      await this.#sessions.transition(user, sessionId, 'running')
      this.#runners.set(key, runner)
      runner.start(sink, requestId)
      return runner
    } finally {
      this.#starting.delete(key)
    }
  }

  /** The session's runner; SESSION_NOT_FOUND for other users' ids, INVALID_STATE when never started. */
  async runner (user: SessionUser, sessionId: string): Promise<SimulationRunner> {
    const runner = this.#runners.get(keyOf(user.user_id, sessionId))
    if (runner !== undefined) return runner
    const session = await this.#sessions.get(user, sessionId)
    throw new AppError('INVALID_STATE', `Session ${sessionId} has not been started (state ${session.state})`, { state: session.state })
  }

  /** Synchronous lookup for the hot path (tick_ack); undefined when not running here. */
  runnerIfAny (userId: string, sessionId: string): SimulationRunner | undefined {
    return this.#runners.get(keyOf(userId, sessionId))
  }

  async pause (user: SessionUser, sessionId: string, requestId?: string): Promise<void> {
    (await this.runner(user, sessionId)).pause('user', requestId)
  }

  async resume (user: SessionUser, sessionId: string, requestId?: string): Promise<void> {
    (await this.runner(user, sessionId)).resume(requestId)
  }

  async cancel (user: SessionUser, sessionId: string, requestId?: string): Promise<void> {
    (await this.runner(user, sessionId)).cancel(requestId)
  }

  async submitOrders (user: SessionUser, batch: OrderBatchData, requestId?: string): Promise<BatchAck> {
    return (await this.runner(user, batch.session_id)).submitBatch(batch, requestId)
  }

  async cancelOrder (user: SessionUser, sessionId: string, orderId: string, requestId?: string): Promise<Order> {
    return (await this.runner(user, sessionId)).cancelOrder(orderId, requestId)
  }

  async orders (user: SessionUser, sessionId: string): Promise<Order[]> {
    return (await this.runner(user, sessionId)).orders()
  }

  async account (user: SessionUser, sessionId: string): Promise<AccountSnapshot> {
    return (await this.runner(user, sessionId)).account()
  }

  async results (user: SessionUser, sessionId: string): Promise<SimulationResults> {
    return (await this.runner(user, sessionId)).results()
  }

  async events (user: SessionUser, sessionId: string, afterSeq: number, limit: number): Promise<EventPage> {
    const runner = await this.runner(user, sessionId)
    const frames = runner.log.framesAfter(afterSeq, limit + 1)
    const hasMore = frames.length > limit
    return {
      session_id: sessionId,
      events: frames.slice(0, limit).map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: runner.log.lastSequenceId,
      has_more: hasMore
    }
  }

  /**
   * resume_session: `sink` becomes the strategy connection; `reply` receives state_sync with every missed
   * event once, and only then does a run paused by the disconnect continue (so nothing overtakes the sync).
   */
  async attach (user: SessionUser, sessionId: string, sink: EventSink, lastProcessed: number, reply: (sync: StateSyncData) => void): Promise<void> {
    const runner = await this.runner(user, sessionId)
    const { frames, lastSequenceId, state, resumeAfter } = runner.attach(sink, lastProcessed)
    reply({
      session_id: sessionId,
      state,
      account: runner.account(),
      missed_events: frames.map((f) => JSON.parse(f) as SessionEvent),
      last_sequence_id: lastSequenceId
    })
    if (resumeAfter) runner.resume()
  }

  async watch (user: SessionUser, sessionId: string, sink: EventSink): Promise<number> {
    return (await this.runner(user, sessionId)).watch(sink)
  }

  async unwatch (user: SessionUser, sessionId: string, sink: EventSink): Promise<boolean> {
    return (await this.runner(user, sessionId)).unwatch(sink)
  }

  /** A connection closed: every run it drove pauses, every run it watched forgets it. */
  detach (sink: EventSink): void {
    for (const runner of this.#runners.values()) runner.detach(sink)
  }

  stop (): void {
    this.#unsubscribe()
    for (const runner of this.#runners.values()) runner.dispose()
    this.#runners.clear()
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
