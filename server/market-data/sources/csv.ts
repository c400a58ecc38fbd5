// CSV bar source: a folder of Yahoo/Stooq-style daily files, one per symbol (`{SYMBOL}.csv`), with an
// optional manifest.json. Prices are served exactly as written; `Adj Close` is applied only on request.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SymbolInfo, Timeframe } from '../../../schemas/market-data.js'
import { AppError } from '../../app-error.js'
import type { BarSeries } from '../bar-series.js'
import { adjustedSeries, dayNumberToDate, emptySeries, sliceByDay } from '../bar-series.js'
import { calendarKindOf, nominalSessionNum, type CalendarKind } from '../calendar.js'
import { formatDate, parseDate, toDayNumber } from '../dates.js'
import type { BarSource, LoadOptions } from './bar-source.js'
import { dataError, describeFileSymbol, fileSymbolInfo, readManifest } from './file-catalog.js'

type Column = 'date' | 'open' | 'high' | 'low' | 'close' | 'adj' | 'volume'

// Header spellings: Yahoo (`Adj Close`), Stooq English and Polish, Stooq bulk files (`<DATE>`, `<VOL>`).
const HEADER_ALIASES: Record<string, Column> = {
  date: 'date', data: 'date', day: 'date',
  open: 'open', otwarcie: 'open', o: 'open',
  high: 'high', najwyzszy: 'high', h: 'high',
  low: 'low', najnizszy: 'low', l: 'low',
  close: 'close', zamkniecie: 'close', c: 'close',
  'adj close': 'adj', adj_close: 'adj', adjclose: 'adj', 'adjusted close': 'adj', adjusted_close: 'adj',
  volume: 'volume', vol: 'volume', wolumen: 'volume', v: 'volume'
}

/** Parses one CSV file's text into a daily series; malformed rows throw naming the file and line. */
export function parseCsvBars (text: string, file: string, symbol: string, kind: CalendarKind): BarSeries {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const header = lines[0].split(',').map((h) => h.trim().replace(/^["<]+|[">]+$/g, '').toLowerCase())
  const col: Partial<Record<Column, number>> = {}
  header.forEach((h, i) => {
    const c = HEADER_ALIASES[h]
    if (c !== undefined && col[c] === undefined) col[c] = i
  })
  for (const need of ['date', 'open', 'high', 'low', 'close'] as const) {
    if (col[need] === undefined) throw dataError(file, 1, `missing column '${need}' in header (${lines[0].trim()})`)
  }
  const rows: Array<[number, number, number, number, number, number, number, number]> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '') continue
    const f = line.split(',').map((x) => x.trim().replace(/^"|"$/g, ''))
    if (f.length < header.length) throw dataError(file, i + 1, `expected ${header.length} fields, found ${f.length}`)
    const rawDate = f[col.date!]
    const day = parseDate(/^\d{8}$/.test(rawDate) ? `${rawDate.slice(0, 4)}-${rawDate.slice(4, 6)}-${rawDate.slice(6, 8)}` : rawDate.slice(0, 10))
    if (day === null) throw dataError(file, i + 1, `invalid date '${rawDate}'`)
    // Yahoo writes "null" for every price of a day it has no data for: skip such rows, not fail.
    if (f[col.open!] === 'null' && f[col.close!] === 'null') continue
    // Only called for columns the header has (required ones are checked above, optional ones guarded).
    const num = (c: Column): number => {
      const s = f[col[c]!]
      const v = s === '' ? Number.NaN : Number(s)
      if (!Number.isFinite(v)) throw dataError(file, i + 1, `${c === 'adj' ? 'adj close' : c} '${s}' is not a number`)
      return v
    }
    const o = num('open')
    const h = num('high')
    const l = num('low')
    const c = num('close')
    const adj = col.adj === undefined ? Number.NaN : num('adj')
    const vol = col.volume === undefined || f[col.volume] === '' ? 0 : num('volume')
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

export class CsvBarSource implements BarSource {
  readonly kind = 'csv' as const
  private readonly dir: string
  private series = new Map<string, BarSeries>()
  private entries: SymbolInfo[] = []

  constructor (dir: string) {
    this.dir = dir
  }

  /** Parses every `*.csv` of the folder (daily files are small) so the catalogue knows each date range. */
  async init (): Promise<void> {
    const manifest = await readManifest(this.dir)
    const files = (await readdir(this.dir)).filter((f) => f.toLowerCase().endsWith('.csv')).sort()
    const series = new Map<string, BarSeries>()
    const entries: SymbolInfo[] = []
    for (const f of files) {
      const stem = f.slice(0, -4)
      const d = describeFileSymbol(stem, manifest)
      const path = join(this.dir, f)
      const s = parseCsvBars(await readFile(path, 'utf8'), path, d.symbol, calendarKindOf(d.market))
      if (s.length === 0) continue
      series.set(d.symbol, s)
      const range = { first_date: dayNumberToDate(s.day[0]), last_date: dayNumberToDate(s.day[s.length - 1]) }
      entries.push(fileSymbolInfo(stem, manifest, 'csv', [{ timeframe: '1d', ...range }]))
    }
    this.series = series
    this.entries = entries
  }

  listSymbols (): readonly SymbolInfo[] {
    return this.entries
  }

  async loadSeries (symbol: string, timeframe: Timeframe, startDate: string, endDate: string, options: LoadOptions = {}): Promise<BarSeries> {
    const s = this.series.get(symbol)
    if (s === undefined) throw new AppError('INVALID_SYMBOL', `'${symbol}' has no CSV file`, { invalid_symbols: [symbol] })
    if (timeframe !== '1d') throw new AppError('INVALID_DATE_RANGE', `CSV data of ${symbol} is daily only; no ${timeframe} bars`, { symbol, timeframe, available_timeframes: ['1d'] })
    const slice = sliceByDay(s, toDayNumber(parseDate(startDate)!), toDayNumber(parseDate(endDate)!))
    return options.adjusted === true ? adjustedSeries(slice) : slice
  }
}
