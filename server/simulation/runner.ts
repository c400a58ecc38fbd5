// Runs one session's simulation around the pure engine: owns time (slices of steps between I/O turns),
// flow control (at most `max_pending_ticks` unacknowledged ticks), backpressure (never queues more than a
// high-water mark in the strategy's socket), the run's event log (a bounded ring) and fan-out to the
// strategy connection and read-only watchers. Private to SimulationService: transports never see it.
// State moves follow the one table in sessions/lifecycle.ts; moves a user asks for are committed to the
// store by the service first and applied here after, moves the run makes itself (completion, failure, a
// dropped connection, no strategy at all: unattended-watch.ts) are reported through hooks and committed by
// the service in order.
// Transport-free: it writes frames to EventSinks; server/ws adapts a WebSocket connection into one.
import type { AccountSnapshot, BatchAck, Order, OrderBatchData, OrderUpdate, ReplaceOrderBody, SimulationResults, StartSimulationData } from '../../schemas/simulation.js'
import type { SessionState } from '../../schemas/sessions.js'
import type { SimulationStateData } from '../../schemas/simulation-control.js'
import { AppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'
import { assertTransition } from '../sessions/lifecycle.js'
import type { EngineEvent } from './engine.js'
import type { Timeline } from './timeline.js'
import { NO_STEP, SimulationEngine } from './engine.js'
import { EventLog } from './event-log.js'
import { dailyEquityHistory, stepEquityHistory, type EquityWindow } from './equity-history.js'
import type { EquityHistory } from '../../schemas/equity-history.js'
import { IsoFormatter } from '../iso-time.js'
import { DEFAULT_UNATTENDED_PAUSE_MS, UnattendedWatch } from './unattended-watch.js'
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
  /** Closes the connection behind the sink (a client that reconnects resumes its run elsewhere). */
  close?: (code: number, reason: string) => void
}

/**
 * WebSocket close code for a strategy connection whose run this instance lost without another connection
 * taking it over (its lease lapsed, Redis lost its stream): 1012 "service restart" tells the client to
 * reconnect, and its resume_session rebuilds the run on whichever instance it reaches.
 */
export const CLOSE_RUN_MOVED = 1012

export type RunOptions = Required<Omit<StartSimulationData, 'session_id'>>

export type RunState = 'running' | 'paused' | 'completed' | 'error'

export interface RunnerHooks {
  /** The run changed state by itself (completed, failed, paused by a dropped connection): commit it. */
  onState: (to: SessionState, detail: { progress: number, error_message?: string, pause_reason?: SelfPauseReason }) => void
  /** Progress moved (throttled). */
  onProgress: (progress: number) => void
  /** The run reached completed or error (by any route): its engine is released, its log may be retained. */
  onFinished?: () => void
  /** Every event, as logged (durable mode: the event store's batches; a rebuild: the check against it). */
  onFrame?: (seq: number, frame: string) => void
  /**
   * Several instances: whether this instance still owns the run (its lease's local deadline is ahead). When
   * it does not, the run neither steps nor moves by itself: a stalled or cut-off owner never sends or writes.
   */
  owned?: () => boolean
  /** Whether the run may pause itself for want of a strategy now (not while it is being rebuilt). */
  maySelfPause?: () => boolean
}

/** Why a run paused itself: its strategy connection dropped, or no strategy drove it (UnattendedWatch). */
export type SelfPauseReason = 'disconnect' | 'no_strategy'

export interface RunnerInit {
  sessionId: string
  userId: string
  series: readonly BarSeries[]
  /** The series' merged timeline, shared with other runs of the same series (built by the engine when absent). */
  timeline?: Timeline
  /** Called once when the runner lets go of its engine and so of the series (finished or disposed). */
  releaseBars?: () => void
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
  /** When a symbol's daily bar of a trading day (yyyymmdd) closes (see SimulationEngineOptions). */
  dailyCloseAt?: (symbol: string, day: number) => number
  /** Bytes of newest frames the log keeps while running (a ring). */
  logMaxBytes?: number
  /**
   * Hold the frame that ends the run (simulation_complete, or the session_error of a failed run) until
   * releaseFinal(): the service stores the end first, so a client that reads the session as soon as it
   * hears the end finds it finished, on any instance.
   */
  holdFinal?: boolean
  /** A flow-controlled run no strategy drives pauses itself after this long (ms; ≤ 0 never). */
  unattendedPauseMs?: number
}

