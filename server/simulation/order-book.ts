// Orders of one session: turning an OrderRequest into a working order (or a rejection reason),
// the working orders per symbol in time priority, and the ids already used in the session.
import type { ErrorCode } from '../../schemas/errors.js'
import type { Order, OrderRequest, OrderSide, OrderState, OrderType, TimeInForce } from '../../schemas/simulation.js'
import { AppError } from '../app-error.js'
import { formatMoney, parseMoney, toNumber, type Fixed } from '../money.js'
import { averagePrice, prorate } from './portfolio.js'

export type Leg = 'take_profit' | 'stop_loss'

/** A rejection that is data (batch_ack.rejected_orders), not an exception. */
export class OrderRejection {
  constructor (readonly errorCode: ErrorCode, readonly reason: string) {}
}

/** Mutable engine-side state of one order; `toWire()` is its only outside form. */
export class WorkingOrder {
  status: OrderState = 'accepted'
  /** null for a notional order until its first fill fixes the quantity. */
  quantity: Fixed | null
  filled: Fixed = 0n
  filledValue: Fixed = 0n
  commission: Fixed = 0n
  triggered = false
  /** Last step on which this order traded (-1: never). */
  filledOnStep = -1
  /** Trading day (yyyymmdd) a `day` order lives for: the day of the first bar it is tried on. */
  day = 0
  updatedAt: string
  /** Cash (buys) or short margin (short sells) this order holds back from buying power. */
  reserved: Fixed = 0n
  /** Price used for reservations and estimates: limit, stop, or the last close at submission. */
  refPrice: Fixed | null = null
  sibling: WorkingOrder | null = null
  /** Bracket legs attached once this (parent) order is done filling. */
  bracket: { takeProfit: Fixed | null, stopLoss: Fixed | null, stopLossLimit: Fixed | null } | null = null
  parentId: string | undefined = undefined
  leg: Leg | undefined = undefined
  batchId: string | undefined = undefined
  /** Replace links (docs/fill-policy.md §3 "Replace"). */
  replaces: string | undefined = undefined
  replacedBy: string | undefined = undefined
  /** Why a `rejected` order was refused (rejected-orders.ts). */
  rejection: { errorCode: ErrorCode, reason: string } | undefined = undefined
  /**
   * Trailing stops: the trail (one of amount/percent) and the best close seen since placement (highest for a
   * sell, lowest for a buy); `stop` is always hwm ∓ trail. hwm is null until the symbol has a price.
   */
  trailAmount: Fixed | null = null
  trailPercent: Fixed | null = null
  hwm: Fixed | null = null
  readonly limitNum: number
  /** Mutable: a trailing stop moves it. */
  stop: Fixed | null
  stopNum: number

  constructor (
    readonly seq: number,
    readonly orderId: string,
    readonly symbolIndex: number,
    readonly symbol: string,
    readonly side: OrderSide,
    readonly type: OrderType,
    readonly tif: TimeInForce,
    quantity: Fixed | null,
    readonly notional: Fixed | null,
    readonly limit: Fixed | null,
    stop: Fixed | null,
    /** Orders are tried only on steps after this one (never on the bar they were placed during). */
    readonly placedStep: number,
    readonly createdAt: string
  ) {
    this.quantity = quantity
    this.stop = stop
    this.limitNum = limit === null ? Number.NaN : toNumber(limit)
    this.stopNum = stop === null ? Number.NaN : toNumber(stop)
    this.updatedAt = createdAt
  }

  /** A trailing stop follows a new close: the best close ratchets (never back) and the stop is re-derived from it. */
  trailTo (close: Fixed): void {
    if (this.hwm !== null && (this.side === 'sell' ? close <= this.hwm : close >= this.hwm)) return
    this.hwm = close
    this.stop = trailingStopLevel(this.side, close, this.trailAmount, this.trailPercent)
    this.stopNum = toNumber(this.stop)
  }

  get isOpen (): boolean {
    return this.status === 'accepted' || this.status === 'partially_filled'
  }

