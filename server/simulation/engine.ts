// The pure, step-driven simulation core: replays a session's bars, fills its orders under
// docs/fill-policy.md, keeps the account and computes results. No clock, no timers, no I/O:
// the same inputs give a byte-identical event stream.
//
// How a runner drives it
// ----------------------
//   const engine = new SimulationEngine({
//     sessionId, series,                      // BarSeries[] of the session (one timeframe)
//     initialCapital,                         // Fixed | decimal string | number
//     settings,                               // Partial<SimulationSettings>; defaults DEFAULT_SIMULATION_SETTINGS
//     accountUpdateFrequency,                 // 'every_fill' (default) | 'every_tick' | 'on_demand'
//     includeBars                             // tick.bars present? (default true)
//   })
//   engine.step()        → EngineEvent[] for the next timeline step, in the order things happened:
//                          fills at the open, then fills inside the bar, then expiries/cancellations,
//                          then (every_tick, or every_fill after a fill) an account_snapshot marked at the
//                          step's closes, and LAST the `tick` that closes the step.
//                          After the last tick, one more call returns the closing events
//                          (open orders cancelled, final account_snapshot, simulation_complete);
//                          after that, null.
//   engine.submitBatch(batch) → { ack: BatchAck, events }   between steps; accepted orders are first
//                          tried on the NEXT step (events = one `order_update` per order, in batch order:
//                          accepted, or rejected with error_code and reason; a repeated order_id has none).
//   engine.cancelOrder(orderId) → EngineEvent[]   throws AppError ORDER_NOT_FOUND / INVALID_STATE.
//   engine.replaceOrder(orderId, changes) → { order, events }   the replacing order; throws like cancelOrder,
//                          or INVALID_ORDER / INSUFFICIENT_BUYING_POWER when the new order would be refused.
//   engine.finish()      → the closing events now (session stopped early); [] if already done.
//   engine.account()     → AccountSnapshot at the current simulation time (on_demand / query_account).
//   engine.orders(), engine.order(id) → Order wire objects.   engine.results() → SimulationResults.
//   engine.done, engine.progress (0..1), engine.stepsDone, engine.totalSteps, engine.simTime.
// Events are `{ type, data }` with `data` matching schemas/simulation.ts; the runner adds envelopes,
// sequence numbers and wall-clock timestamps. `tick.data.sequence_id` is the 1-based step number.
//
// Simulation time: a step's tick carries sim_time = the instant its bars close: bar start + timeframe
// length intraday, the market's close of that day from the calendar for daily bars (dailyCloseAt). Fills at the open are stamped with the bar start, fills inside the bar with its close; orders
// placed between steps are created at the previous tick's sim_time.
import type { AccountUpdateFrequency, AccountSnapshot, MarketSession, BatchAck, EstimatedFill, ExecutionReport, Order, OrderBatchData, OrderRequest, OrderUpdate, ReplaceOrderBody, PerformanceMetrics, RejectedOrder, SimulationCompleteData, SimulationResults, SimulationSettings, TickData, EquityPoint } from '../../schemas/simulation.js'
import type { Bar } from '../../schemas/market-data.js'
import type { ErrorCode } from '../../schemas/errors.js'
import { AppError } from '../app-error.js'
import { IsoFormatter } from '../iso-time.js'
import { barAt, dayNumberToDate, type BarSeries } from '../market-data/bar-series.js'
import { abs, formatMoney, fromNumber, max, min, mul, parseMoney, toNumber, type Fixed } from '../money.js'
import { FILL_POLICY_VERSION, fillAtClose, fillLimit, fillMarket, fillStop, fillStopLimit, type BarPrices, type FillDecision } from './fills.js'
import type { EquityTrack } from './equity-history.js'
import { calendarDaysBetween, cagrPct, calmarRatio, maxDrawdownPct, periodReturns, sharpeRatio, sortinoRatio, tidy, tidyOrNull, tradeStats } from './metrics.js'
import { legIds, OrderBook, OrderRejection, parseOrderFields, trailingStopLevel, WorkingOrder, type Leg } from './order-book.js'
import { Portfolio, prorate } from './portfolio.js'
import { markRejected, rejectedOrder } from './rejected-orders.js'
import { TickTemplate } from './tick-frames.js'
import { buildTimeline, isLastBarOfDay, TIMEFRAME_MS, type Timeline } from './timeline.js'

/** stepInto: the closing events (open orders cancelled, final snapshot, simulation_complete) were appended. */
export const CLOSING_STEP = -1
/** stepInto: the run is over; nothing was appended. */
export const NO_STEP = -2

export type EngineEvent =
  | { type: 'tick', data: TickData }
  | { type: 'order_update', data: OrderUpdate }
  | { type: 'execution_report', data: ExecutionReport }
  | { type: 'account_snapshot', data: AccountSnapshot }
  | { type: 'simulation_complete', data: SimulationCompleteData }

export const DEFAULT_SIMULATION_SETTINGS: SimulationSettings = Object.freeze({
  commission_per_share: 0.005,
  min_commission_per_order: 0,
  slippage_bps: 0,
  allow_short: false,
  fill_policy_version: FILL_POLICY_VERSION
})

export interface SimulationEngineOptions {
  readonly sessionId: string
  /** Read only: runs of the same symbols, timeframe and range share these arrays (nothing here writes to them). */
  readonly series: readonly BarSeries[]
  /** `buildTimeline(series)` built once and shared by runs of the same series (built here when absent). */
  readonly timeline?: Timeline
  readonly initialCapital: Fixed | string | number
  readonly settings?: Partial<SimulationSettings>
  readonly accountUpdateFrequency?: AccountUpdateFrequency
  readonly includeBars?: boolean
  /**
   * The market session of symbol `symbolIndex` at a bar's start (calendar of its market), for intraday ticks;
   * without it every tick says 'regular'. Daily ticks are always 'regular'.
   */
  readonly marketSessionAt?: (symbolIndex: number, barStartMs: number) => MarketSession
  /**
   * When symbol `symbolIndex`'s daily bar of trading day `day` (yyyymmdd) closes (its market's close that day,
   * from the calendar). Daily steps are stamped then; without it, at the bar's start + 24 h.
   */
  readonly dailyCloseAt?: (symbolIndex: number, day: number) => number
}

