// One way into a run, over real sockets (issue 8 items 3b, 5, 6, 7): replies go to the connection that
// asked, racing resumes displace explicitly, the store is the commit point of a pause, state_sync and
// GET …/events are paged, a run's log is a bounded ring (EVENTS_EXPIRED past it), and a strategy's
// exception ends its run in state error.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

type Rest = (method: string, path: string, body?: unknown) => Promise<{ status: number, body: any }>

interface Teardown { teardown: (fn: () => unknown) => void }

async function harness (t: Teardown, env: Record<string, string> = {}): Promise<{ rest: Rest, open: () => Promise<TestSocket>, newSession: (body?: Record<string, unknown>) => Promise<string> }> {
  const { baseUrl, wsUrl } = await listen(t, env)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest: Rest = async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const open = async (): Promise<TestSocket> => {
    const s = await TestSocket.open(`${wsUrl}?token=${token}`)
    t.teardown(() => { s.close() })
    await s.next('connection_ready')
    return s
  }
  const newSession = async (body: Record<string, unknown> = {}): Promise<string> => {
    const res = await rest('POST', '/sessions', { ...SESSION, ...body })
    if (res.status !== 201) throw new Error(JSON.stringify(res.body))
    return res.body.session_id as string
  }
  return { rest, open, newSession }
}

/** Poll GET /sessions/{id} until `state` (bounded). */
async function waitState (rest: Rest, id: string, state: string): Promise<string> {
  let now = ''
  for (let i = 0; i < 300 && now !== state; i++) {
    now = (await rest('GET', `/sessions/${id}`)).body.state
    if (now !== state) await sleep(20)
  }
  return now
}

t.test('replies go to the connection that asked', async (t) => {
  const { open, newSession } = await harness(t)
  const a = await open()
  const b = await open()
  const id = await newSession()
  await a.request('start_simulation', { session_id: id })
  await a.next('tick')

  const order = { order_id: 'b1', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1', quantity: 1, time_in_force: 'gtc' }
  const ack = await b.request('order_batch', { session_id: id, batch_id: 'from-b', orders: [order] }, 'from-b')
  t.match(ack, { type: 'batch_ack', request_id: 'from-b', data: { accepted_orders: ['b1'] } }, 'B gets its own batch_ack')
  t.equal(ack.sequence_id, undefined, 'a reply is not a logged run event')
  const account = await b.request('query_account', { session_id: id }, 'acct-b')
  t.match(account, { type: 'account_snapshot', request_id: 'acct-b' })
  t.equal(account.sequence_id, undefined)

  // The order's own events are run events: on the run's stream (A), numbered.
  const update = await a.next('order_update')
  t.match(update, { data: { order_id: 'b1', status: 'accepted' } })
  t.ok((update.sequence_id ?? 0) > 0, 'order_update is logged')
  await sleep(50)
  t.notOk(a.messages.some((m) => m.request_id === 'from-b' && m.type === 'batch_ack'), 'A never sees B\'s batch_ack')
  t.notOk(a.messages.some((m) => m.request_id === 'acct-b'), 'A never sees B\'s account reply')
})

t.test('racing resumes: one owner, the displaced are told and their acks refused', async (t) => {
  const { rest, open, newSession } = await harness(t)
  const a = await open()
  const b = await open()
  const c = await open()
  const d = await open()
  const id = await newSession()
  await a.request('start_simulation', { session_id: id })
  const tick1 = await a.next('tick')
  t.equal(tick1.data.sequence_id, 1)

  b.send({ type: 'resume_session', request_id: 'rb', data: { session_id: id, last_processed_sequence_id: 0 } })
  c.send({ type: 'resume_session', request_id: 'rc', data: { session_id: id, last_processed_sequence_id: 0 } })
  const [syncB, syncC] = await Promise.all([b.next((m) => m.request_id === 'rb'), c.next((m) => m.request_id === 'rc')])
  t.equal(syncB.type, 'state_sync')
  t.equal(syncC.type, 'state_sync')

  const takenA = await a.next('session_error')
  t.match(takenA.data, { error_code: 'STREAM_TAKEN_OVER', details: { session_id: id } }, 'the first strategy connection is told')
  // Exactly one of B and C was displaced by the other.
  const takenB = b.next((m) => m.type === 'session_error', 1500).then(() => true, () => false)
  const takenC = c.next((m) => m.type === 'session_error', 1500).then(() => true, () => false)
  const [bLost, cLost] = await Promise.all([takenB, takenC])
  t.ok(bLost !== cLost, `exactly one of the racers is displaced (b ${String(bLost)}, c ${String(cLost)})`)
  const owner = bLost ? c : b
  const loser = bLost ? b : c

  for (const [sock, code] of [[a, 'STREAM_TAKEN_OVER'], [loser, 'STREAM_TAKEN_OVER'], [d, 'INVALID_STATE']] as const) {
    const refused = await sock.request('tick_ack', { session_id: id, sequence_id: 1, processing_status: 'ready' })
    t.match(refused, { type: 'error', data: { error_code: code } }, `ack refused with ${code}`)
  }
  await sleep(100)
  for (const sock of [a, b, c, d]) t.notOk(sock.messages.some((m) => m.type === 'tick'), 'refused acks did not move the run')
  t.equal((await rest('GET', `/sessions/${id}`)).body.progress < 1, true)

  owner.send({ type: 'tick_ack', data: { session_id: id, sequence_id: 1, processing_status: 'ready' } })
  const tick2 = await owner.next('tick')
  t.equal(tick2.data.sequence_id, 2, 'the owner moves the run')
  await sleep(50)
  for (const sock of [a, loser, d]) t.notOk(sock.messages.some((m) => m.type === 'tick'), 'only the owner hears the stream')
})

t.test('the store is the commit point: a read right after pause says paused', async (t) => {
  const { rest, open, newSession } = await harness(t)
  const id = await newSession()
  t.match(await rest('POST', `/sessions/${id}/start`, { flow_control: true }), { status: 200, body: { state: 'running' } })
  const paused = await rest('POST', `/sessions/${id}/pause`)
  t.match(paused, { status: 200, body: { state: 'paused' } })
  t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'paused', 'REST')
  const resumed = await rest('POST', `/sessions/${id}/resume`)
  t.match(resumed, { status: 200, body: { state: 'running' } })
  t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'running')
  const again = await rest('POST', `/sessions/${id}/resume`)
  t.match(again, { status: 409, body: { error_code: 'INVALID_STATE', details: { from: 'running', to: 'running' } } }, 'the one table answers')

  // WebSocket: pause and get_session in one TCP write; the read is answered after the pause committed.
  const ws = await open()
  const socket = (ws.ws as unknown as { _socket: { cork: () => void, uncork: () => void } })._socket
  socket.cork()
  ws.send({ type: 'pause_simulation', request_id: 'p', data: { session_id: id } })
  ws.send({ type: 'get_session', request_id: 'g', data: { session_id: id } })
  socket.uncork()
  const reply = await ws.next((m) => m.request_id === 'p')
  t.match(reply, { type: 'simulation_paused', data: { state: 'paused' } })
  t.match(await ws.next((m) => m.request_id === 'g'), { type: 'session_info', data: { state: 'paused' } }, 'WebSocket')
  const cancelled = await rest('POST', `/sessions/${id}/cancel`)
  t.match(cancelled, { status: 200, body: { state: 'completed' } })
  t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'completed')
})

