// The port every bar source implements (built-in demo, CSV folder, Parquet data-manager layout), so the
// catalogue, validator and simulation read bars the same way whatever holds them.
import type { BarSourceKind, SymbolInfo, Timeframe } from '../../../schemas/market-data.js'
import type { BarSeries } from '../bar-series.js'

export interface LoadOptions {
  /** Serve split/dividend-adjusted prices when the source has them (CSV `Adj Close`); ignored otherwise. */
  adjusted?: boolean
}

export interface BarSource {
  readonly kind: BarSourceKind
  /** The folder a file source reads (absent for the built-in demo set). */
  readonly dir?: string
  /** Scan the source (files, manifests) and build its catalogue entries; called again on reload. */
  init (): Promise<void>
  /** Catalogue entries with canonical symbols and per-timeframe availability (valid after `init`). */
  listSymbols (): readonly SymbolInfo[]
  /**
   * Bars of a canonical symbol whose trading day lies in [startDate, endDate] (YYYY-MM-DD, inclusive).
   * `time` is each bar's start instant and `day` its trading day (see bar-series.ts).
   */
  loadSeries (symbol: string, timeframe: Timeframe, startDate: string, endDate: string, options?: LoadOptions): Promise<BarSeries>
}