/** Defaults filled in and ranges checked (the schema does this on the wire; in-process callers skip it). */
export function resolveSettings (partial: Partial<SimulationSettings> = {}): SimulationSettings {
  const s: SimulationSettings = { ...DEFAULT_SIMULATION_SETTINGS, ...partial }
  const bad = (field: string, rule: string): never => {
    throw new AppError('VALIDATION_FAILED', `${field} ${rule}`, { field })
  }
  if (!(s.commission_per_share >= 0)) bad('commission_per_share', 'must be ≥ 0')
  if (!(s.min_commission_per_order >= 0)) bad('min_commission_per_order', 'must be ≥ 0')
  if (!(s.slippage_bps >= 0 && s.slippage_bps <= 1000)) bad('slippage_bps', 'must be within 0..1000')
  if (s.volume_participation !== undefined && !(s.volume_participation > 0 && s.volume_participation <= 1)) {
    bad('volume_participation', 'must be within (0, 1]')
  }
  if (s.fill_policy_version !== FILL_POLICY_VERSION) bad('fill_policy_version', `must be ${FILL_POLICY_VERSION}`)
  return s
}

const SCALE = 100_000_000n
/** Short sales: proceeds stay in cash but 150 % of the short's value is held back (Reg-T style 50 % initial margin). */
const SHORT_HOLD_NUM = 3n
const SHORT_HOLD_DEN = 2n
const SHORT_MARGIN_NUM = 1n
const SHORT_MARGIN_DEN = 2n

interface PendingFill {
  readonly order: WorkingOrder
  readonly decision: FillDecision
  readonly sym: number
  readonly bar: number
}

interface DailyMark {
  readonly day: number
  readonly timeMs: number
  readonly equity: Fixed
  readonly cash: Fixed
  readonly drawdownPct: number
}

export class SimulationEngine {
  readonly sessionId: string
  readonly settings: SimulationSettings
  private readonly series: readonly BarSeries[]
  private readonly tl: Timeline
  private readonly stepMs: number
  /** Daily timelines with a calendar: when each step closes (the latest close among its bars). */
  private readonly stepClose: Float64Array | undefined
  private readonly symbolIndex = new Map<string, number>()
  private readonly portfolio: Portfolio
  private readonly book: OrderBook
  private readonly frequency: AccountUpdateFrequency
  private readonly includeBars: boolean
  private readonly commissionPerShare: Fixed
  private readonly minCommission: Fixed
  private readonly slippageBps: number
  private readonly participation: Fixed | null
  /** Last known price per symbol: the last close, or a fill price inside the current bar. NaN before any bar. */
  private readonly markPrice: Float64Array
  private readonly lastBar: Int32Array
  private readonly equityByStep: Float64Array
  private readonly daily: DailyMark[] = []
  private peakEquity: number
  private dayStartEquity: Fixed
  private next = 0
  private finished = false
  private completedNormally = false
  private seq = 0
  private executions = 0
  private rejectedCount = 0
  private readonly isoFormatter = new IsoFormatter()
  private tickTemplate: TickTemplate | undefined
  private readonly marketSessionAt: ((symbolIndex: number, barStartMs: number) => MarketSession) | undefined

  constructor (options: SimulationEngineOptions) {
    this.sessionId = options.sessionId
    this.settings = resolveSettings(options.settings)
    this.series = options.series
    this.tl = options.timeline ?? buildTimeline(options.series)
    this.stepMs = TIMEFRAME_MS[this.tl.timeframe]
    this.stepClose = this.tl.timeframe === '1d' && options.dailyCloseAt !== undefined ? dailyCloses(this.tl, options.series, options.dailyCloseAt) : undefined
    options.series.forEach((s, i) => this.symbolIndex.set(s.symbol, i))
    const capital = typeof options.initialCapital === 'bigint'
      ? options.initialCapital
      : parseMoney(options.initialCapital, 'initial_capital')
    if (capital <= 0n) throw new AppError('VALIDATION_FAILED', 'initial_capital must be positive')
    this.portfolio = new Portfolio(capital, options.series.map((s) => s.symbol))
    this.book = new OrderBook(options.series.length)
    this.frequency = options.accountUpdateFrequency ?? 'every_fill'
    this.includeBars = options.includeBars ?? true
    this.marketSessionAt = options.marketSessionAt
    this.commissionPerShare = fromNumber(this.settings.commission_per_share)
    this.minCommission = fromNumber(this.settings.min_commission_per_order)
    this.slippageBps = this.settings.slippage_bps
    this.participation = this.settings.volume_participation === undefined ? null : fromNumber(this.settings.volume_participation)
    this.markPrice = new Float64Array(options.series.length).fill(Number.NaN)
    this.lastBar = new Int32Array(options.series.length).fill(-1)
    this.equityByStep = new Float64Array(this.tl.length)
    this.peakEquity = toNumber(capital)
    this.dayStartEquity = capital
  }

  get done (): boolean { return this.finished }
  get totalSteps (): number { return this.tl.length }
  /** When step k's bars close: the bar's start + its length, or (daily, with a calendar) the market's close. */
  private closeOf (k: number): number {
    return this.stepClose === undefined ? this.tl.time[k] + this.stepMs : this.stepClose[k]
  }

  get stepsDone (): number { return this.next }
  get progress (): number { return this.tl.length === 0 ? 1 : this.next / this.tl.length }

  /** Close of the last replayed step; before the first step, the first bar's start. */
  get simTime (): string {
    if (this.tl.length === 0) return new Date(0).toISOString()
    return this.next === 0 ? this.iso(this.tl.time[0]) : this.iso(this.closeOf(this.next - 1))
  }

  // ── orders in ──────────────────────────────────────────────────────────────────────────────────

