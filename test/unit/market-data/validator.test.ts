import t from 'tap'
import { MarketDataService } from '../../../server/market-data/market-data-service.js'
import { LruCache } from '../../../server/market-data/lru-cache.js'

let clock = Date.parse('2025-06-15T12:00:00Z')
const now = (): number => clock
const service = (): MarketDataService => new MarketDataService({ now })

const body = (symbols: string[], start_date = '2023-01-03', end_date = '2023-03-31', timeframe: '1d' | '1h' | '1m' = '1d') =>
  ({ symbols, start_date, end_date, timeframe })

t.test('a valid request returns canonical symbols and availability per symbol', async (t) => {
  const v = service().validate(body(['aapl', 'eurusd', 'X:BTCUSD']))
  t.equal(v.valid, true)
  t.same(v.symbols.map((s) => s.symbol), ['AAPL', 'EUR/USD', 'BTC/USD'])
  t.equal(v.symbols[0].first_date, '2010-01-04')
  t.equal(v.symbols[0].trading_sessions, 62) // 20 in Jan, 19 in Feb, 23 in Mar
  t.same(v.errors, [])
})

t.test('all invalid symbols are reported at once with suggestions and supported markets', async (t) => {
  const v = service().validate(body(['APPL', 'AAPL', 'MSFTT', 'QQQQQQQQ']))
  t.equal(v.valid, false)
  t.equal(v.errors.length, 1)
  const e = v.errors[0]
  t.equal(e.error_code, 'INVALID_SYMBOL')
  t.same(e.details.invalid_symbols, ['APPL', 'MSFTT', 'QQQQQQQQ'])
  t.same((e.details.suggestions as Record<string, string[]>).APPL, ['AAPL'])
  t.ok((e.details.suggestions as Record<string, string[]>).MSFTT.includes('MSFT'))
  t.same(e.details.supported_markets, ['CRYPTO', 'FOREX', 'NASDAQ', 'NYSE'])
  t.same(v.symbols[0].suggestions, ['AAPL'])
  t.equal(v.symbols[1].valid, true)
})

t.test('validateSessionRequest throws INVALID_SYMBOL listing every bad symbol', async (t) => {
  t.throws(() => service().validateSessionRequest(body(['FOO1', 'AAPL', 'BAR2'])), {
    name: 'AppError',
    error_code: 'INVALID_SYMBOL',
    details: { invalid_symbols: ['FOO1', 'BAR2'] }
  })
})

t.test('two spellings of one symbol are a VALIDATION_FAILED duplicate', async (t) => {
  const s = service()
  const v = s.validate(body(['EUR/USD', 'eurusd']))
  t.equal(v.valid, false)
  t.equal(v.errors[0].error_code, 'VALIDATION_FAILED')
  t.throws(() => s.validateSessionRequest(body(['EUR/USD', 'C:EURUSD'])), { name: 'AppError', error_code: 'VALIDATION_FAILED' })
})

t.test('start after end is INVALID_DATE_RANGE', async (t) => {
  t.throws(() => service().validateSessionRequest(body(['AAPL'], '2023-05-01', '2023-04-01')), { name: 'AppError', error_code: 'INVALID_DATE_RANGE' })
})

t.test('an impossible calendar date is INVALID_DATE_RANGE', async (t) => {
  const v = service().validate(body(['AAPL'], '2023-02-30', '2023-03-31'))
  t.equal(v.date_range.valid, false)
  t.equal(v.errors[0].error_code, 'INVALID_DATE_RANGE')
  t.match(v.errors[0].message, /2023-02-30/)
})

t.test('a range ending in the future (by the injected clock) is refused', async (t) => {
  const v = service().validate(body(['BTC/USD'], '2025-06-01', '2025-06-16'))
  t.equal(v.valid, false)
  t.match(v.errors[0].message, /future/)
})

