// MarketDataService: the one entry point of market data for REST routes, WebSocket handlers, the session
// manager and the simulation runner — catalogue, validation, bars and calendars, with no transport in it.
import type {
  BarsQuery, BarsResponse, ListSymbolsQuery, Market, MarketDataValidation, SymbolInfo, SymbolList, Timeframe, ValidateMarketDataBody
} from '../../schemas/market-data.js'
import { MAX_BARS_PER_REQUEST } from '../../schemas/market-data.js'
import { AppError } from '../app-error.js'
import type { BarSeries } from './bar-series.js'
import { barAt } from './bar-series.js'
import { calendarFor, calendarKindOf, marketSessionAt, nominalSessionNum, isTradingDayNum, type MarketCalendar, type MarketSession } from './calendar.js'
import { Catalog } from './catalog.js'
import { formatDate, fromDayNumber, parseDate } from './dates.js'
import type { BarSource, LoadOptions } from './sources/bar-source.js'
import { createBarSources } from './sources/index.js'
import { describeSources } from './describe-sources.js'
import { MarketDataValidator } from './validator.js'
import { SharedCache, type Lease } from './shared-cache.js'

export interface MarketDataServiceOptions {
  /** Folder of CSV files or of the Parquet `candles/` layout (SIMUTRADOR_DATA_DIR). */
  dataDir?: string
  /** Serve the synthetic demo data set (default true). */
  demo?: boolean
  /** Clock: decides "today" for validation and the demo's last day. */
  now?: () => number
  /** Cached validation verdicts (default 1000). */
  cacheSize?: number
  /** Lifetime of a cached verdict in ms (default 5 minutes). */
  cacheTtlMs?: number
  /** Replace the sources entirely (tests); `dataDir`/`demo` are then ignored. */
  sources?: BarSource[]
}

export interface SessionRequest {
  symbols: string[]
  start_date: string
  end_date: string
  timeframe: Timeframe
}

const DEFAULT_BARS_LIMIT = 10000
const STEP_MS: Record<Timeframe, number> = { '1d': 86_400_000, '1h': 3_600_000, '1m': 60_000 }

/** Symbols whose market marketSessionAt remembers (any spelling of a known symbol; cleared past this). */
const MAX_REMEMBERED_MARKETS = 4096

export class MarketDataService {
  readonly catalog: Catalog
  readonly #sources: readonly BarSource[]
  readonly #markets = new Map<string, Market>()
  #marketsVersion = -1
  readonly validator: MarketDataValidator
  /**
   * Bar series of the runs in progress, one per source, symbol, timeframe and range (and catalogue version,
   * so a reload never hands a new run stale bars): 50 runs of AAPL 1m 2023 hold its bars once, and they are
   * dropped when the last of those runs releases them. A different range, even an overlapping one, is
   * another entry (1d ranges are views on the source's cached daily arrays anyway; intraday bars are
   * generated or read per range, and slicing a wider loaded range would keep all of it alive).
   */
  readonly sharedSeries = new SharedCache<BarSeries>()
  private initialised: Promise<void> | null = null

  /** The demo catalogue is usable at once; call `init()` before use when `dataDir` is set (it scans the files). */
  constructor (options: MarketDataServiceOptions = {}) {
    const now = options.now ?? Date.now
    const sources = options.sources ?? createBarSources({ dataDir: options.dataDir, demo: options.demo, now })
    this.#sources = sources
    this.catalog = new Catalog(sources)
    this.validator = new MarketDataValidator(this.catalog, { now, cacheSize: options.cacheSize, cacheTtlMs: options.cacheTtlMs })
  }

  /** Scans the sources (idempotent; concurrent callers share one scan). */
  init (): Promise<void> {
    this.initialised ??= this.catalog.reload()
    return this.initialised
  }

  /** Re-scans the sources (new files, new year for the demo) and drops cached verdicts. */
  async reload (): Promise<void> {
    this.initialised = this.catalog.reload()
    await this.initialised
    this.validator.clearCache()
  }

