// Builds hourly bars from minute bars with buckets aligned to each trading day's session open
// (NYSE 09:30, 10:30, …; forex 17:00 New York; crypto 00:00 UTC), the same rule the demo generator uses.
import type { BarSeries } from './bar-series.js'
import { concatSeries, emptySeries, subSeries } from './bar-series.js'
import { nominalSessionNum, type CalendarKind } from './calendar.js'
import { fromDayNumber } from './dates.js'

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000

/** Hourly bars from minute bars of one symbol (minute series sorted by time). */
export function aggregateToHours (minutes: BarSeries, kind: CalendarKind): BarSeries {
  const out = emptySeries(minutes.symbol, '1h', minutes.length)
  let n = -1
  let currentDay = -1
  let open = 0
  let bucket = Number.NaN
  for (let i = 0; i < minutes.length; i++) {
    const dayNum = minutes.day[i]
    if (dayNum !== currentDay) {
      currentDay = dayNum
      open = nominalSessionNum(kind, fromDayNumber(dayNum)).open
      bucket = Number.NaN
    }
    const b = open + Math.floor((minutes.time[i] - open) / HOUR_MS) * HOUR_MS
    if (b !== bucket) {
      bucket = b
      n++
      out.time[n] = b
      out.day[n] = dayNum
      out.open[n] = minutes.open[i]
      out.high[n] = minutes.high[i]
      out.low[n] = minutes.low[i]
      out.close[n] = minutes.close[i]
      out.volume[n] = minutes.volume[i]
    } else {
      if (minutes.high[i] > out.high[n]) out.high[n] = minutes.high[i]
      if (minutes.low[i] < out.low[n]) out.low[n] = minutes.low[i]
      out.close[n] = minutes.close[i]
      out.volume[n] += minutes.volume[i]
    }
  }
  // Copy out of the minute-sized scratch buffers so the result does not pin them in memory.
  return concatSeries(minutes.symbol, '1h', [subSeries(out, 0, n + 1)])
}
