// SessionClient with a list of server URLs, over real sockets: the first connect takes the first URL that
// answers (its token too), a refusal every instance would repeat ends the walk, and after a drop each
// reconnect attempt moves on to the next URL, round robin, while a token-expiry close stays where it was.
// The servers are independent in-memory instances, so these tests pin the client's movement and URL order;
// a run continuing across instances of one service is tested on a real cluster.
import t from 'tap'
import { createServer } from 'node:http'
import { SessionClient, SessionError, type LifecycleEventMap } from '../../client/session-client.js'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { deadUrl } from '../fixtures/dead-port.js'

const VALID = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }
const FAST_RECONNECT = { baseDelayMs: 20, maxDelayMs: 100 }

interface Teardown { teardown: (fn: () => unknown) => void }

function client (t: Teardown, opts: ConstructorParameters<typeof SessionClient>[0]): SessionClient {
  const c = new SessionClient(opts)
  t.teardown(() => c.close())
  return c
}

async function errorOf (p: Promise<unknown>): Promise<SessionError> {
  try { await p } catch (err) { if (err instanceof SessionError) return err; throw err }
  throw new Error('expected a SessionError, but the call succeeded')
}

/** An HTTP server that answers every request as an instance whose Redis is down would, counting them. */
async function countingServer (t: Teardown): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const srv = createServer((_req, res) => {
    hits++
    res.statusCode = 503
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ error_code: 'BUS_UNAVAILABLE', message: 'The shared bus (Redis) is unavailable' }))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => { resolve() }) }))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, hits: () => hits }
}

t.test('the URL list is checked when the client is built', async (t) => {
  t.throws(() => new SessionClient({ url: [], apiKey: KEYS.dev }), { name: 'TypeError', message: 'SessionClient url: expected a server URL or a non-empty list of them' })
  t.throws(() => new SessionClient({ url: ['http://127.0.0.1:1', 'tcp://127.0.0.1:2'], apiKey: KEYS.dev }), { name: 'TypeError', message: /^SessionClient url\[1\]: 'tcp:\/\/127\.0\.0\.1:2' must be an http:\/\/, https:\/\/, ws:\/\/ or wss:\/\/ URL$/ })
})

t.test('[dead, live]: the first connect skips the dead URL and gets its token from the live one', async (t) => {
  const dead = await deadUrl()
  const { baseUrl, app } = await listen(t)
  const c = client(t, { url: [dead, baseUrl], apiKey: KEYS.dev })
  const connected = c.once('connected')
  const ready = await c.connect()
  t.equal(ready.user_id, 'dev')
  t.match(await connected, { reconnected: false, url: baseUrl })
  t.equal(c.url, baseUrl)
  t.equal(app.ws.connections.forUser('dev').size, 1, 'connected to the live server')
  t.equal((await c.createSession(VALID)).state, 'ready', 'and it works')
})

t.test('[dead, live] with a given token (no API key) connects too', async (t) => {
  const dead = await deadUrl()
  const { baseUrl } = await listen(t)
  const c = client(t, { url: [dead, baseUrl], accessToken: await tokenFor(baseUrl, KEYS.alice) })
  t.equal((await c.connect()).user_id, 'alice')
  t.equal(c.url, baseUrl)
})

t.test('a ws:// URL in the list works: the token comes from http:// on the same host', async (t) => {
  const { wsUrl } = await listen(t)
  const c = client(t, { url: [await deadUrl(), wsUrl], apiKey: KEYS.dev })
  t.equal((await c.connect()).user_id, 'dev')
  t.equal(c.url, wsUrl)
})

t.test('no URL answers: connect() rejects with a retriable CONNECTION_FAILED naming each, and may be called again', async (t) => {
  const [a, b] = [await deadUrl(), await deadUrl()]
  const c = client(t, { url: [a, b], apiKey: KEYS.dev })
  const err = await errorOf(c.connect())
  t.equal(err.error_code, 'CONNECTION_FAILED')
  t.equal(err.retriable, true)
  t.match(err.message, /^None of the 2 server URLs answered/)
  t.match(err.details, { attempts: [{ url: a, error_code: 'CONNECTION_FAILED', message: /^Cannot get a token from http:\/\/127\.0\.0\.1:\d+\/: fetch failed \(ECONNREFUSED\)$/ }, { url: b, error_code: 'CONNECTION_FAILED' }] })
  t.equal(c.state, 'idle')
  // The second connect walks the list from the top again and finds a server that came up meanwhile.
  const { baseUrl } = await listen(t)
  const again = client(t, { url: [a, baseUrl], apiKey: KEYS.dev })
  t.equal((await again.connect()).user_id, 'dev')
})

t.test('close() during a first connect ends the walk: the next URL is not tried', async (t) => {
  const { baseUrl, app } = await listen(t)
  const c = client(t, { url: [await deadUrl(), baseUrl], apiKey: KEYS.dev })
  const connecting = errorOf(c.connect())
  await c.close()
  t.equal((await connecting).error_code, 'CONNECTION_FAILED', 'the failure at the first URL')
  t.equal(c.state, 'closed')
  t.equal(app.ws.connections.forUser('dev').size, 0, 'nothing connected to the second URL')
})

