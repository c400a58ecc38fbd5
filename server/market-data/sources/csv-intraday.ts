// Intraday CSV bars: a timestamp column (ISO 8601 with a zone, or epoch seconds or milliseconds) and OHLCV,
// in one file per symbol and timeframe (`1min/AAPL.csv`) or one file per trading day mirroring the Parquet
// layout (`1min/AAPL/2023-01-03.csv`). The timestamp is the bar's start; its trading day is the market's
// (NYSE: the New York date, forex: the 17:00 New York day it ends, crypto: the UTC date), or the file's date.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BarSeries } from '../bar-series.js'
import { concatSeries, dayNumberToDate, emptySeries, sliceByDay } from '../bar-series.js'
import { forexDayAt, nyOffsetMinutesAt, type CalendarKind } from '../calendar.js'
import { DAY_MS, parseDate, toDayNumber } from '../dates.js'
import { LruCache } from '../lru-cache.js'
import { csvFields, numberCell, readCsvTable } from './csv-columns.js'
import { dataError } from './file-catalog.js'
import { cellToEpochMs } from './parquet.js'

export type IntradayTimeframe = '1m' | '1h'

/** The shortest spacing of two bars of a timeframe: closer bars mean the file is in the wrong folder. */
const STEP_MS: Record<IntradayTimeframe, number> = { '1m': 60_000, '1h': 3_600_000 }

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?\s*([zZ]|[+-]\d{2}(?::?\d{2})?)?$/

/**
 * Epoch ms of a timestamp cell, or why it is refused: ISO 8601 with `Z` or an offset (`2023-01-03T14:30:00Z`,
 * `2023-01-03 09:30:00-05:00`, `-0500`, `-05`), or an integer epoch (seconds, or milliseconds from 1e11 on;
 * micro- and nanoseconds by magnitude, as the Parquet reader takes them). A wall-clock time without a zone is
 * refused: nothing says which market's clock it is.
 */
export function parseTimestamp (raw: string): number | string {
  if (/^\d{9,19}$/.test(raw)) return cellToEpochMs(Number(raw))
  const m = ISO.exec(raw)
  if (m === null) return 'is not a timestamp (ISO 8601 with a zone, or epoch seconds or milliseconds)'
  const [, date, hh, mm, ss, frac, zone] = m
  if (zone === undefined) return 'has no time zone: add Z or an offset such as -05:00, or write epoch seconds'
  if (parseDate(date) === null || Number(hh) > 23 || Number(mm) > 59 || Number(ss ?? 0) > 59) return 'is not a real date and time'
  const offset = /^[zZ]$/.test(zone) ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3).replace(':', '').padEnd(2, '0')}`
  return Date.parse(`${date}T${hh}:${mm}:${ss ?? '00'}${(frac ?? '').slice(0, 4)}${offset}`)
}

/** The trading day (yyyymmdd) an instant belongs to in a market's calendar. */
export function tradingDayAt (kind: CalendarKind, ms: number): number {
  if (kind === 'forex') return toDayNumber(forexDayAt(ms))
  const local = kind === 'nyse' ? ms + nyOffsetMinutesAt(ms) * 60_000 : ms
  return toDayNumber(Math.floor(local / DAY_MS))
}

/**
 * Parses one intraday file into a series sorted by time; `dayOf` gives each bar's trading day. Malformed rows,
 * two bars at one instant and bars closer than the timeframe throw naming the file and line.
 */
export function parseIntradayCsv (text: string, file: string, symbol: string, timeframe: IntradayTimeframe, dayOf: (ms: number) => number): BarSeries {
  const { lines, width, col } = readCsvTable(text, file)
  const rows: Array<[time: number, o: number, h: number, l: number, c: number, v: number, line: number]> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '') continue
    const f = csvFields(line)
    if (f.length < width) throw dataError(file, i + 1, `expected ${width} fields, found ${f.length}`)
    const time = parseTimestamp(f[col.date])
    if (typeof time === 'string') throw dataError(file, i + 1, `timestamp '${f[col.date]}' ${time}`)
    const o = numberCell(f, col.open, 'open', file, i + 1)
    const h = numberCell(f, col.high, 'high', file, i + 1)
    const l = numberCell(f, col.low, 'low', file, i + 1)
    const c = numberCell(f, col.close, 'close', file, i + 1)
    const v = col.volume === undefined || f[col.volume] === '' ? 0 : numberCell(f, col.volume, 'volume', file, i + 1)
    if (h < l) throw dataError(file, i + 1, `high ${h} is below low ${l}`)
    rows.push([time, o, h, l, c, v, i + 1])
  }
  rows.sort((a, b) => a[0] - b[0])
  for (let k = 1; k < rows.length; k++) {
    const gap = rows[k][0] - rows[k - 1][0]
    const at = new Date(rows[k][0]).toISOString()
    if (gap === 0) throw dataError(file, rows[k][6], `two bars at ${at}`)
    if (gap < STEP_MS[timeframe]) {
      throw dataError(file, rows[k][6], `bars ${gap / 1000} s apart (${new Date(rows[k - 1][0]).toISOString()}, ${at}): closer than one ${timeframe} bar; is the file in its timeframe's folder?`)
    }
  }
  const s = emptySeries(symbol, timeframe, rows.length)
  rows.forEach(([time, o, h, l, c, v], k) => {
    s.time[k] = time
    s.day[k] = dayOf(time)
    s.open[k] = o
    s.high[k] = h
    s.low[k] = l
    s.close[k] = c
    s.volume[k] = v
  })
  return s
}

