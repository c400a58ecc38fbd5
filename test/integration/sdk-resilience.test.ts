// SessionClient under stress and failure: 20 users creating concurrently against exact plan limits, a token
// expiring mid-connection, a server restart, a dropped socket, and the keep-alive against the idle timeout.
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { SessionClient, SessionError, type SessionClientOptions } from '../../client/session-client.js'
import { listen, KEYS, forgeJwt, validClaims, testConfig } from '../fixtures/app.js'

const VALID = { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30' }
const FAST_RECONNECT = { baseDelayMs: 20, maxDelayMs: 200 }

interface Teardown { teardown: (fn: () => unknown) => void }

async function connected (t: Teardown, opts: SessionClientOptions): Promise<SessionClient> {
  const client = new SessionClient(opts)
  t.teardown(() => client.close())
  await client.connect()
  return client
}

t.test('20 free users × 10 concurrent creates over 20 connections: exactly one session each', async (t) => {
  const users = Array.from({ length: 20 }, (_, i) => ({ key: `load_key_user_${String(i).padStart(2, '0')}_000000`, id: `load${i}` }))
  const { baseUrl } = await listen(t, { SIMUTRADOR_API_KEYS: users.map((u) => `${u.key}:${u.id}:free`).join(',') })
  const clients = await Promise.all(users.map(async (u) => await connected(t, { url: baseUrl, apiKey: u.key })))
  const outcomes = await Promise.all(clients.map(async (c) => await Promise.allSettled(Array.from({ length: 10 }, async () => await c.createSession(VALID)))))
  for (const [i, results] of outcomes.entries()) {
    const ok = results.filter((r) => r.status === 'fulfilled')
    const codes = results.flatMap((r) => r.status === 'rejected' && r.reason instanceof SessionError ? [r.reason.error_code] : [])
    t.equal(ok.length, 1, `${users[i].id}: one create succeeded`)
    t.same(codes, Array.from({ length: 9 }, () => 'SESSION_LIMIT_EXCEEDED'), `${users[i].id}: nine were refused by the limit`)
  }
  const listed = await Promise.all(clients.map(async (c) => await c.listSessions()))
  t.same(listed.map((l) => l.length), Array.from({ length: 20 }, () => 1), 'the server holds exactly one session per user')
})

t.test('a token expiring during a connection: the client reconnects with a fresh token and keeps working', async (t) => {
  const { baseUrl } = await listen(t)
  const exp = Math.floor(Date.now() / 1000) + 3
  // Margin 0 so the SDK really uses the short-lived token instead of refreshing it up front.
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev, accessToken: forgeJwt(validClaims({ exp })), tokenRefreshMarginSec: 0, reconnect: FAST_RECONNECT })
  t.teardown(() => client.close())
  // Listen before connecting: the warning can arrive in the same read as connection_ready, before connect()
  // resolves, and a listener attached afterwards would miss it. The reconnect is the second 'connected'.
  const warned = client.once('connection_warning', { timeoutMs: 8000 })
  const closing = client.once('connection_closing', { timeoutMs: 9000 })
  const dropped = client.once('disconnected', { timeoutMs: 9000 })
  const back = client.once('connected', { timeoutMs: 12_000, filter: (d) => d.reconnected })
  await client.connect()
  const first = client.connectionInfo
  t.equal(first?.connection_expires_at, new Date(exp * 1000).toISOString(), 'connected with the forged short-lived token')
  const session = await client.createSession(VALID)
  t.equal((await warned).reason, 'token_expiring')
  t.equal((await closing).reason, 'token_expired')
  t.match(await dropped, { code: 4001, will_reconnect: true })
  const again = await back
  t.equal(again.reconnected, true)
  t.ok(Date.parse(again.ready.connection_expires_at) > Date.now() + 60_000, 'the new connection runs on a fresh, long-lived token')
  t.equal((await client.getSessionStatus(session.session_id)).state, 'ready', 'requests work after the reconnect')
  await client.deleteSession(session.session_id)
})

