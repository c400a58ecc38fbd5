// Merges the bar series of a session into one ordered timeline: a step per distinct bar start time,
// listing the (symbol, bar) pairs that trade at it. Built once, as flat typed arrays, so replay
// walks integers instead of objects.
import type { Timeframe } from '../../schemas/market-data.js'
import { AppError } from '../app-error.js'
import type { BarSeries } from '../market-data/bar-series.js'

export const TIMEFRAME_MS: Record<Timeframe, number> = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 }

export interface Timeline {
  readonly length: number
  readonly timeframe: Timeframe
  /** Bar start of each step, epoch ms. */
  readonly time: Float64Array
  /** Trading day of each step (yyyymmdd; the latest day among its bars when calendars disagree). */
  readonly day: Int32Array
  /** 1 when every bar of the step is the last of its trading day for its symbol. */
  readonly eod: Uint8Array
  /** Entries of step k are entryStart[k] … entryStart[k+1]-1. */
  readonly entryStart: Int32Array
  readonly entrySymbol: Int32Array
  readonly entryBar: Int32Array
  /** Index into `symbolSets` of each step: the symbols trading, shared arrays (built once per distinct set). */
  readonly symbolSet: Int32Array
  readonly symbolSets: ReadonlyArray<readonly string[]>
}

export function isLastBarOfDay (s: BarSeries, i: number): boolean {
  return i + 1 >= s.length || s.day[i + 1] !== s.day[i]
}

export function buildTimeline (series: readonly BarSeries[]): Timeline {
  if (series.length === 0) throw new AppError('VALIDATION_FAILED', 'a simulation needs at least one bar series')
  const timeframe = series[0].timeframe
  const seen = new Set<string>()
  let total = 0
  for (const s of series) {
    if (s.timeframe !== timeframe) {
      throw new AppError('VALIDATION_FAILED', 'all series of a session must share one timeframe', { symbol: s.symbol })
    }
    if (seen.has(s.symbol)) throw new AppError('VALIDATION_FAILED', `symbol ${s.symbol} appears twice`)
    seen.add(s.symbol)
    for (let i = 1; i < s.length; i++) {
      if (!(s.time[i] > s.time[i - 1])) {
        throw new AppError('VALIDATION_FAILED', `bars of ${s.symbol} are not strictly increasing in time`, { index: i })
      }
    }
    total += s.length
  }

  const n = series.length
  const cursor = new Int32Array(n)
  const entrySymbol = new Int32Array(total)
  const entryBar = new Int32Array(total)
  // Step count is unknown until merged; the total bar count bounds it.
  const time = new Float64Array(total)
  const day = new Int32Array(total)
  const eod = new Uint8Array(total)
  const entryStart = new Int32Array(total + 1)
  const symbolSet = new Int32Array(total)
  const allSymbols = series.map((s) => s.symbol)
  const symbolSets: Array<readonly string[]> = [Object.freeze(allSymbols)]
  const setIds = new Map<string, number>([[allSymbols.map((_, i) => i).join(','), 0]])

  let steps = 0
  let e = 0
  for (;;) {
    let t = Infinity
    for (let s = 0; s < n; s++) {
      if (cursor[s] < series[s].length && series[s].time[cursor[s]] < t) t = series[s].time[cursor[s]]
    }
    if (t === Infinity) break
    entryStart[steps] = e
    let maxDay = 0
    let allLast = true
    for (let s = 0; s < n; s++) {
      const sr = series[s]
      const i = cursor[s]
      if (i < sr.length && sr.time[i] === t) {
        entrySymbol[e] = s
        entryBar[e] = i
        e++
        if (sr.day[i] > maxDay) maxDay = sr.day[i]
        if (!isLastBarOfDay(sr, i)) allLast = false
        cursor[s] = i + 1
      }
    }
    const count = e - entryStart[steps]
    let setId = 0
    if (count !== n) {
      const idx: number[] = []
      for (let k = entryStart[steps]; k < e; k++) idx.push(entrySymbol[k])
      const key = idx.join(',')
      const known = setIds.get(key)
      if (known === undefined) {
        setId = symbolSets.length
        symbolSets.push(Object.freeze(idx.map((i) => allSymbols[i])))
        setIds.set(key, setId)
      } else {
        setId = known
      }
    }
    time[steps] = t
    day[steps] = maxDay
    eod[steps] = allLast ? 1 : 0
    symbolSet[steps] = setId
    steps++
  }
  entryStart[steps] = e
  return {
    length: steps,
    timeframe,
    time: time.slice(0, steps),
    day: day.slice(0, steps),
    eod: eod.slice(0, steps),
    entryStart: entryStart.slice(0, steps + 1),
    entrySymbol,
    entryBar,
    symbolSet: symbolSet.slice(0, steps),
    symbolSets
  }
}