/** Where one symbol's bars of one timeframe are: a file of every bar, or a folder of day files. */
export type IntradayFiles =
  | { readonly file: string, readonly first: number, readonly last: number }
  | { readonly dir: string, readonly days: readonly number[] }

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.csv$/
// Day files read at once when loading a range of them.
const READ_CONCURRENCY = 8

/** The trading days (yyyymmdd, sorted) of a folder's `YYYY-MM-DD.csv` files. */
export function dayFiles (names: readonly string[]): number[] {
  return names.map((f) => DAY_FILE.exec(f)).filter((m) => m !== null && parseDate(m[1]) !== null)
    .map((m) => toDayNumber(parseDate(m![1])!)).sort((a, b) => a - b)
}

/** Whole files parsed and kept for later loads: a few symbols' years of minutes, not every file. */
const PARSED_FILES_KEPT = 4

/** Reads intraday CSV files for a source, keeping the last few whole files it parsed. */
export class IntradayCsvReader {
  readonly #parsed = new LruCache<string, BarSeries>({ maxSize: PARSED_FILES_KEPT, ttlMs: Number.POSITIVE_INFINITY })

  /** A per-symbol file, parsed (at init, for its range; later from the cache when it is still there). */
  async readFile (file: string, symbol: string, timeframe: IntradayTimeframe, kind: CalendarKind): Promise<BarSeries> {
    let s = this.#parsed.get(file)
    if (s === undefined) {
      s = parseIntradayCsv(await readFile(file, 'utf8'), file, symbol, timeframe, (ms) => tradingDayAt(kind, ms))
      this.#parsed.set(file, s)
    }
    return s
  }

  /** The bars of trading days [startDay, endDay] (yyyymmdd) from wherever the files are. */
  async load (where: IntradayFiles, symbol: string, timeframe: IntradayTimeframe, kind: CalendarKind, startDay: number, endDay: number): Promise<BarSeries> {
    if ('file' in where) return sliceByDay(await this.readFile(where.file, symbol, timeframe, kind), startDay, endDay)
    const days = where.days.filter((d) => d >= startDay && d <= endDay)
    const parts: BarSeries[] = new Array(days.length)
    for (let i = 0; i < days.length; i += READ_CONCURRENCY) {
      await Promise.all(days.slice(i, i + READ_CONCURRENCY).map(async (d, j) => {
        const path = join(where.dir, `${dayNumberToDate(d)}.csv`)
        parts[i + j] = parseIntradayCsv(await readFile(path, 'utf8'), path, symbol, timeframe, () => d)
      }))
    }
    return concatSeries(symbol, timeframe, parts)
  }

  clear (): void {
    this.#parsed.clear()
  }
}
