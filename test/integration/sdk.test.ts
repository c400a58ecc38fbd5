// SessionClient against a real listening server over real sockets: the session workflow, the local session
// cache, typed events and the async iterator, and every error code surfacing as a typed SessionError.
import t from 'tap'
import { SessionClient, SessionError } from '../../client/session-client.js'
import { listen, KEYS, forgeJwt, validClaims } from '../fixtures/app.js'
import { connectedClient } from '../fixtures/sdk.js'

const VALID = { symbols: ['AAPL', 'msft'], start_date: '2023-01-03', end_date: '2023-06-30' }


const connected = connectedClient

/** The SessionError a promise rejects with (fails the test when it resolves or throws something else). */
async function sessionErrorOf (p: Promise<unknown>): Promise<SessionError> {
  try {
    await p
  } catch (err) {
    if (err instanceof SessionError) return err
    throw err
  }
  throw new Error('expected a SessionError, but the call succeeded')
}

t.test('SessionClient', async (t) => {
  const { baseUrl, app } = await listen(t)

  t.test('create → status → list → delete, with the cache following each step', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    t.equal(client.connectionInfo?.user_id, 'ent')
    const created = await client.createSession({ ...VALID, initial_capital: 50000 })
    t.match(created, { symbols: ['AAPL', 'MSFT'], state: 'ready', initial_capital: '50000' })
    t.same(client.sessions.get(created.session_id), created, 'cached on session_created')
    const status = await client.getSessionStatus(created.session_id)
    t.equal(status.state, 'ready')
    t.equal(status.progress, 0)
    const list = await client.listSessions()
    t.ok(list.some((s) => s.session_id === created.session_id), 'listed')
    t.same((await client.listSessions({ state: 'running' })).map((s) => s.session_id), [], 'state filter')
    t.same(await client.deleteSession(created.session_id), { session_id: created.session_id, deleted: true })
    t.notOk(client.sessions.has(created.session_id), 'dropped from the cache on session_deleted')
  })

  t.test('a complete listing drops cached sessions the server no longer has', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const a = await client.createSession(VALID)
    const b = await client.createSession(VALID)
    await app.inject({ method: 'DELETE', url: `/sessions/${a.session_id}`, headers: { authorization: `Bearer ${await tokenOf(baseUrl, KEYS.ent)}` } })
    // No "still cached" check here: the server pushes session_deleted to the user's connections, and whether
    // it is read before the next line is a race. sdk-edges pins the pruning rule without one.
    await client.listSessions()
    t.notOk(client.sessions.has(a.session_id))
    t.ok(client.sessions.has(b.session_id))
    await client.deleteSession(b.session_id)
  })

  t.test('on(type) delivers typed payloads with the envelope; the returned function unsubscribes', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const seen: string[] = []
    const off = client.on('session_created', (session, event) => { seen.push(`${session.session_id}:${event.request_id !== undefined ? 'rid' : 'none'}`) })
    const s = await client.createSession(VALID)
    off()
    const s2 = await client.createSession(VALID)
    t.same(seen, [`${s.session_id}:rid`])
    await client.deleteSession(s.session_id)
    await client.deleteSession(s2.session_id)
  })

  t.test('events() yields server messages in order and ends when the client closes', async (t) => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent })
    await client.connect()
    const types: string[] = []
    const consumed = (async () => {
      for await (const event of client.events()) {
        types.push(event.type)
        if (event.type === 'session_deleted') t.equal(event.data.deleted, true, 'narrowed by type')
      }
    })()
    const s = await client.createSession(VALID)
    await client.deleteSession(s.session_id)
    await client.close()
    await consumed
    // Each change is pushed to the owner's connections (no request_id), the requester's after its reply.
    t.same(types, ['session_created', 'session_updated', 'session_deleted', 'session_deleted', 'disconnected'])
  })

  t.test('a throwing listener does not break replies', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.message) }
    process.on('warning', onWarning)
    t.teardown(() => { process.off('warning', onWarning) })
    client.on('session_created', () => { throw new Error('listener bug') })
    const s = await client.createSession(VALID)
    t.equal(s.state, 'ready')
    await client.deleteSession(s.session_id)
    await new Promise((resolve) => setImmediate(resolve))
    t.match(warnings.join('\n'), /listener bug/)
  })

  const errorCases: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown symbol', { ...VALID, symbols: ['AAPL', 'NOPE1'] }, 'INVALID_SYMBOL'],
    ['start after end', { ...VALID, start_date: '2023-06-30', end_date: '2023-01-03' }, 'INVALID_DATE_RANGE'],
    ['capital below the minimum', { ...VALID, initial_capital: 999 }, 'INSUFFICIENT_CAPITAL'],
    ['capital above the maximum', { ...VALID, initial_capital: '10000001' }, 'CAPITAL_ABOVE_MAXIMUM'],
    ['an unknown property', { ...VALID, leverage: 10 }, 'VALIDATION_FAILED']
  ]
  for (const [name, body, code] of errorCases) {
    t.test(`createSession with ${name} rejects with SessionError ${code}`, async (t) => {
      const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
      // The cast lets the test send what the types forbid (the server must refuse it, not the compiler).
      const err = await sessionErrorOf(client.createSession(body as unknown as typeof VALID))
      t.equal(err.error_code, code)
      t.equal(err.source, 'session_error')
      t.equal(err.retriable, false)
      t.type(err.message, 'string')
    })
  }

  t.test('INVALID_SYMBOL carries the server details: bad symbols and suggestions', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const err = await sessionErrorOf(client.createSession({ ...VALID, symbols: ['AAPX'] }))
    t.same(err.details.invalid_symbols, ['AAPX'])
    t.match(err.details.suggestions, { AAPX: ['AAPL'] })
  })

  t.test('SESSION_NOT_FOUND for a missing id, and the id leaves the cache', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    const s = await client.createSession(VALID)
    await client.deleteSession(s.session_id)
    const err = await sessionErrorOf(client.getSessionStatus(s.session_id))
    t.equal(err.error_code, 'SESSION_NOT_FOUND')
    t.same(err.details, { session_id: s.session_id })
    t.equal((await sessionErrorOf(client.deleteSession(s.session_id))).error_code, 'SESSION_NOT_FOUND')
  })

  t.test('SESSION_LIMIT_EXCEEDED on a free plan’s second session', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.bob })
    const first = await client.createSession(VALID)
    const err = await sessionErrorOf(client.createSession(VALID))
    t.equal(err.error_code, 'SESSION_LIMIT_EXCEEDED')
    t.match(err.details, { limit_name: 'concurrent_sessions', limit: 1 })
    await client.deleteSession(first.session_id)
  })

  t.test('an `error` frame (unknown message type) becomes a SessionError with the frame attached', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    // @ts-expect-error — deliberately a type the server does not know
    const err = await sessionErrorOf(client.request('teleport', {}, 'pong'))
    t.equal(err.error_code, 'UNKNOWN_MESSAGE_TYPE')
    t.equal(err.source, 'error')
    t.match(err.error, { error_type: 'protocol', recoverable: true })
  })

  t.test('REQUEST_TIMEOUT when no matching reply arrives in time', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent })
    // ping is answered with pong, never session_info: the request can only time out.
    const err = await sessionErrorOf(client.request('ping', {}, 'session_info', { timeoutMs: 150 }))
    t.equal(err.error_code, 'REQUEST_TIMEOUT')
    t.equal(err.retriable, true)
  })

  t.test('INVALID_API_KEY: connect() rejects and does not retry', async (t) => {
    const client = new SessionClient({ url: baseUrl, apiKey: 'not_a_real_key_0000000000' })
    t.teardown(() => client.close())
    const err = await sessionErrorOf(client.connect())
    t.equal(err.error_code, 'INVALID_API_KEY')
    t.equal(err.retriable, false)
    t.equal(client.state, 'idle')
  })

  t.test('UNAUTHORIZED: a forged token without an API key is refused at the upgrade', async (t) => {
    const client = new SessionClient({ url: baseUrl, accessToken: forgeJwt(validClaims(), { secret: 'x'.repeat(40) }) })
    t.teardown(() => client.close())
    const err = await sessionErrorOf(client.connect())
    t.equal(err.error_code, 'UNAUTHORIZED')
  })

  t.test('a refused token is replaced from the API key once', async (t) => {
    const client = await connected(t, { url: baseUrl, apiKey: KEYS.ent, accessToken: forgeJwt(validClaims({ sub: 'ent', plan: 'enterprise' }), { secret: 'y'.repeat(40) }) })
    t.equal(client.connectionInfo?.user_id, 'ent')
  })

  t.test('CONNECTION_LIMIT_EXCEEDED: a free plan’s second connection is refused', async (t) => {
    await connected(t, { url: baseUrl, apiKey: KEYS.alice })
    const second = new SessionClient({ url: baseUrl, apiKey: KEYS.alice })
    t.teardown(() => second.close())
    const err = await sessionErrorOf(second.connect())
    t.equal(err.error_code, 'CONNECTION_LIMIT_EXCEEDED')
    t.equal(err.retriable, true)
  })

  t.test('NOT_CONNECTED before connect() and CLIENT_CLOSED after close()', async (t) => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent })
    t.equal((await sessionErrorOf(client.listSessions())).error_code, 'NOT_CONNECTED')
    await client.connect()
    await client.close()
    t.equal(client.state, 'closed')
    t.equal((await sessionErrorOf(client.listSessions())).error_code, 'CLIENT_CLOSED')
    t.equal((await sessionErrorOf(client.connect())).error_code, 'CLIENT_CLOSED')
  })

  t.test('a request in flight when close() runs fails with CLIENT_CLOSED', async (t) => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent })
    await client.connect()
    const pending = sessionErrorOf(client.request('ping', {}, 'session_info', { timeoutMs: 5000 }))
    await client.close()
    t.equal((await pending).error_code, 'CLIENT_CLOSED')
  })
})

async function tokenOf (baseUrl: string, key: string): Promise<string> {
  const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': key } })
  return (await res.json() as { access_token: string }).access_token
}

t.test('send() delivers a reply-less message on an open connection and refuses when there is none', async (t) => {
  const { baseUrl } = await listen(t)
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
  t.teardown(() => client.close())
  t.equal(client.send('ping', {}), false, 'not connected yet')
  await client.connect()
  const pong = client.once('pong')
  t.equal(client.send('ping', { client_time: 'now' }), true)
  t.equal((await pong).client_time, 'now')
})
