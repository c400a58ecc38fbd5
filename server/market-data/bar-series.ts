// Columnar bars of one symbol and timeframe: the form bar sources produce and the simulation engine replays.
// Typed arrays keep a year of minute bars for ten symbols compact and make the tick loop allocation-free.
import type { Bar, Timeframe } from '../../schemas/market-data.js'

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

/** The wire form of bar `i`. */
export function barAt (series: BarSeries, i: number): Bar {
  return {
    timestamp: new Date(series.time[i]).toISOString(),
    session_date: dayNumberToDate(series.day[i]),
    open: series.open[i],
    high: series.high[i],
    low: series.low[i],
    close: series.close[i],
    volume: series.volume[i]
  }
}