  toWire (): Order {
    const o: Order = {
      order_id: this.orderId,
      symbol: this.symbol,
      side: this.side,
      type: this.type,
      time_in_force: this.tif,
      status: this.status,
      filled_quantity: toNumber(this.filled),
      commission: formatMoney(this.commission),
      stop_triggered: this.triggered,
      created_at: this.createdAt,
      updated_at: this.updatedAt
    }
    if (this.quantity !== null) {
      o.quantity = toNumber(this.quantity)
      o.remaining_quantity = toNumber(this.quantity - this.filled)
    }
    if (this.notional !== null) o.notional = formatMoney(this.notional)
    if (this.limit !== null) o.price = formatMoney(this.limit)
    if (this.stop !== null) o.stop_price = formatMoney(this.stop)
    if (this.bracket !== null) {
      if (this.bracket.takeProfit !== null) o.take_profit_price = formatMoney(this.bracket.takeProfit)
      if (this.bracket.stopLoss !== null) o.stop_loss_price = formatMoney(this.bracket.stopLoss)
      if (this.bracket.stopLossLimit !== null) o.stop_loss_limit_price = formatMoney(this.bracket.stopLossLimit)
    }
    if (this.trailAmount !== null) o.trail_price = formatMoney(this.trailAmount)
    if (this.trailPercent !== null) o.trail_percent = formatMoney(this.trailPercent, 0)
    if (this.hwm !== null) o.hwm = formatMoney(this.hwm)
    if (this.replaces !== undefined) o.replaces = this.replaces
    if (this.replacedBy !== undefined) o.replaced_by = this.replacedBy
    if (this.filled > 0n) o.avg_fill_price = formatMoney(averagePrice(this.filledValue, this.filled))
    if (this.batchId !== undefined) o.batch_id = this.batchId
    if (this.parentId !== undefined) o.parent_order_id = this.parentId
    if (this.leg !== undefined) o.leg = this.leg
    if (this.rejection !== undefined) {
      o.error_code = this.rejection.errorCode
      o.reason = this.rejection.reason
    }
    return o
  }
}

const HUNDRED = 100n * 100_000_000n

/**
 * The stop of a trailing stop whose best close is `hwm`: a sell trails below it (hwm − amount, or
 * hwm × (1 − percent/100)), a buy above it; rounded half-even to 8 decimals.
 */
export function trailingStopLevel (side: OrderSide, hwm: Fixed, amount: Fixed | null, percent: Fixed | null): Fixed {
  const distance = amount ?? prorate(hwm, percent ?? 0n, HUNDRED)
  return side === 'sell' ? hwm - distance : hwm + distance
}

/** Child ids of a bracket; reserved when the parent is accepted so the client cannot take them later. */
export function legIds (orderId: string): { takeProfit: string, stopLoss: string } {
  return { takeProfit: `${orderId}-tp`, stopLoss: `${orderId}-sl` }
}

function price (value: number | string | undefined, field: string): Fixed | null | OrderRejection {
  if (value === undefined) return null
  let p: Fixed
  try {
    p = parseMoney(value, field)
  } catch (err) {
    if (err instanceof AppError) return new OrderRejection('INVALID_ORDER', `${field} is not a decimal amount`)
    throw err
  }
  if (p <= 0n) return new OrderRejection('INVALID_ORDER', `${field} must be positive`)
  return p
}

export interface ParsedOrder {
  readonly side: OrderSide
  readonly type: OrderType
  readonly tif: TimeInForce
  readonly quantity: Fixed | null
  readonly notional: Fixed | null
  readonly limit: Fixed | null
  readonly stop: Fixed | null
  readonly takeProfit: Fixed | null
  readonly stopLoss: Fixed | null
  readonly stopLossLimit: Fixed | null
  readonly trailAmount: Fixed | null
  readonly trailPercent: Fixed | null
}

/** Time in force each order type may use (as Alpaca: opg/cls/fok for market and limit, trailing stops day/gtc). */
const TIF_FOR_TYPE: Record<OrderType, readonly TimeInForce[]> = {
  market: ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'],
  limit: ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'],
  stop: ['day', 'gtc', 'ioc'],
  stop_limit: ['day', 'gtc', 'ioc'],
  trailing_stop: ['day', 'gtc']
}
const BRACKET_TIF: readonly TimeInForce[] = ['day', 'gtc', 'ioc']