  submitBatch (batch: OrderBatchData): { ack: BatchAck, events: EngineEvent[] } {
    if (this.finished) throw new AppError('INVALID_STATE', 'the simulation has ended; no more orders')
    const atomic = batch.execution_mode === 'atomic'
    const accepted: WorkingOrder[] = []
    const rejected: RejectedOrder[] = []
    /** Accepted and recorded refused orders, in batch order (their order_update events go out so). */
    const outcomes: WorkingOrder[] = []
    for (const req of batch.orders) {
      const result = this.admit(req, batch.batch_id)
      if (result instanceof OrderRejection) {
        rejected.push({ order_id: req.order_id, error_code: result.errorCode, reason: result.reason })
        // Recorded at once, so that a repeat of its id later in the batch is refused as one.
        if (!this.book.isIdTaken(req.order_id)) outcomes.push(this.recordRejection(req, batch.batch_id, result))
      } else {
        // Added at once so later orders of the batch see its id, reservation and pending sells.
        this.book.add(result)
        accepted.push(result)
        outcomes.push(result)
      }
    }
    if (atomic && rejected.length > 0) {
      const failed = rejected.map((r) => r.order_id).join(', ')
      for (const o of accepted) {
        const why = new OrderRejection('INVALID_ORDER', `atomic batch rejected because of order(s) ${failed}`)
        rejected.push({ order_id: o.orderId, error_code: why.errorCode, reason: why.reason })
        this.book.forget(o)
        markRejected(o, why)
        this.book.addClosed(o)
        this.rejectedCount++
      }
      const order = new Map(batch.orders.map((o, i) => [o.order_id, i]))
      rejected.sort((a, b) => (order.get(a.order_id) ?? 0) - (order.get(b.order_id) ?? 0))
      accepted.length = 0
    }
    const events: EngineEvent[] = []
    const estimates: EstimatedFill[] = []
    for (const o of outcomes) {
      if (o.rejection !== undefined) {
        events.push(this.update(o, o.createdAt, o.rejection.reason, o.rejection.errorCode))
        continue
      }
      events.push(this.update(o, o.createdAt))
      const est = this.estimate(o)
      if (est !== null) estimates.push(est)
    }
    return {
      ack: {
        session_id: this.sessionId,
        batch_id: batch.batch_id,
        accepted_orders: accepted.map((o) => o.orderId),
        rejected_orders: rejected,
        estimated_fills: estimates
      },
      events
    }
  }

  cancelOrder (orderId: string): EngineEvent[] {
    if (this.finished) throw new AppError('INVALID_STATE', 'the simulation has ended')
    const o = this.book.get(orderId)
    if (o === undefined) throw new AppError('ORDER_NOT_FOUND', `no order ${orderId} in this session`, { order_id: orderId })
    if (!o.isOpen) throw new AppError('INVALID_STATE', `order ${orderId} is already ${o.status}`, { order_id: orderId, status: o.status })
    const events: EngineEvent[] = []
    const time = this.simTime
    this.close(o, 'cancelled', time, events, 'cancelled by the client')
    // One-cancels-other: a bracket's exit legs go together, whoever ends one of them.
    const sib = o.sibling
    if (sib !== null && sib.isOpen) this.close(sib, 'cancelled', time, events, `one-cancels-other: ${o.orderId} cancelled`)
    return events
  }

  /**
   * Replace an open order that has not traded yet (as Alpaca's replace): the old order ends `replaced`, a new
   * order (`new_order_id`, default `<id>-r1`, `-r2` …) with the changed fields takes its place, admitted by the
   * same rules as a new order, without the old order's hold. A refused replacement changes nothing.
   */
  replaceOrder (orderId: string, changes: ReplaceOrderBody): { order: Order, events: EngineEvent[] } {
    if (this.finished) throw new AppError('INVALID_STATE', 'the simulation has ended')
    const o = this.book.get(orderId)
    if (o === undefined) throw new AppError('ORDER_NOT_FOUND', `no order ${orderId} in this session`, { order_id: orderId })
    if (!o.isOpen) throw new AppError('INVALID_STATE', `order ${orderId} is already ${o.status}`, { order_id: orderId, status: o.status })
    if (o.filled > 0n) {
      throw new AppError('INVALID_STATE', `order ${orderId} is partially filled; cancel it and place a new order for the rest`, { order_id: orderId, status: o.status })
    }
    const { new_order_id: wanted, ...fields } = changes
    if (Object.values(fields).every((v) => v === undefined)) {
      throw new AppError('INVALID_ORDER', 'give at least one of quantity, price, stop_price, trail_price, trail_percent, time_in_force', { order_id: orderId })
    }
    if (o.leg !== undefined && (fields.quantity !== undefined || fields.time_in_force !== undefined)) {
      throw new AppError('INVALID_ORDER', 'a bracket leg can change only its price or stop_price (its quantity and time in force follow the bracket)', { order_id: orderId })
    }
    const newId = wanted ?? nextReplaceId(orderId)
    if (newId.length > 60) throw new AppError('INVALID_ORDER', `${newId} is longer than 60 characters; give new_order_id`, { order_id: orderId })
    if (this.book.isIdTaken(newId)) throw new AppError('INVALID_ORDER', `order_id ${newId} is already used in this session`, { order_id: orderId })

    const req: OrderRequest = { order_id: newId, symbol: o.symbol, side: o.side, type: o.type, time_in_force: fields.time_in_force ?? o.tif }
    if (fields.quantity !== undefined) req.quantity = fields.quantity
    else if (o.quantity !== null) req.quantity = toNumber(o.quantity)
    else if (o.notional !== null) req.notional = formatMoney(o.notional)
    if (o.limit !== null || fields.price !== undefined) req.price = fields.price ?? formatMoney(o.limit as Fixed)
    if (o.type !== 'trailing_stop' && (o.stop !== null || fields.stop_price !== undefined)) req.stop_price = fields.stop_price ?? formatMoney(o.stop as Fixed)
    if (fields.trail_price !== undefined || fields.trail_percent !== undefined) {
      if (fields.trail_price !== undefined) req.trail_price = fields.trail_price
      if (fields.trail_percent !== undefined) req.trail_percent = fields.trail_percent
    } else {
      if (o.trailAmount !== null) req.trail_price = formatMoney(o.trailAmount)
      if (o.trailPercent !== null) req.trail_percent = formatMoney(o.trailPercent, 0)
    }
    if (o.bracket !== null) {
      if (o.bracket.takeProfit !== null) req.take_profit = { limit_price: formatMoney(o.bracket.takeProfit) }
      if (o.bracket.stopLoss !== null) {
        req.stop_loss = { stop_price: formatMoney(o.bracket.stopLoss) }
        if (o.bracket.stopLossLimit !== null) req.stop_loss.limit_price = formatMoney(o.bracket.stopLossLimit)
      }
    }

    // The old order's hold and pending quantity do not count against its replacement.
    this.book.remove(o)
    const held = o.reserved
    o.reserved = 0n
    const w = o.leg !== undefined ? this.replacementLeg(o, req) : this.admit(req, o.batchId ?? '')
    if (w instanceof OrderRejection) {
      o.reserved = held
      this.book.restore(o)
      throw new AppError(w.errorCode, w.reason, { order_id: orderId })
    }
    if (o.batchId === undefined) w.batchId = undefined
    if (o.hwm !== null && w.type === 'trailing_stop') {
      // The replacement trails from the best close the old order saw (as Alpaca's hwm).
      w.hwm = null
      w.trailTo(o.hwm)
    }
    w.replaces = o.orderId
    const time = this.simTime
    o.status = 'replaced'
    o.replacedBy = newId
    o.updatedAt = time
    this.book.add(w)
    const events: EngineEvent[] = [this.update(o, time, `replaced by ${newId}`), this.update(w, time)]
    return { order: w.toWire(), events }
  }

