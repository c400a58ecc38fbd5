// Cash, positions, realized P&L, commissions and round-trip trades of one simulated account.
// Everything that is money is exact (server/money.ts Fixed); a float mirror of cash and quantities
// exists only so the per-bar equity mark for metrics costs no bigint work.
import type { Position, TradeRecord } from '../../schemas/simulation.js'
import { abs, formatMoney, fromNumber, mul, toNumber, type Fixed } from '../money.js'

const SCALE = 100_000_000n

/** a × num / den, rounded half-even: pro-rata splits (cost basis, commissions) without a double rounding. */
export function prorate (a: Fixed, num: Fixed, den: Fixed): Fixed {
  if (num === den) return a
  const n = a * num
  const negative = (n < 0n) !== (den < 0n)
  const nn = n < 0n ? -n : n
  const dd = den < 0n ? -den : den
  let q = nn / dd
  const twice = (nn % dd) * 2n
  if (twice > dd || (twice === dd && q % 2n === 1n)) q += 1n
  return negative ? -q : q
}

interface OpenTrade {
  direction: 'long' | 'short'
  entryTime: string
  entryQty: Fixed
  entryValue: Fixed
  exitQty: Fixed
  exitValue: Fixed
  gross: Fixed
  commission: Fixed
}

export class Portfolio {
  readonly initialCapital: Fixed
  cash: Fixed
  /** toNumber(cash), refreshed on every change. */
  cashNum: number
  realizedPnl: Fixed = 0n
  totalCommission: Fixed = 0n
  /** Signed quantity per symbol index (negative = short). */
  readonly qty: Fixed[]
  /** Signed cost basis per symbol index: Σ signed quantity × price of the open lots. */
  readonly basis: Fixed[]
  readonly qtyNum: Float64Array
  /** Symbol indices with a non-zero position, in the order they were opened. */
  readonly held: number[] = []
  readonly trades: TradeRecord[] = []
  private readonly openTrades: Array<OpenTrade | null>

  constructor (initialCapital: Fixed, readonly symbols: readonly string[]) {
    this.initialCapital = initialCapital
    this.cash = initialCapital
    this.cashNum = toNumber(initialCapital)
    const n = symbols.length
    this.qty = new Array<Fixed>(n).fill(0n)
    this.basis = new Array<Fixed>(n).fill(0n)
    this.qtyNum = new Float64Array(n)
    this.openTrades = new Array<OpenTrade | null>(n).fill(null)
  }

  /**
   * Book one fill: `signedQty` > 0 buys, < 0 sells. Cash moves by the exact fill value and commission;
   * a fill that crosses zero closes the old round trip and opens a new one, splitting value and
   * commission pro rata so the two trades add up to the cash movement exactly.
   */
  applyFill (sym: number, signedQty: Fixed, price: Fixed, commission: Fixed, time: string): void {
    const size = abs(signedQty)
    const value = mul(size, price)
    this.cash += signedQty > 0n ? -value - commission : value - commission
    this.cashNum = toNumber(this.cash)
    this.totalCommission += commission

    const q0 = this.qty[sym]
    if (q0 === 0n || (q0 > 0n) === (signedQty > 0n)) {
      this.addToPosition(sym, signedQty, value, commission, time)
    } else {
      const closeSize = size < abs(q0) ? size : abs(q0)
      const closeValue = prorate(value, closeSize, size)
      const closeCommission = prorate(commission, closeSize, size)
      const portion = prorate(this.basis[sym], closeSize, abs(q0))
      const realized = q0 > 0n ? closeValue - portion : -portion - closeValue
      this.realizedPnl += realized
      this.basis[sym] -= portion
      this.qty[sym] = q0 > 0n ? q0 - closeSize : q0 + closeSize
      const trade = this.openTrades[sym]
      if (trade !== null) {
        trade.exitQty += closeSize
        trade.exitValue += closeValue
        trade.gross += realized
        trade.commission += closeCommission
      }
      if (this.qty[sym] === 0n) {
        if (trade !== null) this.trades.push(this.record(sym, trade, time, false))
        this.openTrades[sym] = null
        this.basis[sym] = 0n
      }
      const rest = size - closeSize
      if (rest > 0n) {
        this.addToPosition(sym, signedQty > 0n ? rest : -rest, value - closeValue, commission - closeCommission, time)
      }
    }
    this.qtyNum[sym] = toNumber(this.qty[sym])
    const i = this.held.indexOf(sym)
    if (this.qty[sym] === 0n && i >= 0) this.held.splice(i, 1)
    else if (this.qty[sym] !== 0n && i < 0) this.held.push(sym)
  }

