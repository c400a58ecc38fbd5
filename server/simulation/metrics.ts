// Performance formulas of docs/fill-policy.md §Metrics as pure functions over an equity series and
// the trades list, so each one is unit-testable on a hand-computed curve.
import type { SimulationResults, TradeRecord } from '../../schemas/simulation.js'
import { formatMoney, parseDecimal, type Fixed } from '../money.js'

/** Annualisation of daily returns (equity markets); the same factor is used for every asset class. */
export const PERIODS_PER_YEAR = 252
export const DAYS_PER_YEAR = 365.25

/** r[0] = e[0]/initial − 1, r[i] = e[i]/e[i−1] − 1 (a period starting at zero equity counts as 0). */
export function periodReturns (initial: number, equities: ArrayLike<number>): Float64Array {
  const r = new Float64Array(equities.length)
  let prev = initial
  for (let i = 0; i < equities.length; i++) {
    r[i] = prev === 0 ? 0 : equities[i] / prev - 1
    prev = equities[i]
  }
  return r
}

export function mean (xs: ArrayLike<number>): number {
  if (xs.length === 0) return Number.NaN
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]
  return s / xs.length
}

/** Population standard deviation (divide by N, not N−1). */
export function populationStd (xs: ArrayLike<number>): number {
  const m = mean(xs)
  let s = 0
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2
  return Math.sqrt(s / xs.length)
}

/** Downside deviation against a 0 target: √(Σ min(r, 0)² / N) over ALL N returns. */
export function downsideDeviation (xs: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < xs.length; i++) if (xs[i] < 0) s += xs[i] * xs[i]
  return Math.sqrt(s / xs.length)
}

/** mean / population std × √periods; risk-free 0. null when undefined (no returns or zero volatility). */
export function sharpeRatio (returns: ArrayLike<number>, periodsPerYear = PERIODS_PER_YEAR): number | null {
  if (returns.length === 0) return null
  const sd = populationStd(returns)
  if (!(sd > 1e-15)) return null
  return mean(returns) / sd * Math.sqrt(periodsPerYear)
}

/** mean / downside deviation × √periods. null when there is no downside (or no returns). */
export function sortinoRatio (returns: ArrayLike<number>, periodsPerYear = PERIODS_PER_YEAR): number | null {
  if (returns.length === 0) return null
  const dd = downsideDeviation(returns)
  if (!(dd > 1e-15)) return null
  return mean(returns) / dd * Math.sqrt(periodsPerYear)
}

/** Largest fall from a running peak (initial capital is the first peak), in percent of the peak; ≥ 0. */
export function maxDrawdownPct (initial: number, equities: ArrayLike<number>): number {
  let peak = initial
  let worst = 0
  for (let i = 0; i < equities.length; i++) {
    const e = equities[i]
    if (e > peak) peak = e
    else if (peak > 0) {
      const dd = (peak - e) / peak
      if (dd > worst) worst = dd
    }
  }
  return worst * 100
}

/** Whole calendar days between two yyyymmdd trading days. */
export function calendarDaysBetween (fromDay: number, toDay: number): number {
  const utc = (d: number): number => Date.UTC(Math.floor(d / 10000), Math.floor(d / 100) % 100 - 1, d % 100)
  return Math.round((utc(toDay) - utc(fromDay)) / 86_400_000)
}

/** ((final/initial)^(365.25/days) − 1) × 100; null when the span is under one calendar day. */
export function cagrPct (initial: number, final: number, calendarDays: number): number | null {
  if (calendarDays <= 0 || initial <= 0) return null
  if (final <= 0) return -100
  return ((final / initial) ** (DAYS_PER_YEAR / calendarDays) - 1) * 100
}

/** CAGR % / max drawdown %; null when either is undefined or there was no drawdown. */
export function calmarRatio (cagr: number | null, maxDrawdown: number): number | null {
  if (cagr === null || !(maxDrawdown > 0)) return null
  return cagr / maxDrawdown
}

export interface TradeStats {
  /** Closed round trips: the only trades that win or lose. */
  readonly total: number
  /** Positions still open at the end (reported in the trades list with `open_at_end`, counted here alone). */
  readonly open: number
  readonly winning: number
  readonly losing: number
  readonly winRate: number | null
  readonly profitFactor: number | null
  readonly grossProfit: Fixed
  readonly grossLoss: Fixed
}

/**
 * Statistics of the closed round trips, as backtrader's TradeAnalyzer keeps them: a position still open at
 * the end has no outcome yet (its P&L is unrealized), so it is counted in `open` and in nothing else.
 * A closed trade wins when its net P&L ≥ 0. Profit factor = Σ winning net / |Σ losing net|, null without losers.
 */
export function tradeStats (trades: readonly TradeRecord[]): TradeStats {
  let open = 0
  let winning = 0
  let losing = 0
  let grossProfit = 0n
  let grossLoss = 0n
  for (const t of trades) {
    if (t.open_at_end) {
      open++
      continue
    }
    const net = parseDecimal(t.net_pnl)
    if (net >= 0n) {
      winning++
      grossProfit += net
    } else {
      losing++
      grossLoss += net
    }
  }
  const total = winning + losing
  return {
    total,
    open,
    winning,
    losing,
    winRate: total === 0 ? null : winning / total,
    profitFactor: grossLoss === 0n ? null : Number(grossProfit) / Number(-grossLoss),
    grossProfit,
    grossLoss
  }
}

/**
 * Results stored before `open_trades` existed counted a position open at the end as a won or lost trade:
 * restate their trade statistics from their own trades list, so every run reads by the same rule.
 */
export function restateTradeStats (results: SimulationResults): SimulationResults {
  const m = results.metrics as Partial<SimulationResults['metrics']>
  if (m.open_trades !== undefined) return results
  const s = tradeStats(results.trades)
  return {
    ...results,
    metrics: {
      ...results.metrics,
      total_trades: s.total,
      open_trades: s.open,
      winning_trades: s.winning,
      losing_trades: s.losing,
      win_rate: tidyOrNull(s.winRate),
      profit_factor: tidyOrNull(s.profitFactor),
      gross_profit: formatMoney(s.grossProfit),
      gross_loss: formatMoney(s.grossLoss)
    }
  }
}

/** Round for the wire so float noise (0.30000000000000004) does not leak; 10 decimals keep every real digit. */
export function tidy (x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e10) / 1e10 : x
}

/** tidy(), with undefined values (null, NaN, ±∞) as null. */
export function tidyOrNull (x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : tidy(x)
}