  /** A bracket leg's replacement: same leg, sibling and time priority, never refused for buying power (as a leg). */
  private replacementLeg (o: WorkingOrder, req: OrderRequest): WorkingOrder | OrderRejection {
    const f = parseOrderFields(req)
    if (f instanceof OrderRejection) return f
    const w = new WorkingOrder(o.seq, req.order_id, o.symbolIndex, o.symbol, o.side, o.type, o.tif, o.quantity, null, f.limit, f.stop, this.next - 1, this.simTime)
    w.parentId = o.parentId
    w.leg = o.leg
    w.refPrice = f.limit ?? f.stop
    if (w.side === 'buy' && w.refPrice !== null && w.quantity !== null) w.reserved = mul(w.quantity, w.refPrice) + this.commissionFor(w.quantity, 0n, 0n)
    const sib = o.sibling
    if (sib !== null) {
      w.sibling = sib
      sib.sibling = w
      o.sibling = null
    }
    return w
  }

  /** Validation + buying power of one request; a working order ready to add, or why not. */
  private admit (req: OrderRequest, batchId: string): WorkingOrder | OrderRejection {
    if (this.book.isIdTaken(req.order_id)) return new OrderRejection('INVALID_ORDER', `order_id ${req.order_id} is already used in this session`)
    const sym = this.symbolIndex.get(req.symbol) ?? this.symbolIndex.get(req.symbol.toUpperCase())
    if (sym === undefined) return new OrderRejection('INVALID_SYMBOL', `symbol ${req.symbol} is not part of this session`)
    if (this.lastBar[sym] === this.series[sym].length - 1) {
      return new OrderRejection('INVALID_ORDER', `${this.series[sym].symbol} has no bars left in this session`)
    }
    const f = parseOrderFields(req)
    if (f instanceof OrderRejection) return f
    const legs = legIds(req.order_id)
    if ((f.takeProfit !== null && this.book.isIdTaken(legs.takeProfit)) || (f.stopLoss !== null && this.book.isIdTaken(legs.stopLoss))) {
      return new OrderRejection('INVALID_ORDER', `bracket leg ids ${legs.takeProfit}/${legs.stopLoss} are already used`)
    }

    const last = Number.isNaN(this.markPrice[sym]) ? null : fromNumber(this.markPrice[sym])
    let ref: Fixed | null = f.type === 'market'
      ? last
      : f.type === 'trailing_stop' ? (last === null ? null : trailingStopLevel(f.side, last, f.trailAmount, f.trailPercent)) : (f.limit ?? f.stop)
    if (f.type === 'market' && ref !== null && f.side === 'buy') ref = ref + prorate(ref, fromNumber(this.slippageBps), 10000n * SCALE)
    const qty = f.quantity ?? (f.notional !== null && ref !== null ? floorDiv(f.notional, ref) : null)

    let reserved = 0n
    const bp = this.buyingPower()
    if (f.side === 'buy') {
      if (ref !== null && qty !== null) {
        const cost = (f.notional ?? mul(qty, ref)) + this.commissionFor(qty, 0n, 0n)
        const pos = this.portfolio.qty[sym]
        // Covering a short releases the 150 % held against it, so it needs less buying power than it costs.
        const released = pos < 0n ? prorate(mul(min(qty, -pos), ref), SHORT_HOLD_NUM, SHORT_HOLD_DEN) : 0n
        if (cost > bp + released) {
          return new OrderRejection('INSUFFICIENT_BUYING_POWER', `order needs ${formatMoney(cost)}, buying power is ${formatMoney(bp + released)}`)
        }
        reserved = cost
      }
    } else if (qty !== null) {
      const available = max(0n, this.portfolio.qty[sym]) - this.book.pendingSellQuantity(sym)
      const shortQty = qty - max(0n, available)
      if (shortQty > 0n) {
        if (!this.settings.allow_short) {
          return new OrderRejection('INVALID_ORDER', `short selling is not allowed in this session (${formatMoney(max(0n, available), 0)} available to sell)`)
        }
        if (ref !== null) {
          const margin = prorate(mul(shortQty, ref), SHORT_MARGIN_NUM, SHORT_MARGIN_DEN) + this.commissionFor(qty, 0n, 0n)
          if (margin > bp) {
            return new OrderRejection('INSUFFICIENT_BUYING_POWER', `short sale needs ${formatMoney(margin)} of buying power, ${formatMoney(bp)} available`)
          }
          reserved = margin
        }
      }
    } else if (this.portfolio.qty[sym] <= 0n && !this.settings.allow_short) {
      return new OrderRejection('INVALID_ORDER', 'short selling is not allowed in this session')
    }

    const o = new WorkingOrder(++this.seq, req.order_id, sym, this.series[sym].symbol, f.side, f.type, f.tif, f.quantity, f.notional, f.limit, f.stop, this.next - 1, this.simTime)
    o.reserved = reserved
    o.refPrice = ref
    o.batchId = batchId
    if (f.type === 'trailing_stop') {
      o.trailAmount = f.trailAmount
      o.trailPercent = f.trailPercent
      if (last !== null) o.trailTo(last)
    }
    if (f.takeProfit !== null || f.stopLoss !== null) {
      o.bracket = { takeProfit: f.takeProfit, stopLoss: f.stopLoss, stopLossLimit: f.stopLossLimit }
      if (f.takeProfit !== null) this.book.reserveId(legs.takeProfit)
      if (f.stopLoss !== null) this.book.reserveId(legs.stopLoss)
    }
    return o
  }

