// MarketDataValidator: decides whether a set of symbols, a date range and a timeframe can be simulated —
// every unknown symbol at once with suggestions, duplicates, malformed/inverted/future ranges, data
// availability and trading sessions — and caches verdicts in a bounded TTL LRU.
import type {
  DateRangeVerdict, Market, MarketDataError, MarketDataValidation, SymbolInfo, SymbolVerdict, Timeframe, ValidateMarketDataBody
} from '../../schemas/market-data.js'
import { AppError } from '../app-error.js'
import type { Catalog } from './catalog.js'
import { calendarKindOf, countBarSlots, countTradingDaysNum, countUnionTradingDays, type CalendarKind } from './calendar.js'
import { formatDate, parseDate, utcDay } from './dates.js'
import { LruCache } from './lru-cache.js'

export interface MarketDataValidatorOptions {
  now?: () => number
  cacheSize?: number
  cacheTtlMs?: number
}

export interface DateRangeOptions {
  symbols?: readonly string[]
  timeframe?: Timeframe
}

/** A full verdict plus what the session manager needs from it. */
export interface ValidationOutcome {
  validation: MarketDataValidation
  /** Canonical symbols in request order (null where unknown). */
  canonical: Array<string | null>
  /** Timeline steps of a simulation over the request; null unless the request is valid. */
  estimatedTicks: number | null
}

export const DEFAULT_CACHE_SIZE = 1000
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000

const STEP_MS: Record<Timeframe, number> = { '1d': 86_400_000, '1h': 3_600_000, '1m': 60_000 }

// Errors are thrown in this order of precedence when a request fails in several ways.
const ERROR_PRECEDENCE = ['INVALID_SYMBOL', 'VALIDATION_FAILED', 'INVALID_DATE_RANGE']

export class MarketDataValidator {
  private readonly catalog: Catalog
  private readonly now: () => number
  private readonly cache: LruCache<string, ValidationOutcome>
  private cacheVersion: number

  constructor (catalog: Catalog, options: MarketDataValidatorOptions = {}) {
    this.catalog = catalog
    this.now = options.now ?? Date.now
    this.cache = new LruCache({ maxSize: options.cacheSize ?? DEFAULT_CACHE_SIZE, ttlMs: options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS, now: this.now })
    this.cacheVersion = catalog.version
  }

  /** Entries currently cached (for tests and metrics). */
  get cacheSize (): number {
    return this.cache.size
  }

  clearCache (): void {
    this.cache.clear()
  }

  // ------------------------------------------------------------ the plan's API

  /** Per-symbol verdicts; all unknown symbols reported in one INVALID_SYMBOL error, duplicates as VALIDATION_FAILED. */
  validateSymbols (symbols: readonly string[]): { valid: boolean, symbols: SymbolVerdict[], errors: MarketDataError[] } {
    const verdicts: SymbolVerdict[] = []
    const errors: MarketDataError[] = []
    const invalid: string[] = []
    const suggestions: Record<string, string[]> = {}
    const seen = new Map<string, string>()
    const duplicates: Array<{ input: string, symbol: string, duplicate_of: string }> = []
    for (const input of symbols) {
      const info = this.catalog.resolve(input)
      if (info === null) {
        const s = this.catalog.suggest(input)
        invalid.push(input)
        suggestions[input] = s
        verdicts.push({
          input,
          symbol: null,
          valid: false,
          error_code: 'INVALID_SYMBOL',
          message: `Unknown symbol '${input}'`,
          suggestions: s
        })
        continue
      }
      const first = seen.get(info.symbol)
      if (first !== undefined) {
        duplicates.push({ input, symbol: info.symbol, duplicate_of: first })
        verdicts.push({ input, symbol: info.symbol, valid: false, error_code: 'VALIDATION_FAILED', message: `'${input}' is the same symbol as '${first}' (${info.symbol})` })
        continue
      }
      seen.set(info.symbol, input)
      verdicts.push({ input, symbol: info.symbol, valid: true })
    }
    if (invalid.length > 0) {
      errors.push({
        error_code: 'INVALID_SYMBOL',
        message: `Unknown symbol${invalid.length > 1 ? 's' : ''}: ${invalid.join(', ')}`,
        details: { invalid_symbols: invalid, suggestions, supported_markets: this.catalog.supportedMarkets() }
      })
    }
    if (duplicates.length > 0) {
      errors.push({
        error_code: 'VALIDATION_FAILED',
        message: `Duplicate symbols: ${duplicates.map((d) => `${d.input} = ${d.duplicate_of}`).join(', ')}`,
        details: { duplicate_symbols: duplicates }
      })
    }
    return { valid: errors.length === 0, symbols: verdicts, errors }
  }