const DEFAULT_SLICE_STEPS = 2048
const DEFAULT_SLICE_MS = 8
const DEFAULT_HIGH_WATER = 1 << 20
/** A watcher more than this far behind is dropped rather than allowed to hold memory. */
const WATCHER_MAX_BACKLOG = 16 << 20
const PROGRESS_EVERY_MS = 250

/** What stays of a run once it has finished (the engine and its bars are released). */
interface FinalState { account: AccountSnapshot, orders: Order[], results: SimulationResults | undefined, simTime: string }

export class SimulationRunner {
  readonly sessionId: string
  readonly userId: string
  readonly options: RunOptions
  readonly log: EventLog
  #engine: SimulationEngine | undefined
  #final: FinalState | undefined
  readonly #symbols: string[]
  readonly #initialCapital: string
  #releaseBars: (() => void) | undefined
  readonly #hooks: RunnerHooks
  readonly #sliceSteps: number
  readonly #sliceMs: number
  readonly #highWater: number
  readonly #totalTicks: number
  #primary: EventSink | undefined
  /** A connection taking the stream over (resume_session): it gets the replay first, then becomes primary. */
  #syncing: EventSink | undefined
  /** Connections whose stream was taken over: their acks are refused with STREAM_TAKEN_OVER. */
  readonly #displaced = new Set<number>()
  readonly #watchers = new Map<number, EventSink>()
  #ticksSent = 0
  #ackedThrough = 0
  #state: RunState = 'running'
  #pausedBy: 'user' | SelfPauseReason | 'restart' | undefined
  readonly #unattended: UnattendedWatch
  /** While above 0 the pump does not step (a transition being committed, a replay being sent). */
  #holds = 0
  #scheduled = false
  #lastProgressAt = 0
  #timer: NodeJS.Timeout | undefined
  readonly #ordersPerMinute: number
  readonly #stampFormatter = new IsoFormatter()
  #stampMs = 0
  #stampText = ''
  #orderWindow = { start: Number.NEGATIVE_INFINITY, count: 0 }
  readonly #holdFinal: boolean
  /** One step's events before its tick (reused: emptied after every step). */
  readonly #stepEvents: EngineEvent[] = []
  #stepping = false
  /** The final frame (holdFinal), with the connections that were listening when it was made. */
  #held: { frame: string, to: EventSink[] } | undefined