t.test('a range outside a symbol\'s data is refused naming the available range', async (t) => {
  const v = service().validate(body(['AAPL', 'MSFT'], '2009-06-01', '2010-06-30'))
  t.equal(v.valid, false)
  t.equal(v.errors.length, 2)
  t.same(v.errors[0].details, { symbol: 'AAPL', timeframe: '1d', first_date: '2010-01-04', last_date: '2024-12-31' })
  const v2 = service().validate(body(['AAPL'], '2025-01-02', '2025-01-31'))
  t.equal(v2.valid, false, 'after the demo\'s last day')
})

t.test('a weekend-only range has no session for a stock but is fine for crypto', async (t) => {
  const s = service()
  const stock = s.validate(body(['AAPL'], '2023-01-07', '2023-01-08'))
  t.equal(stock.valid, false)
  t.equal(stock.symbols[0].trading_sessions, 0)
  t.match(stock.errors[0].message, /no trading session/)
  const crypto = s.validateSessionRequest(body(['BTC/USD'], '2023-01-07', '2023-01-08'))
  t.same(crypto, { symbols: ['BTC/USD'], estimated_ticks: 2 })
})

t.test('estimated ticks: union of trading days for 1d, arithmetic session minutes for 1m', async (t) => {
  const s = service()
  // Good Friday week: NYSE 4 days, forex 5 days.
  t.equal(s.validateSessionRequest(body(['AAPL', 'EURUSD'], '2023-04-03', '2023-04-07')).estimated_ticks, 5)
  t.equal(s.validateSessionRequest(body(['AAPL', 'MSFT'], '2023-07-03', '2023-07-05', '1m')).estimated_ticks, 210 + 390)
  t.equal(s.validateSessionRequest(body(['AAPL'], '2023-07-03', '2023-07-05', '1h')).estimated_ticks, 4 + 7)
})

t.test('a repeated request is served from the cache', async (t) => {
  const s = service()
  const a = s.validate(body(['AAPL', 'MSFT']))
  t.equal(s.validator.cacheSize, 1)
  const b = s.validate(body(['AAPL', 'MSFT']))
  t.equal(b, a, 'same cached object')
  t.equal(s.validator.cacheSize, 1)
})

t.test('the cache is cleared when the catalogue reloads', async (t) => {
  const s = service()
  const a = s.validate(body(['AAPL']))
  await s.reload()
  t.equal(s.validator.cacheSize, 0)
  const b = s.validate(body(['AAPL']))
  t.not(b, a)
  t.same(b, a)
})

t.test('cached verdicts expire after the TTL', async (t) => {
  const s = new MarketDataService({ now, cacheTtlMs: 1000 })
  const a = s.validate(body(['KO']))
  clock += 1001
  t.not(s.validate(body(['KO'])), a)
})

t.test('LRU cache evicts the least recently used entry', async (t) => {
  const c = new LruCache<string, number>({ maxSize: 2, ttlMs: 60_000, now })
  c.set('a', 1)
  c.set('b', 2)
  c.get('a')
  c.set('c', 3)
  t.equal(c.get('b'), undefined)
  t.equal(c.get('a'), 1)
  t.equal(c.get('c'), 3)
})

t.test('the plan API: supported symbols by market and available date range', async (t) => {
  const s = service()
  t.same(s.validator.getSupportedSymbols('FOREX'), ['AUD/USD', 'EUR/USD', 'GBP/USD', 'USD/CAD', 'USD/CHF', 'USD/JPY'])
  t.same(s.validator.getAvailableDateRange('btcusd', '1m'), { symbol: 'BTC/USD', timeframe: '1m', first_date: '2010-01-01', last_date: '2024-12-31' })
  t.throws(() => s.validator.getAvailableDateRange('NOPE'), { name: 'AppError', error_code: 'INVALID_SYMBOL' })
  const r = s.validator.validateDateRange('2023-01-07', '2023-01-08', { symbols: ['AAPL', 'ETH/USD'] })
  t.equal(r.valid, false)
  t.same(r.symbols.map((x) => x.valid), [false, true])
})

t.test('several range problems of one kind are thrown together, each with its details', async (t) => {
  const s = service()
  t.throws(() => s.validateSessionRequest(body(['AAPL', 'EURUSD'], '2009-12-01', '2010-01-29')), {
    name: 'AppError',
    error_code: 'INVALID_DATE_RANGE',
    message: /AAPL.*; .*EUR\/USD/,
    details: { symbol: 'AAPL', problems: [{ symbol: 'AAPL', first_date: '2010-01-04' }, { symbol: 'EUR/USD' }] }
  })
})

