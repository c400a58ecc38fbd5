// SessionClient at its edges, over a real listening server: the reconnect policy's bounds (backoff ceiling,
// attempts, giving up), an immediate reconnect after a token-expiry close, a rotated server secret, a link
// that goes silent without closing, close() racing connect() and a reconnect, and the session cache's rules
// (what a filtered listing may forget, what SESSION_NOT_FOUND removes). Each test pins what a user relies on.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { SessionClient, SessionError, type LifecycleEventMap } from '../../client/session-client.js'
import { listen, KEYS, testConfig, tokenFor } from '../fixtures/app.js'
import { connectedClient } from '../fixtures/sdk.js'
import { deadPort } from '../fixtures/dead-port.js'

const VALID = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }


const connected = connectedClient

async function errorOf (p: Promise<unknown>): Promise<SessionError> {
  try { await p } catch (err) { if (err instanceof SessionError) return err; throw err }
  throw new Error('expected a SessionError, but the call succeeded')
}

/** A server of our own on a fixed port, so a test can stop it and start another there. */
async function ownServer (env: Record<string, string> = {}, port = 0): Promise<{ app: FastifyInstance, url: string, port: number }> {
  const app = await buildApp(testConfig(env), { logger: false })
  const url = await app.listen({ port, host: '127.0.0.1' })
  return { app, url, port: Number(new URL(url).port) }
}


t.test('a client needs an API key or a token', async (t) => {
  t.throws(() => new SessionClient({ url: 'http://127.0.0.1:1' }), { name: 'TypeError', message: /apiKey or an accessToken/ })
})

t.test('connect() is shared while connecting and idempotent while open: one server connection', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
  t.teardown(() => client.close())
  const [a, b] = await Promise.all([client.connect(), client.connect()])
  t.equal(a, b, 'both callers get the same greeting')
  t.equal(await client.connect(), a, 'connect() on an open client returns the current greeting')
  t.equal(app.ws.connections.forUser('dev').size, 1)
})

t.test('close() during connect(): connect rejects with CLIENT_CLOSED and no connection stays open', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
  const connecting = errorOf(client.connect())
  await client.close()
  t.equal((await connecting).error_code, 'CLIENT_CLOSED')
  t.equal(client.state, 'closed')
  // The server may have counted the socket for a moment; it must be gone once the close is seen.
  for (let i = 0; i < 50 && app.ws.connections.forUser('dev').size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(app.ws.connections.forUser('dev').size, 0)
})

t.test('an unreachable server: connect() rejects with a retriable CONNECTION_FAILED and the client stays usable', async (t) => {
  const port = await deadPort()
  const client = new SessionClient({ url: `http://127.0.0.1:${port}`, apiKey: KEYS.dev })
  t.teardown(() => client.close())
  const err = await errorOf(client.connect())
  t.equal(err.error_code, 'CONNECTION_FAILED')
  t.equal(err.retriable, true, 'a server that did not answer may answer later')
  t.equal(client.state, 'idle', 'connect() may be called again')
})

t.test('an outage longer than the policy: bounded backoff, then the client gives up and fails what waits', async (t) => {
  const { app, url } = await ownServer()
  let stopped = false
  t.teardown(async () => { if (!stopped) await app.close() })
  const policy = { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 4 }
  const client = await connected(t, { url, apiKey: KEYS.dev, reconnect: policy })
  const attempts: Array<LifecycleEventMap['reconnecting']> = []
  client.on('reconnecting', (d) => { attempts.push(d) })
  const types: string[] = []
  const consumed = (async () => { for await (const e of client.events()) types.push(e.type) })()
  const gaveUp = client.once('disconnected', { timeoutMs: 5000, filter: (d) => !d.will_reconnect })
  const dropped = client.once('disconnected')
  stopped = true
  await app.close()
  await dropped
  const waiting = errorOf(client.listSessions({}, { timeoutMs: 5000 }))

  const last = await gaveUp
  t.equal(attempts.length, policy.maxAttempts, 'exactly maxAttempts attempts')
  t.same(attempts.map((a) => a.attempt), [1, 2, 3, 4])
  for (const a of attempts) {
    t.ok(a.delay_ms >= 0 && a.delay_ms <= Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (a.attempt - 1)), `attempt ${a.attempt} waits ${a.delay_ms} ms, within the full-jitter ceiling`)
  }
  t.equal(attempts[0].last_error, undefined, 'the first attempt has no previous failure')
  t.match(attempts[1].last_error, /^CONNECTION_FAILED: /, 'later attempts say why the previous one failed')
  t.equal(last.code, 0)
  t.match(last.reason, /^gave up reconnecting: CONNECTION_FAILED/)
  const err = await waiting
  t.equal(err.error_code, 'CONNECTION_FAILED')
  t.match(err.message, /^Could not reconnect: /)
  t.equal(err.retriable, false, 'the client is closed: the same call will not work')
  t.equal(client.state, 'closed')
  await consumed
  t.equal(types.at(-1), 'disconnected', 'events() ends after the final disconnect')
})