/**
 * Shape rules the schema cannot express: quantity XOR notional, the prices each type needs (and no others),
 * notional only for plain market orders, and a bracket whose target and stop sit on the right sides.
 */
export function parseOrderFields (req: OrderRequest): ParsedOrder | OrderRejection {
  const hasQty = req.quantity !== undefined
  const hasNotional = req.notional !== undefined
  if (hasQty === hasNotional) return new OrderRejection('INVALID_ORDER', 'give exactly one of quantity or notional')
  let quantity: Fixed | null = null
  if (req.quantity !== undefined) {
    if (!Number.isFinite(req.quantity) || req.quantity <= 0) return new OrderRejection('INVALID_ORDER', 'quantity must be positive')
    quantity = parseMoney(req.quantity, 'quantity')
    if (quantity <= 0n) return new OrderRejection('INVALID_ORDER', 'quantity must be at least 0.00000001')
  }
  const notional = price(req.notional, 'notional')
  const limit = price(req.price, 'price')
  const stop = price(req.stop_price, 'stop_price')
  const tp = price(req.take_profit?.limit_price, 'take_profit.limit_price')
  const sl = price(req.stop_loss?.stop_price, 'stop_loss.stop_price')
  const sll = price(req.stop_loss?.limit_price, 'stop_loss.limit_price')
  for (const p of [notional, limit, stop, tp, sl, sll]) if (p instanceof OrderRejection) return p
  const n = notional as Fixed | null
  const l = limit as Fixed | null
  const s = stop as Fixed | null
  const needsLimit = req.type === 'limit' || req.type === 'stop_limit'
  const needsStop = req.type === 'stop' || req.type === 'stop_limit'
  if (needsLimit !== (l !== null)) {
    return new OrderRejection('INVALID_ORDER', needsLimit ? `${req.type} orders need price` : `${req.type} orders take no price`)
  }
  if (needsStop !== (s !== null)) {
    return new OrderRejection('INVALID_ORDER', needsStop ? `${req.type} orders need stop_price` : `${req.type} orders take no stop_price`)
  }
  const hasBracket = req.take_profit !== undefined || req.stop_loss !== undefined
  const trail = parseTrail(req.type, req.trail_price, req.trail_percent)
  if (trail instanceof OrderRejection) return trail
  const tif = req.time_in_force ?? 'day'
  if (!TIF_FOR_TYPE[req.type].includes(tif)) {
    return new OrderRejection('INVALID_ORDER', `time_in_force ${tif} is not accepted on ${req.type} orders (allowed: ${TIF_FOR_TYPE[req.type].join(', ')})`)
  }
  if (hasBracket && !BRACKET_TIF.includes(tif)) {
    return new OrderRejection('INVALID_ORDER', `time_in_force ${tif} is not accepted on bracket orders (allowed: ${BRACKET_TIF.join(', ')})`)
  }
  if (hasBracket && req.type === 'trailing_stop') return new OrderRejection('INVALID_ORDER', 'trailing_stop orders take no take_profit/stop_loss')
  if (n !== null && (req.type !== 'market' || hasBracket)) {
    return new OrderRejection('INVALID_ORDER', 'notional is accepted only on market orders without a bracket')
  }
  const tpv = tp as Fixed | null
  const slv = sl as Fixed | null
  if (tpv !== null && slv !== null) {
    const ok = req.side === 'buy' ? tpv > slv : tpv < slv
    if (!ok) {
      return new OrderRejection('INVALID_ORDER', req.side === 'buy'
        ? 'take_profit.limit_price must be above stop_loss.stop_price for a buy'
        : 'take_profit.limit_price must be below stop_loss.stop_price for a sell')
    }
  }
  return {
    side: req.side,
    type: req.type,
    tif,
    quantity,
    notional: n,
    limit: l,
    stop: s,
    takeProfit: tpv,
    stopLoss: slv,
    stopLossLimit: sll as Fixed | null,
    trailAmount: trail.amount,
    trailPercent: trail.percent
  }
}