t.test('the thrown error follows precedence: unknown symbol, then duplicate, then dates', async (t) => {
  const s = service()
  t.throws(() => s.validateSessionRequest(body(['NOPE', 'AAPL', 'aapl'], '2023-02-30', '2023-01-01')), { name: 'AppError', error_code: 'INVALID_SYMBOL', details: { invalid_symbols: ['NOPE'] } })
  t.throws(() => s.validateSessionRequest(body(['AAPL', 'aapl'], '2023-02-30', '2023-01-01')), { name: 'AppError', error_code: 'VALIDATION_FAILED', details: { duplicate_symbols: [{ input: 'aapl', symbol: 'AAPL', duplicate_of: 'AAPL' }] } })
  const v = s.validate(body(['NOPE', 'AAPL', 'aapl'], '2023-02-30', '2023-01-01'))
  t.same(v.errors.map((e) => e.error_code), ['INVALID_SYMBOL', 'VALIDATION_FAILED', 'INVALID_DATE_RANGE'], 'the verdict lists every kind')
})

t.test('each malformed date is named on its own', async (t) => {
  const s = service()
  const endOnly = s.validate(body(['AAPL'], '2023-01-03', '2023-13-01'))
  t.same(endOnly.errors.map((e) => e.details), [{ end_date: '2023-13-01' }])
  const both = s.validate(body(['AAPL'], '2023-1-3', 'soon'))
  t.same(both.errors.map((e) => e.details), [{ start_date: '2023-1-3' }, { end_date: 'soon' }])
  t.equal(both.date_range.valid, false)
  t.equal(both.date_range.message, "start_date '2023-1-3' is not a valid YYYY-MM-DD date; end_date 'soon' is not a valid YYYY-MM-DD date")
})

t.test('a range ending on the last day of a symbol\'s data is inside it; one day later is not', async (t) => {
  const s = service()
  t.equal(s.validate(body(['AAPL'], '2024-12-02', '2024-12-31')).valid, true, 'the demo ends Dec 31 of last year')
  t.equal(s.validate(body(['BTCUSD'], '2024-12-31', '2025-01-01')).valid, false)
  t.equal(s.validate(body(['AAPL'], '2010-01-04', '2010-01-04')).valid, true, 'the first day itself')
})

t.test('verdicts are cached per timeframe: the same dates and symbols in 1d and 1m differ', async (t) => {
  const s = service()
  const d = s.validateSessionRequest(body(['AAPL'], '2023-01-03', '2023-01-03', '1d'))
  const m = s.validateSessionRequest(body(['AAPL'], '2023-01-03', '2023-01-03', '1m'))
  t.equal(d.estimated_ticks, 1)
  t.equal(m.estimated_ticks, 390)
  t.equal(s.validator.cacheSize, 2)
})

t.test('a file symbol without minute data is refused for 1m by every entry point', async (t) => {
  const dir = t.testdir({ 'ACME.csv': 'Date,Open,High,Low,Close\n2023-01-03,1,2,0.5,1.5\n2023-01-04,1,2,0.5,1.5\n' })
  const s = new MarketDataService({ dataDir: dir, demo: false, now })
  await s.init()
  t.throws(() => s.validator.getAvailableDateRange('acme', '1m'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { symbol: 'ACME', timeframe: '1m', available_timeframes: ['1d'] } })
  t.same(s.validator.getAvailableDateRange('acme'), { symbol: 'ACME', timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-04' })
  const v = s.validate(body(['ACME'], '2023-01-03', '2023-01-04', '1m'))
  t.match(v.symbols[0], { valid: false, error_code: 'INVALID_DATE_RANGE', message: 'No 1m data for ACME' })
  await t.rejects(s.getBars('ACME', { start: '2023-01-03', end: '2023-01-04', timeframe: '1h' }), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { available_timeframes: ['1d'] } })
})
