// Market-data REST over a real server: catalogue filters, aliases, validation verdicts and bars.
import t from 'tap'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'

t.test('market data over REST', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string, init: RequestInit = {}): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) } })
    return { status: res.status, body: await res.json() }
  }

  t.test('the catalogue lists stocks, forex and crypto and filters by asset class', async (t) => {
    const all = await get('/market-data/symbols?limit=500')
    const classes = new Set(all.body.symbols.map((s: { asset_class: string }) => s.asset_class))
    t.same([...classes].sort(), ['crypto', 'forex', 'stock'])
    t.ok(all.body.symbols.filter((s: { asset_class: string }) => s.asset_class === 'stock').length >= 20)
    const fx = await get('/market-data/symbols?asset_class=forex')
    t.ok(fx.body.symbols.length >= 6)
    t.ok(fx.body.symbols.every((s: { asset_class: string }) => s.asset_class === 'forex'))
    t.ok(fx.body.symbols.every((s: { synthetic: boolean }) => s.synthetic), 'demo data is labelled synthetic')
  })

  t.test('one symbol by alias resolves to its canonical entry', async (t) => {
    t.equal((await get('/market-data/symbols/eurusd')).body.symbol, 'EUR/USD')
    t.equal((await get('/market-data/symbols/X:BTCUSD')).body.symbol, 'BTC/USD')
    t.equal((await get('/market-data/symbols/brk-b')).body.symbol, 'BRK.B')
    const bad = await get('/market-data/symbols/APPL')
    t.equal(bad.status, 422)
    t.equal(bad.body.error_code, 'INVALID_SYMBOL')
  })

  t.test('validate returns verdicts for every symbol at once', async (t) => {
    const res = await get('/market-data/validate', { method: 'POST', body: JSON.stringify({ symbols: ['AAPL', 'NOPE', 'btc-usd'], start_date: '2023-01-01', end_date: '2023-03-31' }) })
    t.equal(res.status, 200)
    t.equal(res.body.valid, false)
    const verdicts = Object.fromEntries(res.body.symbols.map((v: { input: string, valid: boolean }) => [v.input, v.valid]))
    t.same(verdicts, { AAPL: true, NOPE: false, 'btc-usd': true })
    const ok = await get('/market-data/validate', { method: 'POST', body: JSON.stringify({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }) })
    t.equal(ok.body.valid, true)
  })

  t.test('bars come back on trading days only', async (t) => {
    const res = await get('/market-data/bars/AAPL?start=2023-07-01&end=2023-07-07&timeframe=1d')
    t.equal(res.status, 200)
    t.same(res.body.bars.map((b: { session_date: string }) => b.session_date), ['2023-07-03', '2023-07-05', '2023-07-06', '2023-07-07'])
    const b = res.body.bars[0]
    t.ok(b.low <= Math.min(b.open, b.close) && b.high >= Math.max(b.open, b.close), 'OHLC is consistent')
    const bad = await get('/market-data/bars/AAPL?start=2023-07-07&end=2023-07-01')
    t.equal(bad.body.error_code, 'INVALID_DATE_RANGE')
  })
})
