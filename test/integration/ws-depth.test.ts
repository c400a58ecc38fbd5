// Bounded work per WebSocket message over a real socket (issue 8 item 4 and "bounded work per request"):
// nesting is refused before anything recursive runs, for every message type, and validation lists a bounded
// number of errors however many there are.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

const DEEP = 3000

function nested (depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`
}

t.test('WebSocket depth and validation bounds', async (t) => {
  const { app, baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const s = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { s.close() })
  await s.next('connection_ready')
  const types = app.ws.dispatcher.types
  t.ok(types.length >= 15, `${types.length} message types`)

  t.test('every message type with a value nested 3,000 deep is VALIDATION_FAILED and the connection keeps working', async (t) => {
    for (const type of types) {
      const rid = `deep-${type}`
      // request_id first, so the refusal can name the request without parsing the message.
      s.send(`{"request_id":"${rid}","type":"${type}","data":{"session_id":"sess_x","deep":${nested(DEEP)}}}`)
      const reply = await s.next((m) => m.request_id === rid)
      t.equal(reply.data.error_code, 'VALIDATION_FAILED', `${type}: ${reply.type} ${String(reply.data.error_code)}`)
      t.equal(reply.data.details?.max_depth, 32, `${type}: names the cap`)
    }
    t.equal((await s.request('ping', {})).type, 'pong')
  })

  t.test('nesting within the cap still reaches the schema check', async (t) => {
    const reply = await s.request('ping', { client_time: JSON.parse(nested(20)) })
    t.equal(reply.data.error_code, 'VALIDATION_FAILED')
    t.match(reply.data.details, { fields: ['data.client_time'] })
  })

  t.test('many shallow objects (more brackets than the cap) are not mistaken for depth', async (t) => {
    const orders = Array.from({ length: 100 }, (_, i) => ({ order_id: `o${i}`, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }))
    const reply = await s.request('order_batch', { session_id: 'sess_doesnotexist', batch_id: 'b-shallow', orders }, 'shallow')
    t.not(reply.data.error_code, 'VALIDATION_FAILED', `answered ${String(reply.data.error_code)}, past validation`)
    t.equal(reply.data.details?.max_depth, undefined)
  })

  t.test('a deep message whose request_id comes late is refused without one', async (t) => {
    s.send(`{"type":"ping","data":{"x":${nested(DEEP)}},"request_id":"late"}`)
    const reply = await s.next('error')
    t.equal(reply.data.error_code, 'VALIDATION_FAILED')
    t.equal(reply.request_id, undefined)
  })

  t.test('10,000 invalid orders: at most 20 errors listed, the reply under 16 KB', async (t) => {
    const orders = Array.from({ length: 10_000 }, (_, i) => ({ order_id: `o${i}`, symbol: 'AAPL', side: 'sideways', type: 'market', quantity: -1 }))
    const raw: Buffer[] = []
    const onRaw = (data: Buffer): void => { raw.push(data) }
    s.ws.on('message', onRaw)
    t.teardown(() => { s.ws.off('message', onRaw) })
    const reply = await s.request('order_batch', { session_id: 'sess_x', batch_id: 'b1', orders }, 'big-batch')
    t.equal(reply.data.error_code, 'VALIDATION_FAILED')
    t.ok(reply.data.details.errors.length <= 20, `${reply.data.details.errors.length} errors listed`)
    const bytes = raw.map((b) => b.toString()).find((text) => text.includes('"big-batch"'))?.length ?? Infinity
    t.ok(bytes < 16_384, `reply is ${bytes} bytes`)
    t.equal((await s.request('ping', {})).type, 'pong')
  })

  t.test('a field name of 100,000 characters is cut in the error', async (t) => {
    const key = 'k'.repeat(100_000)
    const raw: Buffer[] = []
    const onRaw = (data: Buffer): void => { raw.push(data) }
    s.ws.on('message', onRaw)
    t.teardown(() => { s.ws.off('message', onRaw) })
    s.send(`{"type":"ping","request_id":"long-key","data":{"${key}":1}}`)
    const reply = await s.next((m) => m.request_id === 'long-key')
    t.equal(reply.data.error_code, 'VALIDATION_FAILED')
    const bytes = raw.map((b) => b.toString()).find((text) => text.includes('"long-key"'))?.length ?? Infinity
    t.ok(bytes < 16_384, `reply is ${bytes} bytes`)
  })
})
