// Rate limits: brute force on /auth/token is refused per address, valid keys behind one address are not,
// authenticated routes are limited per user by plan, and WebSocket upgrades keep working.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

t.test('failed key attempts from one address are refused with 429 and Retry-After, valid keys never', async (t) => {
  const { baseUrl } = await listen(t, { AUTH_FAILURES_PER_MINUTE: '5' })
  const exchange = async (key: string): Promise<Response> => await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': key } })
  for (let i = 0; i < 5; i++) {
    const res = await exchange(`guess-${i}-guess-guess`)
    t.equal(res.status, 401, `attempt ${i + 1} is judged`)
    t.match(await res.json(), { error_code: 'INVALID_API_KEY' })
  }
  for (let i = 5; i < 10; i++) {
    const blocked = await exchange(`guess-${i}-guess-guess`)
    t.equal(blocked.status, 429, `wrong key ${i + 1} is refused while the address is throttled`)
    t.match(await blocked.json(), { error_code: 'RATE_LIMIT_EXCEEDED' })
    const retryAfter = Number(blocked.headers.get('retry-after'))
    t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After is ${retryAfter}`)
  }
  const valid = await exchange(KEYS.dev)
  t.equal(valid.status, 200, 'a valid key from the throttled address still gets a token')
  t.match(await valid.json(), { user_id: 'dev', token_type: 'Bearer' })
  t.equal((await exchange(KEYS.alice)).status, 200, 'and so does another user behind the same address')
  t.equal((await exchange('guess-after-guess-after')).status, 429, 'a success does not reset the throttle for wrong keys')
})

t.test('200 valid keys behind one address all get tokens', async (t) => {
  const keys = Array.from({ length: 200 }, (_, i) => `many_users_key_${String(i).padStart(6, '0')}:user${i}:free`)
  const app = await build(t, { SIMUTRADOR_API_KEYS: keys.join(','), AUTH_FAILURES_PER_MINUTE: '5' })
  let ok = 0
  for (const entry of keys) {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': entry.split(':')[0] }, remoteAddress: '10.0.0.1' })
    if (res.statusCode === 200) ok++
  }
  t.equal(ok, 200)
})

t.test('successful exchanges are limited per key', async (t) => {
  const app = await build(t, { AUTH_TOKENS_PER_MINUTE_PER_KEY: '3' })
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.alice } })).statusCode)
  t.same(codes, [200, 200, 200, 429])
  const other = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.bob } })
  t.equal(other.statusCode, 200, 'another key from the same address is unaffected')
})

t.test('authenticated routes are limited per user by plan (free: 120/min)', async (t) => {
  const { app, baseUrl } = await listen(t)
  const alice = await tokenFor(baseUrl, KEYS.alice)
  const bob = await tokenFor(baseUrl, KEYS.bob)
  let last = 0
  for (let i = 0; i < 121; i++) {
    last = (await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${alice}` } })).statusCode
    if (i < 120 && last !== 200) { t.fail(`request ${i + 1} was ${last}`); return }
  }
  t.equal(last, 429, 'the 121st request within a minute is refused')
  const res = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${bob}` } })
  t.equal(res.statusCode, 200, 'another user is not affected')
})

// The per-plan numbers are pinned here by hand (plans.ts is the table under test): professional 1200/min,
// enterprise 12000/min. Professional is driven to its boundary (the 1200th request is 200, the next 429);
// enterprise, whose boundary is the same limiter code, is checked through the limiter's own headers, which
// state the limit it applies, rather than by sending 12,000 requests.
async function planClient (t: Test, key: string): Promise<{ app: FastifyInstance, me: { method: 'GET', url: string, headers: Record<string, string> } }> {
  const app = await build(t)
  const token = (await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': key } })).json<{ access_token: string }>().access_token
  return { app, me: { method: 'GET' as const, url: '/me', headers: { authorization: `Bearer ${token}` } } }
}

t.test('authenticated routes are limited per user by plan (professional: 1200/min)', async (t) => {
  const { app, me } = await planClient(t, KEYS.dev)
  const first = await app.inject(me)
  t.equal(first.statusCode, 200)
  t.equal(first.json<{ limits: { requests_per_minute: number } }>().limits.requests_per_minute, 1200, '/me states the plan limit')
  t.equal(first.headers['x-ratelimit-limit'], '1200', 'the limiter applies the plan limit')
  // Batches of concurrent injected requests (no sockets); the limiter's window is a minute.
  let sent = 1
  while (sent < 1200) {
    const n = Math.min(200, 1200 - sent)
    const codes = await Promise.all(Array.from({ length: n }, async () => (await app.inject(me)).statusCode))
    const refused = codes.findIndex((c) => c !== 200)
    if (refused >= 0) { t.fail(`request ${sent + refused + 1} of 1200 was ${codes[refused]}`); return }
    sent += n
  }
  const over = await app.inject(me)
  t.equal(over.statusCode, 429, 'request 1201 within a minute is refused')
  t.match(over.json(), { error_code: 'RATE_LIMIT_EXCEEDED', details: { limit: 1200 } })
  const alice = (await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.alice } })).json<{ access_token: string }>().access_token
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${alice}` } })).statusCode, 200, 'another user is not affected')
})

