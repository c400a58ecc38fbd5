// Benchmarks of the market-data service: validation latency with a cold and a warm cache, and demo minute-bar
// generation for a year of one stock. Run: npx tsx scripts/bench/market-data.ts
import { MarketDataService } from '../../server/market-data/market-data-service.js'
import { DemoBarSource } from '../../server/market-data/sources/demo.js'
import { formatDate, parseDate } from '../../server/market-data/dates.js'

const now = (): number => Date.parse('2025-06-15T12:00:00Z')
const SYMBOLS = ['AAPL', 'msft', 'EURUSD', 'X:BTCUSD', 'brk-b']

function percentiles (samples: number[]): { p50: number, p99: number, mean: number } {
  const s = [...samples].sort((a, b) => a - b)
  return {
    p50: s[Math.floor(s.length * 0.5)],
    p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))],
    mean: s.reduce((a, b) => a + b, 0) / s.length
  }
}

function report (label: string, samplesUs: number[]): void {
  const p = percentiles(samplesUs)
  console.log(`${label.padEnd(58)} p50 ${p.p50.toFixed(1).padStart(8)} µs   p99 ${p.p99.toFixed(1).padStart(8)} µs   mean ${p.mean.toFixed(1).padStart(8)} µs   (n=${samplesUs.length})`)
}

const svc = new MarketDataService({ now, cacheSize: 100_000 })
await svc.init()
const base = parseDate('2015-01-05')!

// Warm the JIT and the calendars' per-year tables outside the measurement.
for (let i = 0; i < 2000; i++) svc.validate({ symbols: SYMBOLS, start_date: formatDate(base - 400 + (i % 300)), end_date: '2023-12-29', timeframe: '1d' })
svc.validator.clearCache()

// Cold: every request differs (start date), so each one is a cache miss and a full validation.
const cold: number[] = []
for (let i = 0; i < 3000; i++) {
  const body = { symbols: SYMBOLS, start_date: formatDate(base + i), end_date: '2023-12-29', timeframe: '1d' as const }
  const t0 = performance.now()
  svc.validate(body)
  cold.push((performance.now() - t0) * 1000)
}
report('validate 5 symbols, 1d, cache miss', cold)

const warmBody = { symbols: SYMBOLS, start_date: '2020-01-02', end_date: '2023-12-29', timeframe: '1d' as const }
svc.validate(warmBody)
const warm: number[] = []
for (let i = 0; i < 20000; i++) {
  const t0 = performance.now()
  svc.validate(warmBody)
  warm.push((performance.now() - t0) * 1000)
}
report('validate 5 symbols, 1d, cache hit', warm)
// Per-call timing above includes performance.now() itself; a batched loop shows the call alone.
const batchStart = performance.now()
for (let i = 0; i < 100_000; i++) svc.validate(warmBody)
console.log(`${'validate 5 symbols, 1d, cache hit (batched mean)'.padEnd(58)} ${(((performance.now() - batchStart) * 1000) / 100_000).toFixed(2).padStart(12)} µs`)
const coldBatch = 3000
svc.validator.clearCache()
const coldStart = performance.now()
for (let i = 0; i < coldBatch; i++) svc.validate({ symbols: SYMBOLS, start_date: formatDate(base + 3000 + i), end_date: '2024-12-31', timeframe: '1d' })
console.log(`${'validate 5 symbols, 1d, cache miss (batched mean)'.padEnd(58)} ${(((performance.now() - coldStart) * 1000) / coldBatch).toFixed(2).padStart(12)} µs`)

const sessCold: number[] = []
for (let i = 0; i < 500; i++) {
  const req = { symbols: SYMBOLS, start_date: formatDate(base + i), end_date: '2023-12-29', timeframe: '1m' as const }
  const t0 = performance.now()
  svc.validateSessionRequest(req)
  sessCold.push((performance.now() - t0) * 1000)
}
report('validateSessionRequest 5 symbols, 1m, ~9 years, cache miss', sessCold)

// Demo minute bars: a fresh source each run so nothing is cached (the daily walk is generated too).
const gen: number[] = []
let bars = 0
for (let i = 0; i < 5; i++) {
  const demo = new DemoBarSource({ now })
  const t0 = performance.now()
  bars = demo.loadSeriesSync('AAPL', '1m', '2024-01-01', '2024-12-31').length
  gen.push(performance.now() - t0)
}
const g = percentiles(gen)
console.log(`${'demo 1m bars, one stock, one year (incl. daily walk)'.padEnd(58)} p50 ${g.p50.toFixed(1).padStart(8)} ms   max ${Math.max(...gen).toFixed(1).padStart(8)} ms   (${bars} bars)`)

const demo = new DemoBarSource({ now })
demo.loadSeriesSync('BTC/USD', '1d', '2024-01-01', '2024-01-02')
const t0 = performance.now()
const crypto = demo.loadSeriesSync('BTC/USD', '1m', '2024-01-01', '2024-12-31')
console.log(`${'demo 1m bars, BTC/USD (24x7), one year'.padEnd(58)} ${(performance.now() - t0).toFixed(1).padStart(12)} ms   (${crypto.length} bars)`)
