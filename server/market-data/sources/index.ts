// Builds the bar sources a server runs with: the data folder's CSV or Parquet files (chosen by what the
// folder holds) ahead of the built-in demo set, so a file symbol overrides the demo symbol of the same name.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { AppError } from '../../app-error.js'
import type { BarSource } from './bar-source.js'
import { CsvBarSource } from './csv.js'
import { timeframeOfFolder } from './file-catalog.js'
import { DemoBarSource } from './demo.js'
import { ParquetBarSource } from './parquet.js'

export interface BarSourcesOptions {
  /** Folder with `candles/` (Parquet layout), or `*.csv` files and timeframe folders of them; usually SIMUTRADOR_DATA_DIR. */
  dataDir?: string
  /** Serve the synthetic demo set too (default true). */
  demo?: boolean
  now?: () => number
}

/** `*.csv` files, or a timeframe folder (`daily/`, `1min/`, `1h/` …) for the CSV source to read. */
function holdsCsv (dir: string): boolean {
  return readdirSync(dir).some((f) => f.toLowerCase().endsWith('.csv') || (timeframeOfFolder(f) !== undefined && statSync(join(dir, f)).isDirectory()))
}

/** Sources in priority order. File sources must be `init()`ed (the catalogue's reload does it). */
export function createBarSources (options: BarSourcesOptions): BarSource[] {
  const sources: BarSource[] = []
  if (options.dataDir !== undefined && options.dataDir !== '') {
    const dir = options.dataDir
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new AppError('INTERNAL_ERROR', `Market-data directory ${dir} does not exist`, { data_dir: dir })
    }
    if (existsSync(join(dir, 'candles')) && statSync(join(dir, 'candles')).isDirectory()) {
      sources.push(new ParquetBarSource(dir))
    } else if (holdsCsv(dir)) {
      sources.push(new CsvBarSource(dir))
    } else {
      throw new AppError('INTERNAL_ERROR', `Market-data directory ${dir} holds neither a candles/ folder (Parquet) nor *.csv files or timeframe folders (daily/, 1min/, 1h/) of them`, { data_dir: dir })
    }
  }
  if (options.demo !== false) sources.push(new DemoBarSource({ now: options.now }))
  return sources
}