t.test('resume_session from 0 on a long log is paged, and the run continues only after the last page', async (t) => {
  const { rest, open, newSession } = await harness(t)
  // 12 days of 1m crypto: 17,280 ticks, tens of thousands of events.
  const id = await newSession({ symbols: ['BTC/USD'], start_date: '2023-01-01', end_date: '2023-01-12', timeframe: '1m' })
  const first = await open()
  await first.request('start_simulation', { session_id: id, max_pending_ticks: 1000, include_bars: false })
  // Ack ticks until well into the run, then vanish: the run pauses with a long log behind it.
  let acked = 0
  while (acked < 12_000) {
    const tick = await first.next('tick')
    acked = tick.data.sequence_id
    if (acked % 500 === 0 || acked >= 12_000) first.send({ type: 'tick_ack', data: { session_id: id, sequence_id: acked, processing_status: 'ready' } })
  }
  first.ws.terminate()
  await first.closed
  t.equal(await waitState(rest, id, 'paused'), 'paused')

  const second = await open()
  const sync = await second.request('resume_session', { session_id: id, last_processed_sequence_id: 0 }, 'resume')
  t.equal(sync.type, 'state_sync')
  const missed = sync.data.missed_events as WsMessage[]
  t.ok(missed.length <= 1000, `the first frame carries at most 1,000 events (${missed.length})`)
  t.equal(sync.data.has_more, true)
  const lastAtSync = sync.data.last_sequence_id as number
  t.ok(lastAtSync > 12_000)
  // The rest follow as the original frames, in order, each once; then the run goes on.
  const seen: number[] = missed.map((e) => e.sequence_id!)
  let lastTick = 0
  for (const e of missed) if (e.type === 'tick') lastTick = e.data.sequence_id
  const ping = await second.request('ping', {})
  t.equal(ping.type, 'pong', 'the connection still answers between pages')
  while (seen[seen.length - 1] < lastAtSync) {
    const m = await second.next((x) => x.sequence_id !== undefined, 10_000)
    seen.push(m.sequence_id!)
    if (m.type === 'tick') lastTick = m.data.sequence_id
  }
  t.same(seen, Array.from({ length: lastAtSync }, (_, i) => i + 1), 'every event 1..last once, in order')
  t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'running', 'resumed after the last page')
  second.send({ type: 'tick_ack', data: { session_id: id, sequence_id: lastTick, processing_status: 'ready' } })
  const next = await second.next('tick', 10_000)
  t.equal(next.data.sequence_id, lastTick + 1, 'the run continues after the replay')
})

