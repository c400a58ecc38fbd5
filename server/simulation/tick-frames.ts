// The JSON text of a tick's data, rendered straight from the timeline and the bar arrays: the constant parts
// (session id, each symbol set, each symbol's bar key) are escaped once per run, so a tick costs string
// concatenation of numbers and dates, not an object graph and a JSON.stringify walk. The text is exactly
// JSON.stringify(tickData) — key order, number formatting (`String(n)`, `null` for non-finite numbers) and
// escapes alike; test/unit/simulation/tick-frames.test.ts compares the two tick by tick.
import type { MarketSession } from '../../schemas/simulation.js'
import { IsoFormatter } from '../iso-time.js'
import { dayNumberToDate, type BarSeries } from '../market-data/bar-series.js'
import type { Timeline } from './timeline.js'

const PADDING = '000000'

/**
 * JSON.stringify(n) for a number: its shortest round-trip text, or null when it is not finite. Prices and
 * volumes with at most 6 decimals below 10^9 (nearly every bar) are printed from integers: such a decimal is
 * the one the number was read from, no shorter decimal reads back to it (doubles below 10^9 are closer together
 * than 10^-6), so its digits are exactly the shortest round trip, without the general conversion.
 */
export function jsonNumber (n: number): string {
  if (n > -1e9 && n < 1e9) {
    const r = Math.round(n * 1e6)
    if (r / 1e6 === n) {
      const a = r < 0 ? -r : r
      const whole = Math.floor(a / 1e6)
      let frac = a - whole * 1e6
      const sign = r < 0 ? '-' : ''
      if (frac === 0) return `${sign}${whole}`
      let digits = 6
      while (frac % 10 === 0) { frac /= 10; digits-- }
      const f = `${frac}`
      return `${sign}${whole}.${PADDING.slice(0, digits - f.length)}${f}`
    }
  }
  return Number.isFinite(n) ? String(n) : 'null'
}

const num = jsonNumber

/** A key JSON.stringify would move ahead of the others (an array index: "0", "42", …). */
function isArrayIndex (key: string): boolean {
  return /^(?:0|[1-9][0-9]*)$/.test(key) && Number(key) < 2 ** 32 - 1
}

export class TickTemplate {
  readonly #series: readonly BarSeries[]
  readonly #tl: Timeline
  readonly #includeBars: boolean
  /** `{"session_id":"…","sequence_id":` */
  readonly #head: string
  /** `,"symbols_trading":[…],"is_eod":` per symbol set of the timeline. */
  readonly #sets: string[]
  /** `"SYM":{"timestamp":"` per symbol index (the first one without its leading comma). */
  readonly #barKeys: string[]
  readonly #stamps = new IsoFormatter()
  #lastDay = 0
  #lastDayText = ''
  /** False when a symbol is an array index: JSON.stringify would reorder the bars, so callers stringify. */
  readonly usable: boolean

  constructor (sessionId: string, series: readonly BarSeries[], timeline: Timeline, includeBars: boolean) {
    this.#series = series
    this.#tl = timeline
    this.#includeBars = includeBars
    this.#head = `{"session_id":${JSON.stringify(sessionId)},"sequence_id":`
    this.#sets = timeline.symbolSets.map((set) => `,"symbols_trading":${JSON.stringify(set)},"is_eod":`)
    this.#barKeys = series.map((s) => `${JSON.stringify(s.symbol)}:{"timestamp":"`)
    this.usable = !series.some((s) => isArrayIndex(s.symbol))
  }

  /** The JSON text of step `k`'s TickData; `simTime` and `marketSession` as the engine computed them. */
  render (k: number, simTime: string, marketSession: MarketSession): string {
    const tl = this.#tl
    let text = `${this.#head}${k + 1},"sim_time":"${simTime}","market_session":"${marketSession}"${this.#sets[tl.symbolSet[k]]}${tl.eod[k] === 1 ? 'true' : 'false'}`
    if (!this.#includeBars) return `${text}}`
    text += ',"bars":{'
    const to = tl.entryStart[k + 1]
    for (let e = tl.entryStart[k]; e < to; e++) {
      const sym = tl.entrySymbol[e]
      const s = this.#series[sym]
      const i = tl.entryBar[e]
      const day = s.day[i]
      if (day !== this.#lastDay) { this.#lastDay = day; this.#lastDayText = dayNumberToDate(day) }
      text += `${e === tl.entryStart[k] ? '' : ','}${this.#barKeys[sym]}${this.#stamps.format(s.time[i])}","session_date":"${this.#lastDayText}",` +
        `"open":${num(s.open[i])},"high":${num(s.high[i])},"low":${num(s.low[i])},"close":${num(s.close[i])},"volume":${num(s.volume[i])}}`
    }
    return `${text}}}`
  }
}