  constructor (init: RunnerInit) {
    this.sessionId = init.sessionId
    this.userId = init.userId
    this.options = init.options
    this.log = new EventLog(init.logMaxBytes)
    this.#hooks = init.hooks
    this.#symbols = init.series.map((s) => s.symbol)
    this.#initialCapital = init.initialCapital
    this.#sliceSteps = init.sliceSteps ?? DEFAULT_SLICE_STEPS
    this.#sliceMs = init.sliceMs ?? DEFAULT_SLICE_MS
    this.#highWater = init.highWaterMark ?? DEFAULT_HIGH_WATER
    this.#ordersPerMinute = init.ordersPerMinute ?? Number.POSITIVE_INFINITY
    this.#holdFinal = init.holdFinal ?? false
    this.#engine = new SimulationEngine({
      sessionId: init.sessionId,
      series: init.series,
      ...(init.timeline !== undefined ? { timeline: init.timeline } : {}),
      initialCapital: init.initialCapital,
      settings: init.settings,
      accountUpdateFrequency: init.options.account_update_frequency,
      includeBars: init.options.include_bars,
      ...(init.marketSessionAt !== undefined ? { marketSessionAt: bySymbolIndex(init.series, init.marketSessionAt) } : {}),
      ...(init.dailyCloseAt !== undefined ? { dailyCloseAt: bySymbolIndex(init.series, init.dailyCloseAt) } : {})
    })
    this.#totalTicks = this.#engine.totalSteps
    this.#releaseBars = init.releaseBars
    this.#unattended = new UnattendedWatch(init.unattendedPauseMs ?? DEFAULT_UNATTENDED_PAUSE_MS, () => {
      const driven = this.#primary !== undefined || this.#syncing !== undefined
      if (this.#state === 'running' && !driven && this.#owned() && (this.#hooks.maySelfPause?.() ?? true)) this.#pauseBySelf('no_strategy')
    })
  }

  get state (): RunState { return this.#state }
  get totalTicks (): number { return this.#totalTicks }
  get ticksSent (): number { return this.#ticksSent }
  get progress (): number { return this.#engine?.progress ?? (this.#state === 'completed' ? 1 : this.#ticksSent / Math.max(1, this.#totalTicks)) }
  get primaryId (): number | undefined { return this.#primary?.id }
  get finished (): boolean { return this.#state === 'completed' || this.#state === 'error' }
  /** Why a paused run is paused ('restart': rebuilt after a server restart, paused without an event). */
  get pausedBy (): 'user' | SelfPauseReason | 'restart' | undefined { return this.#state === 'paused' ? this.#pausedBy : undefined }
  /** What a finished run keeps (results only when completed), for the RunStore; undefined while it runs. */
  get final (): Readonly<FinalState> | undefined { return this.finished ? this.#final : undefined }

  /** Begin: log and send simulation_started (the reply to start), then stream. */
  start (primary: EventSink | undefined, requestId: string | undefined): void {
    const engine = this.#eng()
    this.#primary = primary
    this.#watchForStrategy()
    this.#emit('simulation_started', {
      session_id: this.sessionId,
      total_ticks: this.#totalTicks,
      flow_control: this.options.flow_control,
      max_pending_ticks: this.options.max_pending_ticks,
      account_update_frequency: this.options.account_update_frequency,
      include_bars: this.options.include_bars,
      fill_policy_version: engine.settings.fill_policy_version,
      symbols: this.#symbols,
      initial_capital: this.#initialCapital
    }, requestId)
    this.#schedule()
  }

  /**
   * tick_ack from connection `sinkId`: `ready` acknowledges every tick up to `step`; `processing`/`need_time`
   * hold the window. Only the strategy connection may ack (a displaced one hears STREAM_TAKEN_OVER).
   * Returns whether the ack moved the acknowledged window.
   */
  ack (sinkId: number, step: number, status: 'ready' | 'processing' | 'need_time'): boolean {
    if (this.#primary?.id !== sinkId && this.#syncing?.id !== sinkId) {
      if (this.#displaced.has(sinkId)) {
        throw new AppError('STREAM_TAKEN_OVER', 'Another connection took this run over with resume_session; this connection no longer drives it', { session_id: this.sessionId })
      }
      throw new AppError('INVALID_STATE', 'Only the connection driving the run may acknowledge its ticks (send resume_session to take it over)', { session_id: this.sessionId, state: this.#state })
    }
    // Acks of the last ticks may cross simulation_complete on the wire: harmless, ignored.
    if (this.#engine === undefined) return false
    if (step > this.#ticksSent) {
      throw new AppError('VALIDATION_FAILED', `tick ${step} has not been sent (last sent: ${this.#ticksSent})`, { field: 'sequence_id', last_sent: this.#ticksSent })
    }
    if (status !== 'ready' || step <= this.#ackedThrough) return false
    this.#ackedThrough = step
    // Step right away rather than on a later turn: in lockstep that turn is a third of the tick's cost.
    // The pump is bounded by its slice, so other connections still get their turn.
    if (!this.#scheduled) this.#pump()
    return true
  }

  /**
   * An order batch; its order_update events go to the run's stream (tagged with the request's id).
   * `onAck` runs before they are sent, so the requester's batch_ack precedes the events it caused.
   */
  submitBatch (batch: OrderBatchData, requestId: string | undefined, onAck?: (ack: BatchAck) => void): BatchAck {
    const engine = this.#open('accept orders')
    // A batch sent again after a reconnect (same order ids) is refused order by order; it uses no allowance.
    let fresh = 0
    for (const o of batch.orders) if (!engine.holds(o.order_id)) fresh++
    this.#countOrders(fresh)
    const { ack, events } = engine.submitBatch(batch)
    onAck?.(ack)
    this.#emitAll(events, requestId)
    return ack
  }

  /** Cancel a working order; returns the order_update that was logged. */
  cancelOrder (orderId: string, requestId: string | undefined): OrderUpdate {
    const engine = this.#open('cancel orders')
    const events = engine.cancelOrder(orderId)
    this.#emitAll(events, requestId)
    const update = events.find((e) => e.type === 'order_update')
    return update !== undefined ? update.data as OrderUpdate : { order_id: orderId, status: 'cancelled', update_time: engine.simTime, order: engine.order(orderId) }
  }

  /** Replace a working order; returns the replacing order's order_update (the old order's `replaced` one precedes it on the stream). */
  replaceOrder (orderId: string, changes: ReplaceOrderBody, requestId: string | undefined): OrderUpdate {
    const engine = this.#open('replace orders')
    const { events } = engine.replaceOrder(orderId, changes)
    // Only the new order's update answers the request (request_id), so a client awaiting it gets the new order.
    this.#emitAll(events.slice(0, -1), undefined)
    this.#emitAll(events.slice(-1), requestId)
    return events[events.length - 1].data as OrderUpdate
  }

  account (): AccountSnapshot { return this.#engine?.account() ?? this.#finalState().account }

  orders (): Order[] { return this.#engine?.orders() ?? this.#finalState().orders }

  results (): SimulationResults {
    const results = this.#state === 'completed' ? this.#final?.results : undefined
    if (results === undefined) {
      throw new AppError('INVALID_STATE', 'Results are available when the simulation has completed', { state: this.#state })
    }
    return results
  }

  /** The equity curve so far: the engine's per-step marks while it runs, the results' daily closes once completed. */
  equityHistory (window: EquityWindow): EquityHistory {
    const engine = this.#engine
    if (engine !== undefined) return stepEquityHistory(engine.equityTrack(), window)
    return dailyEquityHistory(this.results(), this.#totalTicks, window)
  }

  /** Step again if the run can (its ownership was confirmed after a stall at the lease deadline). */
  poke (): void { this.#schedule() }

  /**
   * This instance gives the run up, and nothing more is sent to anyone. Taken over by another connection:
   * the strategy connection (and one taking the stream over) hear STREAM_TAKEN_OVER. Lost (`lost`): their
   * connection is closed with CLOSE_RUN_MOVED, so the client reconnects and resumes the run. Returns the ids
   * of the connections displaced and the watchers, which the caller may keep feeding from elsewhere.
   */
  relinquish (message: string, lost = false): { displaced: number[], watchers: EventSink[] } {
    const displaced: number[] = []
    for (const sink of [this.#primary, this.#syncing]) {
      if (sink === undefined) continue
      if (!sink.open) continue
      if (lost && sink.close !== undefined) { sink.close(CLOSE_RUN_MOVED, 'run moved; reconnect and resume it'); continue }
      displaced.push(sink.id)
      sink.send(`{"type":"session_error","data":${JSON.stringify({ error_code: 'STREAM_TAKEN_OVER', message, details: { session_id: this.sessionId } })},"timestamp":"${this.#stamp()}"}`)
    }
    const watchers = [...this.#watchers.values()]
    this.#primary = undefined
    this.#syncing = undefined
    this.#watchers.clear()
    return { displaced, watchers }
  }

  /** Hold stepping (a transition is being committed, a replay is being sent); release() lets it go on. */
  /**
   * With flow control: step now as far as the acknowledged window allows, as the last ack would have, so an input
   * applied next lands at the step the acks before it imply rather than at one that depends on when a scheduled
   * step runs (after a resume, a release) or on the socket's backlog: at most `max_pending_ticks` (≤ 1,000) steps,
   * past the pump's slice and high-water mark on purpose. Does nothing while paused, held or past the end.
   */
  fillWindow (): void {
    const engine = this.#engine
    if (!this.options.flow_control || this.#stepping || this.#state !== 'running' || this.#holds > 0 || engine === undefined || !this.#owned()) return
    const primary = this.#primary
    primary?.cork?.()
    try {
      while (this.#ticksSent - this.#ackedThrough < this.options.max_pending_ticks) {
        if (!this.#step(engine) || engine.done) { this.#finish('completed', true); return }
      }
    } catch (err) {
      this.#fail(err)
    } finally {
      primary?.uncork?.()
    }
  }

  hold (): void { this.#holds++ }
  release (): void {
    if (this.#holds > 0) this.#holds--
    if (this.#holds === 0) this.#schedule()
  }

  /** Throws INVALID_STATE (the lifecycle table's error) unless the run may move to `to` now. */
  assertCan (to: RunState): void { assertTransition(this.#state, to) }

  /** Apply a committed pause: running → paused. */
  pause (reason: 'user' | SelfPauseReason, requestId?: string): SimulationStateData {
    this.#move('paused')
    this.#pausedBy = reason
    const data = this.stateData(reason)
    this.#emit('simulation_paused', data, requestId)
    return data
  }

  /**
   * A rebuild: one engine step, its events logged (never sent: nobody is attached while a run is rebuilt).
   * Inputs are applied between steps through the usual methods.
   */
  replayStep (): void {
    const engine = this.#eng()
    if (!this.#step(engine)) { this.#finish('completed', true); return }
    if (engine.done) this.#finish('completed', true)
  }

  /** A rebuilt run that was running when the server stopped waits, paused, for its strategy; no event. */
  pauseForRestart (): void {
    this.#move('paused')
    this.#pausedBy = 'restart'
  }

  /** Its strategy is back (or a headless run was resumed over REST): on it goes, without an event either. */
  resumeAfterRestart (): void {
    this.#move('running')
    this.#pausedBy = undefined
    this.#watchForStrategy()
    this.#schedule()
  }

  /** Apply a committed resume: paused → running. */
  resume (requestId?: string): SimulationStateData {
    this.#move('running')
    this.#pausedBy = undefined
    this.#watchForStrategy()
    const data = this.stateData()
    this.#emit('simulation_resumed', data, requestId)
    this.#schedule()
    return data
  }

  /** Apply a committed cancel: open orders cancelled, results computed to now, simulation_complete (stopped). */
  cancel (requestId?: string): SimulationStateData {
    this.assertCan('completed')
    this.#emitAll(this.#eng().finish(), requestId)
    this.#finish('completed', false)
    return this.stateData()
  }

  /**
   * Apply a committed failure reported by the strategy: the run stops, with the usual failed-run event
   * (a run event, so without the request's id: the requester's reply is session_info).
   */
  failByStrategy (message: string): void {
    this.assertCan('error')
    this.#emit('session_error', { error_code: 'INTERNAL_ERROR', message: `The strategy failed: ${message}`, details: { session_id: this.sessionId, source: 'strategy' } }, undefined)
    this.#finish('error', false)
  }

  /**
   * A strategy connection starts taking over the stream (resume_session): the previous one is told
   * (STREAM_TAKEN_OVER) and from now on hears nothing; stepping holds until finishAttach, so the replay of
   * the log (sent by the service in pages) is never overtaken by a live event.
   */
  beginAttach (sink: EventSink, lastProcessed: number, storeBacked = false): void {
    if (lastProcessed > this.log.lastSequenceId) {
      throw new AppError('VALIDATION_FAILED', `last_processed_sequence_id ${lastProcessed} is ahead of the log (${this.log.lastSequenceId})`, { field: 'last_processed_sequence_id', last_sequence_id: this.log.lastSequenceId })
    }
    // Throws EVENTS_EXPIRED before anything changes when the client's next event is no longer kept (a
    // store-backed log reads older events from the event store instead).
    if (!storeBacked) this.log.framesAfter(lastProcessed, 1)
    const previous = this.#primary
    if (previous !== undefined && previous.id !== sink.id) {
      this.#displaced.add(previous.id)
      if (previous.open) {
        previous.send(`{"type":"session_error","data":${JSON.stringify({ error_code: 'STREAM_TAKEN_OVER', message: 'Another connection took this run over with resume_session', details: { session_id: this.sessionId } })},"timestamp":"${this.#stamp()}"}`)
      }
    }
    this.#displaced.delete(sink.id)
    this.#primary = undefined
    this.#syncing = sink
    this.#watchers.delete(sink.id)
    this.#ackedThrough = Math.min(this.#ticksSent, Math.max(this.#ackedThrough, this.log.lastTickStepThrough(lastProcessed)))
    this.#holds++
  }

  /**
   * The replay reached the end of the log: `sink` becomes the strategy connection (synchronously, so no
   * event falls between). Returns whether the run was paused only by the dropped connection (the service
   * then resumes it).
   */
  finishAttach (sink: EventSink): boolean {
    if (this.#syncing?.id !== sink.id) return false
    this.#syncing = undefined
    this.#primary = sink
    this.release()
    return this.#state === 'paused' && (this.#pausedBy === 'disconnect' || this.#pausedBy === 'restart' || this.#pausedBy === 'no_strategy')
  }

  /** The replay could not finish (connection gone, events expired): give up the takeover. */
  abortAttach (sink: EventSink): void {
    if (this.#syncing?.id !== sink.id) return
    this.#syncing = undefined
    this.release()
    if (this.#primary === undefined && this.#state === 'running' && this.options.flow_control && this.#owned()) this.#pauseBySelf('disconnect')
  }

  isSyncing (sinkId: number): boolean { return this.#syncing?.id === sinkId }

  /** Whether `sinkId` hears the run's events (strategy connection or watcher). */
  streamsTo (sinkId: number): boolean { return this.#primary?.id === sinkId || this.#watchers.has(sinkId) }

  /** A connection went away: the run it drove pauses (if running) until a resume_session reattaches. */
  detach (sink: EventSink): void {
    this.#watchers.delete(sink.id)
    this.#displaced.delete(sink.id)
    if (this.#syncing?.id === sink.id) { this.abortAttach(sink); return }
    if (this.#primary?.id !== sink.id) return
    this.#primary = undefined
    if (this.#state === 'running' && this.#owned()) this.#pauseBySelf('disconnect')
  }

  watch (sink: EventSink): number {
    this.#watchers.set(sink.id, sink)
    return this.log.lastSequenceId
  }

  unwatch (sink: EventSink): boolean { return this.#watchers.delete(sink.id) }

  /** Drop timers and everything held (session deleted or server closing). */
  dispose (): void {
    clearTimeout(this.#timer)
    this.#unattended.clear()
    this.#timer = undefined
    if (this.#state === 'running' || this.#state === 'paused') this.#state = 'error'
    this.#primary = undefined
    this.#syncing = undefined
    this.#watchers.clear()
    this.#held = undefined
    this.#dropEngine()
    this.log.release()
  }

  /** Where the run stands (simulation_paused/resumed and the REST control replies). */
  stateData (reason?: string): SimulationStateData {
    return {
      session_id: this.sessionId,
      state: this.#state,
      ticks_sent: this.#ticksSent,
      total_ticks: this.#totalTicks,
      ...(reason !== undefined ? { reason } : {})
    }
  }

  #eng (): SimulationEngine {
    if (this.#engine === undefined) throw new AppError('INVALID_STATE', `The simulation has ${this.#state === 'completed' ? 'completed' : 'stopped'}`, { state: this.#state })
    return this.#engine
  }

  #open (what: string): SimulationEngine {
    if (this.#state === 'completed' || this.#state === 'error' || this.#engine === undefined) {
      throw new AppError('INVALID_STATE', `The simulation has ${this.#state === 'completed' ? 'completed' : 'stopped'}; it cannot ${what}`, { state: this.#state })
    }
    return this.#engine
  }

  #finalState (): FinalState {
    if (this.#final === undefined) throw new AppError('INVALID_STATE', 'The simulation has stopped', { state: this.#state })
    return this.#final
  }

  /** Every state change of the run goes through the lifecycle table. */
  #move (to: RunState): void {
    assertTransition(this.#state, to)
    this.#state = to
  }

  #pauseBySelf (reason: SelfPauseReason): void {
    this.#move('paused')
    this.#pausedBy = reason
    this.#hooks.onState('paused', { progress: this.progress, pause_reason: reason })
    this.#emit('simulation_paused', this.stateData(reason), undefined)
  }

  /** Running flow-controlled with no strategy connection: pause by itself unless one attaches in time. */
  #watchForStrategy (): void {
    if (this.options.flow_control && this.#primary === undefined) this.#unattended.arm()
  }

  /**
   * orders_per_minute of the plan, per minute of simulated time: it bounds order spam per bar without
   * making a replay that runs 1,000× faster than the market trip a wall-clock limit.
   */
  #countOrders (n: number): void {
    const simTime = this.#eng().simTime
    const now = Date.parse(simTime)
    if (now - this.#orderWindow.start >= 60_000) this.#orderWindow = { start: now, count: 0 }
    if (this.#orderWindow.count + n > this.#ordersPerMinute) {
      throw new AppError('RATE_LIMIT_EXCEEDED', `At most ${this.#ordersPerMinute} orders per simulated minute on this plan`, { limit: this.#ordersPerMinute, limit_name: 'orders_per_minute', sim_time: simTime })
    }
    this.#orderWindow.count += n
  }

  #schedule (delayMs = 0): void {
    if (this.#scheduled || this.#state !== 'running' || this.#holds > 0) return
    this.#scheduled = true
    if (delayMs > 0) {
      this.#timer = setTimeout(() => { this.#scheduled = false; this.#pump() }, delayMs)
    } else {
      setImmediate(() => { this.#scheduled = false; this.#pump() })
    }
  }

  #owned (): boolean { return this.#hooks.owned?.() ?? true }

  #pump (): void {
    if (this.#state !== 'running' || this.#holds > 0) return
    const engine = this.#engine
    if (engine === undefined) return
    // Past the lease's local deadline: stop here; a confirmed renewal pokes the run again.
    if (!this.#owned()) return
    const deadline = performance.now() + this.#sliceMs
    const { flow_control: flowControl, max_pending_ticks: window } = this.options
    // One turn's frames (fills and ticks) leave in one write instead of one syscall each.
    const primary = this.#primary
    primary?.cork?.()
    try {
      for (let n = 0; n < this.#sliceSteps; n++) {
        if (flowControl && this.#ticksSent - this.#ackedThrough >= window) {
          // A flow-controlled run always leaves its turn here, so progress is reported here too (at most
          // every PROGRESS_EVERY_MS); an ack reschedules.
          this.#reportProgress()
          return
        }
        if (this.#primary !== undefined && this.#primary.backlogBytes() > this.#highWater) {
          this.#schedule(2)
          return
        }
        if (!this.#step(engine)) { this.#finish('completed', true); return }
        if (engine.done) { this.#finish('completed', true); return }
        if ((n & 63) === 63 && (performance.now() > deadline || !this.#owned())) break
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

  /**
   * One engine step, its events emitted: the fills and updates it made, then its tick rendered straight to
   * JSON (no tick object). False when the run was already over (nothing emitted).
   */
  #step (engine: SimulationEngine): boolean {
    // A sink may step the run again from inside send (an in-process strategy acking at once): that inner
    // step gets its own array, so the outer one's events are not cleared under it.
    const reentered = this.#stepping
    const events = reentered ? [] : this.#stepEvents
    this.#stepping = true
    try {
      const k = engine.stepInto(events)
      if (k === NO_STEP) return false
      if (events.length > 0) this.#emitAll(events, undefined)
      if (k >= 0) {
        this.#ticksSent = k + 1
        this.#emitJson('tick', engine.tickJson(k), undefined, k + 1)
      }
      return true
    } finally {
      if (events.length > 0) events.length = 0 // (setting the length of an empty array is a runtime call)
      this.#stepping = reentered
    }
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
    this.#emitJson(type, JSON.stringify(data), requestId, tickStep)
  }

  /** Frames one event whose data is already JSON text, logs it and sends it. */
  #emitJson (type: string, dataJson: string, requestId: string | undefined, tickStep = 0): void {
    const rid = requestId === undefined ? '' : `,"request_id":${JSON.stringify(requestId)}`
    const frame = `{"type":"${type}","data":${dataJson}${rid},"timestamp":"${this.#stamp()}","sequence_id":${this.log.nextSequenceId}}`
    this.log.append(tickStep, frame)
    this.#hooks.onFrame?.(this.log.lastSequenceId, frame)
    const primary = this.#primary
    if (this.#holdFinal && (type === 'simulation_complete' || type === 'session_error')) {
      // Connections that attach meanwhile get it from the log, as part of their replay.
      this.#held = { frame, to: [...(primary !== undefined ? [primary] : []), ...this.#watchers.values()] }
      return
    }
    if (primary !== undefined && primary.open) primary.send(frame)
    if (this.#watchers.size > 0) {
      for (const [id, w] of this.#watchers) {
        if (!w.open || w.backlogBytes() > WATCHER_MAX_BACKLOG) { this.#watchers.delete(id); continue }
        w.send(frame)
      }
    }
  }

  /** The end is stored (holdFinal): the final frame goes to the connections that were listening. */
  releaseFinal (): void {
    const held = this.#held
    this.#held = undefined
    if (held === undefined) return
    for (const sink of held.to) if (sink.open) sink.send(held.frame)
  }

  #reportProgress (): void {
    const now = Date.now()
    if (now - this.#lastProgressAt < PROGRESS_EVERY_MS) return
    this.#lastProgressAt = now
    this.#hooks.onProgress(this.progress)
  }

  /**
   * The run ends (completed or error): what results, account and orders need is kept, the engine and its
   * bar series are released. `notify`: the run ended by itself, so the store has yet to hear of it.
   */
  #finish (to: 'completed' | 'error', notify: boolean, errorMessage?: string): void {
    if (this.finished) return
    this.#move(to)
    clearTimeout(this.#timer)
    const engine = this.#engine
    if (engine !== undefined) {
      this.#final = { account: engine.account(), orders: engine.orders(), results: to === 'completed' ? engine.results() : undefined, simTime: engine.simTime }
      this.#dropEngine()
    }
    if (notify) this.#hooks.onState(to, { progress: to === 'completed' ? 1 : this.progress, ...(errorMessage !== undefined ? { error_message: errorMessage } : {}) })
    this.#hooks.onFinished?.()
  }

  /** The engine goes, and with it this run's hold on the (shared) bars. */
  #dropEngine (): void {
    this.#engine = undefined
    const release = this.#releaseBars
    this.#releaseBars = undefined
    release?.()
  }

  #fail (err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    this.#emit('session_error', { error_code: 'INTERNAL_ERROR', message: 'The simulation failed', details: { session_id: this.sessionId } }, undefined)
    this.#finish('error', true, message)
  }
}

/** The engine asks by symbol index; the calendar answers by symbol. */
function bySymbolIndex<T> (series: readonly BarSeries[], at: (symbol: string, arg: number) => T): (symbolIndex: number, arg: number) => T {
  const symbols = series.map((s) => s.symbol)
  return (i, arg) => at(symbols[i], arg)
}