  /**
   * Checks a date range on its own (well-formed, ordered, not in the future) and, for the given symbols
   * (any accepted spelling; unknown ones are skipped), against their data availability and trading sessions.
   */
  validateDateRange (start: string, end: string, options: DateRangeOptions = {}): { valid: boolean, date_range: DateRangeVerdict, symbols: SymbolVerdict[], errors: MarketDataError[] } {
    const timeframe = options.timeframe ?? '1d'
    const verdicts: SymbolVerdict[] = []
    for (const input of options.symbols ?? []) {
      const info = this.catalog.resolve(input)
      if (info !== null) verdicts.push({ input, symbol: info.symbol, valid: true })
    }
    const infos = verdicts.map((v) => this.catalog.resolve(v.symbol!)!)
    const r = this.checkRange(start, end, timeframe, infos, verdicts)
    return { valid: r.errors.length === 0, date_range: r.verdict, symbols: verdicts, errors: r.errors }
  }

  /** Canonical symbols, optionally of one market. */
  getSupportedSymbols (market?: Market): string[] {
    return this.catalog.symbols(market)
  }

  /** First and last dates with bars of a symbol for a timeframe; INVALID_SYMBOL / INVALID_DATE_RANGE otherwise. */
  getAvailableDateRange (symbol: string, timeframe: Timeframe = '1d'): { symbol: string, timeframe: Timeframe, first_date: string, last_date: string } {
    const info = this.catalog.get(symbol)
    const a = info.timeframes.find((t) => t.timeframe === timeframe)
    if (a === undefined) {
      throw new AppError('INVALID_DATE_RANGE', `No ${timeframe} data for ${info.symbol}`, { symbol: info.symbol, timeframe, available_timeframes: info.timeframes.map((t) => t.timeframe) })
    }
    return { symbol: info.symbol, timeframe, first_date: a.first_date, last_date: a.last_date }
  }

  // ------------------------------------------------------------ whole requests

  /** The full verdict on a request, cached. Never throws for domain failures. */
  validate (body: ValidateMarketDataBody): MarketDataValidation {
    return this.outcome(body).validation
  }

  /** Canonical symbols and estimated ticks of a valid request; throws the request's first error otherwise. */
  validateSessionRequest (req: { symbols: readonly string[], start_date: string, end_date: string, timeframe?: Timeframe }): { symbols: string[], estimated_ticks: number } {
    const o = this.outcome(req)
    if (!o.validation.valid) throw toAppError(o.validation.errors)
    return { symbols: o.canonical as string[], estimated_ticks: o.estimatedTicks! }
  }

  /** Cached verdict with the canonical symbols and tick estimate. Results are shared: treat as read-only. */
  outcome (body: { symbols: readonly string[], start_date: string, end_date: string, timeframe?: Timeframe }): ValidationOutcome {
    if (this.catalog.version !== this.cacheVersion) {
      this.cache.clear()
      this.cacheVersion = this.catalog.version
    }
    const timeframe = body.timeframe ?? '1d'
    const key = `${timeframe}|${body.start_date}|${body.end_date}|${body.symbols.join('\u0000')}`
    const hit = this.cache.get(key)
    if (hit !== undefined) return hit
    const o = this.compute(body.symbols, body.start_date, body.end_date, timeframe)
    this.cache.set(key, o)
    return o
  }

  private compute (symbols: readonly string[], start: string, end: string, timeframe: Timeframe): ValidationOutcome {
    const s = this.validateSymbols(symbols)
    const infos: SymbolInfo[] = []
    const rangeVerdicts: SymbolVerdict[] = []
    for (const v of s.symbols) {
      if (v.valid) {
        infos.push(this.catalog.resolve(v.symbol!)!)
        rangeVerdicts.push(v)
      }
    }
    const r = this.checkRange(start, end, timeframe, infos, rangeVerdicts)
    const errors = [...s.errors, ...r.errors]
    const valid = errors.length === 0
    let estimatedTicks: number | null = null
    if (valid) {
      estimatedTicks = this.estimateTicks(infos.map((i) => i.market), r.startDay!, r.endDay!, timeframe)
      r.verdict.estimated_ticks = estimatedTicks
    }
    return {
      validation: { valid, symbols: s.symbols, date_range: r.verdict, errors },
      canonical: s.symbols.map((v) => v.symbol),
      estimatedTicks
    }
  }

