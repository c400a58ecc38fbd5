// The connection writes its text frames to the socket itself (server/ws/text-frames.ts): over a real socket a
// standard ws client reads every size of frame (short, 16-bit and 64-bit lengths) and non-ASCII text exactly as
// the REST API returns the same data, a client's ping is answered in the middle of a stream whose frames stay in
// order, and a close still completes its handshake.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

t.test('frames written by the connection', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()
  // Reading a session slides its expiry, so the two reads differ there and only there.
  const stable = (session: Record<string, unknown>): Record<string, unknown> => ({ ...session, expires_at: undefined, updated_at: undefined })
  const s = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { s.close() })
  await s.next('connection_ready')

  t.test('every frame size and non-ASCII text read as REST serves the same data', async (t) => {
    const notes = ['', 'é', 'x'.repeat(60), 'Société Générale ✓ \u2028 😀'.repeat(3), 'ü'.repeat(3000), '😀'.repeat(3500)]
    for (let i = 0; i < 6; i++) notes.push(`${i}`.repeat(12_000))
    const ids: string[] = []
    for (const note of notes) {
      const created = await s.request('create_session', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', metadata: { note } })
      t.equal(created.type, 'session_created')
      t.equal(created.data.metadata.note, note, `a note of ${note.length} UTF-16 units comes back intact`)
      ids.push(created.data.session_id as string)
    }
    for (const id of ids) {
      const info = await s.request('get_session', { session_id: id })
      t.same(stable(info.data), stable(await rest(`/sessions/${id}`)), `session ${id}: WebSocket and REST agree`)
    }
    // A page of sessions with long notes: one frame over 64 KiB (a 64-bit length).
    const list = await s.request('list_sessions', { limit: 100 })
    t.ok(JSON.stringify(list).length > 65_536, `list frame of ${JSON.stringify(list).length} characters`)
    t.same(list.data.sessions.map(stable), (await rest('/sessions?limit=100')).sessions.map(stable), 'the list reads as REST serves it')
  })

  t.test('a ping is answered mid-stream and the stream stays in order', async (t) => {
    const created = await s.request('create_session', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1h' })
    const id = created.data.session_id as string
    const pong = new Promise<Buffer>((resolve) => { s.ws.once('pong', resolve) })
    const started = await s.request('start_simulation', { session_id: id, flow_control: false }, 'go')
    s.ws.ping(Buffer.from('mid-stream'))
    const done = await s.next('simulation_complete', 20_000)
    t.equal((await pong).toString(), 'mid-stream', 'pong with the ping\'s payload')
    // The run's events (simulation_started and simulation_complete were taken off the queue above).
    const seqs = s.messages.filter((m) => m.sequence_id !== undefined).map((m) => m.sequence_id as number)
    const ticks = s.messages.filter((m) => m.type === 'tick' && m.data.session_id === id).length
    t.equal(ticks, started.data.total_ticks, 'every tick arrived')
    t.same(seqs, seqs.map((_, i) => started.sequence_id as number + 1 + i), 'events in sequence order, none missing')
    t.equal(done.sequence_id, seqs[seqs.length - 1] + 1, 'simulation_complete follows the last event')
  })

  t.test('a close completes its handshake', async (t) => {
    s.ws.close(1000, 'bye')
    const closed = await s.closed
    t.equal(closed.code, 1000)
  })
})