  /** A refused request becomes a `rejected` order of the session (rejected-orders.ts). */
  private recordRejection (req: OrderRequest, batchId: string, rejection: OrderRejection): WorkingOrder {
    const sym = this.symbolIndex.get(req.symbol) ?? this.symbolIndex.get(req.symbol.toUpperCase())
    const o = rejectedOrder(req, {
      seq: ++this.seq,
      symbolIndex: sym ?? -1,
      symbol: sym === undefined ? req.symbol : this.series[sym].symbol,
      placedStep: this.next - 1,
      time: this.simTime,
      batchId
    }, rejection)
    this.book.addClosed(o)
    this.rejectedCount++
    return o
  }

  /** batch_ack estimate: market orders, and limits marketable at the last close, priced at that close. */
  private estimate (o: WorkingOrder): EstimatedFill | null {
    const last = this.markPrice[o.symbolIndex]
    if (Number.isNaN(last)) return null
    let price: Fixed
    if (o.type === 'market') {
      const close = fromNumber(last)
      const slip = prorate(close, fromNumber(this.slippageBps), 10000n * SCALE)
      price = o.side === 'buy' ? close + slip : close - slip
    } else if (o.type === 'limit' && (o.side === 'buy' ? last <= o.limitNum : last >= o.limitNum)) {
      price = fromNumber(last)
    } else {
      return null
    }
    const qty = o.quantity ?? (o.notional !== null ? floorDiv(o.notional, price) : 0n)
    return { order_id: o.orderId, estimated_price: formatMoney(price), estimated_quantity: toNumber(qty) }
  }

  // ── replay ─────────────────────────────────────────────────────────────────────────────────────

  step (): EngineEvent[] | null {
    const events: EngineEvent[] = []
    const k = this.stepInto(events)
    if (k === NO_STEP) return null
    if (k >= 0) events.push({ type: 'tick', data: this.tickData(k) })
    return events
  }

  /**
   * step() without its tick object: appends the step's events before its tick to `events` and returns the
   * step index k whose tick closes it (render it with tickJson(k) or tickData(k)); CLOSING_STEP when the
   * closing events were appended; NO_STEP when the run is over (step() would return null). No allocation
   * of its own on a step without orders (the runner's hot path).
   */
  stepInto (events: EngineEvent[]): number {
    if (this.finished) return NO_STEP
    const tl = this.tl
    if (this.next >= tl.length) {
      this.completedNormally = true
      for (const e of this.finish()) events.push(e)
      return CLOSING_STEP
    }
    const k = this.next
    // Advanced first: orders created while this step runs (bracket legs) are placed at step k.
    this.next = k + 1
    const fillsBefore = this.executions
    if (this.book.openCount > 0) this.processOrders(k, events)

    const from = tl.entryStart[k]
    const to = tl.entryStart[k + 1]
    for (let e = from; e < to; e++) {
      const sym = tl.entrySymbol[e]
      const i = tl.entryBar[e]
      this.lastBar[sym] = i
      this.markPrice[sym] = this.series[sym].close[i]
    }

    const p = this.portfolio
    const equity = p.held.length === 0 ? p.cashNum : p.equityNum(this.markPrice)
    this.equityByStep[k] = equity
    if (equity > this.peakEquity) this.peakEquity = equity
    const closeMs = this.closeOf(k)
    let dayClosed = false
    if (k + 1 === tl.length || tl.day[k + 1] !== tl.day[k]) {
      const exact = p.equity(this.markPrice)
      // The peak starts at the (positive) initial capital and only rises, so the division is safe.
      const dd = (this.peakEquity - equity) / this.peakEquity * 100
      this.daily.push({ day: tl.day[k], timeMs: closeMs, equity: exact, cash: p.cash, drawdownPct: tidy(Math.max(0, dd)) })
      dayClosed = true
    }
    // every_fill: one snapshot after the step's fills, once the bars have closed, so its positions are marked at
    // the closes (its equity is this step's mark) and its open_orders counts only orders still working.
    if (this.frequency === 'every_tick' || (this.frequency === 'every_fill' && this.executions > fillsBefore)) {
      events.push({ type: 'account_snapshot', data: this.snapshot(this.iso(closeMs)) })
    }
    if (dayClosed) this.dayStartEquity = this.daily[this.daily.length - 1].equity
    return k
  }

  /** The symbols with a bar at step `k` (the tick's symbols_trading), without building the tick. */
  symbolsAt (k: number): readonly string[] {
    return this.tl.symbolSets[this.tl.symbolSet[k]]
  }

  /** The tick that closes step `k` (as step() sends it). */
  tickData (k: number): TickData {
    const tl = this.tl
    const tick: TickData = {
      session_id: this.sessionId,
      sequence_id: k + 1,
      sim_time: this.iso(this.closeOf(k)),
      market_session: this.marketSessionOf(k),
      symbols_trading: tl.symbolSets[tl.symbolSet[k]] as string[],
      is_eod: tl.eod[k] === 1
    }
    if (this.includeBars) {
      const bars: Record<string, Bar> = {}
      for (let e = tl.entryStart[k]; e < tl.entryStart[k + 1]; e++) bars[this.series[tl.entrySymbol[e]].symbol] = barAt(this.series[tl.entrySymbol[e]], tl.entryBar[e])
      tick.bars = bars
    }
    return tick
  }

  /** JSON.stringify(tickData(k)), rendered from templates without building the object (tick-frames.ts). */
  tickJson (k: number): string {
    const template = this.tickTemplate ??= new TickTemplate(this.sessionId, this.series, this.tl, this.includeBars)
    if (!template.usable) return JSON.stringify(this.tickData(k))
    return template.render(k, this.iso(this.closeOf(k)), this.marketSessionOf(k))
  }

  private marketSessionOf (k: number): MarketSession {
    const tl = this.tl
    return this.marketSessionAt === undefined || tl.timeframe === '1d' ? 'regular' : this.marketSessionAt(tl.entrySymbol[tl.entryStart[k]], tl.time[k])
  }

  /** Ends the simulation: open orders cancelled, final snapshot (unless on_demand), simulation_complete. */
  finish (): EngineEvent[] {
    if (this.finished) return []
    const events: EngineEvent[] = []
    const time = this.simTime
    for (const list of this.book.open) {
      for (const o of list.slice()) this.close(o, 'cancelled', time, events, 'simulation ended', false)
    }
    if (this.frequency !== 'on_demand') events.push({ type: 'account_snapshot', data: this.snapshot(time) })
    this.finished = true
    const r = this.results()
    events.push({
      type: 'simulation_complete',
      data: { session_id: this.sessionId, reason: this.completedNormally ? 'finished' : 'stopped', fill_policy_version: FILL_POLICY_VERSION, ...r.metrics }
    })
    return events
  }