  /** Timeline steps: for daily bars the union of trading days, for intraday the union of bar timestamps. */
  estimateTicks (markets: readonly Market[], startDay: number, endDay: number, timeframe: Timeframe): number {
    const kinds: CalendarKind[] = markets.map(calendarKindOf)
    if (kinds.length === 0) return 0
    if (timeframe === '1d') return countUnionTradingDays(kinds, startDay, endDay)
    return countBarSlots(kinds, startDay, endDay, STEP_MS[timeframe])
  }

  /** Range checks; fills availability and session counts into the (valid) symbol verdicts it is given. */
  private checkRange (start: string, end: string, timeframe: Timeframe, infos: readonly SymbolInfo[], verdicts: SymbolVerdict[]): { verdict: DateRangeVerdict, errors: MarketDataError[], startDay: number | null, endDay: number | null } {
    const verdict: DateRangeVerdict = { start_date: start, end_date: end, timeframe, valid: true }
    const errors: MarketDataError[] = []
    const fail = (message: string, details: Record<string, unknown>): void => {
      errors.push({ error_code: 'INVALID_DATE_RANGE', message, details })
    }
    const startDay = parseDate(start)
    const endDay = parseDate(end)
    const today = utcDay(this.now())
    if (startDay === null) fail(`start_date '${start}' is not a valid YYYY-MM-DD date`, { start_date: start })
    if (endDay === null) fail(`end_date '${end}' is not a valid YYYY-MM-DD date`, { end_date: end })
    if (startDay !== null && endDay !== null) {
      if (startDay > endDay) fail(`start_date ${start} is after end_date ${end}`, { start_date: start, end_date: end })
      else if (endDay > today) fail(`end_date ${end} is in the future (today is ${formatDate(today)})`, { end_date: end, today: formatDate(today) })
    }
    if (errors.length > 0) {
      verdict.valid = false
      verdict.error_code = 'INVALID_DATE_RANGE'
      verdict.message = errors.map((e) => e.message).join('; ')
      return { verdict, errors, startDay: null, endDay: null }
    }
    const s = startDay!
    const e = endDay!
    const rangeProblems: string[] = []
    for (let i = 0; i < infos.length; i++) {
      const info = infos[i]
      const v = verdicts[i]
      const avail = info.timeframes.find((t) => t.timeframe === timeframe)
      const markInvalid = (message: string, details: Record<string, unknown>): void => {
        v.valid = false
        v.error_code = 'INVALID_DATE_RANGE'
        v.message = message
        fail(message, details)
        rangeProblems.push(message)
      }
      if (avail === undefined) {
        markInvalid(`No ${timeframe} data for ${info.symbol}`, { symbol: info.symbol, timeframe, available_timeframes: info.timeframes.map((t) => t.timeframe) })
        continue
      }
      v.first_date = avail.first_date
      v.last_date = avail.last_date
      const sessions = countTradingDaysNum(calendarKindOf(info.market), s, e)
      v.trading_sessions = sessions
      if (start < avail.first_date || end > avail.last_date) {
        markInvalid(`${start}..${end} is outside the ${timeframe} data of ${info.symbol} (${avail.first_date}..${avail.last_date})`, {
          symbol: info.symbol, timeframe, first_date: avail.first_date, last_date: avail.last_date
        })
      } else if (sessions === 0) {
        markInvalid(`${info.market} has no trading session for ${info.symbol} between ${start} and ${end}`, { symbol: info.symbol, market: info.market, start_date: start, end_date: end })
      }
    }
    if (infos.length > 0) verdict.trading_sessions = countUnionTradingDays(infos.map((i) => calendarKindOf(i.market)), s, e)
    if (rangeProblems.length > 0) {
      verdict.valid = false
      verdict.error_code = 'INVALID_DATE_RANGE'
      verdict.message = rangeProblems.join('; ')
    }
    return { verdict, errors, startDay: s, endDay: e }
  }
}

/** The AppError a failed verdict stands for: its highest-precedence code, all of that code's problems. */
export function toAppError (errors: readonly MarketDataError[]): AppError {
  for (const code of ERROR_PRECEDENCE) {
    const same = errors.filter((e) => e.error_code === code)
    if (same.length === 0) continue
    if (same.length === 1) return new AppError(same[0].error_code, same[0].message, same[0].details)
    return new AppError(same[0].error_code, same.map((e) => e.message).join('; '), { ...same[0].details, problems: same.map((e) => ({ message: e.message, ...e.details })) })
  }
  const first = errors[0]
  return new AppError(first.error_code, first.message, first.details)
}
