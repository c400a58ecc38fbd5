// The market data a server loaded, in one line for its start banner: which sources, where, how many symbols
// and which timeframes (`CSV files in /data (2 symbols; 1d, 1m) + demo (synthetic, 33 symbols)`).
import { resolve } from 'node:path'
import type { Timeframe } from '../../schemas/market-data.js'
import type { BarSource } from './sources/bar-source.js'

const LABEL = { csv: 'CSV files in', parquet: 'Parquet layout in' } as const
const ORDER: readonly Timeframe[] = ['1d', '1h', '1m']

function describeOne (source: BarSource): string {
  const symbols = source.listSymbols()
  const count = `${symbols.length} symbol${symbols.length === 1 ? '' : 's'}`
  if (source.kind === 'demo') return `demo (synthetic, ${count})`
  const timeframes = new Set(symbols.flatMap((s) => s.timeframes.map((tf) => tf.timeframe)))
  const listed = ORDER.filter((tf) => timeframes.has(tf)).join(', ')
  return `${LABEL[source.kind]} ${resolve(source.dir ?? '.')} (${count}${listed === '' ? '' : `; ${listed}`})`
}

/** The sources in priority order, joined by `+` (a file symbol wins over the demo one of the same name). */
export function describeSources (sources: readonly BarSource[]): string {
  return sources.length === 0 ? 'none' : sources.map(describeOne).join(' + ')
}
