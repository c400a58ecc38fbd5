// Parquet bar source for the SimuTrador data-manager layout: `candles/daily/{SYMBOL}.parquet` and
// `candles/{timeframe}/{SYMBOL}/{YYYY-MM-DD}.parquet`, columns `date, open, high, low, close, volume`.
// Read with hyparquet; hourly bars are aggregated from minutes when the layout has no hourly folder.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'
import type { SymbolInfo, Timeframe, TimeframeAvailability } from '../../../schemas/market-data.js'
import { AppError } from '../../app-error.js'
import type { BarSeries } from '../bar-series.js'
import { concatSeries, dayNumberToDate, emptySeries, sliceByDay } from '../bar-series.js'
import { aggregateToHours } from '../aggregate.js'
import { calendarKindOf, forexDayAt, type CalendarKind } from '../calendar.js'
import { DAY_MS, parseDate, toDayNumber } from '../dates.js'
import type { BarSource, LoadOptions } from './bar-source.js'
import { TIMEFRAME_FOLDERS, dataError, describeFileSymbol, fileSymbolInfo, readManifest, type Manifest } from './file-catalog.js'

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.parquet$/
// Files read at once when loading a range of day files.
const READ_CONCURRENCY = 8

interface IntradayIndex {
  dir: string
  /** Sorted trading days (yyyymmdd) that have a file. */
  days: number[]
}

interface SymbolFiles {
  fileSymbol: string
  kind: CalendarKind
  daily?: string
  intraday: Partial<Record<'1m' | '1h', IntradayIndex>>
}

async function listDir (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch {
    return []
  }
}

async function isDir (path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

/**
 * Epoch ms of a `date` cell: hyparquet gives DATE and TIMESTAMP columns as Date; raw integers are taken as
 * seconds, ms, µs or ns by magnitude; strings as ISO (a missing zone means UTC).
 */
export function cellToEpochMs (v: unknown): number {
  if (v instanceof Date) return v.getTime()
  if (typeof v === 'bigint') v = Number(v)
  if (typeof v === 'number') {
    const a = Math.abs(v)
    if (a < 1e11) return v * 1000
    if (a < 1e14) return v
    if (a < 1e17) return Math.floor(v / 1000)
    return Math.floor(v / 1e6)
  }
  if (typeof v === 'string') {
    const s = v.trim()
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s.replace(' ', 'T') : `${s.replace(' ', 'T')}Z`
    return Date.parse(iso)
  }
  return Number.NaN
}

function num (row: Record<string, unknown>, key: string): number {
  const v = row[key]
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : v === null || v === undefined ? Number.NaN : Number(v)
}

/** Reads one Parquet file of bars. `dayOf` maps a bar's instant to its trading day (yyyymmdd). */
async function readBarsFile (path: string, symbol: string, timeframe: Timeframe, dayOf: (ms: number) => number): Promise<BarSeries> {
  let rows: Array<Record<string, unknown>>
  try {
    rows = await parquetReadObjects({ file: await asyncBufferFromFile(path) })
  } catch (err) {
    throw dataError(path, null, `cannot read Parquet (${(err as Error).message})`)
  }
  const s = emptySeries(symbol, timeframe, rows.length)
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]
    const t = cellToEpochMs(r.date ?? r.timestamp ?? r.datetime)
    if (!Number.isFinite(t)) throw dataError(path, i + 1, `row ${i + 1} has no valid 'date'`)
    const o = num(r, 'open')
    const h = num(r, 'high')
    const l = num(r, 'low')
    const c = num(r, 'close')
    if (![o, h, l, c].every(Number.isFinite)) throw dataError(path, i + 1, `row ${i + 1} has a missing or non-numeric price`)
    const v = num(r, 'volume')
    s.time[i] = t
    s.day[i] = dayOf(t)
    s.open[i] = o
    s.high[i] = h
    s.low[i] = l
    s.close[i] = c
    s.volume[i] = Number.isFinite(v) ? v : 0
  }
  return sortByTime(s)
}

function sortByTime (s: BarSeries): BarSeries {
  let sorted = true
  for (let i = 1; i < s.length && sorted; i++) sorted = s.time[i] > s.time[i - 1]
  if (sorted) return s
  const idx = Array.from({ length: s.length }, (_, i) => i).sort((a, b) => s.time[a] - s.time[b])
  const out = emptySeries(s.symbol, s.timeframe, s.length)
  idx.forEach((j, i) => {
    out.time[i] = s.time[j]
    out.day[i] = s.day[j]
    out.open[i] = s.open[j]
    out.high[i] = s.high[j]
    out.low[i] = s.low[j]
    out.close[i] = s.close[j]
    out.volume[i] = s.volume[j]
  })
  return out
}

export class ParquetBarSource implements BarSource {
  readonly kind = 'parquet' as const
  readonly dir: string
  private files = new Map<string, SymbolFiles>()
  private entries: SymbolInfo[] = []
  private readonly dailyCache = new Map<string, BarSeries>()

  constructor (dir: string) {
    this.dir = dir
  }