t.test('a token-expiry close (4001) reconnects at once, without a backoff delay', async (t) => {
  const { baseUrl, app } = await listen(t)
  // A backoff this long would show: only the expiry rule makes the first delay 0.
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: { baseDelayMs: 30_000, maxDelayMs: 30_000 } })
  const reconnecting = client.once('reconnecting')
  const back = client.once('connected', { timeoutMs: 5000 })
  for (const conn of app.ws.connections.forUser('dev')) conn.socket.close(4001, 'token_expired')
  t.match(await reconnecting, { attempt: 1, delay_ms: 0 })
  t.equal((await back).reconnected, true)
  t.equal(client.state, 'open')
})

t.test('a restarted server with a rotated JWT secret', async (t) => {
  t.test('with an API key: the refused token is replaced and the client reconnects', async (t) => {
    const first = await ownServer()
    const client = await connected(t, { url: first.url, apiKey: KEYS.dev, reconnect: { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 50 } })
    const s = await client.createSession(VALID)
    const dropped = client.once('disconnected')
    await first.app.close()
    await dropped
    const second = await ownServer({ JWT_SECRET: 'another-secret-that-is-long-enough-for-hs256-98765' }, first.port)
    t.teardown(() => second.app.close())
    // Generous: the second server is built in this process, which takes seconds at a load of 15-20.
    const back = await client.once('connected', { timeoutMs: 30_000 })
    t.equal(back.reconnected, true)
    t.equal(back.ready.user_id, 'dev')
    t.equal((await errorOf(client.getSessionStatus(s.session_id))).error_code, 'SESSION_NOT_FOUND', 'the new server does not know the old session')
  })

  t.test('with only a token: the client gives up at once with UNAUTHORIZED', async (t) => {
    const first = await ownServer()
    const token = await tokenFor(first.url, KEYS.dev)
    const client = await connected(t, { url: first.url, accessToken: token, reconnect: { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 50 } })
    const attempts: number[] = []
    client.on('reconnecting', (d) => { attempts.push(d.attempt) })
    const dropped = client.once('disconnected')
    await first.app.close()
    await dropped
    // Generous, as above: the refusal must be what ends it, not this timeout.
    const waiting = errorOf(client.listSessions({}, { timeoutMs: 30_000 }))
    const second = await ownServer({ JWT_SECRET: 'another-secret-that-is-long-enough-for-hs256-98765' }, first.port)
    t.teardown(() => second.app.close())
    const err = await waiting
    t.equal(err.error_code, 'UNAUTHORIZED', 'the server’s refusal, not a generic failure')
    t.equal(err.retriable, false)
    t.equal(client.state, 'closed')
    t.ok(attempts.length < 50, `stopped after ${attempts.length} attempt(s) instead of exhausting the policy`)
    t.equal(second.app.ws.connections.forUser('dev').size, 0)
  })
})

