// The built-in demo data set: deterministic SYNTHETIC bars (not real prices) for US stocks/ETFs, major forex
// pairs and crypto, so the server works with zero setup. Daily bars are a seeded random walk; minute and
// hourly bars are generated on demand and aggregate exactly to the daily bar of their day.
import type { AssetClass, Market, SymbolInfo, Timeframe } from '../../../schemas/market-data.js'
import { AppError } from '../../app-error.js'
import type { BarSeries } from '../bar-series.js'
import { concatSeries, emptySeries, sliceByDay } from '../bar-series.js'
import { aggregateToHours, MINUTE_MS } from '../aggregate.js'
import { calendarKindOf, nominalSessionNum, tradingDaysNum, type CalendarKind } from '../calendar.js'
import { civilFromDays, daysFromCivil, formatDate, fromDayNumber, parseDate, toDayNumber, utcDay } from '../dates.js'
import { aliasesFor } from '../symbols.js'
import type { BarSource, LoadOptions } from './bar-source.js'

interface DemoSpec {
  symbol: string
  name: string
  asset_class: AssetClass
  market: Market
  currency: string
  /** Price level the walk starts at and reverts to. */
  price: number
  /** Annualised volatility. */
  vol: number
  /** Typical daily volume (shares, units of base currency, coins). */
  volume: number
  /** Tick = 10^-decimals. */
  decimals: number
}

const stock = (symbol: string, name: string, market: Market, price: number, vol: number, volume: number): DemoSpec =>
  ({ symbol, name, asset_class: 'stock', market, currency: 'USD', price, vol, volume, decimals: 2 })
const fx = (symbol: string, name: string, price: number, vol: number, decimals = 5): DemoSpec =>
  ({ symbol, name, asset_class: 'forex', market: 'FOREX', currency: symbol.slice(4), price, vol, volume: 250_000, decimals })
const coin = (symbol: string, name: string, price: number, vol: number, volume: number, decimals = 2): DemoSpec =>
  ({ symbol, name, asset_class: 'crypto', market: 'CRYPTO', currency: 'USD', price, vol, volume, decimals })

export const DEMO_SPECS: readonly DemoSpec[] = [
  stock('AAPL', 'Apple Inc.', 'NASDAQ', 150, 0.28, 80_000_000),
  stock('MSFT', 'Microsoft Corporation', 'NASDAQ', 250, 0.25, 30_000_000),
  stock('GOOGL', 'Alphabet Inc. Class A', 'NASDAQ', 120, 0.28, 30_000_000),
  stock('AMZN', 'Amazon.com Inc.', 'NASDAQ', 130, 0.32, 50_000_000),
  stock('META', 'Meta Platforms Inc.', 'NASDAQ', 250, 0.38, 20_000_000),
  stock('NVDA', 'NVIDIA Corporation', 'NASDAQ', 200, 0.5, 50_000_000),
  stock('TSLA', 'Tesla Inc.', 'NASDAQ', 200, 0.55, 100_000_000),
  stock('NFLX', 'Netflix Inc.', 'NASDAQ', 350, 0.45, 6_000_000),
  stock('AMD', 'Advanced Micro Devices Inc.', 'NASDAQ', 90, 0.55, 60_000_000),
  stock('INTC', 'Intel Corporation', 'NASDAQ', 40, 0.32, 35_000_000),
  stock('QQQ', 'Invesco QQQ Trust', 'NASDAQ', 330, 0.22, 45_000_000),
  stock('JPM', 'JPMorgan Chase & Co.', 'NYSE', 130, 0.25, 10_000_000),
  stock('BRK.B', 'Berkshire Hathaway Inc. Class B', 'NYSE', 300, 0.18, 4_000_000),
  stock('JNJ', 'Johnson & Johnson', 'NYSE', 160, 0.17, 7_000_000),
  stock('V', 'Visa Inc.', 'NYSE', 220, 0.22, 7_000_000),
  stock('WMT', 'Walmart Inc.', 'NYSE', 140, 0.2, 8_000_000),
  stock('XOM', 'Exxon Mobil Corporation', 'NYSE', 90, 0.28, 18_000_000),
  stock('PG', 'Procter & Gamble Company', 'NYSE', 140, 0.17, 7_000_000),
  stock('KO', 'Coca-Cola Company', 'NYSE', 55, 0.16, 13_000_000),
  stock('DIS', 'Walt Disney Company', 'NYSE', 110, 0.27, 10_000_000),
  stock('SPY', 'SPDR S&P 500 ETF Trust', 'NYSE', 400, 0.17, 80_000_000),
  stock('IWM', 'iShares Russell 2000 ETF', 'NYSE', 190, 0.23, 30_000_000),
  fx('EUR/USD', 'Euro / US Dollar', 1.15, 0.08),
  fx('GBP/USD', 'British Pound / US Dollar', 1.35, 0.09),
  fx('USD/JPY', 'US Dollar / Japanese Yen', 115, 0.09, 3),
  fx('AUD/USD', 'Australian Dollar / US Dollar', 0.75, 0.1),
  fx('USD/CAD', 'US Dollar / Canadian Dollar', 1.28, 0.07),
  fx('USD/CHF', 'US Dollar / Swiss Franc', 0.95, 0.08),
  coin('BTC/USD', 'Bitcoin / US Dollar', 20_000, 0.7, 30_000),
  coin('ETH/USD', 'Ethereum / US Dollar', 1_500, 0.85, 400_000),
  coin('SOL/USD', 'Solana / US Dollar', 50, 1.0, 2_000_000),
  coin('LTC/USD', 'Litecoin / US Dollar', 80, 0.8, 500_000),
  // XRP trades below a dollar: a 0.01 tick would quantise its moves away, so it gets 0.0001.
  coin('XRP/USD', 'XRP / US Dollar', 0.5, 0.9, 1_000_000_000, 4)
]

