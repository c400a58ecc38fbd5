// Errors that say what is allowed (issue 12), over a real listening server and a real WebSocket: a wrong
// enumeration value names the allowed values once, in the same words over REST and WebSocket (both validate
// from the same schemas); too little and too much capital are the same error.
import t from 'tap'
import { listen, tokenFor, KEYS, TestSocket } from '../fixtures/app.js'

const VALID = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-06-30' }
const ORDER = { order_id: 'o1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }

t.test('over REST and WebSocket', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: res.status, body: await res.json() }
  }
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')

  t.test('a wrong timeframe names the allowed ones, once, over both transports', async (t) => {
    const r = await rest('POST', '/sessions', { ...VALID, timeframe: '5m' })
    t.equal(r.status, 400)
    t.equal(r.body.error_code, 'VALIDATION_FAILED')
    t.equal(r.body.message, 'Invalid request: body.timeframe must be one of 1d, 1h, 1m')
    t.same(r.body.details.errors, [{ field: 'body.timeframe', message: 'must be one of 1d, 1h, 1m', keyword: 'enum' }])
    t.notMatch(JSON.stringify(r.body), /constant|anyOf/)

    const w = await ws.request('create_session', { ...VALID, timeframe: '5m' })
    t.equal(w.type, 'session_error')
    t.equal(w.data.error_code, 'VALIDATION_FAILED')
    t.equal(w.data.message, "Invalid 'create_session' message: data.timeframe must be one of 1d, 1h, 1m")
    t.same(w.data.details.errors, [{ field: 'data.timeframe', message: 'must be one of 1d, 1h, 1m' }])
  })

  t.test('order side, type and time_in_force name their allowed values over both transports', async (t) => {
    const created = await rest('POST', '/sessions', VALID)
    const id = created.body.session_id as string
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['side', { side: 'long' }, 'must be one of buy, sell'],
      ['type', { type: 'trailing_stop_limit' }, 'must be one of market, limit, stop, stop_limit, trailing_stop'],
      ['time_in_force', { time_in_force: 'forever' }, 'must be one of day, gtc, ioc, fok, opg, cls']
    ]
    for (const [field, change, allowed] of cases) {
      const orders = [{ ...ORDER, ...change }]
      const r = await rest('POST', `/sessions/${id}/orders`, { batch_id: 'b1', orders })
      t.equal(r.status, 400, `REST ${field}`)
      t.same(r.body.details.errors, [{ field: `body.orders.0.${field}`, message: allowed, keyword: 'enum' }], `REST ${field}: one error`)
      const w = await ws.request('order_batch', { session_id: id, batch_id: 'b1', orders })
      t.equal(w.data.error_code, 'VALIDATION_FAILED', `WS ${field}`)
      t.same(w.data.details.errors, [{ field: `data.orders.0.${field}`, message: allowed }], `WS ${field}: one error, same words`)
    }
  })

  t.test('other schema failures of one message read the same over both transports', async (t) => {
    const { end_date: _omitted, ...noEnd } = VALID
    const bodies: Array<[string, Record<string, unknown>]> = [
      ['a missing property', noEnd],
      ['an empty symbol list', { ...VALID, symbols: [] }],
      ['a bad date', { ...VALID, start_date: '2023-02-30x' }],
      ['slippage out of range', { ...VALID, slippage_bps: 5000 }],
      ['an unknown property', { ...VALID, leverage: 10 }],
      ['a wrong type', { ...VALID, allow_short: 'yes' }]
    ]
    for (const [name, body] of bodies) {
      const r = await rest('POST', '/sessions', body)
      const w = await ws.request('create_session', body)
      const restErrors = (r.body.details.errors as Array<{ field: string, message: string }>).map((e) => `${e.field.replace(/^body/, 'data')} ${e.message}`)
      const wsErrors = (w.data.details.errors as Array<{ field: string, message: string }>).map((e) => `${e.field} ${e.message}`)
      t.same(wsErrors, restErrors, `${name}: ${restErrors.join('; ')}`)
    }
  })

  t.test('enumerations in query strings name their allowed values too', async (t) => {
    const r = await rest('GET', '/sessions?state=done')
    t.equal(r.status, 400)
    t.equal(r.body.message, 'Invalid request: querystring.state must be one of initializing, ready, running, paused, completed, error')
    const w = await ws.request('list_sessions', { state: 'done' })
    t.equal(w.data.message, "Invalid 'list_sessions' message: data.state must be one of initializing, ready, running, paused, completed, error")
  })

  t.test('too little capital is INSUFFICIENT_CAPITAL, too much CAPITAL_ABOVE_MAXIMUM: one message, field, limit and bounds in details', async (t) => {
    const low = await rest('POST', '/sessions', { ...VALID, initial_capital: 999.99 })
    const high = await rest('POST', '/sessions', { ...VALID, initial_capital: '10000000.01' })
    t.equal(low.status, 422)
    t.equal(high.status, 422)
    t.equal(low.body.error_code, 'INSUFFICIENT_CAPITAL')
    t.equal(high.body.error_code, 'CAPITAL_ABOVE_MAXIMUM')
    t.equal(low.body.message, 'initial_capital must be from 1000.00 to 10000000.00 (got 999.99)')
    t.equal(high.body.message, 'initial_capital must be from 1000.00 to 10000000.00 (got 10000000.01)')
    t.same(low.body.details, { field: 'initial_capital', fields: ['initial_capital'], limit: '1000.00', min: '1000.00', max: '10000000.00', value: '999.99' })
    t.same(high.body.details, { field: 'initial_capital', fields: ['initial_capital'], limit: '10000000.00', min: '1000.00', max: '10000000.00', value: '10000000.01' })
    const wLow = await ws.request('create_session', { ...VALID, initial_capital: 999.99 })
    const wHigh = await ws.request('create_session', { ...VALID, initial_capital: '10000000.01' })
    t.same(wLow.data, low.body, 'the WebSocket says exactly the same (too little)')
    t.same(wHigh.data, high.body, 'the WebSocket says exactly the same (too much)')
  })
})
