// Rate limits: brute force on /auth/token is refused per address, valid keys behind one address are not,
// authenticated routes are limited per user by plan, and WebSocket upgrades keep working.
import t from 'tap'
import { build, listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

t.test('failed key attempts from one address are refused with 429 and Retry-After', async (t) => {
  const { baseUrl } = await listen(t, { AUTH_FAILURES_PER_MINUTE: '5' })
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': `guess-${i}-guess-guess` } })
    t.equal(res.status, 401, `attempt ${i + 1} is judged`)
  }
  const blocked = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEYS.dev } })
  t.equal(blocked.status, 429, 'even a valid key is refused while the address is blocked')
  t.match(await blocked.json(), { error_code: 'RATE_LIMIT_EXCEEDED' })
  const retryAfter = Number(blocked.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After is ${retryAfter}`)
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
