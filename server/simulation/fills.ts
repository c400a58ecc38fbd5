// The fill rules of docs/fill-policy.md as pure functions: one per order type, one bar's prices in,
// an exact price and the rule's name out (or null: no fill on this bar). No state, no clock.
import { FILL_POLICY_VERSION, type FillReason, type OrderSide } from '../../schemas/simulation.js'
import { fromNumber, fromInteger, mul, div, min, max, toNumber, type Fixed } from '../money.js'

export { FILL_POLICY_VERSION }

export interface BarPrices {
  readonly open: number
  readonly high: number
  readonly low: number
}

/**
 * `open` fills happen at the bar's first trade and are applied before every `intrabar` fill of the step;
 * `close` fills (time in force cls) after them, at the bar's last trade.
 */
export type FillPhase = 'open' | 'intrabar' | 'close'

export interface FillDecision {
  readonly price: Fixed
  readonly reason: FillReason
  readonly phase: FillPhase
  /** Slippage actually paid against the open, in bps (0 when the price is the order's own limit/stop). */
  readonly slippageBps: number
}

const TEN_THOUSAND = fromInteger(10000)

function decision (price: Fixed, reason: FillReason, phase: FillPhase, slippageBps = 0): FillDecision {
  return { price, reason, phase, slippageBps }
}

/**
 * Market: the open, moved `slippageBps` against the order, but never beyond the bar's range
 * (a buy cannot pay more than the high, a sell cannot get less than the low).
 */
export function fillMarket (side: OrderSide, bar: BarPrices, slippageBps: number): FillDecision {
  const open = fromNumber(bar.open)
  if (slippageBps === 0) return decision(open, 'market_open', 'open')
  const delta = div(mul(open, fromNumber(slippageBps)), TEN_THOUSAND)
  const price = side === 'buy' ? min(open + delta, fromNumber(bar.high)) : max(open - delta, fromNumber(bar.low))
  const paid = toNumber(side === 'buy' ? price - open : open - price) / bar.open * 10000
  // Rounded so float noise (e.g. 4.999999999) never reaches the wire.
  return decision(price, 'market_open', 'open', Math.round(paid * 1e6) / 1e6)
}

/**
 * Limit (limit given exactly and as the float nearest to it, which orders the same way against bar floats):
 * buy at the open when open ≤ limit, else at the limit when low ≤ limit; sell symmetric.
 */
export function fillLimit (side: OrderSide, bar: BarPrices, limit: Fixed, limitNum: number): FillDecision | null {
  if (side === 'buy') {
    if (bar.open <= limitNum) return decision(fromNumber(bar.open), 'limit_open', 'open')
    if (bar.low <= limitNum) return decision(limit, 'limit_touch', 'intrabar')
    return null
  }
  if (bar.open >= limitNum) return decision(fromNumber(bar.open), 'limit_open', 'open')
  if (bar.high >= limitNum) return decision(limit, 'limit_touch', 'intrabar')
  return null
}

/** Stop: at the open when the bar gaps through the stop, else at the stop when the range touches it. */
export function fillStop (side: OrderSide, bar: BarPrices, stop: Fixed, stopNum: number): FillDecision | null {
  if (side === 'buy') {
    if (bar.open >= stopNum) return decision(fromNumber(bar.open), 'stop_gap_open', 'open')
    if (bar.high >= stopNum) return decision(stop, 'stop_touch', 'intrabar')
    return null
  }
  if (bar.open <= stopNum) return decision(fromNumber(bar.open), 'stop_gap_open', 'open')
  if (bar.low <= stopNum) return decision(stop, 'stop_touch', 'intrabar')
  return null
}

export interface StopLimitOutcome {
  readonly fill: FillDecision | null
  /** The stop has been reached (now or on an earlier bar): from now on the order is a plain limit. */
  readonly triggered: boolean
}

/**
 * Stop-limit. Triggered at the open (gap through the stop): limit rules on the whole bar.
 * Triggered inside the bar: fills at the stop only when the limit is at least as good as the stop;
 * otherwise we cannot know whether the price came back to the limit after the trigger, so the limit
 * is first tried on the next bar (conservative). Already triggered: limit rules.
 */
export function fillStopLimit (
  side: OrderSide,
  bar: BarPrices,
  stop: Fixed,
  stopNum: number,
  limit: Fixed,
  limitNum: number,
  alreadyTriggered: boolean
): StopLimitOutcome {
  const buy = side === 'buy'
  const gapped = buy ? bar.open >= stopNum : bar.open <= stopNum
  if (alreadyTriggered || gapped) {
    return { fill: limitAfterTrigger(side, bar, limit, limitNum), triggered: true }
  }
  const touched = buy ? bar.high >= stopNum : bar.low <= stopNum
  if (!touched) return { fill: null, triggered: false }
  const limitCoversStop = buy ? limitNum >= stopNum : limitNum <= stopNum
  return { fill: limitCoversStop ? decision(stop, 'stop_limit_stop', 'intrabar') : null, triggered: true }
}

function limitAfterTrigger (side: OrderSide, bar: BarPrices, limit: Fixed, limitNum: number): FillDecision | null {
  const d = fillLimit(side, bar, limit, limitNum)
  if (d === null) return null
  return decision(d.price, d.reason === 'limit_open' ? 'stop_limit_open' : 'stop_limit_touch', d.phase)
}

/**
 * At the close (time in force cls, the closing auction): a market order at the close moved `slippageBps`
 * against it but never beyond the bar's range; a limit order at the close when the close is at or better
 * than its limit, else no fill.
 */
export function fillAtClose (
  side: OrderSide,
  bar: BarPrices,
  close: number,
  limit: Fixed | null,
  limitNum: number,
  slippageBps: number
): FillDecision | null {
  if (limit !== null) {
    const marketable = side === 'buy' ? close <= limitNum : close >= limitNum
    return marketable ? decision(fromNumber(close), 'limit_close', 'close') : null
  }
  const c = fromNumber(close)
  if (slippageBps === 0) return decision(c, 'market_close', 'close')
  const delta = div(mul(c, fromNumber(slippageBps)), TEN_THOUSAND)
  const price = side === 'buy' ? min(c + delta, fromNumber(bar.high)) : max(c - delta, fromNumber(bar.low))
  const paid = toNumber(side === 'buy' ? price - c : c - price) / close * 10000
  return decision(price, 'market_close', 'close', Math.round(paid * 1e6) / 1e6)
}