const DEMO_FIRST_DATE = daysFromCivil(2010, 1, 1)
// Daily pull of the log price back to its level: keeps 15 years of walk within a plausible band.
const MEAN_REVERSION = 0.003

// ---------------------------------------------------------------- deterministic randomness

/** FNV-1a 32-bit hash of a string: the seed of a symbol's (or a symbol-day's) random stream. */
export function hashSeed (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** mulberry32: tiny, fast, well-distributed 32-bit PRNG returning floats in [0, 1). */
export class Rng {
  private state: number
  private spare = Number.NaN
  constructor (seed: number) { this.state = seed >>> 0 }

  next (): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Standard normal (Box–Muller, both values used). */
  gauss (): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare
      this.spare = Number.NaN
      return s
    }
    const u = 1 - this.next()
    const v = this.next()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

// ---------------------------------------------------------------- daily bars

/**
 * Daily bars from the first demo day through `endDay`. Every bar consumes a fixed number of random draws
 * from one stream and depends only on the previous close, so bar k never changes when the range grows.
 */
function generateDaily (spec: DemoSpec, kind: CalendarKind, endDay: number): BarSeries {
  const days = tradingDaysNum(kind, DEMO_FIRST_DATE, endDay)
  const s = emptySeries(spec.symbol, '1d', days.length)
  const rng = new Rng(hashSeed(`daily|${spec.symbol}`))
  const scale = 10 ** spec.decimals
  const sigma = spec.vol / Math.sqrt(kind === 'crypto' ? 365 : 252)
  const level = Math.log(spec.price)
  let prev = level
  for (let k = 0; k < days.length; k++) {
    const zGap = rng.gauss()
    const zRet = rng.gauss()
    const zHi = rng.gauss()
    const zLo = rng.gauss()
    const zVol = rng.gauss()
    rng.gauss() // spare draw keeps the stream aligned to whole Box–Muller pairs
    const logOpen = prev + sigma * 0.15 * zGap
    const logClose = logOpen + MEAN_REVERSION * (level - prev) + sigma * zRet
    const o = Math.max(1, Math.round(Math.exp(logOpen) * scale))
    const c = Math.max(1, Math.round(Math.exp(logClose) * scale))
    let h = Math.max(o, c, Math.ceil(Math.exp(Math.max(logOpen, logClose) + sigma * 0.5 * Math.abs(zHi)) * scale))
    let l = Math.max(1, Math.min(o, c, Math.floor(Math.exp(Math.min(logOpen, logClose) - sigma * 0.5 * Math.abs(zLo)) * scale)))
    // Leave room for an intraday path even on a quiet day.
    if (h === l) {
      h += 1
      if (l > 1) l -= 1
    }
    const b = nominalSessionNum(kind, days[k])
    s.time[k] = b.open
    s.day[k] = toDayNumber(days[k])
    s.open[k] = o / scale
    s.high[k] = h / scale
    s.low[k] = l / scale
    s.close[k] = c / scale
    s.volume[k] = Math.max(1, Math.round(spec.volume * Math.exp(0.25 * zVol + 0.3 * (Math.abs(zRet) - 0.8))))
    prev = Math.log(c / scale)
  }
  return s
}

// ---------------------------------------------------------------- intraday bars

/** Brownian bridge from (a, va) to (b, vb) in ticks, rounded and clamped to [lo, hi]. */
function bridge (x: Float64Array, a: number, b: number, va: number, vb: number, sd: number, lo: number, hi: number, rng: Rng): void {
  x[a] = va
  const n = b - a
  let w = 0
  for (let k = a + 1; k <= b; k++) {
    w += sd * rng.gauss()
    x[k] = w
  }
  const wEnd = x[b]
  for (let k = a + 1; k < b; k++) {
    const f = (k - a) / n
    const v = Math.round(va + (vb - va) * f + x[k] - f * wEnd)
    x[k] = v < lo ? lo : v > hi ? hi : v
  }
  x[b] = vb
}

/**
 * One Brownian bridge from the open to the close (in ticks), stretched separately above and below the
 * open→close line so that its maximum is exactly `H` and its minimum exactly `L`. Unlike legs aimed at the
 * extremes, this leaves minute returns without a predictable drift: an SMA crossover on these paths earns
 * what it would on noise (an earlier three-leg construction let it "earn" a Sharpe of 13). Returns false
 * when a needed side has no excursion to stretch (the caller then falls back to explicit legs).
 */
function stretchedBridge (x: Float64Array, n: number, O: number, H: number, L: number, C: number, rng: Rng): boolean {
  let w = 0
  x[0] = 0
  for (let k = 1; k <= n; k++) { w += rng.gauss(); x[k] = w }
  const wEnd = x[n]
  for (let k = 0; k <= n; k++) x[k] -= (k / n) * wEnd
  let up = Number.POSITIVE_INFINITY
  let down = Number.POSITIVE_INFINITY
  let kHi = -1
  let kLo = -1
  for (let k = 1; k < n; k++) {
    const base = O + ((C - O) * k) / n
    if (x[k] > 0) {
      const r = (H - base) / x[k]
      if (r < up) { up = r; kHi = k }
    } else if (x[k] < 0) {
      const r = (base - L) / -x[k]
      if (r < down) { down = r; kLo = k }
    }
  }
  const needHigh = H > Math.max(O, C)
  const needLow = L < Math.min(O, C)
  if ((needHigh && kHi < 0) || (needLow && kLo < 0)) return false
  for (let k = 1; k < n; k++) {
    const base = O + ((C - O) * k) / n
    const v = Math.round(base + (x[k] > 0 ? up * x[k] : down * x[k]))
    x[k] = v < L ? L : v > H ? H : v
  }
  x[0] = O
  x[n] = C
  // The stretch reaches the extremes analytically; pin them so rounding cannot miss by a tick.
  if (needHigh) x[kHi] = H
  if (needLow) x[kLo] = L
  return true
}

/**
 * Writes the `n` minute bars of one day into `out` at `at`, conditioned on the day's bar (prices in ticks):
 * the path starts at the open, touches the high and the low at random minutes, ends at the close and never
 * leaves [low, high]; volumes are integers summing to the day's volume. So the minutes aggregate exactly.
 */
function fillMinutes (
  out: BarSeries, at: number, n: number, t0: number, dayNum: number, seed: number, scale: number,
  O: number, H: number, L: number, C: number, V: number, x: Float64Array
): void {
  const rng = new Rng(seed)
  if (n < 4) {
    // Degenerate session (never produced by the calendars): the first bar carries the whole day.
    for (let i = 0; i < n; i++) {
      out.time[at + i] = t0 + i * MINUTE_MS
      out.day[at + i] = dayNum
      out.open[at + i] = (i === 0 ? O : C) / scale
      out.high[at + i] = (i === 0 ? H : C) / scale
      out.low[at + i] = (i === 0 ? L : C) / scale
      out.close[at + i] = C / scale
      out.volume[at + i] = i === 0 ? V : 0
    }
    return
  }
  const sd = Math.max(1, H - L) * 0.3 / Math.sqrt(n)
  if (!stretchedBridge(x, n, O, H, L, C, rng)) {
    // Rare: the bridge never left one side of the open→close line, so it cannot be stretched to reach that
    // side's extreme. Pass through both extremes explicitly instead.
    const highFirst = rng.next() < (C >= O ? 0.35 : 0.65)
    let t1 = 1 + Math.floor(rng.next() * (n - 1))
    let t2 = 1 + Math.floor(rng.next() * (n - 1))
    if (t1 === t2) t2 = t1 < n - 1 ? t1 + 1 : t1 - 1
    if (t1 > t2) [t1, t2] = [t2, t1]
    const e1 = highFirst ? H : L
    const e2 = highFirst ? L : H
    bridge(x, 0, t1, O, e1, sd, L, H, rng)
    bridge(x, t1, t2, e1, e2, sd, L, H, rng)
    bridge(x, t2, n, e2, C, sd, L, H, rng)
  }

  let wSum = 0
  for (let i = 0; i < n; i++) {
    const o = x[i]
    const c = x[i + 1]
    let hi = o > c ? o : c
    let lo = o < c ? o : c
    hi = Math.min(H, hi + Math.floor(Math.abs(rng.gauss()) * sd * 0.5))
    lo = Math.max(L, lo - Math.floor(Math.abs(rng.gauss()) * sd * 0.5))
    const j = at + i
    out.time[j] = t0 + i * MINUTE_MS
    out.day[j] = dayNum
    out.open[j] = o / scale
    out.high[j] = hi / scale
    out.low[j] = lo / scale
    out.close[j] = c / scale
    // U-shaped intraday volume profile with noise; normalised below.
    const u = (2 * i) / (n - 1) - 1
    const w = (1 + 1.5 * u * u) * (0.5 + rng.next())
    out.volume[j] = w
    wSum += w
  }
  let assigned = 0
  for (let i = 0; i < n; i++) {
    const v = Math.floor((V * out.volume[at + i]) / wSum)
    out.volume[at + i] = v
    assigned += v
  }
  let rem = V - assigned
  // Floors lose less than one unit per bar, so 0 ≤ rem < n; spread it evenly (float slack guarded both ways).
  for (let j = 0; rem > 0; j++, rem--) out.volume[at + Math.floor((j * n) / (V - assigned))] += 1
  for (let i = 0; rem < 0 && i < n; i++) {
    while (rem < 0 && out.volume[at + i] > 0) {
      out.volume[at + i] -= 1
      rem++
    }
  }
}

// ---------------------------------------------------------------- the source

export interface DemoSourceOptions {
  /** Clock deciding the last demo day (Dec 31 of last year). */
  now?: () => number
}

export class DemoBarSource implements BarSource {
  readonly kind = 'demo' as const
  private readonly now: () => number
  private readonly specs = new Map<string, DemoSpec>()
  private readonly daily = new Map<string, BarSeries>()
  private entries: SymbolInfo[] = []
  private endDay = 0
  private scratch = new Float64Array(1441)

  constructor (options: DemoSourceOptions = {}) {
    this.now = options.now ?? Date.now
    for (const s of DEMO_SPECS) this.specs.set(s.symbol, s)
    this.build()
  }

  async init (): Promise<void> {
    this.build()
  }

  listSymbols (): readonly SymbolInfo[] {
    return this.entries
  }

  /** The demo's catalogue is computed, not scanned, so it is ready from construction. */
  private build (): void {
    const year = civilFromDays(utcDay(this.now()))[0]
    const endDay = daysFromCivil(year - 1, 12, 31)
    if (endDay !== this.endDay) this.daily.clear()
    this.endDay = endDay
    this.entries = DEMO_SPECS.map((spec) => {
      const kind = calendarKindOf(spec.market)
      let first = DEMO_FIRST_DATE
      while (!tradingDaysNum(kind, first, first).length) first++
      let last = endDay
      while (!tradingDaysNum(kind, last, last).length) last--
      const range = { first_date: formatDate(first), last_date: formatDate(last) }
      return {
        symbol: spec.symbol,
        name: spec.name,
        asset_class: spec.asset_class,
        market: spec.market,
        currency: spec.currency,
        timeframes: (['1d', '1h', '1m'] as const).map((timeframe) => ({ timeframe, ...range })),
        aliases: aliasesFor(spec.symbol, spec.asset_class),
        synthetic: true,
        source: 'demo' as const
      }
    })
  }

  private spec (symbol: string): DemoSpec {
    const spec = this.specs.get(symbol)
    if (spec === undefined) throw new AppError('INVALID_SYMBOL', `'${symbol}' is not in the demo data set`, { invalid_symbols: [symbol] })
    return spec
  }

  /** The whole daily history of a symbol, generated once and cached. */
  dailySeries (symbol: string): BarSeries {
    let s = this.daily.get(symbol)
    if (s === undefined) {
      const spec = this.spec(symbol)
      s = generateDaily(spec, calendarKindOf(spec.market), this.endDay)
      this.daily.set(symbol, s)
    }
    return s
  }

  async loadSeries (symbol: string, timeframe: Timeframe, startDate: string, endDate: string, _options?: LoadOptions): Promise<BarSeries> {
    return this.loadSeriesSync(symbol, timeframe, startDate, endDate)
  }

  /** Synchronous form of loadSeries (the demo needs no I/O); used by tests and the bench. */
  loadSeriesSync (symbol: string, timeframe: Timeframe, startDate: string, endDate: string): BarSeries {
    const start = parseDate(startDate)
    const end = parseDate(endDate)
    if (start === null || end === null) {
      throw new AppError('INVALID_DATE_RANGE', `Invalid date range ${startDate}..${endDate}`, { start_date: startDate, end_date: endDate })
    }
    const days = sliceByDay(this.dailySeries(symbol), toDayNumber(start), toDayNumber(end))
    if (timeframe === '1d') return days
    const kind = calendarKindOf(this.spec(symbol).market)
    if (timeframe === '1m') return this.minutes(symbol, kind, days, 0, days.length)
    // Hourly bars: aggregate a month of minutes at a time so a long range never holds all its minutes at once.
    const parts: BarSeries[] = []
    for (let i = 0; i < days.length; i += 31) {
      parts.push(aggregateToHours(this.minutes(symbol, kind, days, i, Math.min(days.length, i + 31)), kind))
    }
    return concatSeries(symbol, '1h', parts)
  }

  /** Minute bars of daily bars [from, to) of `days`. */
  private minutes (symbol: string, kind: CalendarKind, days: BarSeries, from: number, to: number): BarSeries {
    const spec = this.spec(symbol)
    const scale = 10 ** spec.decimals
    const bounds = []
    let total = 0
    for (let k = from; k < to; k++) {
      const b = nominalSessionNum(kind, fromDayNumber(days.day[k]))
      const n = Math.round((b.close - b.open) / MINUTE_MS)
      bounds.push([b.open, n])
      total += n
    }
    const out = emptySeries(symbol, '1m', total)
    let at = 0
    for (let k = from; k < to; k++) {
      const [t0, n] = bounds[k - from]
      if (this.scratch.length < n + 1) this.scratch = new Float64Array(n + 1)
      fillMinutes(
        out, at, n, t0, days.day[k], hashSeed(`${symbol}|${days.day[k]}`), scale,
        Math.round(days.open[k] * scale), Math.round(days.high[k] * scale), Math.round(days.low[k] * scale),
        Math.round(days.close[k] * scale), days.volume[k], this.scratch
      )
      at += n
    }
    return out
  }
}
