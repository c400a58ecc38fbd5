// CSV bar source: a folder of Yahoo/Stooq-style daily files, one per symbol (`{SYMBOL}.csv`, or in `daily/`),
// and intraday files in timeframe folders (`1min/{SYMBOL}.csv`, or one file per day as the Parquet layout:
// `1min/{SYMBOL}/{YYYY-MM-DD}.csv`; csv-intraday.ts), with an optional manifest.json. Prices are served exactly
// as written; `Adj Close` is applied only on request. Without hourly files, hours are aggregated from minutes.
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { SymbolInfo, Timeframe, TimeframeAvailability } from '../../../schemas/market-data.js'
import { AppError } from '../../app-error.js'
import { aggregateToHours } from '../aggregate.js'
import type { BarSeries } from '../bar-series.js'
import { adjustedSeries, dayNumberToDate, emptySeries, sliceByDay } from '../bar-series.js'
import { calendarKindOf, nominalSessionNum, type CalendarKind } from '../calendar.js'
import { formatDate, parseDate, toDayNumber } from '../dates.js'
import type { BarSource, LoadOptions } from './bar-source.js'
import { csvFields, numberCell, readCsvTable } from './csv-columns.js'
import { IntradayCsvReader, dayFiles, type IntradayFiles, type IntradayTimeframe } from './csv-intraday.js'
import { dataError, describeFileSymbol, fileSymbolInfo, readManifest, timeframeOfFolder } from './file-catalog.js'

/** Parses one CSV file's text into a daily series; malformed rows throw naming the file and line. */
export function parseCsvBars (text: string, file: string, symbol: string, kind: CalendarKind): BarSeries {
  const { lines, width, col } = readCsvTable(text, file)
  const rows: Array<[number, number, number, number, number, number, number, number]> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '') continue
    const f = csvFields(line)
    if (f.length < width) throw dataError(file, i + 1, `expected ${width} fields, found ${f.length}`)
    const rawDate = f[col.date]
    const day = parseDate(/^\d{8}$/.test(rawDate) ? `${rawDate.slice(0, 4)}-${rawDate.slice(4, 6)}-${rawDate.slice(6, 8)}` : rawDate.slice(0, 10))
    if (day === null) throw dataError(file, i + 1, `invalid date '${rawDate}'`)
    // Yahoo writes "null" for every price of a day it has no data for: skip such rows, not fail.
    if (f[col.open] === 'null' && f[col.close] === 'null') continue
    const o = numberCell(f, col.open, 'open', file, i + 1)
    const h = numberCell(f, col.high, 'high', file, i + 1)
    const l = numberCell(f, col.low, 'low', file, i + 1)
    const c = numberCell(f, col.close, 'close', file, i + 1)
    const adj = col.adj === undefined ? Number.NaN : numberCell(f, col.adj, 'adj close', file, i + 1)
    const vol = col.volume === undefined || f[col.volume] === '' ? 0 : numberCell(f, col.volume, 'volume', file, i + 1)
    if (h < l) throw dataError(file, i + 1, `high ${h} is below low ${l}`)
    rows.push([day, o, h, l, c, adj, vol, i + 1])
  }
  rows.sort((a, b) => a[0] - b[0])
  for (let k = 1; k < rows.length; k++) {
    if (rows[k][0] === rows[k - 1][0]) throw dataError(file, rows[k][7], `duplicate date ${formatDate(rows[k][0])}`)
  }
  const s = emptySeries(symbol, '1d', rows.length, col.adj !== undefined)
  rows.forEach(([day, o, h, l, c, adj, vol], k) => {
    s.time[k] = nominalSessionNum(kind, day).open
    s.day[k] = toDayNumber(day)
    s.open[k] = o
    s.high[k] = h
    s.low[k] = l
    s.close[k] = c
    s.volume[k] = vol
    if (s.adjClose !== undefined) s.adjClose[k] = adj
  })
  return s
}

interface CsvSymbol {
  readonly fileSymbol: string
  readonly kind: CalendarKind
  daily?: BarSeries
  readonly intraday: Partial<Record<IntradayTimeframe, IntradayFiles>>
}

async function entriesOf (dir: string): Promise<Array<{ name: string, isDir: boolean }>> {
  const names = await readdir(dir)
  return await Promise.all(names.sort().map(async (name) => ({ name, isDir: (await stat(join(dir, name))).isDirectory() })))
}

const isCsv = (name: string): boolean => name.toLowerCase().endsWith('.csv')

export class CsvBarSource implements BarSource {
  readonly kind = 'csv' as const
  readonly dir: string
  private symbols = new Map<string, CsvSymbol>()
  private entries: SymbolInfo[] = []
  private readonly reader = new IntradayCsvReader()

  constructor (dir: string) {
    this.dir = dir
  }