t.test('a server restart: the client reconnects with backoff, queued requests go out, the cache resyncs', async (t) => {
  const first = await buildApp(testConfig(), { logger: false })
  const address = await first.listen({ port: 0, host: '127.0.0.1' })
  const port = Number(new URL(address).port)
  const client = await connected(t, { url: address, apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  const lost = await client.createSession(VALID)
  const events: string[] = []
  client.on('connection_closing', (d) => { events.push(`closing:${d.reason}`) })
  client.on('disconnected', (d) => { events.push(`disconnected:${d.code}:${d.will_reconnect}`) })
  client.on('reconnecting', () => { if (!events.includes('reconnecting')) events.push('reconnecting') })
  client.on('connected', (d) => { events.push(`connected:${d.reconnected}`) })

  const dropped = client.once('disconnected')
  await first.close()
  await dropped
  t.equal(client.state, 'reconnecting')
  // Issued during the outage: waits for the connection instead of failing.
  // Generous: the new server is built in this process, which takes seconds at a load of 15-20.
  const queued = client.listSessions({}, { timeoutMs: 30_000 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const second = await buildApp(testConfig(), { logger: false })
  t.teardown(() => second.close())
  await second.listen({ port, host: '127.0.0.1' })

  t.same(await queued, [], 'the restarted (in-memory) server has no sessions')
  t.notOk(client.sessions.has(lost.session_id), 'the lost session left the cache')
  t.same(events, ['closing:server_shutdown', 'disconnected:1001:true', 'reconnecting', 'connected:true'])
  const fresh = await client.createSession(VALID)
  t.equal(fresh.state, 'ready', 'requests work against the new server')
})

t.test('a dropped socket fails a non-idempotent request in flight with a retriable CONNECTION_LOST', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  // ping is answered with pong, never session_info, so the request is still pending when the socket dies.
  const pending = client.request('ping', {}, 'session_info', { timeoutMs: 5000 }).catch((err: unknown) => err)
  const back = client.once('connected')
  await new Promise((resolve) => setTimeout(resolve, 50))
  for (const conn of app.ws.connections.forUser('dev')) conn.socket.terminate()
  const err = await pending
  t.ok(err instanceof SessionError)
  t.match(err, { error_code: 'CONNECTION_LOST', retriable: true })
  t.equal((await back).reconnected, true)
})

t.test('an idempotent request in flight when the socket drops is sent again after reconnecting', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  const s = await client.createSession(VALID)
  // Terminate before the server can answer: the same tick as the send.
  const status = client.getSessionStatus(s.session_id)
  for (const conn of app.ws.connections.forUser('dev')) conn.socket.terminate()
  t.equal((await status).session_id, s.session_id)
})

t.test('with reconnect disabled a drop closes the client and ends events()', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: false })
  const types: string[] = []
  const consumed = (async () => { for await (const e of client.events()) types.push(e.type) })()
  for (const conn of app.ws.connections.forUser('dev')) conn.socket.terminate()
  await consumed
  t.same(types, ['disconnected'])
  t.equal(client.state, 'closed')
})

t.test('pings keep an idle connection open past the server idle timeout', async (t) => {
  const { baseUrl } = await listen(t, { WS_IDLE_TIMEOUT_SEC: '5' })
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev })
  let drops = 0
  client.on('disconnected', () => { drops++ })
  await new Promise((resolve) => setTimeout(resolve, 6500))
  t.equal(drops, 0)
  t.equal(client.state, 'open')
  t.same(await client.listSessions(), [])
})

t.test('a create in flight when the socket drops is re-sent with its idempotency key: exactly one session', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.bob, reconnect: FAST_RECONNECT })
  const created = client.createSession(VALID)
  // Let the server receive (and likely execute) the create, then cut the connection before the reply is read.
  setImmediate(() => { for (const conn of app.ws.connections.forUser('bob')) conn.socket.terminate() })
  const session = await created
  const all = await client.listSessions()
  t.same(all.map((s) => s.session_id), [session.session_id], 'one session, the one the create resolved with')
})

t.test('createSession with the same idempotencyKey returns the first session', async (t) => {
  const { baseUrl } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev })
  const a = await client.createSession(VALID, { idempotencyKey: 'k-1' })
  const b = await client.createSession(VALID, { idempotencyKey: 'k-1' })
  t.equal(b.session_id, a.session_id)
})