  private processOrders (k: number, events: EngineEvent[]): void {
    const tl = this.tl
    const atOpen: PendingFill[] = []
    const inBar: PendingFill[] = []
    const atClose: PendingFill[] = []
    const tried: Array<[WorkingOrder, number, number]> = []
    for (let e = tl.entryStart[k]; e < tl.entryStart[k + 1]; e++) {
      const sym = tl.entrySymbol[e]
      const list = this.book.open[sym]
      if (list.length === 0) continue
      const s = this.series[sym]
      const i = tl.entryBar[e]
      const bar: BarPrices = { open: s.open[i], high: s.high[i], low: s.low[i] }
      for (const o of list) {
        if (o.placedStep >= k) continue
        // Auction orders wait for their auction's bar (docs/fill-policy.md §4, time in force).
        if (o.tif === 'opg' && !this.opensDay(sym, i)) continue
        if (o.tif === 'cls' && !this.closesDay(sym, i)) continue
        if (o.day === 0) o.day = s.day[i]
        tried.push([o, sym, i])
        if (o.tif === 'cls') {
          const d = fillAtClose(o.side, bar, s.close[i], o.limit, o.limitNum, this.slippageBps)
          if (d !== null) atClose.push({ order: o, decision: d, sym, bar: i })
          continue
        }
        const d = this.evaluate(o, bar)
        if (d === null || (o.tif === 'opg' && d.phase !== 'open')) continue
        ;(d.phase === 'open' ? atOpen : inBar).push({ order: o, decision: d, sym, bar: i })
      }
    }
    if (atOpen.length + inBar.length + atClose.length > 0) {
      const capLeft = new Map<number, Fixed>()
      const openTime = this.iso(tl.time[k])
      for (const pf of atOpen.sort(bySeq)) this.apply(pf, k, openTime, capLeft, events)
      const closeTime = this.iso(this.closeOf(k))
      for (const pf of inBar.sort(bySeq)) {
        // Conservative bracket rule: once the stop leg traded in this bar the target leg may not.
        const sib = pf.order.sibling
        if (pf.order.leg === 'take_profit' && sib !== null && sib.filledOnStep === k) continue
        this.apply(pf, k, closeTime, capLeft, events)
      }
      for (const pf of atClose.sort(bySeq)) this.apply(pf, k, closeTime, capLeft, events)
    }
    const closeTime = this.iso(this.closeOf(k))
    for (const [o, sym, i] of tried) {
      if (!o.isOpen) continue
      if (o.tif === 'ioc') this.close(o, 'cancelled', closeTime, events, 'ioc: unfilled remainder cancelled after its first bar')
      else if (o.tif === 'fok') this.close(o, 'cancelled', closeTime, events, 'fok: not filled entirely on its first bar')
      else if (o.tif === 'opg') this.close(o, 'cancelled', closeTime, events, `opg: not filled at the open of ${dayNumberToDate(this.series[sym].day[i])}`)
      else if (o.tif === 'cls') this.close(o, 'cancelled', closeTime, events, `cls: not filled at the close of ${dayNumberToDate(this.series[sym].day[i])}`)
      else if (o.tif === 'day' && o.day === this.series[sym].day[i] && isLastBarOfDay(this.series[sym], i)) {
        this.close(o, 'expired', closeTime, events, `day order expired at the end of ${dayNumberToDate(o.day)}`)
      }
      // A trailing stop still working follows the bar's close (backtrader's StopTrail: trailadjust(pclose)).
      if (o.isOpen && o.type === 'trailing_stop') o.trailTo(fromNumber(this.series[sym].close[i]))
    }
  }

  /** Whether bar i is an opening-auction bar: a daily bar, or the first regular-session bar of its trading day. */
  private opensDay (sym: number, i: number): boolean {
    if (this.tl.timeframe === '1d') return true
    const s = this.series[sym]
    if (!this.isRegular(sym, i)) return false
    return i === 0 || s.day[i - 1] !== s.day[i] || !this.isRegular(sym, i - 1)
  }

  /** Whether bar i is a closing-auction bar: a daily bar, or the last regular-session bar of its trading day. */
  private closesDay (sym: number, i: number): boolean {
    if (this.tl.timeframe === '1d') return true
    const s = this.series[sym]
    if (!this.isRegular(sym, i)) return false
    return isLastBarOfDay(s, i) || !this.isRegular(sym, i + 1)
  }

  private isRegular (sym: number, i: number): boolean {
    return this.marketSessionAt === undefined || this.marketSessionAt(sym, this.series[sym].time[i]) === 'regular'
  }

  private evaluate (o: WorkingOrder, bar: BarPrices): FillDecision | null {
    switch (o.type) {
      case 'market':
        return fillMarket(o.side, bar, this.slippageBps)
      case 'limit':
        return fillLimit(o.side, bar, o.limit as Fixed, o.limitNum)
      case 'stop': {
        const d = fillStop(o.side, bar, o.stop as Fixed, o.stopNum)
        if (d !== null) o.triggered = true
        return d
      }
      case 'trailing_stop': {
        // Placed before the symbol had a price: the first bar's open is the first best price.
        if (o.hwm === null) o.trailTo(fromNumber(bar.open))
        const d = fillStop(o.side, bar, o.stop as Fixed, o.stopNum)
        if (d !== null) o.triggered = true
        return d
      }
      case 'stop_limit': {
        const r = fillStopLimit(o.side, bar, o.stop as Fixed, o.stopNum, o.limit as Fixed, o.limitNum, o.triggered)
        o.triggered = r.triggered
        return r.fill
      }
    }
  }