  /** The sources loaded, in one line (the start banner's `Market data:`). */
  describeSources (): string {
    return describeSources(this.#sources)
  }

  listSymbols (query: ListSymbolsQuery = {}): SymbolList {
    return this.catalog.list(query)
  }

  /** One catalogue entry by any accepted spelling; INVALID_SYMBOL with suggestions otherwise. */
  getSymbol (symbolOrAlias: string): SymbolInfo {
    return this.catalog.get(symbolOrAlias)
  }

  /** Verdict on symbols and a date range; domain failures come back as `valid: false`, never thrown. Treat as read-only (cached). */
  validate (body: ValidateMarketDataBody): MarketDataValidation {
    return this.validator.validate(body)
  }

  /**
   * Synchronous. Canonical symbols and the number of timeline steps of a simulation over the request
   * (1d: days on which any symbol trades; 1h/1m: distinct bar timestamps over the symbols' sessions).
   * Throws AppError INVALID_SYMBOL (all unknown symbols, with suggestions), VALIDATION_FAILED (duplicates)
   * or INVALID_DATE_RANGE.
   */
  validateSessionRequest (req: SessionRequest): { symbols: string[], estimated_ticks: number } {
    return this.validator.validateSessionRequest(req)
  }

  /** OHLCV bars for charts and warm-up, cut to `limit` (default 10000, at most 50000). */
  async getBars (symbol: string, query: BarsQuery): Promise<BarsResponse> {
    const info = this.catalog.get(symbol)
    const timeframe = query.timeframe ?? '1d'
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? DEFAULT_BARS_LIMIT)), MAX_BARS_PER_REQUEST)
    const start = parseDate(query.start)
    const end = parseDate(query.end)
    if (start === null || end === null) {
      throw new AppError('INVALID_DATE_RANGE', `Invalid dates ${query.start}..${query.end}: expected real YYYY-MM-DD dates`, { start: query.start, end: query.end })
    }
    if (start > end) throw new AppError('INVALID_DATE_RANGE', `start ${query.start} is after end ${query.end}`, { start: query.start, end: query.end })
    const avail = info.timeframes.find((t) => t.timeframe === timeframe)
    if (avail === undefined) {
      throw new AppError('INVALID_DATE_RANGE', `No ${timeframe} data for ${info.symbol}`, { symbol: info.symbol, timeframe, available_timeframes: info.timeframes.map((t) => t.timeframe) })
    }
    const from = Math.max(start, parseDate(avail.first_date)!)
    let to = Math.min(end, parseDate(avail.last_date)!)
    const empty = { symbol: info.symbol, timeframe, bars: [], synthetic: info.synthetic, truncated: false }
    if (from > to) return empty
    let cut = false
    if (timeframe !== '1d') {
      // Intraday: stop loading once the calendar says `limit` bars are covered, so a long range of
      // minutes is never generated or read just to be thrown away.
      const kind = calendarKindOf(info.market)
      let n = 0
      for (let d = from; d <= to; d++) {
        if (!isTradingDayNum(kind, d)) continue
        const b = nominalSessionNum(kind, d)
        n += Math.ceil((b.close - b.open) / STEP_MS[timeframe])
        if (n >= limit && d < to) {
          to = d
          cut = true
          break
        }
      }
    }
    const series = await this.catalog.sourceOf(info.symbol).loadSeries(info.symbol, timeframe, formatDate(from), formatDate(to), { adjusted: query.adjusted })
    const count = Math.min(series.length, limit)
    const bars = new Array(count)
    for (let i = 0; i < count; i++) bars[i] = barAt(series, i)
    return { ...empty, bars, truncated: cut || series.length > limit }
  }

  /** Bars of a symbol (any accepted spelling) for the simulation; the series carries the canonical symbol. */
  async loadSeries (symbol: string, timeframe: Timeframe, start: string, end: string, options: LoadOptions = {}): Promise<BarSeries> {
    const info = this.catalog.get(symbol)
    if (parseDate(start) === null || parseDate(end) === null) {
      throw new AppError('INVALID_DATE_RANGE', `Invalid dates ${start}..${end}: expected real YYYY-MM-DD dates`, { start_date: start, end_date: end })
    }
    return this.catalog.sourceOf(info.symbol).loadSeries(info.symbol, timeframe, start, end, options)
  }

  /**
   * Bars of a symbol for a simulation run, shared with every other run of the same source, symbol,
   * timeframe and range (concurrent first acquires share one load). The series is frozen and must not be
   * written to; call `release()` once the run no longer needs it.
   */
  async acquireSeries (symbol: string, timeframe: Timeframe, start: string, end: string): Promise<Lease<BarSeries>> {
    const info = this.catalog.get(symbol)
    if (parseDate(start) === null || parseDate(end) === null) {
      throw new AppError('INVALID_DATE_RANGE', `Invalid dates ${start}..${end}: expected real YYYY-MM-DD dates`, { start_date: start, end_date: end })
    }
    const source = this.catalog.sourceOf(info.symbol)
    const key = `${source.kind}|${info.symbol}|${timeframe}|${start}|${end}|v${this.catalog.version}`
    return await this.sharedSeries.acquire(key, async () => Object.freeze(await source.loadSeries(info.symbol, timeframe, start, end)))
  }

  marketOf (symbol: string): Market {
    return this.catalog.get(symbol).market
  }

  /** The trading calendar of a symbol's market (sessions, holidays, market session at an instant). */
  calendarFor (symbol: string): MarketCalendar {
    return calendarFor(this.marketOf(symbol))
  }

  /**
   * Which session ('pre' | 'regular' | 'after' | 'closed') a symbol's market is in at an instant. Called for
   * every intraday tick of a run, so the symbol's market is remembered (per catalogue version) instead of
   * resolving the symbol through the catalogue each time.
   */
  marketSessionAt (symbol: string, epochMs: number): MarketSession {
    if (this.#marketsVersion !== this.catalog.version || this.#markets.size >= MAX_REMEMBERED_MARKETS) {
      this.#markets.clear()
      this.#marketsVersion = this.catalog.version
    }
    let market = this.#markets.get(symbol)
    if (market === undefined) {
      market = this.marketOf(symbol)
      this.#markets.set(symbol, market)
    }
    return marketSessionAt(market, epochMs)
  }

  /**
   * When a symbol's daily bar of trading day `day` (yyyymmdd) closes: its market's regular close that day from
   * the calendar (NYSE 16:00 New York, 13:00 on early-close days; forex 17:00 New York; crypto midnight UTC).
   */
  dailyCloseAt (symbol: string, day: number): number {
    return nominalSessionNum(calendarKindOf(this.marketOf(symbol)), fromDayNumber(day)).close
  }
}