  /**
   * Scans the folder: every daily file and every per-symbol intraday file is parsed (so a bad row stops the
   * start, and the catalogue knows each range); per-day files are listed by name and read when loaded.
   */
  async init (): Promise<void> {
    const manifest = await readManifest(this.dir)
    const symbols = new Map<string, CsvSymbol>()
    const symbolOf = (fileSymbol: string): [string, CsvSymbol] => {
      const d = describeFileSymbol(fileSymbol, manifest)
      let e = symbols.get(d.symbol)
      if (e === undefined) symbols.set(d.symbol, (e = { fileSymbol, kind: calendarKindOf(d.market), intraday: {} }))
      return [d.symbol, e]
    }
    this.reader.clear()
    const top = await entriesOf(this.dir)
    const dailyFiles = top.filter((e) => !e.isDir && isCsv(e.name)).map((e) => join(this.dir, e.name))
    for (const folder of top.filter((e) => e.isDir)) {
      const tf = timeframeOfFolder(folder.name)
      if (tf === '1d') dailyFiles.push(...(await readdir(join(this.dir, folder.name))).filter(isCsv).sort().map((f) => join(this.dir, folder.name, f)))
      else if (tf !== undefined) await this.scanIntraday(join(this.dir, folder.name), tf, symbolOf)
    }
    for (const path of dailyFiles) {
      const [symbol, e] = symbolOf(basename(path).slice(0, -4))
      if (e.daily !== undefined) throw dataError(path, null, `a second daily file for ${symbol}`)
      e.daily = parseCsvBars(await readFile(path, 'utf8'), path, symbol, e.kind)
    }
    this.symbols = symbols
    this.entries = [...symbols.values()].map((e) => fileSymbolInfo(e.fileSymbol, manifest, 'csv', availability(e))).filter((info) => info.timeframes.length > 0)
  }

  /** One timeframe folder: `{SYMBOL}.csv` files (parsed now for their range) and `{SYMBOL}/` folders of day files. */
  private async scanIntraday (folder: string, tf: IntradayTimeframe, symbolOf: (fileSymbol: string) => [string, CsvSymbol]): Promise<void> {
    for (const entry of await entriesOf(folder)) {
      if (!entry.isDir && !isCsv(entry.name)) continue
      const path = join(folder, entry.name)
      const [symbol, e] = symbolOf(entry.isDir ? entry.name : entry.name.slice(0, -4))
      if (e.intraday[tf] !== undefined) throw dataError(path, null, `${symbol} already has ${tf} files in ${folder}`)
      if (entry.isDir) {
        const days = dayFiles(await readdir(path))
        if (days.length > 0) e.intraday[tf] = { dir: path, days }
        continue
      }
      const s = await this.reader.readFile(path, symbol, tf, e.kind)
      if (s.length > 0) e.intraday[tf] = { file: path, first: s.day[0], last: s.day[s.length - 1] }
    }
  }

  listSymbols (): readonly SymbolInfo[] {
    return this.entries
  }

  async loadSeries (symbol: string, timeframe: Timeframe, startDate: string, endDate: string, options: LoadOptions = {}): Promise<BarSeries> {
    const e = this.symbols.get(symbol)
    if (e === undefined) throw new AppError('INVALID_SYMBOL', `'${symbol}' has no CSV file`, { invalid_symbols: [symbol] })
    const start = toDayNumber(parseDate(startDate)!)
    const end = toDayNumber(parseDate(endDate)!)
    if (timeframe === '1d' && e.daily !== undefined) {
      const slice = sliceByDay(e.daily, start, end)
      return options.adjusted === true ? adjustedSeries(slice) : slice
    }
    const own = timeframe === '1d' ? undefined : e.intraday[timeframe]
    const where = own ?? (timeframe === '1h' ? e.intraday['1m'] : undefined)
    if (where === undefined) {
      const available = availability(e).map((a) => a.timeframe)
      throw new AppError('INVALID_DATE_RANGE', `CSV data of ${symbol} has no ${timeframe} bars (it has ${available.join(', ')})`, { symbol, timeframe, available_timeframes: available })
    }
    const series = await this.reader.load(where, symbol, own !== undefined ? timeframe as IntradayTimeframe : '1m', e.kind, start, end)
    return own !== undefined ? series : aggregateToHours(series, e.kind)
  }
}

/** The timeframes a symbol's files give, with their first and last days (1h also from minutes). */
function availability (e: CsvSymbol): TimeframeAvailability[] {
  const out: TimeframeAvailability[] = []
  const range = (w: IntradayFiles): { first_date: string, last_date: string } => 'file' in w
    ? { first_date: dayNumberToDate(w.first), last_date: dayNumberToDate(w.last) }
    : { first_date: dayNumberToDate(w.days[0]), last_date: dayNumberToDate(w.days[w.days.length - 1]) }
  if (e.daily !== undefined && e.daily.length > 0) out.push({ timeframe: '1d', first_date: dayNumberToDate(e.daily.day[0]), last_date: dayNumberToDate(e.daily.day[e.daily.length - 1]) })
  const hour = e.intraday['1h'] ?? e.intraday['1m']
  if (hour !== undefined) out.push({ timeframe: '1h', ...range(hour) })
  if (e.intraday['1m'] !== undefined) out.push({ timeframe: '1m', ...range(e.intraday['1m']) })
  return out
}