  /** Fill as much of one order as volume, cash and the short rule allow, and book it. */
  private apply (pf: PendingFill, k: number, time: string, capLeft: Map<number, Fixed>, events: EngineEvent[]): void {
    const { order: o, decision: d, sym } = pf
    if (!o.isOpen) return
    const price = d.price
    if (o.quantity === null) {
      const q = floorDiv(o.notional as Fixed, price)
      if (q <= 0n) {
        this.close(o, 'rejected', time, events, 'notional buys less than 0.00000001 units', true, 'INVALID_ORDER')
        return
      }
      o.quantity = q
    }
    const remaining = o.quantity - o.filled
    let qty = remaining
    if (this.participation !== null) {
      let cap = capLeft.get(sym)
      if (cap === undefined) {
        cap = mul(fromNumber(this.series[sym].volume[pf.bar]), this.participation)
        capLeft.set(sym, cap)
      }
      // Whole-share orders fill in whole shares; fractional orders to 8 decimals.
      const allowed = o.quantity % SCALE === 0n ? cap - (cap % SCALE) : cap
      // fill-or-kill: all of it in this bar or nothing (it is cancelled after the bar).
      if (o.tif === 'fok' && allowed < qty) return
      if (allowed < qty) qty = allowed
      if (qty <= 0n) return
      capLeft.set(sym, cap - qty)
    }
    const commission = this.commissionFor(qty, o.filled, o.commission)
    const value = mul(qty, price)
    const p = this.portfolio
    if (o.side === 'buy') {
      if (value + commission > p.cash) {
        this.close(o, 'rejected', time, events, `fill of ${formatMoney(qty, 0)} at ${formatMoney(price)} needs ${formatMoney(value + commission)}, cash is ${formatMoney(p.cash)}`, true, 'INSUFFICIENT_BUYING_POWER')
        return
      }
    } else {
      const shortQty = qty - max(0n, p.qty[sym])
      if (shortQty > 0n) {
        if (!this.settings.allow_short) {
          this.close(o, 'rejected', time, events, `selling ${formatMoney(qty, 0)} would open a short position; short selling is not allowed`, true, 'INVALID_ORDER')
          return
        }
        const need = prorate(mul(shortQty, price), SHORT_MARGIN_NUM, SHORT_MARGIN_DEN) + commission
        const bp = this.buyingPower() + o.reserved
        if (need > bp) {
          this.close(o, 'rejected', time, events, `short sale needs ${formatMoney(need)} of buying power, ${formatMoney(bp)} available`, true, 'INSUFFICIENT_BUYING_POWER')
          return
        }
      }
    }

    o.filled += qty
    o.filledValue += value
    o.commission += commission
    o.filledOnStep = k
    o.updatedAt = time
    o.reserved = o.filled === o.quantity ? 0n : prorate(o.reserved, o.quantity - o.filled, remaining)
    o.status = o.filled === o.quantity ? 'filled' : 'partially_filled'
    p.applyFill(sym, o.side === 'buy' ? qty : -qty, price, commission, time)
    this.markPrice[sym] = toNumber(price)

    events.push({
      type: 'execution_report',
      data: {
        execution_id: `exec_${++this.executions}`,
        order_id: o.orderId,
        symbol: o.symbol,
        side: o.side,
        executed_quantity: toNumber(qty),
        executed_price: formatMoney(price),
        execution_time: time,
        commission: formatMoney(commission),
        slippage_bps: d.slippageBps,
        is_partial: o.status === 'partially_filled',
        remaining_quantity: toNumber(o.quantity - o.filled),
        fill_reason: d.reason
      }
    })
    events.push(this.update(o, time))

    const sib = o.sibling
    if (sib !== null && sib.isOpen && sib.quantity !== null) {
      if (o.status === 'filled') {
        this.close(sib, 'cancelled', time, events, `one-cancels-other: ${o.orderId} filled`)
      } else {
        // A partial leg fill: the sibling now protects only what is left of the position.
        sib.quantity -= qty
      }
    }
    if (o.status === 'filled') {
      this.book.remove(o)
      this.attachLegs(o, k, time, events)
    }
  }

  /** Leave the open state (cancelled / expired / rejected), releasing the reservation; a partly filled bracket parent still gets its legs. */
  private close (o: WorkingOrder, status: 'cancelled' | 'expired' | 'rejected', time: string, events: EngineEvent[], reason: string, attach = true, code?: ErrorCode): void {
    o.status = status
    o.updatedAt = time
    o.reserved = 0n
    if (status === 'rejected') {
      markRejected(o, new OrderRejection(code ?? 'INVALID_ORDER', reason))
      this.rejectedCount++
    }
    this.book.remove(o)
    events.push(this.update(o, time, reason, code))
    if (attach && o.filled > 0n && o.bracket !== null) this.attachLegs(o, this.next - 1, time, events)
  }

  private attachLegs (parent: WorkingOrder, k: number, time: string, events: EngineEvent[]): void {
    const b = parent.bracket
    if (b === null) return
    const ids = legIds(parent.orderId)
    const side = parent.side === 'buy' ? 'sell' : 'buy'
    const made: WorkingOrder[] = []
    const make = (id: string, leg: Leg, type: 'limit' | 'stop' | 'stop_limit', limit: Fixed | null, stop: Fixed | null): WorkingOrder => {
      const o = new WorkingOrder(++this.seq, id, parent.symbolIndex, parent.symbol, side, type, 'gtc', parent.filled, null, limit, stop, k, time)
      o.parentId = parent.orderId
      o.leg = leg
      o.batchId = parent.batchId
      o.refPrice = limit ?? stop
      // A leg closes the position its parent opened, so it is never refused; a buy leg (covering a short) still holds its cash.
      if (side === 'buy' && o.refPrice !== null) o.reserved = mul(parent.filled, o.refPrice) + this.commissionFor(parent.filled, 0n, 0n)
      made.push(o)
      return o
    }
    // The stop leg gets the lower seq: inside one bar it is evaluated first (stop wins).
    const sl = b.stopLoss === null ? null : make(ids.stopLoss, 'stop_loss', b.stopLossLimit === null ? 'stop' : 'stop_limit', b.stopLossLimit, b.stopLoss)
    const tp = b.takeProfit === null ? null : make(ids.takeProfit, 'take_profit', 'limit', b.takeProfit, null)
    if (sl !== null && tp !== null) {
      sl.sibling = tp
      tp.sibling = sl
    }
    for (const o of made) {
      this.book.add(o)
      events.push(this.update(o, time))
    }
  }

  // ── account ────────────────────────────────────────────────────────────────────────────────────

  /** Per-share commission on the order's cumulative quantity, never below the per-order minimum, minus what was charged. */
  private commissionFor (qty: Fixed, filledBefore: Fixed, chargedBefore: Fixed): Fixed {
    const total = max(mul(this.commissionPerShare, filledBefore + qty), this.minCommission)
    return max(0n, total - chargedBefore)
  }

