// The WebSocket gateway over a real socket: greeting, envelope errors, validation, oversize frames,
// handler failures, per-plan connection limits and graceful shutdown.
import t from 'tap'
import { Type } from '@sinclair/typebox'
import { listen, KEYS, tokenFor, TestSocket, refusedUpgrade } from '../fixtures/app.js'
import { AppError } from '../../server/app-error.js'

t.test('WebSocket gateway', async (t) => {
  const { app, baseUrl, wsUrl } = await listen(t, { WS_MAX_PAYLOAD_BYTES: '4096' })
  // A feature handler that fails, to prove failures stay inside one reply.
  app.ws.dispatcher.register({
    type: 'test_explode',
    schema: Type.Object({ how: Type.Union([Type.Literal('crash'), Type.Literal('domain'), Type.Literal('async')]) }, { additionalProperties: false }),
    family: 'system',
    handle (_ctx, data) {
      if (data.how === 'crash') throw new Error('boom')
      if (data.how === 'domain') throw new AppError('INVALID_STATE', 'not now')
      return Promise.reject(new Error('async boom'))
    }
  })
  const devToken = await tokenFor(baseUrl, KEYS.dev)
  const open = async (tt: { teardown: (fn: () => void) => void }): Promise<TestSocket> => {
    const s = await TestSocket.open(`${wsUrl}?token=${devToken}`)
    tt.teardown(() => { s.close() })
    return s
  }

  t.test('connection_ready carries the contract fields', async (t) => {
    const s = await open(t)
    const ready = await s.next('connection_ready')
    t.match(ready.data, { user_id: 'dev', plan: 'professional', idle_timeout_sec: 300, max_payload_bytes: 4096, limits: { ws_connections: 10 } })
    t.ok(Date.parse(String(ready.data.connection_expires_at)) > Date.now(), 'expires in the future')
    t.type(ready.data.supported_features, Array)
  })

  t.test('ping is answered with pong echoing request_id and client_time', async (t) => {
    const s = await open(t)
    const pong = await s.request('ping', { client_time: 'c1' }, 'req-ping')
    t.equal(pong.type, 'pong')
    t.equal(pong.request_id, 'req-ping')
    t.equal(pong.data.client_time, 'c1')
  })

  t.test('invalid JSON gets an INVALID_MESSAGE error and the connection survives', async (t) => {
    const s = await open(t)
    s.send('{not json')
    const err = await s.next('error')
    t.match(err.data, { error_code: 'INVALID_MESSAGE', error_type: 'protocol', recoverable: true })
    t.equal((await s.request('ping', {})).type, 'pong')
  })

  t.test('prototype poisoning is refused as INVALID_MESSAGE', async (t) => {
    const s = await open(t)
    s.send('{"type":"ping","request_id":"p1","data":{"__proto__":{"admin":true}}}')
    const err = await s.next('error')
    t.equal(err.data.error_code, 'INVALID_MESSAGE')
    t.equal(({} as Record<string, unknown>).admin, undefined)
  })

  t.test('an unknown type is UNKNOWN_MESSAGE_TYPE echoing request_id', async (t) => {
    const s = await open(t)
    const err = await s.request('launch_rockets', {}, 'req-unknown')
    t.equal(err.type, 'error')
    t.match(err.data, { error_code: 'UNKNOWN_MESSAGE_TYPE', failed_request_id: 'req-unknown' })
  })

  t.test('an envelope with an unknown top-level field is INVALID_MESSAGE', async (t) => {
    const s = await open(t)
    s.send({ type: 'ping', data: {}, request_id: 'r-extra', admin: true })
    const err = await s.next((m) => m.request_id === 'r-extra')
    t.match(err.data, { error_code: 'INVALID_MESSAGE', fields: undefined })
    t.match(err.data.details, { fields: ['admin'] })
  })

  t.test('a schema violation in data is VALIDATION_FAILED naming the field', async (t) => {
    const s = await open(t)
    const err = await s.request('ping', { client_time: 42 }, 'req-bad')
    t.match(err.data, { error_code: 'VALIDATION_FAILED', error_type: 'validation', failed_request_id: 'req-bad' })
    t.match(err.data.details, { fields: ['data.client_time'] })
  })

  t.test('unknown properties in data are rejected, not stripped', async (t) => {
    const s = await open(t)
    const err = await s.request('ping', { sneaky: 1 })
    t.match(err.data, { error_code: 'VALIDATION_FAILED' })
    t.match(err.data.details, { fields: ['data.sneaky'] })
  })

  t.test('a throwing handler answers INTERNAL_ERROR and the connection and others keep working', async (t) => {
    const s = await open(t)
    const other = await open(t)
    for (const how of ['crash', 'async']) {
      const err = await s.request('test_explode', { how })
      t.match(err.data, { error_code: 'INTERNAL_ERROR', message: 'Internal Server Error', recoverable: false })
    }
    const domain = await s.request('test_explode', { how: 'domain' })
    t.match(domain.data, { error_code: 'INVALID_STATE', message: 'not now', error_type: 'domain' })
    t.equal((await s.request('ping', {})).type, 'pong')
    t.equal((await other.request('ping', {})).type, 'pong')
  })

  t.test('a frame over maxPayload closes the connection with 1009', async (t) => {
    const s = await open(t)
    await s.next('connection_ready')
    s.send({ type: 'ping', data: { client_time: 'x'.repeat(5000) } })
    const closed = await s.closed
    t.equal(closed.code, 1009)
  })

  t.test('a free plan gets one connection; the second upgrade is refused with 429', async (t) => {
    const aliceToken = await tokenFor(baseUrl, KEYS.alice)
    const first = await TestSocket.open(`${wsUrl}?token=${aliceToken}`)
    t.teardown(() => { first.close() })
    await first.next('connection_ready')
    t.equal(await refusedUpgrade(`${wsUrl}?token=${aliceToken}`), 429)
    first.close()
    await first.closed
    // The slot is released on close.
    const again = await TestSocket.open(`${wsUrl}?token=${aliceToken}`)
    t.teardown(() => { again.close() })
    t.equal((await again.next('connection_ready')).data.user_id, 'alice')
  })
})

t.test('shutdown tells clients connection_closing and closes with 1001', async (t) => {
  const { app, baseUrl, wsUrl } = await listen(t)
  const s = await TestSocket.open(`${wsUrl}?token=${await tokenFor(baseUrl, KEYS.dev)}`)
  await s.next('connection_ready')
  const closing = s.next('connection_closing')
  await app.close()
  t.match((await closing).data, { reason: 'server_shutdown', close_code: 1001 })
  t.equal((await s.closed).code, 1001)
})

t.test('an idle connection is warned off and closed', async (t) => {
  const { baseUrl, wsUrl } = await listen(t, { WS_IDLE_TIMEOUT_SEC: '5' })
  const s = await TestSocket.open(`${wsUrl}?token=${await tokenFor(baseUrl, KEYS.dev)}`)
  const closing = await s.next('connection_closing', 8000)
  t.match(closing.data, { reason: 'idle_timeout', close_code: 4002 })
  t.equal((await s.closed).code, 4002)
})
