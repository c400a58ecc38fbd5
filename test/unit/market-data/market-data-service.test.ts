import t from 'tap'
import { MarketDataService } from '../../../server/market-data/market-data-service.js'

const now = (): number => Date.parse('2025-06-15T12:00:00Z')
const svc = new MarketDataService({ now })

t.test('listSymbols filters by asset class, market and search text', async (t) => {
  t.equal(svc.listSymbols({ asset_class: 'crypto' }).total, 5)
  t.ok(svc.listSymbols({ market: 'NASDAQ' }).symbols.every((s) => s.market === 'NASDAQ'))
  t.same(svc.listSymbols({ q: 'berkshire' }).symbols.map((s) => s.symbol), ['BRK.B'])
  t.same(svc.listSymbols({ q: 'eurusd' }).symbols.map((s) => s.symbol), ['EUR/USD'])
  const limited = svc.listSymbols({ limit: 3 })
  t.equal(limited.symbols.length, 3)
  t.ok(limited.total > 30)
})

t.test('getSymbol accepts aliases and refuses unknown symbols with suggestions', async (t) => {
  t.equal(svc.getSymbol('brk-b').symbol, 'BRK.B')
  t.ok(svc.getSymbol('C:EURUSD').aliases.includes('EURUSD'))
  t.throws(() => svc.getSymbol('GOOG'), { name: 'AppError', error_code: 'INVALID_SYMBOL', details: { invalid_symbols: ['GOOG'], suggestions: { GOOG: ['GOOGL'] } } })
})

t.test('getBars returns wire bars labelled synthetic for the demo', async (t) => {
  const r = await svc.getBars('aapl', { start: '2023-01-01', end: '2023-01-31' })
  t.equal(r.symbol, 'AAPL')
  t.equal(r.synthetic, true)
  t.equal(r.bars.length, 20)
  t.equal(r.bars[0].session_date, '2023-01-03')
  t.equal(r.bars[0].timestamp, '2023-01-03T14:30:00.000Z')
  t.equal(r.truncated, false)
})

t.test('getBars cuts intraday ranges at the limit without generating the whole range', async (t) => {
  const r = await svc.getBars('BTC/USD', { start: '2015-01-01', end: '2024-12-31', timeframe: '1m', limit: 1500 })
  t.equal(r.bars.length, 1500)
  t.equal(r.truncated, true)
  t.equal(r.bars[1].timestamp, '2015-01-01T00:01:00.000Z')
})

t.test('getBars refuses bad dates and unknown symbols', async (t) => {
  await t.rejects(svc.getBars('AAPL', { start: '2023-02-30', end: '2023-03-01' }), { name: 'AppError', error_code: 'INVALID_DATE_RANGE' })
  await t.rejects(svc.getBars('AAPL', { start: '2023-03-01', end: '2023-02-01' }), { name: 'AppError', error_code: 'INVALID_DATE_RANGE' })
  await t.rejects(svc.getBars('NOPE', { start: '2023-01-01', end: '2023-02-01' }), { name: 'AppError', error_code: 'INVALID_SYMBOL' })
})

t.test('loadSeries resolves aliases to the canonical symbol', async (t) => {
  const s = await svc.loadSeries('eth-usd', '1h', '2023-01-01', '2023-01-01')
  t.equal(s.symbol, 'ETH/USD')
  t.equal(s.length, 24)
})

t.test('acquireSeries: runs of one source, symbol, timeframe and range share one frozen series', async (t) => {
  const md = new MarketDataService({ now })
  const [a, b] = await Promise.all([
    md.acquireSeries('AAPL', '1m', '2023-03-01', '2023-03-31'),
    md.acquireSeries('aapl', '1m', '2023-03-01', '2023-03-31')
  ])
  t.equal(a.value, b.value, 'an alias names the same series')
  t.equal(a.value.close.buffer, b.value.close.buffer, 'one storage')
  t.equal(a.key, 'demo|AAPL|1m|2023-03-01|2023-03-31|v1')
  t.same(md.sharedSeries.stats(), { entries: 1, references: 2, loads: 1, shared: 1 }, 'concurrent acquires loaded once')
  t.ok(Object.isFrozen(a.value), 'the series object is frozen (its arrays cannot be swapped)')
  t.same(a.value, await md.loadSeries('AAPL', '1m', '2023-03-01', '2023-03-31'), 'the same bars as a private load')

  const overlapping = await md.acquireSeries('AAPL', '1m', '2023-03-15', '2023-04-14')
  t.not(overlapping.value.close.buffer, a.value.close.buffer, 'an overlapping range is loaded on its own')
  const hourly = await md.acquireSeries('AAPL', '1h', '2023-03-01', '2023-03-31')
  t.equal(md.sharedSeries.stats().entries, 3)

  await md.reload()
  const afterReload = await md.acquireSeries('AAPL', '1m', '2023-03-01', '2023-03-31')
  t.not(afterReload.value, a.value, 'a reloaded catalogue is a new key: no new run gets the old bars')
  t.equal(afterReload.key, 'demo|AAPL|1m|2023-03-01|2023-03-31|v2')

  for (const l of [a, b, overlapping, hourly, afterReload]) l.release()
  t.same(md.sharedSeries.stats(), { entries: 0, references: 0, loads: 4, shared: 1 }, 'released with the last holder')
  await t.rejects(md.acquireSeries('NOPE', '1m', '2023-03-01', '2023-03-31'), { name: 'AppError', error_code: 'INVALID_SYMBOL' })
  await t.rejects(md.acquireSeries('AAPL', '1m', '2023-02-30', '2023-03-31'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE' })
  t.equal(md.sharedSeries.stats().entries, 0)
})

t.test('marketOf and calendarFor expose the symbol\'s market calendar', async (t) => {
  t.equal(svc.marketOf('spy'), 'NYSE')
  t.equal(svc.calendarFor('EURUSD').isTradingDay('2023-01-07'), false)
  t.equal(svc.marketSessionAt('AAPL', Date.parse('2023-01-17T14:30:00Z')), 'regular')
  t.equal(svc.marketSessionAt('BTCUSD', Date.parse('2023-01-15T03:00:00Z')), 'regular')
})

t.test('demo: false with no data folder serves an empty catalogue', async (t) => {
  const empty = new MarketDataService({ demo: false, now })
  await empty.init()
  t.equal(empty.listSymbols().total, 0)
})