  /** cash − cash held by open buys − margin held by open short sales − 150 % of open shorts' value. */
  private buyingPower (): Fixed {
    let held = 0n
    for (const list of this.book.open) for (const o of list) held += o.reserved
    const p = this.portfolio
    const shorts = this.settings.allow_short ? prorate(p.shortMarketValue(this.markPrice), SHORT_HOLD_NUM, SHORT_HOLD_DEN) : 0n
    return p.cash - held - shorts
  }

  private snapshot (time: string): AccountSnapshot {
    const p = this.portfolio
    const { positions, marketValue } = p.valuedPositions(this.markPrice)
    const equity = p.cash + marketValue
    return {
      sim_time: time,
      cash: formatMoney(p.cash),
      equity: formatMoney(equity),
      buying_power: formatMoney(this.buyingPower()),
      day_pnl: formatMoney(equity - this.dayStartEquity),
      realized_pnl: formatMoney(p.realizedPnl),
      total_commission: formatMoney(p.totalCommission),
      positions,
      open_orders: this.book.openCount
    }
  }

  account (): AccountSnapshot {
    return this.snapshot(this.simTime)
  }

  /** The per-step equity marks so far (a view, not a copy) and when each step closed, for GET …/equity. */
  equityTrack (): EquityTrack {
    return {
      sessionId: this.sessionId,
      initialCapital: toNumber(this.portfolio.initialCapital),
      values: this.equityByStep.subarray(0, this.next),
      totalSteps: this.tl.length,
      closeMs: (k) => this.closeOf(k),
      iso: (ms) => this.iso(ms)
    }
  }

  orders (): Order[] {
    return this.book.all().map((o) => o.toWire())
  }

  /** Whether the run already has an order with this id (a repeated one is refused, and counts toward no limit). */
  holds (orderId: string): boolean { return this.book.get(orderId) !== undefined }

  order (orderId: string): Order {
    const o = this.book.get(orderId)
    if (o === undefined) throw new AppError('ORDER_NOT_FOUND', `no order ${orderId} in this session`, { order_id: orderId })
    return o.toWire()
  }

  private update (o: WorkingOrder, time: string, reason?: string, code?: ErrorCode): EngineEvent {
    const data: OrderUpdate = { order_id: o.orderId, status: o.status, update_time: time, order: o.toWire() }
    if (reason !== undefined) data.reason = reason
    if (code !== undefined) data.error_code = code
    return { type: 'order_update', data }
  }

  // ── results ────────────────────────────────────────────────────────────────────────────────────

  results (): SimulationResults {
    const p = this.portfolio
    const n = this.next
    const initial = p.initialCapital
    const initialNum = toNumber(initial)
    const finalEquity = p.equity(this.markPrice)
    const returns = periodReturns(initialNum, this.daily.map((d) => toNumber(d.equity)))
    const mdd = maxDrawdownPct(initialNum, this.equityByStep.subarray(0, n))
    const days = n === 0 ? 0 : calendarDaysBetween(this.tl.day[0], this.tl.day[n - 1])
    const cagr = cagrPct(initialNum, toNumber(finalEquity), days)
    const trades = p.tradesMarkedAt(this.markPrice, this.simTime)
    const stats = tradeStats(trades)
    const metrics: PerformanceMetrics = {
      initial_capital: formatMoney(initial),
      final_equity: formatMoney(finalEquity),
      total_return_pct: tidy((toNumber(finalEquity) / initialNum - 1) * 100),
      cagr_pct: tidyOrNull(cagr),
      total_trades: stats.total,
      open_trades: stats.open,
      winning_trades: stats.winning,
      losing_trades: stats.losing,
      win_rate: tidyOrNull(stats.winRate),
      profit_factor: tidyOrNull(stats.profitFactor),
      gross_profit: formatMoney(stats.grossProfit),
      gross_loss: formatMoney(stats.grossLoss),
      realized_pnl: formatMoney(p.realizedPnl),
      total_commission: formatMoney(p.totalCommission),
      max_drawdown_pct: tidy(mdd),
      sharpe_ratio: tidyOrNull(sharpeRatio(returns)),
      sortino_ratio: tidyOrNull(sortinoRatio(returns)),
      calmar_ratio: tidyOrNull(calmarRatio(cagr, mdd)),
      rejected_orders: this.rejectedCount,
      bars_processed: n,
      trading_days: this.daily.length
    }
    const curve: EquityPoint[] = this.daily.map((d) => ({
      date: dayNumberToDate(d.day),
      sim_time: this.iso(d.timeMs),
      equity: formatMoney(d.equity),
      cash: formatMoney(d.cash),
      drawdown_pct: d.drawdownPct
    }))
    return {
      session_id: this.sessionId,
      fill_policy_version: FILL_POLICY_VERSION,
      completed: this.finished && this.completedNormally,
      metrics,
      equity_curve: curve,
      trades
    }
  }

  /** toISOString without a Date per tick (the day prefix is cached; ticks of one day share it). */
  private iso (ms: number): string {
    return this.isoFormatter.format(ms)
  }
}

/** The default id of a replacing order: `<id>-r1`, then `-r2` … along a chain of replacements. */
function nextReplaceId (id: string): string {
  const m = /^(.*)-r(\d+)$/.exec(id)
  return m === null ? `${id}-r1` : `${m[1]}-r${Number(m[2]) + 1}`
}

/** a / b truncated to 8 decimals (never buys more than the notional pays for). */
function floorDiv (a: Fixed, b: Fixed): Fixed {
  return (abs(a) * SCALE) / abs(b)
}

/** Fills of one step apply in the order their orders were placed. */
function bySeq (a: PendingFill, b: PendingFill): number { return a.order.seq - b.order.seq }

/** The close of each daily step: the latest of its bars' closes (markets with different calendars may share a day). */
function dailyCloses (tl: Timeline, series: readonly BarSeries[], closeAt: (symbolIndex: number, day: number) => number): Float64Array {
  const out = new Float64Array(tl.length)
  for (let k = 0; k < tl.length; k++) {
    let close = -Infinity
    for (let e = tl.entryStart[k]; e < tl.entryStart[k + 1]; e++) {
      const sym = tl.entrySymbol[e]
      const c = closeAt(sym, series[sym].day[tl.entryBar[e]])
      if (c > close) close = c
    }
    out[k] = close
  }
  return out
}