  private addToPosition (sym: number, signedQty: Fixed, value: Fixed, commission: Fixed, time: string): void {
    const size = abs(signedQty)
    this.basis[sym] += signedQty > 0n ? value : -value
    this.qty[sym] += signedQty
    let trade = this.openTrades[sym]
    if (trade === null) {
      trade = {
        direction: signedQty > 0n ? 'long' : 'short',
        entryTime: time,
        entryQty: 0n,
        entryValue: 0n,
        exitQty: 0n,
        exitValue: 0n,
        gross: 0n,
        commission: 0n
      }
      this.openTrades[sym] = trade
    }
    trade.entryQty += size
    trade.entryValue += value
    trade.commission += commission
  }

  private record (sym: number, t: OpenTrade, exitTime: string, openAtEnd: boolean): TradeRecord {
    const net = t.gross - t.commission
    return {
      trade_id: this.trades.length + 1,
      symbol: this.symbols[sym],
      direction: t.direction,
      quantity: toNumber(t.entryQty),
      entry_time: t.entryTime,
      exit_time: exitTime,
      avg_entry_price: formatMoney(averagePrice(t.entryValue, t.entryQty)),
      avg_exit_price: formatMoney(averagePrice(t.exitValue, t.exitQty)),
      gross_pnl: formatMoney(t.gross),
      commission: formatMoney(t.commission),
      net_pnl: formatMoney(net),
      return_pct: t.entryValue === 0n ? 0 : roundRatio(toNumber(net) / toNumber(t.entryValue) * 100),
      open_at_end: openAtEnd
    }
  }

  /**
   * Closed trades plus, for every position still open, the trade as if closed at its mark price
   * (without mutating the account: results can be read in the middle of a run).
   */
  tradesMarkedAt (markPrice: Float64Array, time: string): TradeRecord[] {
    const out = this.trades.slice()
    for (const sym of this.held) {
      const t = this.openTrades[sym]
      if (t === null) continue
      const size = abs(this.qty[sym])
      const value = mul(size, fromNumber(markPrice[sym]))
      const realized = this.qty[sym] > 0n ? value - this.basis[sym] : -this.basis[sym] - value
      const closing: OpenTrade = { ...t, exitQty: t.exitQty + size, exitValue: t.exitValue + value, gross: t.gross + realized }
      const rec = this.record(sym, closing, time, true)
      out.push({ ...rec, trade_id: out.length + 1 })
    }
    return out
  }

  /** Σ quantity × mark, exact. */
  marketValue (markPrice: Float64Array): Fixed {
    let mv = 0n
    for (const sym of this.held) mv += mul(this.qty[sym], fromNumber(markPrice[sym]))
    return mv
  }

  equity (markPrice: Float64Array): Fixed {
    return this.cash + this.marketValue(markPrice)
  }

  /** Float equity for the per-bar curve (metrics only; never used for cash). */
  equityNum (markPrice: Float64Array): number {
    let e = this.cashNum
    for (let k = 0; k < this.held.length; k++) {
      const sym = this.held[k]
      e += this.qtyNum[sym] * markPrice[sym]
    }
    return e
  }

  /** Absolute market value of short positions, exact (the margin rule needs it). */
  shortMarketValue (markPrice: Float64Array): Fixed {
    let v = 0n
    for (const sym of this.held) {
      if (this.qty[sym] < 0n) v += mul(-this.qty[sym], fromNumber(markPrice[sym]))
    }
    return v
  }

  /**
   * The open positions (by symbol index) at their mark prices, and their total market value: one pass, one
   * conversion of each mark, for the account snapshot (equity = cash + marketValue, as equity() has it).
   */
  valuedPositions (markPrice: Float64Array): { positions: Position[], marketValue: Fixed } {
    const positions: Position[] = []
    let marketValue = 0n
    const held = this.held
    let sorted = true
    for (let k = 1; k < held.length; k++) if (held[k - 1] > held[k]) sorted = false
    const syms = sorted ? held : held.slice().sort(byIndex)
    for (const sym of syms) {
      const q = this.qty[sym]
      const mark = fromNumber(markPrice[sym])
      const mv = mul(q, mark)
      marketValue += mv
      positions.push({
        symbol: this.symbols[sym],
        quantity: toNumber(q),
        avg_cost: formatMoney(averagePrice(abs(this.basis[sym]), abs(q))),
        last_price: formatMoney(mark),
        market_value: formatMoney(mv),
        unrealized_pnl: formatMoney(mv - this.basis[sym])
      })
    }
    return { positions, marketValue }
  }
}

function byIndex (a: number, b: number): number { return a - b }

/** value / quantity, 8 decimals, half-even (both Fixed). */
export function averagePrice (value: Fixed, quantity: Fixed): Fixed {
  if (quantity === 0n) return 0n
  return prorate(value, SCALE, quantity)
}

function roundRatio (x: number): number {
  return Math.round(x * 1e10) / 1e10
}