t.test('GET /events pages: at most 1,000 events, has_more', async (t) => {
  const { rest, newSession } = await harness(t)
  const id = await newSession({ symbols: ['BTC/USD'], start_date: '2023-01-01', end_date: '2023-01-03', timeframe: '1m' })
  await rest('POST', `/sessions/${id}/start`, { flow_control: false })
  t.equal(await waitState(rest, id, 'completed'), 'completed')
  const tooMany = await rest('GET', `/sessions/${id}/events?limit=5000`)
  t.match(tooMany, { status: 400, body: { error_code: 'VALIDATION_FAILED' } })
  const page = await rest('GET', `/sessions/${id}/events`)
  t.equal(page.status, 200)
  t.equal(page.body.events.length, 1000, 'default page is 1,000')
  t.equal(page.body.has_more, true)
  t.ok(JSON.stringify(page.body).length <= 1 << 20)
  let after = 0
  let pages = 0
  for (;;) {
    const p = await rest('GET', `/sessions/${id}/events?after_seq=${after}&limit=1000`)
    t.equal(p.body.events[0]?.sequence_id, after + 1)
    after = p.body.events[p.body.events.length - 1].sequence_id
    pages++
    if (!(p.body.has_more as boolean) || pages > 100) break
  }
  t.equal(after, page.body.last_sequence_id, 'paging reaches the end')
})

t.test('a run keeps a bounded ring of newest events: older ones are EVENTS_EXPIRED', async (t) => {
  const { rest, open, newSession } = await harness(t, { EVENT_LOG_MAX_BYTES_PER_RUN: '65536', EVENT_LOG_USER_BYTES: '65536' })
  const id = await newSession({ symbols: ['BTC/USD'], start_date: '2023-01-01', end_date: '2023-01-03', timeframe: '1m' })
  await rest('POST', `/sessions/${id}/start`, { flow_control: false })
  t.equal(await waitState(rest, id, 'completed'), 'completed')
  const expired = await rest('GET', `/sessions/${id}/events?after_seq=0`)
  t.equal(expired.status, 410)
  t.equal(expired.body.error_code, 'EVENTS_EXPIRED')
  const firstAvailable = expired.body.details.first_available_sequence_id as number
  t.ok(firstAvailable > 1)
  const tail = await rest('GET', `/sessions/${id}/events?after_seq=${firstAvailable - 1}&limit=10`)
  t.equal(tail.status, 200)
  t.equal(tail.body.events[0].sequence_id, firstAvailable)
  const ws = await open()
  const sync = await ws.request('resume_session', { session_id: id, last_processed_sequence_id: 0 })
  t.match(sync, { type: 'session_error', data: { error_code: 'EVENTS_EXPIRED', details: { first_available_sequence_id: firstAvailable } } })
  t.equal((await rest('GET', `/sessions/${id}/results`)).status, 200, 'results outlive the log')
})

t.test('strategy_error ends the run in state error with the message', async (t) => {
  const { rest, open, newSession } = await harness(t)
  const ws = await open()
  const id = await newSession()
  await ws.request('start_simulation', { session_id: id })
  await ws.next('tick')
  const bad = await ws.request('strategy_error', { session_id: id, message: 'x'.repeat(4097) })
  t.match(bad, { type: 'session_error', data: { error_code: 'VALIDATION_FAILED' } })
  t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'running', 'a bad message changes nothing')
  const reply = await ws.request('strategy_error', { session_id: id, message: 'boom', stack: 'Error: boom\n    at onTick (strategy.ts:1:1)' }, 'se')
  t.match(reply, { type: 'session_info', request_id: 'se', data: { session_id: id, state: 'error', error_message: 'boom' } })
  const failed = await ws.next((m) => m.type === 'session_error' && m.request_id === undefined)
  t.ok((failed.sequence_id ?? 0) > 0, 'the failed-run event is a logged run event')
  t.match((await rest('GET', `/sessions/${id}`)).body, { state: 'error', error_message: 'boom' })
  // An ack crossing the failure on the wire is ignored: nothing moves.
  ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: 1, processing_status: 'ready' } })
  await sleep(50)
  t.notOk(ws.messages.some((m) => m.type === 'tick'), 'a stopped run sends no tick')
  t.match(await ws.request('strategy_error', { session_id: id, message: 'again' }), { type: 'session_error', data: { error_code: 'INVALID_STATE' } })
})
