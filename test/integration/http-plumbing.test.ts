// The HTTP plumbing a client or an operator relies on, over a listening server: metric labels that stay
// bounded (route patterns, not URLs), the WebSocket connection gauge, the OpenAPI document the typed client
// is generated from, /health, and the market-data routes' request checks.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'
import { API_VERSION } from '../../server/plugins/swagger.js'

/** The value of one Prometheus sample line (`name{labels} value`), or undefined. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3])
  }
  return undefined
}

t.test('request metrics are labelled by route pattern and status, unknown URLs as one "unmatched" route', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const auth = { authorization: `Bearer ${token}` }
  for (const sym of ['AAPL', 'MSFT', 'eurusd']) await (await fetch(`${baseUrl}/market-data/bars/${sym}?start=2023-01-03&end=2023-01-05`, { headers: auth })).arrayBuffer()
  await (await fetch(`${baseUrl}/market-data/bars/NOPE?start=2023-01-03&end=2023-01-05`, { headers: auth })).arrayBuffer()
  for (const path of ['/no-such-page-1', '/no-such-page-2']) await (await fetch(`${baseUrl}${path}`)).arrayBuffer()
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  const count = (labels: Record<string, string>): number | undefined => sample(text, 'simutrador_http_request_duration_seconds_count', labels)
  t.equal(count({ method: 'GET', route: '/market-data/bars/:symbol', status: '200' }), 3, 'three symbols, one series')
  t.equal(count({ method: 'GET', route: '/market-data/bars/:symbol', status: '422' }), 1, 'status is its own label')
  t.equal(count({ method: 'GET', route: 'unmatched', status: '404' }), 2, 'unknown URLs share one series')
  t.notMatch(text, /no-such-page|route="\/market-data\/bars\/AAPL"/, 'no raw URL ever becomes a label')
  t.equal(count({ method: 'POST', route: '/auth/token', status: '200' }), 1)
})

t.test('the WebSocket connection gauge follows open connections', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const gauge = async (): Promise<number | undefined> => sample(await (await fetch(`${baseUrl}/metrics`)).text(), 'simutrador_ws_connections')
  t.equal(await gauge(), 0)
  const a = await TestSocket.open(`${wsUrl}?token=${token}`)
  const b = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { a.close(); b.close() })
  await a.next('connection_ready')
  await b.next('connection_ready')
  t.equal(await gauge(), 2)
  a.close()
  await a.closed
  let open = await gauge()
  // The server notices the close a moment after the client: poll, bounded (20 × 25 ms).
  for (let i = 0; i < 20 && open !== 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    open = await gauge()
  }
  t.equal(open, 1, 'a closed connection is no longer counted')
})

t.test('the OpenAPI document names components by schema $id and hides internal routes', async (t) => {
  const { baseUrl } = await listen(t)
  const res = await fetch(`${baseUrl}/openapi.json`)
  t.equal(res.status, 200)
  const doc = await res.json() as { openapi: string, info: { version: string }, paths: Record<string, Record<string, any>>, components: { schemas: Record<string, unknown>, securitySchemes: Record<string, unknown> } }
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.version, API_VERSION)
  for (const id of ['SymbolInfo', 'BarsResponse', 'MarketDataValidation', 'ErrorResponse', 'Health']) t.ok(doc.components.schemas[id] !== undefined, `component ${id}`)
  t.notOk(Object.keys(doc.components.schemas).some((k) => /^def-\d+$/.test(k)), 'no anonymous def-N components for $id\'d schemas')
  t.same(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'bearerAuth'])
  const bars = doc.paths['/market-data/bars/{symbol}']?.get
  t.equal(bars?.operationId, 'getBars')
  t.same(bars?.security, [{ bearerAuth: [] }, { apiKey: [] }], 'a bearer token or the API key itself')
  t.match(JSON.stringify(bars?.responses?.['200']), /#\/components\/schemas\/BarsResponse/, 'responses refer to components by name')
  t.equal(doc.paths['/health']?.get?.operationId, 'getHealth')
  t.notOk('/metrics' in doc.paths, '/metrics is not part of the API')
  t.notOk('/openapi.json' in doc.paths)
  const ui = await fetch(`${baseUrl}/docs/`)
  t.equal(ui.status, 200)
  t.match(await ui.text(), /swagger/i, 'Swagger UI at /docs')
})

t.test('/health needs no credentials and states version, uptime and server time', async (t) => {
  const { baseUrl } = await listen(t)
  const before = Date.now()
  const res = await fetch(`${baseUrl}/health`)
  t.equal(res.status, 200)
  const body = await res.json() as { status: string, version: string, uptime_sec: number, server_time: string }
  t.equal(body.status, 'ok')
  t.equal(body.version, API_VERSION)
  t.ok(Number.isInteger(body.uptime_sec) && body.uptime_sec >= 0 && body.uptime_sec <= Math.ceil(process.uptime()) + 1, `uptime ${body.uptime_sec} s, in seconds since the server module loaded`)
  const serverTime = Date.parse(body.server_time)
  t.ok(serverTime >= before - 1000 && serverTime <= Date.now() + 1000, 'server time is now')
})

t.test('market-data routes check credentials and inputs before any work', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.alice)
  const get = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { headers })
    return { status: res.status, body: await res.json() }
  }
  for (const path of ['/market-data/symbols', '/market-data/symbols/AAPL', '/market-data/bars/AAPL?start=2023-01-03&end=2023-01-05']) {
    const r = await get(path, {})
    t.equal(r.status, 401, `${path} without a token`)
    t.equal(r.body.error_code, 'UNAUTHORIZED')
  }
  const long = await get(`/market-data/symbols/${'A'.repeat(33)}`)
  t.equal(long.status, 400, 'a symbol longer than 32 characters is refused by the schema')
  t.equal(long.body.error_code, 'VALIDATION_FAILED')
  t.equal((await get(`/market-data/symbols/${'A'.repeat(32)}`)).body.error_code, 'INVALID_SYMBOL', '32 characters is judged as a symbol')
  for (const q of ['limit=0', 'limit=1001', 'asset_class=bond', 'market=LSE', 'q=', 'colour=red']) {
    const r = await get(`/market-data/symbols?${q}`)
    t.equal(r.status, 400, q)
    t.equal(r.body.error_code, 'VALIDATION_FAILED', q)
  }
  for (const q of ['start=2023-01-03', 'start=2023-01-03&end=2023-01-05&timeframe=5m', 'start=2023-01-03&end=2023-01-05&limit=50001', 'start=03/01/2023&end=2023-01-05']) {
    const r = await get(`/market-data/bars/AAPL?${q}`)
    t.equal(r.status, 400, q)
    t.equal(r.body.error_code, 'VALIDATION_FAILED', q)
  }
  const invalidDate = await get('/market-data/bars/AAPL?start=2023-02-30&end=2023-03-05')
  t.equal(invalidDate.status, 422, 'a well-formed but impossible date is a date-range error')
  t.equal(invalidDate.body.error_code, 'INVALID_DATE_RANGE')
})

t.test('market-data listing filters and bar limits as a client uses them', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.alice)
  const get = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()
  const nasdaqless = await get('/market-data/symbols?market=CRYPTO&limit=2')
  t.equal(nasdaqless.symbols.length, 2, 'limit cuts the page')
  t.ok(nasdaqless.total > 2, 'total counts every match')
  t.ok(nasdaqless.symbols.every((s: { market: string }) => s.market === 'CRYPTO'))
  const search = await get('/market-data/symbols?q=bitcoin')
  t.same(search.symbols.map((s: { symbol: string }) => s.symbol), ['BTC/USD'], 'q searches names case-insensitively')
  const minutes = await get('/market-data/bars/AAPL?start=2023-01-03&end=2023-01-31&timeframe=1m&limit=500')
  t.equal(minutes.bars.length, 500)
  t.equal(minutes.truncated, true, 'a cut page says so')
  t.equal(minutes.bars[0].timestamp, '2023-01-03T14:30:00.000Z')
  const day = await get('/market-data/bars/AAPL?start=2023-01-03&end=2023-01-03&timeframe=1m')
  t.equal(day.bars.length, 390, 'one regular NYSE session of minutes')
  t.equal(day.truncated, false)
  const exact = await get('/market-data/bars/AAPL?start=2023-01-03&end=2023-01-04&timeframe=1m&limit=390')
  t.equal(exact.bars.length, 390)
  t.equal(exact.bars[389].timestamp, '2023-01-03T20:59:00.000Z', 'the page ends with the first day')
  t.equal(exact.truncated, true, 'a page that ends exactly at a day boundary is still cut when more days were asked for')
})

t.test('the plan\'s requests_per_minute is one allowance per user across every route', async (t) => {
  const { baseUrl } = await listen(t)
  const alice = { authorization: `Bearer ${await tokenFor(baseUrl, KEYS.alice)}` }
  const bob = { authorization: `Bearer ${await tokenFor(baseUrl, KEYS.bob)}` }
  const routes = ['/me', '/market-data/symbols?limit=1', '/market-data/symbols/AAPL', '/sessions']
  // Free plan: 120 a minute, spread over four routes (30 each): none of them alone is near the limit.
  for (let i = 0; i < 120; i++) {
    const res = await fetch(`${baseUrl}${routes[i % routes.length]}`, { headers: alice })
    await res.arrayBuffer()
    if (res.status !== 200) { t.fail(`request ${i + 1} (${routes[i % routes.length]}) was ${res.status}`); return }
  }
  const over = await fetch(`${baseUrl}/market-data/bars/AAPL?start=2023-01-03&end=2023-01-05`, { headers: alice })
  t.equal(over.status, 429, 'the 121st request is refused, on a route not used before')
  const body = await over.json() as { error_code: string, details: { limit: number, retry_after_seconds: number } }
  t.equal(body.error_code, 'RATE_LIMIT_EXCEEDED')
  t.equal(body.details.limit, 120)
  t.ok(body.details.retry_after_seconds >= 1 && body.details.retry_after_seconds <= 60, `retry in ${body.details.retry_after_seconds} s`)
  t.equal(Number(over.headers.get('retry-after')), body.details.retry_after_seconds, 'Retry-After agrees with the body')
  const other = await fetch(`${baseUrl}/me`, { headers: bob })
  t.equal(other.status, 200, 'another user keeps a full allowance')
  t.equal(other.headers.get('x-ratelimit-remaining'), '119')
})
