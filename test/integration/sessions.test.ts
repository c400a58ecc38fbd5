// Session operations over real HTTP and a real WebSocket: every operation, every error code of the plan,
// other users' ids, idempotency, and agreement between the two transports.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

const VALID = { symbols: ['AAPL', 'msft'], start_date: '2023-01-03', end_date: '2023-06-30' }

t.test('sessions over REST and WebSocket', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const dev = await tokenFor(baseUrl, KEYS.dev)
  const alice = await tokenFor(baseUrl, KEYS.alice)
  const ent = await tokenFor(baseUrl, KEYS.ent)
  const api = async (token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Headers }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined, headers: res.headers }
  }
  const socket = async (tt: { teardown: (fn: () => void) => void }, token: string): Promise<TestSocket> => {
    const s = await TestSocket.open(`${wsUrl}?token=${token}`)
    tt.teardown(() => { s.close() })
    await s.next('connection_ready')
    return s
  }

  t.test('REST: create → get → list → patch → delete', async (t) => {
    const created = await api(ent, 'POST', '/sessions', { ...VALID, initial_capital: '250000.50', metadata: { strategy: 'sma' } })
    t.equal(created.status, 201)
    const s = created.body
    t.match(s, { symbols: ['AAPL', 'MSFT'], state: 'ready', timeframe: '1d', initial_capital: '250000.50', commission_per_share: '0.005', progress: 0, metadata: { strategy: 'sma' } })
    t.match(s.session_id, /^sess_[A-Za-z0-9_-]{16}$/)
    t.ok(s.estimated_ticks > 100 && s.estimated_ticks < 130, `~124 NYSE days in H1 2023, got ${s.estimated_ticks}`)
    const fetched = (await api(ent, 'GET', `/sessions/${s.session_id}`)).body
    t.same({ ...fetched, expires_at: null }, { ...s, expires_at: null }, 'same session (a read refreshes the idle expiry)')
    t.ok(Date.parse(fetched.expires_at) >= Date.parse(s.expires_at))
    const list = await api(ent, 'GET', '/sessions?state=ready&limit=5')
    t.ok(list.body.sessions.some((x: { session_id: string }) => x.session_id === s.session_id))
    const patched = await api(ent, 'PATCH', `/sessions/${s.session_id}`, { metadata: { strategy: 'ema' } })
    t.same(patched.body.metadata, { strategy: 'ema' })
    const del = await api(ent, 'DELETE', `/sessions/${s.session_id}`)
    t.equal(del.status, 204)
    t.equal((await api(ent, 'GET', `/sessions/${s.session_id}`)).status, 404)
  })

  t.test('WebSocket: create → get → list → delete with replies echoing request_id', async (t) => {
    const ws = await socket(t, ent)
    const created = await ws.request('create_session', { ...VALID, timeframe: '1h' }, 'c1')
    t.equal(created.type, 'session_created')
    t.equal(created.request_id, 'c1')
    t.match(created.data, { state: 'ready', timeframe: '1h', symbols: ['AAPL', 'MSFT'] })
    const id = created.data.session_id
    const info = await ws.request('get_session', { session_id: id })
    t.equal(info.type, 'session_info')
    const viaRest = (await api(ent, 'GET', `/sessions/${id}`)).body
    t.same({ ...info.data, expires_at: null }, { ...viaRest, expires_at: null }, 'WS and REST show the same session')
    const list = await ws.request('list_sessions', { limit: 100 })
    t.equal(list.type, 'session_list')
    t.ok(list.data.sessions.some((x: { session_id: string }) => x.session_id === id))
    const deleted = await ws.request('delete_session', { session_id: id })
    t.same(deleted.data, { session_id: id, deleted: true })
    const gone = await ws.request('get_session', { session_id: id })
    t.match(gone, { type: 'session_error', data: { error_code: 'SESSION_NOT_FOUND' } })
  })

  // Each error of the plan, over both transports, with the same code and details.
  const cases: Array<[string, unknown, number, string]> = [
    ['unknown symbols (all reported at once)', { ...VALID, symbols: ['AAPL', 'NOPE1', 'ZZZZ'] }, 422, 'INVALID_SYMBOL'],
    ['start after end', { ...VALID, start_date: '2023-06-30', end_date: '2023-01-03' }, 422, 'INVALID_DATE_RANGE'],
    ['a date in the future', { ...VALID, end_date: '2099-01-01' }, 422, 'INVALID_DATE_RANGE'],
    ['capital below the minimum', { ...VALID, initial_capital: 999.99 }, 422, 'INSUFFICIENT_CAPITAL'],
    ['capital above the maximum', { ...VALID, initial_capital: '10000000.01' }, 422, 'CAPITAL_ABOVE_MAXIMUM'],
    ['a schema violation (wrong type)', { ...VALID, symbols: 'AAPL' }, 400, 'VALIDATION_FAILED'],
    ['an unknown property', { ...VALID, leverage: 10 }, 400, 'VALIDATION_FAILED'],
    ['duplicate symbols after normalisation', { ...VALID, symbols: ['AAPL', 'aapl'] }, 400, 'VALIDATION_FAILED']
  ]
  for (const [name, body, status, code] of cases) {
    t.test(`${name}: ${status} ${code} over REST and session_error over WS`, async (t) => {
      const rest = await api(ent, 'POST', '/sessions', body)
      t.equal(rest.status, status)
      t.equal(rest.body.error_code, code)
      const ws = await socket(t, ent)
      const reply = await ws.request('create_session', body)
      t.equal(reply.type, 'session_error')
      t.equal(reply.data.error_code, code)
      if (!(code === 'VALIDATION_FAILED' && rest.body.details?.fields !== undefined)) t.same(reply.data.details, rest.body.details, 'same details')
    })
  }

  t.test('INVALID_SYMBOL lists every bad symbol with suggestions', async (t) => {
    const rest = await api(ent, 'POST', '/sessions', { ...VALID, symbols: ['AAPX', 'MSFT', 'GOOGLE'] })
    t.same(rest.body.details.invalid_symbols, ['AAPX', 'GOOGLE'])
    t.ok(rest.body.details.suggestions.AAPX.includes('AAPL'))
    t.ok(rest.body.details.supported_markets.includes('NASDAQ'))
  })

  t.test('an unknown property names the field over both transports', async (t) => {
    const rest = await api(ent, 'POST', '/sessions', { ...VALID, leverage: 10 })
    t.same(rest.body.details.fields, ['body.leverage'])
    const ws = await socket(t, ent)
    const reply = await ws.request('create_session', { ...VALID, leverage: 10 })
    t.same(reply.data.details.fields, ['data.leverage'])
  })

  t.test('SESSION_LIMIT_EXCEEDED: a free plan holds one active session, on both transports', async (t) => {
    const first = await api(alice, 'POST', '/sessions', VALID)
    t.equal(first.status, 201)
    const second = await api(alice, 'POST', '/sessions', VALID)
    t.equal(second.status, 409)
    t.match(second.body, { error_code: 'SESSION_LIMIT_EXCEEDED', details: { limit_name: 'concurrent_sessions', limit: 1 } })
    const ws = await socket(t, alice)
    const reply = await ws.request('create_session', VALID)
    t.match(reply, { type: 'session_error', data: { error_code: 'SESSION_LIMIT_EXCEEDED' } })
    const tooMany = await api(ent, 'POST', '/sessions', { ...VALID, symbols: Array.from({ length: 501 }, () => 'AAPL') })
    t.equal(tooMany.status, 400, 'over the schema cap of 500 symbols')
    await api(alice, 'DELETE', `/sessions/${first.body.session_id}`)
  })

  t.test('symbols per session are capped by plan', async (t) => {
    const six = ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'META', 'NVDA']
    const res = await api(alice, 'POST', '/sessions', { ...VALID, symbols: six })
    t.equal(res.status, 409)
    t.match(res.body, { error_code: 'SESSION_LIMIT_EXCEEDED', details: { limit_name: 'symbols_per_session', limit: 5 } })
  })

  t.test("another user's session is SESSION_NOT_FOUND everywhere, exactly like a missing id", async (t) => {
    const mine = (await api(ent, 'POST', '/sessions', VALID)).body.session_id
    const missing = 'sess_doesnotexist0000'
    for (const id of [mine, missing]) {
      for (const [method, body] of [['GET', undefined], ['PATCH', { metadata: {} }], ['DELETE', undefined]] as const) {
        const res = await api(dev, method, `/sessions/${id}`, body)
        t.equal(res.status, 404, `${method} ${id === mine ? 'foreign' : 'missing'}`)
        t.same(res.body, { error_code: 'SESSION_NOT_FOUND', message: `Session ${id} not found`, details: { session_id: id } })
      }
    }
    const ws = await socket(t, dev)
    for (const type of ['get_session', 'delete_session']) {
      const reply = await ws.request(type, { session_id: mine })
      t.same(reply.data, { error_code: 'SESSION_NOT_FOUND', message: `Session ${mine} not found`, details: { session_id: mine } })
    }
    const list = await api(dev, 'GET', '/sessions?limit=100')
    t.notOk(list.body.sessions.some((s: { session_id: string }) => s.session_id === mine), 'not listed')
    t.equal((await api(ent, 'GET', `/sessions/${mine}`)).status, 200, 'the owner still has it')
  })

  t.test('Idempotency-Key: same body replays, different body conflicts', async (t) => {
    const key = `idem-${Date.now()}`
    const a = await api(ent, 'POST', '/sessions', VALID, { 'idempotency-key': key })
    const b = await api(ent, 'POST', '/sessions', VALID, { 'idempotency-key': key })
    t.equal(a.status, 201)
    t.equal(b.status, 201)
    t.same(b.body, a.body)
    t.equal(b.headers.get('idempotent-replayed'), 'true')
    const c = await api(ent, 'POST', '/sessions', { ...VALID, initial_capital: 5000 }, { 'idempotency-key': key })
    t.equal(c.status, 422, 'a reused key with another payload is 422 (draft-ietf-httpapi-idempotency-key-header)')
    t.equal(c.body.error_code, 'IDEMPOTENCY_CONFLICT')
    const d = await api(dev, 'POST', '/sessions', VALID, { 'idempotency-key': key })
    t.equal(d.status, 201, 'keys are scoped per user')
    t.not(d.body.session_id, a.body.session_id)
  })

  t.test('Idempotency-Key sent twice at once: another body is 422, the same body shares the one answer', async (t) => {
    const key = `idem-race-${Date.now()}`
    const [a, b, c] = await Promise.all([
      api(ent, 'POST', '/sessions', VALID, { 'idempotency-key': key }),
      api(ent, 'POST', '/sessions', VALID, { 'idempotency-key': key }),
      api(ent, 'POST', '/sessions', { ...VALID, initial_capital: 5000 }, { 'idempotency-key': key })
    ])
    t.same([a.status, b.status], [201, 201])
    t.equal(b.body.session_id, a.body.session_id, 'one session for the same body')
    t.equal(c.status, 422)
    t.equal(c.body.error_code, 'IDEMPOTENCY_CONFLICT')
  })

  t.test('WebSocket create_session honours idempotency_key, shared with the REST header', async (t) => {
    const ws = await socket(t, ent)
    const key = `ws-idem-${Date.now()}`
    const a = await ws.request('create_session', { ...VALID, idempotency_key: key })
    const b = await ws.request('create_session', { ...VALID, idempotency_key: key })
    t.equal(a.type, 'session_created')
    t.equal(b.data.session_id, a.data.session_id, 'a retry returns the same session')
    const viaRest = await api(ent, 'POST', '/sessions', VALID, { 'idempotency-key': key })
    t.equal(viaRest.body.session_id, a.data.session_id, 'the same key over REST replays too')
    const conflict = await ws.request('create_session', { ...VALID, initial_capital: 2000, idempotency_key: key })
    t.match(conflict, { type: 'session_error', data: { error_code: 'IDEMPOTENCY_CONFLICT' } })
  })

  t.test('changes to a session are pushed to every connection of its owner, and to no one else', async (t) => {
    const watcher = await socket(t, ent)
    const stranger = await socket(t, dev)
    const created = await api(ent, 'POST', '/sessions', VALID)
    const id = created.body.session_id
    const pushedCreate = await watcher.next((m) => m.type === 'session_updated' && m.data.session_id === id)
    t.equal(pushedCreate.request_id, undefined, 'a push carries no request_id')
    t.equal(pushedCreate.data.state, 'ready')
    await api(ent, 'PATCH', `/sessions/${id}`, { metadata: { note: 'x' } })
    t.same((await watcher.next((m) => m.type === 'session_updated' && m.data.session_id === id)).data.metadata, { note: 'x' })
    await api(ent, 'POST', `/sessions/${id}/start`, { flow_control: false })
    const states: string[] = []
    while (!states.includes('completed')) {
      states.push((await watcher.next((m) => m.type === 'session_updated' && m.data.session_id === id)).data.state)
    }
    t.same(states, ['running', 'completed'], 'state changes of a run are pushed')
    await api(ent, 'DELETE', `/sessions/${id}`)
    t.same((await watcher.next('session_deleted')).data, { session_id: id, deleted: true })
    await stranger.request('ping', {})
    t.notOk(stranger.messages.some((m) => m.type === 'session_updated' || m.type === 'session_deleted'), 'another user hears nothing')
  })

  t.test('a bad pagination cursor and a bad state filter are VALIDATION_FAILED', async (t) => {
    t.equal((await api(ent, 'GET', '/sessions?state=flying')).body.error_code, 'VALIDATION_FAILED')
    const res = await api(ent, 'GET', '/sessions?cursor=garbage')
    t.equal(res.status, 400)
    t.equal(res.body.error_code, 'VALIDATION_FAILED')
  })

  t.test('GET /me reports session usage', async (t) => {
    const me = await api(ent, 'GET', '/me')
    t.ok(me.body.usage.active_sessions >= 1)
    t.ok(me.body.usage.sessions_created_last_hour >= me.body.usage.active_sessions)
  })

  t.test('metrics count created and failed sessions by error code', async (t) => {
    const text = await (await fetch(`${baseUrl}/metrics`)).text()
    t.match(text, /simutrador_sessions_created_total \d+/)
    t.match(text, /simutrador_sessions_failed_total\{error_code="INVALID_SYMBOL"\} [1-9]/)
    t.match(text, /simutrador_sessions\{state="ready"\} [1-9]/)
    t.match(text, /simutrador_market_data_validation_seconds_count [1-9]/)
    t.match(text, /simutrador_http_request_duration_seconds_bucket/)
  })
})