  async init (): Promise<void> {
    const candles = join(this.dir, 'candles')
    const manifest: Manifest = { ...(await readManifest(candles)), ...(await readManifest(this.dir)) }
    const files = new Map<string, SymbolFiles>()
    const entry = (fileSymbol: string): SymbolFiles => {
      const d = describeFileSymbol(fileSymbol, manifest)
      let f = files.get(d.symbol)
      if (f === undefined) files.set(d.symbol, (f = { fileSymbol, kind: calendarKindOf(d.market), intraday: {} }))
      return f
    }
    const folders = await listDir(candles)
    const dailyFolder = folders.find((f) => TIMEFRAME_FOLDERS['1d'].includes(f.toLowerCase()))
    if (dailyFolder !== undefined) {
      for (const f of (await listDir(join(candles, dailyFolder))).sort()) {
        if (f.toLowerCase().endsWith('.parquet')) entry(f.slice(0, -8)).daily = join(candles, dailyFolder, f)
      }
    }
    for (const tf of ['1m', '1h'] as const) {
      const folder = folders.find((f) => TIMEFRAME_FOLDERS[tf].includes(f.toLowerCase()))
      if (folder === undefined) continue
      for (const sym of (await listDir(join(candles, folder))).sort()) {
        const dir = join(candles, folder, sym)
        if (!(await isDir(dir))) continue
        const days = (await listDir(dir)).map((f) => DAY_FILE.exec(f)).filter((m) => m !== null && parseDate(m[1]) !== null)
          .map((m) => toDayNumber(parseDate(m![1])!)).sort((a, b) => a - b)
        if (days.length > 0) entry(sym).intraday[tf] = { dir, days }
      }
    }
    const entries: SymbolInfo[] = []
    this.dailyCache.clear()
    for (const [symbol, f] of files) {
      const timeframes: TimeframeAvailability[] = []
      if (f.daily !== undefined) {
        const s = await this.readDaily(symbol, f)
        if (s.length > 0) timeframes.push({ timeframe: '1d', first_date: dayNumberToDate(s.day[0]), last_date: dayNumberToDate(s.day[s.length - 1]) })
      }
      const minute = f.intraday['1m']
      const hour = f.intraday['1h'] ?? minute
      if (hour !== undefined) timeframes.push({ timeframe: '1h', first_date: dayNumberToDate(hour.days[0]), last_date: dayNumberToDate(hour.days[hour.days.length - 1]) })
      if (minute !== undefined) timeframes.push({ timeframe: '1m', first_date: dayNumberToDate(minute.days[0]), last_date: dayNumberToDate(minute.days[minute.days.length - 1]) })
      if (timeframes.length > 0) entries.push(fileSymbolInfo(f.fileSymbol, manifest, 'parquet', timeframes))
    }
    this.files = files
    this.entries = entries
  }

  listSymbols (): readonly SymbolInfo[] {
    return this.entries
  }

  /** A daily file, read once: a daily bar's day is its UTC date (forex: the 17:00 New York day it ends). */
  private async readDaily (symbol: string, f: SymbolFiles): Promise<BarSeries> {
    let s = this.dailyCache.get(symbol)
    if (s === undefined) {
      const dayOf = f.kind === 'forex'
        ? (ms: number) => toDayNumber(ms % DAY_MS === 0 ? ms / DAY_MS : forexDayAt(ms))
        : (ms: number) => toDayNumber(Math.floor(ms / DAY_MS))
      s = await readBarsFile(f.daily!, symbol, '1d', dayOf)
      this.dailyCache.set(symbol, s)
    }
    return s
  }

  async loadSeries (symbol: string, timeframe: Timeframe, startDate: string, endDate: string, _options?: LoadOptions): Promise<BarSeries> {
    const f = this.files.get(symbol)
    if (f === undefined) throw new AppError('INVALID_SYMBOL', `'${symbol}' has no Parquet files`, { invalid_symbols: [symbol] })
    const start = toDayNumber(parseDate(startDate)!)
    const end = toDayNumber(parseDate(endDate)!)
    if (timeframe === '1d') {
      if (f.daily === undefined) throw noData(symbol, timeframe)
      return sliceByDay(await this.readDaily(symbol, f), start, end)
    }
    const own = f.intraday[timeframe]
    const index = own ?? (timeframe === '1h' ? f.intraday['1m'] : undefined)
    if (index === undefined) throw noData(symbol, timeframe)
    const days = index.days.filter((d) => d >= start && d <= end)
    const parts: BarSeries[] = new Array(days.length)
    for (let i = 0; i < days.length; i += READ_CONCURRENCY) {
      await Promise.all(days.slice(i, i + READ_CONCURRENCY).map(async (d, j) => {
        const date = dayNumberToDate(d)
        parts[i + j] = await readBarsFile(join(index.dir, `${date}.parquet`), symbol, own !== undefined ? timeframe : '1m', () => d)
      }))
    }
    const series = concatSeries(symbol, own !== undefined ? timeframe : '1m', parts)
    return own !== undefined ? series : aggregateToHours(series, f.kind)
  }
}

function noData (symbol: string, timeframe: Timeframe): AppError {
  return new AppError('INVALID_DATE_RANGE', `No ${timeframe} data for ${symbol}`, { symbol, timeframe })
}
