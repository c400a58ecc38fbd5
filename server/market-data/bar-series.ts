// Columnar bars of one symbol and timeframe: the form bar sources produce and the simulation engine replays.
// Typed arrays keep a year of minute bars for ten symbols compact and make the tick loop allocation-free.
import type { Bar, Timeframe } from '../../schemas/market-data.js'
import { IsoFormatter } from '../iso-time.js'

export interface BarSeries {
  readonly symbol: string
  readonly timeframe: Timeframe
  readonly length: number
  /** Bar start, epoch milliseconds UTC, strictly increasing. */
  readonly time: Float64Array
  /** Trading day in the market's calendar as yyyymmdd (e.g. 20230103). */
  readonly day: Int32Array
  readonly open: Float64Array
  readonly high: Float64Array
  readonly low: Float64Array
  readonly close: Float64Array
  readonly volume: Float64Array
  /** Adjusted close when the source has one (CSV `Adj Close`), else undefined. */
  readonly adjClose?: Float64Array
}

export function emptySeries (symbol: string, timeframe: Timeframe, length: number, withAdj = false): BarSeries {
  return {
    symbol,
    timeframe,
    length,
    time: new Float64Array(length),
    day: new Int32Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    adjClose: withAdj ? new Float64Array(length) : undefined
  }
}

export function dayNumberToDate (day: number): string {
  const y = Math.floor(day / 10000)
  const m = Math.floor(day / 100) % 100
  const d = day % 100
  return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

export function dateToDayNumber (date: string): number {
  return Number(date.slice(0, 4)) * 10000 + Number(date.slice(5, 7)) * 100 + Number(date.slice(8, 10))
}

const barTimestamps = new IsoFormatter()
let lastDay = 0
let lastDayText = ''

/** The wire form of bar `i` (called per bar per tick: the date strings are cached). */
export function barAt (series: BarSeries, i: number): Bar {
  const day = series.day[i]
  if (day !== lastDay) { lastDay = day; lastDayText = dayNumberToDate(day) }
  return {
    timestamp: barTimestamps.format(series.time[i]),
    session_date: lastDayText,
    open: series.open[i],
    high: series.high[i],
    low: series.low[i],
    close: series.close[i],
    volume: series.volume[i]
  }
}

/** Bars `from` (inclusive) to `to` (exclusive) as views on the same buffers (no copy). */
export function subSeries (series: BarSeries, from: number, to: number): BarSeries {
  const a = Math.max(0, Math.min(from, series.length))
  const b = Math.max(a, Math.min(to, series.length))
  return {
    symbol: series.symbol,
    timeframe: series.timeframe,
    length: b - a,
    time: series.time.subarray(a, b),
    day: series.day.subarray(a, b),
    open: series.open.subarray(a, b),
    high: series.high.subarray(a, b),
    low: series.low.subarray(a, b),
    close: series.close.subarray(a, b),
    volume: series.volume.subarray(a, b),
    adjClose: series.adjClose?.subarray(a, b)
  }
}

/** First index whose trading day is ≥ `dayNumber` (yyyymmdd), by binary search. */
export function lowerBoundDay (series: BarSeries, dayNumber: number): number {
  let lo = 0
  let hi = series.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (series.day[mid] < dayNumber) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** The bars whose trading day lies in [startDay, endDay] (yyyymmdd, inclusive), as views. */
export function sliceByDay (series: BarSeries, startDay: number, endDay: number): BarSeries {
  return subSeries(series, lowerBoundDay(series, startDay), lowerBoundDay(series, endDay + 1))
}

/**
 * Prices scaled by adjusted/raw close per bar (split and dividend adjustment), rounded to 1e-6 so the
 * division does not leak float noise onto the wire. Volume is left as traded. Returns the input when it has no adjusted close.
 */
export function adjustedSeries (series: BarSeries): BarSeries {
  const adj = series.adjClose
  if (adj === undefined) return series
  const out = emptySeries(series.symbol, series.timeframe, series.length, true)
  const r6 = (x: number): number => Math.round(x * 1e6) / 1e6
  for (let i = 0; i < series.length; i++) {
    const f = series.close[i] === 0 ? 1 : adj[i] / series.close[i]
    out.time[i] = series.time[i]
    out.day[i] = series.day[i]
    out.open[i] = r6(series.open[i] * f)
    out.high[i] = r6(series.high[i] * f)
    out.low[i] = r6(series.low[i] * f)
    out.close[i] = adj[i]
    out.volume[i] = series.volume[i]
    out.adjClose![i] = adj[i]
  }
  return out
}

/** Concatenation of series of one symbol and timeframe, in the given order. */
export function concatSeries (symbol: string, timeframe: Timeframe, parts: readonly BarSeries[]): BarSeries {
  const n = parts.reduce((s, p) => s + p.length, 0)
  const withAdj = parts.length > 0 && parts.every((p) => p.adjClose !== undefined)
  const out = emptySeries(symbol, timeframe, n, withAdj)
  let k = 0
  for (const p of parts) {
    out.time.set(p.time, k)
    out.day.set(p.day, k)
    out.open.set(p.open, k)
    out.high.set(p.high, k)
    out.low.set(p.low, k)
    out.close.set(p.close, k)
    out.volume.set(p.volume, k)
    if (withAdj) out.adjClose!.set(p.adjClose!, k)
    k += p.length
  }
  return out
}
