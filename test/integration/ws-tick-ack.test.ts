// tick_ack over a real WebSocket: the plain shape the SDK sends (the fast path) and every other shape (the
// full parse and schema walk) drive a run to byte-identical events, malformed acknowledgements get the same
// errors on either path and change nothing, and acknowledgements that do not move the run are still charged
// to the connection's message bucket.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1d' }

const plainAck = (id: string, step: number, status = 'ready'): string =>
  JSON.stringify({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: status } })
/** The same acknowledgement in a shape only the full path reads (keys in another order). */
const reorderedAck = (id: string, step: number, status = 'ready'): string =>
  JSON.stringify({ data: { processing_status: status, sequence_id: step, session_id: id }, type: 'tick_ack' })

t.test('tick_ack', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const newSession = async (tok = token): Promise<string> => {
    const res = await fetch(`${baseUrl}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify(SESSION) })
    if (res.status !== 201) throw new Error(await res.text())
    return (await res.json() as { session_id: string }).session_id
  }
  const open = async (tt: { teardown: (fn: () => void) => void }, tok = token): Promise<{ s: TestSocket, raw: string[] }> => {
    const s = await TestSocket.open(`${wsUrl}?token=${tok}`)
    tt.teardown(() => { s.close() })
    const raw: string[] = []
    s.ws.on('message', (m) => { raw.push(m.toString()) })
    await s.next('connection_ready')
    return { s, raw }
  }
  const errorOf = (m: WsMessage): unknown => ({ type: m.type, request_id: m.request_id, data: m.data })

  /** Drives a lockstep run with `ack`, buying at tick 5 and selling at tick 20; resolves its frames without timestamps. */
  const drive = async (tt: { teardown: (fn: () => void) => void }, ack: (id: string, step: number) => string): Promise<string[]> => {
    const { s, raw } = await open(tt)
    const id = await newSession()
    const started = await s.request('start_simulation', { session_id: id }, 'go')
    const total = started.data.total_ticks as number
    for (let step = 1; step <= total; step++) {
      const tick = await s.next('tick')
      if (tick.data.sequence_id !== step) throw new Error(`tick ${String(tick.data.sequence_id)} instead of ${step}`)
      if (step === 5 || step === 20) {
        await s.request('order_batch', { session_id: id, batch_id: `b${step}`, orders: [{ order_id: `o${step}`, symbol: 'AAPL', side: step === 5 ? 'buy' : 'sell', type: 'market', quantity: 10 }] }, `r${step}`)
      }
      s.send(ack(id, step))
    }
    await s.next('simulation_complete')
    // The run's frames (not the dashboard's session_updated pushes), without the envelope's wall-clock stamp.
    return raw.filter((f) => !f.startsWith('{"type":"connection_ready"') && !f.startsWith('{"type":"session_updated"'))
      .map((f) => f.split(id).join('<id>').replace(/,"timestamp":"[^"]*"(,"sequence_id":\d+)?}$/, ',"timestamp":"<t>"$1}'))
  }

  t.test('the plain shape and any other shape drive a run to byte-identical events', async (t) => {
    const fast = await drive(t, plainAck)
    const full = await drive(t, reorderedAck)
    t.ok(fast.length > 60, `${fast.length} frames`)
    t.ok(fast.some((f) => f.includes('"execution_report"')), 'the run traded')
    t.same(fast, full, 'same frames, in the same order, byte for byte (timestamps aside)')
  })

  t.test('malformed acknowledgements are answered as before and change nothing', async (t) => {
    const { s } = await open(t)
    const id = await newSession()
    await s.request('start_simulation', { session_id: id }, 'go')
    await s.next('tick')
    const cases: Array<[string, string, string, RegExp]> = [
      ['extra field', plainAck(id, 1).replace('"ready"}', '"ready","x":1}'), 'VALIDATION_FAILED', /data\.x/],
      ['sequence 0', plainAck(id, 0), 'VALIDATION_FAILED', /sequence_id/],
      ['fractional sequence', plainAck(id, 1).replace('"sequence_id":1', '"sequence_id":1.5'), 'VALIDATION_FAILED', /sequence_id/],
      ['string sequence', plainAck(id, 1).replace('"sequence_id":1', '"sequence_id":"1"'), 'VALIDATION_FAILED', /sequence_id/],
      ['unknown status', plainAck(id, 1, 'READY'), 'VALIDATION_FAILED', /processing_status/],
      ['bad session id', plainAck('sess!x', 1), 'VALIDATION_FAILED', /session_id/],
      ['session id too long', plainAck('x'.repeat(65), 1), 'VALIDATION_FAILED', /session_id/],
      ['truncated', plainAck(id, 1).slice(0, -1), 'INVALID_MESSAGE', /not valid JSON/],
      ['__proto__', plainAck(id, 1).replace('"ready"}', '"ready","__proto__":{"x":1}}'), 'INVALID_MESSAGE', /__proto__/],
      ['tick not sent yet', plainAck(id, 999), 'VALIDATION_FAILED', /tick 999 has not been sent/]
    ]
    for (const [name, text, code, message] of cases) {
      s.send(text)
      const err = await s.next('error')
      t.equal(err.data.error_code, code, `${name}: ${code}`)
      t.match(err.data.message, message, `${name}: ${String(err.data.message)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    t.equal(s.messages.filter((m) => m.type === 'tick').length, 0, 'no tick moved the run')
    s.send(plainAck(id, 1))
    t.equal((await s.next('tick')).data.sequence_id, 2, 'the next plain ack moves it by one tick')
  })

  t.test('errors after the shape check are the same on both paths', async (t) => {
    const { s } = await open(t)
    const id = await newSession()
    await s.request('start_simulation', { session_id: id }, 'go')
    await s.next('tick')
    const other = await newSession()
    for (const [name, step, sid] of [['tick not sent', 50, id], ['run not started', 1, other], ['no such session', 1, 'sess_nope']] as const) {
      s.send(plainAck(sid, step))
      const viaFast = await s.next('error')
      s.send(reorderedAck(sid, step))
      const viaFull = await s.next('error')
      t.same(errorOf(viaFast), errorOf(viaFull), `${name}: ${String(viaFast.data.error_code)} either way`)
    }
  })

  t.test('acknowledgements that do not move the run are charged to the message bucket', async (t) => {
    const alice = await tokenFor(baseUrl, KEYS.alice)
    const { s } = await open(t, alice)
    const id = await newSession(alice)
    await s.request('start_simulation', { session_id: id }, 'go')
    await s.next('tick')
    s.send(plainAck(id, 1))
    await s.next('tick')
    // The free plan's bucket holds 400: 600 stale acks in one go overdraw it.
    const stale = plainAck(id, 1)
    for (let i = 0; i < 600; i++) s.send(stale)
    const refused = await s.next((m) => m.type === 'error' && m.data.error_code === 'RATE_LIMIT_EXCEEDED')
    t.match(refused.data, { error_type: 'rate_limit', recoverable: true, details: { limit_name: 'ws_messages_per_second' } })
  })
})