/** trailing_stop: exactly one of trail_price (> 0) and trail_percent (0 < x < 100); other types: neither. */
export function parseTrail (type: OrderType, trailPrice: number | string | undefined, trailPercent: number | string | undefined): { amount: Fixed | null, percent: Fixed | null } | OrderRejection {
  const given = (trailPrice !== undefined ? 1 : 0) + (trailPercent !== undefined ? 1 : 0)
  if (type !== 'trailing_stop') {
    if (given > 0) return new OrderRejection('INVALID_ORDER', `${type} orders take no trail_price/trail_percent (trailing_stop only)`)
    return { amount: null, percent: null }
  }
  if (given !== 1) return new OrderRejection('INVALID_ORDER', 'trailing_stop orders need exactly one of trail_price or trail_percent')
  const amount = price(trailPrice, 'trail_price')
  if (amount instanceof OrderRejection) return amount
  const percent = price(trailPercent, 'trail_percent')
  if (percent instanceof OrderRejection) return percent
  if (percent !== null && percent >= HUNDRED) return new OrderRejection('INVALID_ORDER', 'trail_percent must be below 100')
  return { amount, percent }
}

/** Working orders by symbol in time priority, plus every order id the session has used. */
export class OrderBook {
  private readonly byId = new Map<string, WorkingOrder>()
  private readonly reservedIds = new Set<string>()
  /** Open orders per symbol index, in seq order. */
  readonly open: WorkingOrder[][]
  openCount = 0

  constructor (symbolCount: number) {
    this.open = Array.from({ length: symbolCount }, () => [])
  }

  isIdTaken (id: string): boolean {
    return this.byId.has(id) || this.reservedIds.has(id)
  }

  reserveId (id: string): void {
    this.reservedIds.add(id)
  }

  get (id: string): WorkingOrder | undefined {
    return this.byId.get(id)
  }

  add (order: WorkingOrder): void {
    this.byId.set(order.orderId, order)
    this.reservedIds.delete(order.orderId)
    this.open[order.symbolIndex].push(order)
    this.openCount++
  }

  /** An order that never works (refused at submission): it has its id, and is listed, but is not on a working list. */
  addClosed (order: WorkingOrder): void {
    this.byId.set(order.orderId, order)
    this.reservedIds.delete(order.orderId)
  }

  /** Take a no-longer-open order off its symbol's working list. */
  remove (order: WorkingOrder): void {
    const list = this.open[order.symbolIndex]
    const i = list.indexOf(order)
    if (i >= 0) {
      list.splice(i, 1)
      this.openCount--
    }
  }

  /** Put an order taken off by `remove` back in its place (seq order): a refused replacement. */
  restore (order: WorkingOrder): void {
    const list = this.open[order.symbolIndex]
    let i = list.length
    while (i > 0 && list[i - 1].seq > order.seq) i--
    list.splice(i, 0, order)
    this.openCount++
  }

  /** Undo `add` (an atomic batch that failed): the id and the bracket leg ids become free again. */
  forget (order: WorkingOrder): void {
    this.remove(order)
    this.byId.delete(order.orderId)
    const legs = legIds(order.orderId)
    this.reservedIds.delete(legs.takeProfit)
    this.reservedIds.delete(legs.stopLoss)
  }

  all (): WorkingOrder[] {
    return [...this.byId.values()].sort((a, b) => a.seq - b.seq)
  }

  /**
   * Quantity already promised to open sell orders of a symbol. The two legs of one bracket are
   * one-cancels-other, so only the larger counts.
   */
  pendingSellQuantity (sym: number): Fixed {
    let q = 0n
    for (const o of this.open[sym]) {
      if (o.side !== 'sell' || o.quantity === null) continue
      const rem = o.quantity - o.filled
      if (o.sibling !== null && o.sibling.isOpen && o.sibling.quantity !== null) {
        const sibRem = o.sibling.quantity - o.sibling.filled
        if (sibRem > rem || (sibRem === rem && o.sibling.seq < o.seq)) continue
      }
      q += rem
    }
    return q
  }
}
