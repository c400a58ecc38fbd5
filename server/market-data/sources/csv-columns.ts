// The header and fields of a bar CSV file, daily or intraday: column names in the spellings vendors use
// (Yahoo, Stooq English and Polish, Stooq bulk `<DATE>`, Polygon's one letters), found by name in any order.
import { dataError } from './file-catalog.js'

export type Column = 'date' | 'open' | 'high' | 'low' | 'close' | 'adj' | 'volume'

const HEADER_ALIASES: Record<string, Column> = {
  date: 'date', data: 'date', day: 'date', timestamp: 'date', datetime: 'date', time: 'date', t: 'date',
  open: 'open', otwarcie: 'open', o: 'open',
  high: 'high', najwyzszy: 'high', h: 'high',
  low: 'low', najnizszy: 'low', l: 'low',
  close: 'close', zamkniecie: 'close', c: 'close',
  'adj close': 'adj', adj_close: 'adj', adjclose: 'adj', 'adjusted close': 'adj', adjusted_close: 'adj',
  volume: 'volume', vol: 'volume', wolumen: 'volume', v: 'volume'
}

export interface CsvTable {
  /** Every line of the file, the header first (a byte-order mark removed). */
  readonly lines: string[]
  /** How many fields the header has: a row with fewer is malformed. */
  readonly width: number
  /** The index of each known column; date, open, high, low and close are always present. */
  readonly col: Readonly<Partial<Record<Column, number>>> & Readonly<Record<'date' | 'open' | 'high' | 'low' | 'close', number>>
}

/** The file's lines and columns; a missing required column throws naming the file, line 1 and the header. */
export function readCsvTable (text: string, file: string): CsvTable {
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
  return { lines, width: header.length, col: col as CsvTable['col'] }
}

/** The fields of one line, trimmed and unquoted. */
export function csvFields (line: string): string[] {
  return line.split(',').map((x) => x.trim().replace(/^"|"$/g, ''))
}

/** A price or volume cell as a finite number, or a data error naming the column, file and line. */
export function numberCell (fields: readonly string[], index: number, name: string, file: string, line: number): number {
  const s = fields[index]
  const v = s === '' ? Number.NaN : Number(s)
  if (!Number.isFinite(v)) throw dataError(file, line, `${name} '${s}' is not a number`)
  return v
}