t.test('a refusal every instance would repeat (a bad API key) ends the first connect without trying the next URL', async (t) => {
  const { baseUrl } = await listen(t)
  const next = await countingServer(t)
  const c = client(t, { url: [baseUrl, next.url], apiKey: 'not_a_key_at_all_000000000000' })
  const err = await errorOf(c.connect())
  t.equal(err.error_code, 'INVALID_API_KEY')
  t.equal(err.retriable, false)
  t.equal(next.hits(), 0, 'the second URL was not asked')
})

t.test('an instance answering 503 BUS_UNAVAILABLE is skipped like a dead one', async (t) => {
  const busy = await countingServer(t)
  const { baseUrl } = await listen(t)
  const c = client(t, { url: [busy.url, baseUrl], apiKey: KEYS.dev })
  t.equal((await c.connect()).user_id, 'dev')
  t.equal(busy.hits(), 1, 'the first URL was asked for a token once')
  t.equal(c.url, baseUrl)
})

t.test('reconnects move round robin: [A, dead, B] goes A → (dead) → B, then B → (A, now dead) → (dead) → B', async (t) => {
  const a = await listen(t)
  const dead = await deadUrl()
  const b = await listen(t)
  const c = client(t, { url: [a.baseUrl, dead, b.baseUrl], apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  const tried: string[] = []
  const dropped: string[] = []
  c.on('reconnecting', (d) => { tried.push(d.url) })
  c.on('disconnected', (d) => { dropped.push(d.url) })
  await c.connect()
  t.equal(c.url, a.baseUrl, 'the first connect takes the first URL')
  await c.createSession(VALID)

  // A goes away for good: the client must land on B without A coming back.
  const onB = c.once('connected', { timeoutMs: 10_000 })
  await a.app.close()
  t.match(await onB, { reconnected: true, url: b.baseUrl })
  t.same(tried, [dead, b.baseUrl], 'after A: the next URL (dead), then the one after it')
  t.same(dropped, [a.baseUrl])
  t.equal(b.app.ws.connections.forUser('dev').size, 1)
  t.same(await c.listSessions(), [], 'requests now go to B (which never saw the session created on A)')
  t.equal((await c.createSession(VALID)).state, 'ready')

  // B's connection drops: the walk continues after B, wraps around past A (closed) and the dead URL to B.
  tried.length = 0
  const backOnB = c.once('connected', { timeoutMs: 10_000 })
  for (const conn of b.app.ws.connections.forUser('dev')) conn.socket.terminate()
  t.match(await backOnB, { reconnected: true, url: b.baseUrl })
  t.same(tried, [a.baseUrl, dead, b.baseUrl])
  t.same(dropped, [a.baseUrl, b.baseUrl])
  t.equal(c.state, 'open')
})

t.test('requests issued while the client moves to the next instance wait for it and go there', async (t) => {
  const a = await listen(t)
  const b = await listen(t)
  const c = client(t, { url: [a.baseUrl, b.baseUrl], apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  await c.connect()
  const dropped = c.once('disconnected')
  await a.app.close()
  await dropped
  const created = await c.createSession(VALID, { timeoutMs: 10_000 })
  t.equal(c.url, b.baseUrl)
  t.equal((await b.app.inject({ method: 'GET', url: `/sessions/${created.session_id}`, headers: { authorization: `Bearer ${await tokenFor(b.baseUrl, KEYS.dev)}` } })).statusCode, 200, 'the session exists on B')
})

t.test('a token-expiry close (4001) reconnects to the same URL: the instance is alive and keeps its run', async (t) => {
  const a = await listen(t)
  const b = await listen(t)
  const c = client(t, { url: [a.baseUrl, b.baseUrl], apiKey: KEYS.dev, reconnect: { baseDelayMs: 30_000, maxDelayMs: 30_000 } })
  await c.connect()
  const reconnecting = c.once('reconnecting')
  const back = c.once('connected', { timeoutMs: 5000 })
  for (const conn of a.app.ws.connections.forUser('dev')) conn.socket.close(4001, 'token_expired')
  t.match(await reconnecting, { attempt: 1, delay_ms: 0, url: a.baseUrl })
  t.match(await back, { reconnected: true, url: a.baseUrl })
  t.equal(b.app.ws.connections.forUser('dev').size, 0, 'nothing went to B')
})

t.test('a single URL: every reconnect goes back to it and the events name it', async (t) => {
  const { app, baseUrl } = await listen(t)
  const c = client(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: FAST_RECONNECT })
  const events: Array<LifecycleEventMap['reconnecting']> = []
  c.on('reconnecting', (d) => { events.push(d) })
  const first = c.once('connected')
  await c.connect()
  t.match(await first, { reconnected: false, url: baseUrl })
  const back = c.once('connected')
  for (const conn of app.ws.connections.forUser('dev')) conn.socket.terminate()
  t.match(await back, { reconnected: true, url: baseUrl })
  t.same(events.map((e) => e.url), [baseUrl])
})