t.test('authenticated routes are limited per user by plan (enterprise: 12000/min)', async (t) => {
  const { app, me } = await planClient(t, KEYS.ent)
  const first = await app.inject(me)
  t.equal(first.statusCode, 200)
  t.equal(first.json<{ limits: { requests_per_minute: number } }>().limits.requests_per_minute, 12_000, '/me states the plan limit')
  t.equal(first.headers['x-ratelimit-limit'], '12000', 'the limiter applies the plan limit')
  t.equal(first.headers['x-ratelimit-remaining'], '11999', 'and counts this request against it')
  await Promise.all(Array.from({ length: 99 }, async () => await app.inject(me)))
  t.equal((await app.inject(me)).headers['x-ratelimit-remaining'], '11899', '101 requests leave 11,899 in the window')
})

t.test('WebSocket upgrades work under injectWS with rate limiting registered', async (t) => {
  const app = await build(t)
  const token = (await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev } })).json<{ access_token: string }>().access_token
  let first: Promise<string> | undefined
  const injected = await app.injectWS(`/ws/simulate?token=${token}`, {}, {
    onInit (ws) { first = new Promise((resolve) => { ws.once('message', (m: Buffer) => { resolve(m.toString()) }) }) }
  })
  t.match(JSON.parse(await first!), { type: 'connection_ready' })
  injected.terminate()
})

t.test('WebSocket upgrades work over a real socket with rate limiting registered', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const s = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { s.close() })
  t.equal((await s.next('connection_ready')).type, 'connection_ready')
})

t.test('behind a trusted proxy (TRUST_PROXY), failed attempts count per forwarded client, not per proxy', async (t) => {
  const exchangeFrom = (baseUrl: string) => async (client: string, key: string): Promise<number> =>
    (await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': key, 'x-forwarded-for': client } })).status
  const trusted = exchangeFrom((await listen(t, { AUTH_FAILURES_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' })).baseUrl)
  for (let i = 0; i < 3; i++) t.equal(await trusted('203.0.113.7', `guess-${i}-guess-guess`), 401)
  t.equal(await trusted('203.0.113.7', 'guess-x-guess-guess'), 429, 'the guessing client is throttled')
  t.equal(await trusted('198.51.100.9', 'guess-y-guess-guess'), 401, 'another client behind the same proxy is still judged')

  const untrusted = exchangeFrom((await listen(t, { AUTH_FAILURES_PER_MINUTE: '3' })).baseUrl)
  for (let i = 0; i < 3; i++) t.equal(await untrusted('203.0.113.7', `guess-${i}-guess-guess`), 401)
  t.equal(await untrusted('198.51.100.9', 'guess-y-guess-guess'), 429, 'without TRUST_PROXY the header is ignored: one bucket per socket address')
})
