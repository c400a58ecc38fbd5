// The symbol catalogue: merges the bar sources' entries (a file source wins over the demo for the same
// symbol), resolves any accepted spelling to its entry and answers listing queries.
import type { ListSymbolsQuery, Market, SymbolInfo, SymbolList } from '../../schemas/market-data.js'
import { AppError } from '../app-error.js'
import type { BarSource } from './sources/bar-source.js'
import { compactKey, SymbolIndex } from './symbols.js'

interface Entry {
  info: SymbolInfo
  source: BarSource
  /** Lower-cased symbol, compact key and name, for `q` searches. */
  haystack: string
}

export const DEFAULT_LIST_LIMIT = 100

export class Catalog {
  private readonly sources: readonly BarSource[]
  private entries = new Map<string, Entry>()
  private sorted: Entry[] = []
  private index = new SymbolIndex([])
  private markets: Market[] = []
  private _version = 0

  /** `sources` in priority order: the first source listing a symbol serves it. */
  constructor (sources: readonly BarSource[]) {
    this.sources = sources
    this.rebuild()
  }

  /** Bumped on every rebuild, so dependants (the validator's cache) know to drop what they hold. */
  get version (): number {
    return this._version
  }

  /** Re-scan every source and rebuild the catalogue. */
  async reload (): Promise<void> {
    for (const s of this.sources) await s.init()
    this.rebuild()
  }

  private rebuild (): void {
    const entries = new Map<string, Entry>()
    for (const source of this.sources) {
      for (const info of source.listSymbols()) {
        if (entries.has(info.symbol)) continue
        const haystack = `${info.symbol}\n${compactKey(info.symbol).key}\n${info.name}`.toLowerCase()
        entries.set(info.symbol, { info, source, haystack })
      }
    }
    this.entries = entries
    this.sorted = [...entries.values()].sort((a, b) => a.info.symbol.localeCompare(b.info.symbol))
    this.index = new SymbolIndex(this.sorted.map((e) => e.info))
    this.markets = [...new Set(this.sorted.map((e) => e.info.market))].sort()
    this._version++
  }

  list (query: ListSymbolsQuery = {}): SymbolList {
    const q = query.q?.toLowerCase()
    const limit = query.limit ?? DEFAULT_LIST_LIMIT
    const symbols: SymbolInfo[] = []
    let total = 0
    for (const e of this.sorted) {
      if (query.asset_class !== undefined && e.info.asset_class !== query.asset_class) continue
      if (query.market !== undefined && e.info.market !== query.market) continue
      if (q !== undefined && !e.haystack.includes(q)) continue
      total++
      if (symbols.length < limit) symbols.push(e.info)
    }
    return { symbols, total }
  }

  /** The entry for any accepted spelling, or null. */
  resolve (symbolOrAlias: string): SymbolInfo | null {
    const symbol = this.index.resolve(symbolOrAlias)
    return symbol === null ? null : this.entries.get(symbol)!.info
  }

  /** The entry for any accepted spelling; unknown symbols throw INVALID_SYMBOL with suggestions. */
  get (symbolOrAlias: string): SymbolInfo {
    const info = this.resolve(symbolOrAlias)
    if (info !== null) return info
    const suggestions = this.suggest(symbolOrAlias)
    throw new AppError('INVALID_SYMBOL', `Unknown symbol '${symbolOrAlias}'${suggestions.length > 0 ? ` (did you mean ${suggestions.join(', ')}?)` : ''}`, {
      invalid_symbols: [symbolOrAlias],
      suggestions: { [symbolOrAlias]: suggestions },
      supported_markets: this.supportedMarkets()
    })
  }

  suggest (input: string): string[] {
    return this.index.suggest(input, 3)
  }

  /** The source serving a canonical symbol. */
  sourceOf (symbol: string): BarSource {
    const e = this.entries.get(symbol)
    if (e === undefined) throw new AppError('INVALID_SYMBOL', `Unknown symbol '${symbol}'`, { invalid_symbols: [symbol] })
    return e.source
  }

  supportedMarkets (): Market[] {
    return [...this.markets]
  }

  /** Canonical symbols, optionally of one market, sorted. */
  symbols (market?: Market): string[] {
    return this.sorted.filter((e) => market === undefined || e.info.market === market).map((e) => e.info.symbol)
  }
}