t.test('a link that goes silent without closing is detected by the keep-alive and replaced', async (t) => {
  const { baseUrl, app } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev, pingIntervalMs: 100, requestTimeoutMs: 300, reconnect: { baseDelayMs: 10, maxDelayMs: 50 } })
  const [conn] = app.ws.connections.forUser('dev')
  // The server stops reading this socket: no pong comes back, yet TCP never reports a close.
  const raw = (conn.socket as unknown as { _socket: { pause: () => void } })._socket
  raw.pause()
  const dropped = await client.once('disconnected', { timeoutMs: 5000 })
  t.equal(dropped.will_reconnect, true)
  t.equal((await client.once('connected', { timeoutMs: 5000 })).reconnected, true)
  t.same(await client.listSessions(), [], 'the replacement connection works')
})

t.test('close() during a reconnect wait: pending requests fail with CLIENT_CLOSED at once', async (t) => {
  const { app, url } = await ownServer()
  const client = new SessionClient({ url, apiKey: KEYS.dev, reconnect: { baseDelayMs: 60_000, maxDelayMs: 60_000 } })
  await client.connect()
  const reconnecting = client.once('reconnecting')
  await app.close()
  await reconnecting
  const waiting = errorOf(client.listSessions({}, { timeoutMs: 30_000 }))
  const started = Date.now()
  await client.close()
  t.equal((await waiting).error_code, 'CLIENT_CLOSED')
  t.ok(Date.now() - started < 5000, 'close() does not wait for the backoff')
  t.equal(client.state, 'closed')
})

t.test('the session cache', async (t) => {
  const { baseUrl } = await listen(t)

  t.test('a filtered listing never forgets sessions; a complete one is the truth', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const a = await client.createSession(VALID)
    const b = await client.createSession(VALID)
    t.same(await client.listSessions({ state: 'running' }), [])
    t.ok(client.sessions.has(a.session_id) && client.sessions.has(b.session_id), 'a listing of running sessions says nothing about ready ones')
    const all = await client.listSessions()
    t.same(new Set(all.map((s) => s.session_id)), new Set(client.sessions.keys()), 'after a complete listing the cache is exactly the server’s sessions')
    await client.deleteSession(a.session_id)
    await client.deleteSession(b.session_id)
  })
})

t.test('events() and once()', async (t) => {
  const { baseUrl } = await listen(t)
  const client = await connected(t, { url: baseUrl, apiKey: KEYS.dev })

  t.test('an aborted signal ends the iterator; events after that are not delivered to it', async (t) => {
    const ac = new AbortController()
    const it = client.events({ signal: ac.signal })
    const next = it.next()
    client.send('ping', {})
    t.equal((await next).value?.type, 'pong')
    ac.abort()
    t.same(await it.next(), { value: undefined, done: true })
    client.send('ping', {})
    await client.once('pong')
    t.same(await it.next(), { value: undefined, done: true }, 'nothing was queued after the abort')
  })

  t.test('a signal already aborted gives an iterator that is done', async (t) => {
    const it = client.events({ signal: AbortSignal.abort() })
    t.same(await it.next(), { value: undefined, done: true })
  })

  t.test('a waiting next() resolves as done when the signal aborts', async (t) => {
    const ac = new AbortController()
    const it = client.events({ signal: ac.signal })
    const waiting = it.next()
    ac.abort()
    t.same(await waiting, { value: undefined, done: true })
  })

  t.test('once() skips events the filter rejects and times out with REQUEST_TIMEOUT', async (t) => {
    const got = client.once('pong', { filter: (d) => d.client_time === 'second' })
    client.send('ping', { client_time: 'first' })
    client.send('ping', { client_time: 'second' })
    t.equal((await got).client_time, 'second')
    const err = await errorOf(client.once('simulation_complete', { timeoutMs: 50 }))
    t.equal(err.error_code, 'REQUEST_TIMEOUT')
    t.equal(err.retriable, true)
  })
})

t.test('events() on a closed client is done at once', async (t) => {
  const { baseUrl } = await listen(t)
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
  await client.connect()
  await client.close()
  t.same(await client.events().next(), { value: undefined, done: true })
  await client.close()
  t.equal(client.state, 'closed', 'a second close() is harmless')
})
