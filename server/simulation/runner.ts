// Runs one session's simulation around the pure engine: owns time (slices of steps between I/O turns),
// flow control (at most `max_pending_ticks` unacknowledged ticks), backpressure (never queues more than a
// high-water mark in the strategy's socket), pause/resume, the event log and fan-out to read-only watchers.
// Transport-free: it writes frames to EventSinks; server/ws adapts a WebSocket connection into one.
import type { AccountSnapshot, BatchAck, Order, OrderBatchData, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { SessionState } from '../../schemas/sessions.js'
import type { SimulationStateData } from '../../schemas/simulation-control.js'
import { AppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import type { EngineEvent } from './engine.js'
import { SimulationEngine } from './engine.js'
import { EventLog } from './event-log.js'
import { IsoFormatter } from '../iso-time.js'
import type { MarketSession, SimulationSettings } from '../../schemas/simulation.js'

/** Where a runner's frames go: the strategy's connection or a watcher's. */
export interface EventSink {
  readonly id: number
  readonly open: boolean
  /** Bytes queued and not yet written to the network. */
  backlogBytes: () => number
  send: (frame: string) => void
  /** Optional batching: frames sent between cork() and uncork() leave in one write. */
  cork?: () => void
  uncork?: () => void
}

export type RunOptions = Required<Omit<StartSimulationData, 'session_id'>>

export interface RunnerHooks {
  /** The session's state changed because of the run (running, paused, completed, error). */
  onState: (to: SessionState, detail: { progress: number, error_message?: string }) => void
  /** Progress moved (throttled). */
  onProgress: (progress: number) => void
}

export interface RunnerInit {
  sessionId: string
  userId: string
  series: readonly BarSeries[]
  initialCapital: string
  settings: Partial<SimulationSettings>
  options: RunOptions
  hooks: RunnerHooks
  /** Steps per event-loop turn at most, and milliseconds per turn at most (fairness with other sessions). */
  sliceSteps?: number
  sliceMs?: number
  /** Strategy-socket backlog above which stepping waits (bytes). */
  highWaterMark?: number
  /** The plan's orders_per_minute, counted per minute of simulated time (a replay runs faster than real time). */
  ordersPerMinute?: number
  /** Market session of a symbol at an instant, for intraday ticks (see SimulationEngineOptions). */
  marketSessionAt?: (symbol: string, epochMs: number) => MarketSession
}

const DEFAULT_SLICE_STEPS = 2048
const DEFAULT_SLICE_MS = 8
const DEFAULT_HIGH_WATER = 1 << 20
/** A watcher more than this far behind is dropped rather than allowed to hold memory. */
const WATCHER_MAX_BACKLOG = 16 << 20
const PROGRESS_EVERY_MS = 250

export class SimulationRunner {
  readonly sessionId: string
  readonly userId: string
  readonly options: RunOptions
  readonly log = new EventLog()
  readonly #engine: SimulationEngine
  readonly #symbols: string[]
  readonly #initialCapital: string
  readonly #hooks: RunnerHooks
  readonly #sliceSteps: number
  readonly #sliceMs: number
  readonly #highWater: number
  #primary: EventSink | undefined
  readonly #watchers = new Map<number, EventSink>()
  #ticksSent = 0
  #ackedThrough = 0
  #state: 'running' | 'paused' | 'completed' | 'error' = 'running'
  #pausedBy: 'user' | 'disconnect' | undefined
  #scheduled = false
  #lastProgressAt = 0
  #timer: NodeJS.Timeout | undefined
  readonly #ordersPerMinute: number
  readonly #stampFormatter = new IsoFormatter()
  #stampMs = 0
  #stampText = ''
  #orderWindow = { start: Number.NEGATIVE_INFINITY, count: 0 }

  constructor (init: RunnerInit) {
    this.sessionId = init.sessionId
    this.userId = init.userId
    this.options = init.options
    this.#hooks = init.hooks
    this.#symbols = init.series.map((s) => s.symbol)
    this.#initialCapital = init.initialCapital
    this.#sliceSteps = init.sliceSteps ?? DEFAULT_SLICE_STEPS
    this.#sliceMs = init.sliceMs ?? DEFAULT_SLICE_MS
    this.#highWater = init.highWaterMark ?? DEFAULT_HIGH_WATER
    this.#ordersPerMinute = init.ordersPerMinute ?? Number.POSITIVE_INFINITY
    this.#engine = new SimulationEngine({
      sessionId: init.sessionId,
      series: init.series,
      initialCapital: init.initialCapital,
      settings: init.settings,
      accountUpdateFrequency: init.options.account_update_frequency,
      includeBars: init.options.include_bars,
      ...(init.marketSessionAt !== undefined ? { marketSessionAt: sessionOfSymbol(init.series, init.marketSessionAt) } : {})
    })
  }

  get state (): 'running' | 'paused' | 'completed' | 'error' { return this.#state }
  get totalTicks (): number { return this.#engine.totalSteps }
  get ticksSent (): number { return this.#ticksSent }
  get progress (): number { return this.#engine.progress }
  get primary (): EventSink | undefined { return this.#primary }

  /** Begin: log and send simulation_started (the reply to start), then stream. */
  start (primary: EventSink | undefined, requestId: string | undefined): void {
    this.#primary = primary
    this.#emit('simulation_started', {
      session_id: this.sessionId,
      total_ticks: this.#engine.totalSteps,
      flow_control: this.options.flow_control,
      max_pending_ticks: this.options.max_pending_ticks,
      account_update_frequency: this.options.account_update_frequency,
      include_bars: this.options.include_bars,
      fill_policy_version: this.#engine.settings.fill_policy_version,
      symbols: this.#symbols,
      initial_capital: this.#initialCapital
    }, requestId)
    this.#schedule()
  }

  /** tick_ack: `ready` acknowledges every tick up to `step`; `processing`/`need_time` hold the window. */
  ack (step: number, status: 'ready' | 'processing' | 'need_time'): void {
    if (step > this.#ticksSent) {
      throw new AppError('VALIDATION_FAILED', `tick ${step} has not been sent (last sent: ${this.#ticksSent})`, { field: 'sequence_id', last_sent: this.#ticksSent })
    }
    if (status !== 'ready') return
    if (step > this.#ackedThrough) {
      this.#ackedThrough = step
      // Step right away rather than on a later turn: in lockstep that turn is a third of the tick's cost.
      // The pump is bounded by its slice, so other connections still get their turn.
      if (!this.#scheduled) this.#pump()
    }
  }

  submitBatch (batch: OrderBatchData, requestId: string | undefined): BatchAck {
    this.#assertOpen('accept orders')
    this.#countOrders(batch.orders.length)
    const { ack, events } = this.#engine.submitBatch(batch)
    this.#emit('batch_ack', ack, requestId)
    this.#emitAll(events, requestId)
    return ack
  }

  cancelOrder (orderId: string, requestId: string | undefined): Order {
    this.#assertOpen('cancel orders')
    const events = this.#engine.cancelOrder(orderId)
    this.#emitAll(events, requestId)
    return this.#engine.order(orderId)
  }

  account (): AccountSnapshot { return this.#engine.account() }

  /** query_account: the snapshot as a logged event (replied with the request's id). */
  queryAccount (requestId: string | undefined): AccountSnapshot {
    const snapshot = this.#engine.account()
    this.#emit('account_snapshot', snapshot, requestId)
    return snapshot
  }

  orders (): Order[] { return this.#engine.orders() }

  results (): SimulationResults {
    if (this.#state !== 'completed') {
      throw new AppError('INVALID_STATE', 'Results are available when the simulation has completed', { state: this.#state })
    }
    return this.#engine.results()
  }

  pause (reason: 'user' | 'disconnect', requestId?: string): void {
    if (this.#state !== 'running') {
      throw new AppError('INVALID_STATE', `Session cannot move from ${this.#state} to paused`, { from: this.#state, to: 'paused' })
    }
    this.#state = 'paused'
    this.#pausedBy = reason
    this.#hooks.onState('paused', { progress: this.progress })
    this.#emit('simulation_paused', this.stateData(reason), requestId)
  }

  resume (requestId?: string): void {
    if (this.#state !== 'paused') {
      throw new AppError('INVALID_STATE', `Session cannot move from ${this.#state} to running`, { from: this.#state, to: 'running' })
    }
    this.#state = 'running'
    this.#pausedBy = undefined
    this.#hooks.onState('running', { progress: this.progress })
    this.#emit('simulation_resumed', this.stateData(), requestId)
    this.#schedule()
  }

  /** Stop early: open orders cancelled, results computed to now, simulation_complete (reason stopped). */
  cancel (requestId?: string): void {
    if (this.#state !== 'running' && this.#state !== 'paused') {
      throw new AppError('INVALID_STATE', `Session cannot move from ${this.#state} to completed`, { from: this.#state, to: 'completed' })
    }
    this.#emitAll(this.#engine.finish(), requestId)
    this.#complete()
  }

  /**
   * A strategy connection takes over the stream after a reconnect: returns the events it missed (each once)
   * and restores the flow-control window to what that client has actually processed. `resumeAfter`: the run
   * was paused only because the connection dropped, so the caller resumes it once its reply is sent.
   */
  attach (sink: EventSink, lastProcessed: number): { frames: string[], lastSequenceId: number, state: SessionState, resumeAfter: boolean } {
    if (lastProcessed > this.log.lastSequenceId) {
      throw new AppError('VALIDATION_FAILED', `last_processed_sequence_id ${lastProcessed} is ahead of the log (${this.log.lastSequenceId})`, { field: 'last_processed_sequence_id', last_sequence_id: this.log.lastSequenceId })
    }
    this.#primary = sink
    this.#watchers.delete(sink.id)
    const frames = this.log.framesAfter(lastProcessed)
    this.#ackedThrough = Math.min(this.#ticksSent, Math.max(this.#ackedThrough, this.log.lastTickStepThrough(lastProcessed)))
    return { frames, lastSequenceId: this.log.lastSequenceId, state: this.#state, resumeAfter: this.#state === 'paused' && this.#pausedBy === 'disconnect' }
  }

  /** The strategy's connection went away: pause (if running) until a resume_session reattaches. */
  detach (sink: EventSink): void {
    this.#watchers.delete(sink.id)
    if (this.#primary?.id !== sink.id) return
    this.#primary = undefined
    if (this.#state === 'running') this.pause('disconnect')
  }

  watch (sink: EventSink): number {
    this.#watchers.set(sink.id, sink)
    return this.log.lastSequenceId
  }

  unwatch (sink: EventSink): boolean { return this.#watchers.delete(sink.id) }

  /** Drop timers (session deleted or server closing). */
  dispose (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#state === 'running' || this.#state === 'paused') this.#state = 'error'
    this.#primary = undefined
    this.#watchers.clear()
  }

  #assertOpen (what: string): void {
    if (this.#state === 'completed' || this.#state === 'error') {
      throw new AppError('INVALID_STATE', `The simulation has ${this.#state === 'completed' ? 'completed' : 'stopped'}; it cannot ${what}`, { state: this.#state })
    }
  }

  /**
   * orders_per_minute of the plan, per minute of simulated time: it bounds order spam per bar without
   * making a replay that runs 1,000× faster than the market trip a wall-clock limit.
   */
  #countOrders (n: number): void {
    const now = Date.parse(this.#engine.simTime)
    if (now - this.#orderWindow.start >= 60_000) this.#orderWindow = { start: now, count: 0 }
    if (this.#orderWindow.count + n > this.#ordersPerMinute) {
      throw new AppError('RATE_LIMIT_EXCEEDED', `At most ${this.#ordersPerMinute} orders per simulated minute on this plan`, { limit: this.#ordersPerMinute, limit_name: 'orders_per_minute', sim_time: this.#engine.simTime })
    }
    this.#orderWindow.count += n
  }

  /** Where the run stands (simulation_paused/resumed and the REST control replies). */
  stateData (reason?: string): SimulationStateData {
    return {
      session_id: this.sessionId,
      state: this.#state,
      ticks_sent: this.#ticksSent,
      total_ticks: this.#engine.totalSteps,
      ...(reason !== undefined ? { reason } : {})
    }
  }

  #schedule (delayMs = 0): void {
    if (this.#scheduled || this.#state !== 'running') return
    this.#scheduled = true
    if (delayMs > 0) {
      this.#timer = setTimeout(() => { this.#scheduled = false; this.#pump() }, delayMs)
    } else {
      setImmediate(() => { this.#scheduled = false; this.#pump() })
    }
  }

  #pump (): void {
    if (this.#state !== 'running') return
    const deadline = performance.now() + this.#sliceMs
    const { flow_control: flowControl, max_pending_ticks: window } = this.options
    // One turn's frames (fills and ticks) leave in one write instead of one syscall each.
    const primary = this.#primary
    primary?.cork?.()
    try {
      for (let n = 0; n < this.#sliceSteps; n++) {
        if (flowControl && this.#ticksSent - this.#ackedThrough >= window) return // an ack reschedules
        if (this.#primary !== undefined && this.#primary.backlogBytes() > this.#highWater) {
          this.#schedule(2)
          return
        }
        const events = this.#engine.step()
        if (events === null) { this.#complete(); return }
        this.#emitAll(events, undefined)
        if (this.#engine.done) { this.#complete(); return }
        if ((n & 63) === 63 && performance.now() > deadline) break
      }
    } catch (err) {
      this.#fail(err)
      return
    } finally {
      primary?.uncork?.()
    }
    this.#reportProgress()
    this.#schedule()
  }

  #emitAll (events: readonly EngineEvent[], requestId: string | undefined): void {
    for (const e of events) {
      if (e.type === 'tick') {
        this.#ticksSent = e.data.sequence_id
        this.#emit('tick', e.data, undefined, e.data.sequence_id)
      } else {
        this.#emit(e.type, e.data, e.type === 'order_update' || e.type === 'execution_report' ? requestId : undefined)
      }
    }
  }

  /** Wall-clock stamp of frames, formatted once per millisecond. */
  #stamp (): string {
    const now = Date.now()
    if (now !== this.#stampMs) { this.#stampMs = now; this.#stampText = this.#stampFormatter.format(now) }
    return this.#stampText
  }

  #emit (type: string, data: unknown, requestId: string | undefined, tickStep = 0): void {
    const rid = requestId === undefined ? '' : `,"request_id":${JSON.stringify(requestId)}`
    const frame = `{"type":"${type}","data":${JSON.stringify(data)}${rid},"timestamp":"${this.#stamp()}","sequence_id":${this.log.nextSequenceId}}`
    this.log.append(type, tickStep, frame)
    const primary = this.#primary
    if (primary !== undefined && primary.open) primary.send(frame)
    if (this.#watchers.size > 0) {
      for (const [id, w] of this.#watchers) {
        if (!w.open || w.backlogBytes() > WATCHER_MAX_BACKLOG) { this.#watchers.delete(id); continue }
        w.send(frame)
      }
    }
  }

  #reportProgress (): void {
    const now = Date.now()
    if (now - this.#lastProgressAt < PROGRESS_EVERY_MS) return
    this.#lastProgressAt = now
    this.#hooks.onProgress(this.progress)
  }

  #complete (): void {
    if (this.#state === 'completed') return
    this.#state = 'completed'
    this.#hooks.onState('completed', { progress: 1 })
  }

  #fail (err: unknown): void {
    this.#state = 'error'
    const message = err instanceof Error ? err.message : String(err)
    this.#hooks.onState('error', { progress: this.progress, error_message: message })
    this.#emit('session_error', { error_code: 'INTERNAL_ERROR', message: 'The simulation failed', details: { session_id: this.sessionId } }, undefined)
  }
}

/** The engine asks by symbol index; the calendar answers by symbol. */
function sessionOfSymbol (series: readonly BarSeries[], at: (symbol: string, epochMs: number) => MarketSession): (symbolIndex: number, epochMs: number) => MarketSession {
  const symbols = series.map((s) => s.symbol)
  return (i, ms) => at(symbols[i], ms)
}
