// GET /sessions/{id}/equity from what a run already keeps: the engine's per-step equity marks (one float per
// step, the series behind max drawdown) while it runs, the results' daily curve once it has finished.
// Thinned to a bounded number of points here, so a year of minute steps never goes out whole.
import type { EquityHistory, EquityHistoryPoint } from '../../schemas/equity-history.js'
import type { SimulationResults } from '../../schemas/simulation.js'
import { formatMoney, fromNumber, round } from '../money.js'
import { maxDrawdownPct, tidy } from './metrics.js'

/** What the engine keeps of a run's equity: a mark per replayed step and when each step closed. */
export interface EquityTrack {
  readonly sessionId: string
  readonly initialCapital: number
  /** Equity at the close of each step replayed so far (index k = step k + 1). */
  readonly values: Float64Array
  readonly totalSteps: number
  /** When step index k closed (epoch ms). */
  closeMs: (k: number) => number
  iso: (ms: number) => string
}

export interface EquityWindow {
  readonly maxPoints: number
  readonly afterStep: number
}

/** Step indices to draw: all of [from, to) when they fit, else the ends and each bucket's extremes. */
export function thinnedIndices (from: number, to: number, maxPoints: number, equity: ArrayLike<number>, drawdown: ArrayLike<number>): number[] {
  const n = to - from
  if (n <= maxPoints) return Array.from({ length: Math.max(0, n) }, (_, i) => from + i)
  // Three points a bucket (lowest, highest, deepest drawdown) plus the first and the last.
  const buckets = Math.floor((maxPoints - 2) / 3)
  const size = (n - 2) / buckets
  const out: number[] = [from]
  for (let b = 0; b < buckets; b++) {
    const start = from + 1 + Math.floor(b * size)
    const end = Math.min(to - 1, from + 1 + Math.floor((b + 1) * size))
    if (start >= end) continue
    let lo = start
    let hi = start
    let deep = start
    for (let i = start; i < end; i++) {
      if (equity[i] < equity[lo]) lo = i
      if (equity[i] > equity[hi]) hi = i
      if (drawdown[i] > drawdown[deep]) deep = i
    }
    for (const i of [...new Set([lo, hi, deep])].sort((a, b) => a - b)) out.push(i)
  }
  out.push(to - 1)
  return out
}

/** Drawdown in percent at every step, from the running peak (the initial capital first), as maxDrawdownPct measures it. */
export function drawdownSeries (initial: number, equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(equity.length)
  let peak = initial
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]
    if (e > peak) peak = e
    out[i] = peak > 0 && e < peak ? (peak - e) / peak * 100 : 0
  }
  return out
}

/** A live run's curve so far, from its per-step marks (to the cent), thinned to `window.maxPoints`. */
export function stepEquityHistory (track: EquityTrack, window: EquityWindow): EquityHistory {
  const values = track.values
  const done = values.length
  const drawdown = drawdownSeries(track.initialCapital, values)
  const from = Math.min(window.afterStep, done)
  const picked = thinnedIndices(from, done, window.maxPoints, values, drawdown)
  const points: EquityHistoryPoint[] = picked.map((k) => ({
    step: k + 1,
    sim_time: track.iso(track.closeMs(k)),
    equity: formatMoney(round(fromNumber(values[k]), 2)),
    drawdown_pct: tidy(drawdown[k])
  }))
  return {
    session_id: track.sessionId,
    source: 'steps',
    steps_done: done,
    total_steps: track.totalSteps,
    initial_capital: formatMoney(round(fromNumber(track.initialCapital), 2)),
    max_drawdown_pct: tidy(maxDrawdownPct(track.initialCapital, values)),
    decimated: picked.length < done - from,
    points
  }
}

/**
 * A finished run's curve: its results' daily closes (exact; a run has at most a few thousand trading days,
 * still thinned to `maxPoints`) and the results' max drawdown, which was measured over every step.
 */
export function dailyEquityHistory (results: SimulationResults, totalSteps: number, window: EquityWindow): EquityHistory {
  const curve = results.equity_curve
  const equity = curve.map((p) => Number(p.equity))
  const drawdown = curve.map((p) => p.drawdown_pct)
  // Daily points carry no step; a follow-up call (after_step) for a finished run has nothing newer.
  const done = results.metrics.bars_processed
  const picked = window.afterStep >= done && window.afterStep > 0 ? [] : thinnedIndices(0, curve.length, window.maxPoints, equity, drawdown)
  return {
    session_id: results.session_id,
    source: 'daily',
    steps_done: done,
    total_steps: totalSteps,
    initial_capital: results.metrics.initial_capital,
    max_drawdown_pct: results.metrics.max_drawdown_pct,
    decimated: picked.length < curve.length && picked.length > 0,
    points: picked.map((i) => ({ sim_time: curve[i].sim_time, equity: curve[i].equity, drawdown_pct: curve[i].drawdown_pct }))
  }
}
