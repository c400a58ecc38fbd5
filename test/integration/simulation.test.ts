// The simulation over a real WebSocket and real HTTP: lockstep flow control, fill ordering, windows,
// streaming without flow control, resume after a dropped connection, watching, REST control, determinism.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }

t.test('simulation', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest = async (method: string, path: string, body?: unknown, tok = token): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const open = async (tt: { teardown: (fn: () => void) => void }): Promise<TestSocket> => {
    const s = await TestSocket.open(`${wsUrl}?token=${token}`)
    tt.teardown(() => { s.close() })
    await s.next('connection_ready')
    return s
  }
  const newSession = async (body: Record<string, unknown> = {}): Promise<string> => {
    const res = await rest('POST', '/sessions', { ...SESSION, ...body })
    if (res.status !== 201) throw new Error(JSON.stringify(res.body))
    return res.body.session_id as string
  }

  t.test('lockstep: never more than one unacknowledged tick, fills of bar t+1 before tick t+1', async (t) => {
    const ws = await open(t)
    const id = await newSession()
    const started = await ws.request('start_simulation', { session_id: id }, 'go')
    t.match(started, { type: 'simulation_started', request_id: 'go', sequence_id: 1, data: { flow_control: true, max_pending_ticks: 1, fill_policy_version: '1.0.0' } })
    const total = started.data.total_ticks as number
    t.ok(total > 55 && total < 65, `Q1 2023 has 62 NYSE sessions, got ${total}`)
    const seen: WsMessage[] = []
    let orderedOn = 0
    for (let step = 1; step <= total; step++) {
      const tick = await ws.next('tick')
      t.equal(tick.data.sequence_id, step)
      if (step === 2) {
        // Flow control: nothing more arrives while tick 2 is unacknowledged.
        await new Promise((resolve) => setTimeout(resolve, 60))
        t.equal(ws.messages.filter((m) => m.type === 'tick').length, 0, 'no tick 3 before the ack')
      }
      if (step === 5) {
        orderedOn = step
        const ack = await ws.request('order_batch', { session_id: id, batch_id: 'b1', orders: [{ order_id: 'o1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10, time_in_force: 'day' }] })
        t.match(ack, { type: 'batch_ack', data: { accepted_orders: ['o1'], rejected_orders: [] } })
      }
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
      seen.push(tick)
      if (orderedOn > 0 && step === orderedOn + 1) {
        // The fill of bar 6 was sent before tick 6: it is already queued.
        const fill = ws.messages.find((m) => m.type === 'execution_report')
        t.ok(fill !== undefined, 'execution_report arrived before the tick of its bar')
        const bar = tick.data.bars.AAPL
        t.equal(Number(fill?.data.executed_price), Math.min(bar.high, Math.round(bar.open * 1.0005 * 1e8) / 1e8), 'open × (1 + 5 bps), capped at the high')
        t.equal(fill?.data.fill_reason, 'market_open')
      }
    }
    const complete = await ws.next('simulation_complete')
    t.match(complete.data, { session_id: id, reason: 'finished', total_trades: 0, open_trades: 1 })
    const session = await rest('GET', `/sessions/${id}`)
    t.equal(session.body.state, 'completed')
    t.equal(session.body.progress, 1)
    const results = await rest('GET', `/sessions/${id}/results`)
    t.equal(results.status, 200)
    t.same([results.body.metrics.total_trades, results.body.metrics.open_trades], [0, 1], 'the position bought and held is open, not a trade won')
  })

  t.test('an order sent just before its tick_ack, in the same TCP write, is still tried on the next bar', async (t) => {
    const ws = await open(t)
    const id = await newSession()
    await ws.request('start_simulation', { session_id: id })
    for (let step = 1; step <= 3; step++) {
      const tick = await ws.next('tick')
      const socket = (ws.ws as unknown as { _socket: { cork: () => void, uncork: () => void } })._socket
      socket.cork()
      if (step === 3) ws.send({ type: 'order_batch', request_id: 'ob', data: { session_id: id, batch_id: 'b', orders: [{ order_id: 'race', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }] } })
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
      socket.uncork()
    }
    const fill = await ws.next('execution_report')
    const tick4 = await ws.next('tick')
    t.equal(tick4.data.sequence_id, 4)
    t.equal(fill.data.execution_time, tick4.data.bars.AAPL.timestamp, 'filled at the open of bar 4, the bar after the order')
  })

  t.test('a window of 16 keeps at most 16 ticks unacknowledged', async (t) => {
    const ws = await open(t)
    const id = await newSession()
    const started = await ws.request('start_simulation', { session_id: id, max_pending_ticks: 16, include_bars: false })
    const total = started.data.total_ticks as number
    await new Promise((resolve) => setTimeout(resolve, 80))
    t.equal(ws.messages.filter((m) => m.type === 'tick').length, 16, 'exactly the window before any ack')
    let acked = 0
    while (acked < total) {
      const tick = await ws.next('tick')
      t.notOk('bars' in tick.data, 'include_bars false omits bars')
      acked = tick.data.sequence_id
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: acked, processing_status: 'ready' } })
    }
    t.equal((await ws.next('simulation_complete')).data.reason, 'finished')
  })

  t.test("a lockstep run's stored progress moves while it runs, not only when it stops", async (t) => {
    const ws = await open(t)
    const id = await newSession()
    const started = await ws.request('start_simulation', { session_id: id })
    const total = started.data.total_ticks as number
    const ackThrough = async (last: number): Promise<void> => {
      for (;;) {
        const tick = await ws.next('tick')
        ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
        if (tick.data.sequence_id >= last) return
      }
    }
    await ackThrough(20)
    // Progress is written at most every 250 ms: past that, the next step reports it.
    await new Promise((resolve) => setTimeout(resolve, 300))
    await ackThrough(22)
    let progress = 0
    for (let i = 0; i < 100 && progress === 0; i++) {
      progress = (await rest('GET', `/sessions/${id}`)).body.progress as number
      if (progress === 0) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.ok(progress >= 20 / total && progress < 1, `GET /sessions/{id} shows the running run's progress (${progress}, step 22 of ${total})`)
    t.equal((await rest('GET', `/sessions/${id}`)).body.state, 'running')
  })

  t.test('without flow control the run streams to the end with no acks', async (t) => {
    const ws = await open(t)
    const id = await newSession()
    await ws.request('start_simulation', { session_id: id, flow_control: false })
    const complete = await ws.next('simulation_complete')
    t.equal(complete.data.reason, 'finished')
    const ticks = ws.messages.filter((m) => m.type === 'tick').map((m) => m.data.sequence_id)
    t.same(ticks, Array.from({ length: ticks.length }, (_, i) => i + 1), 'every tick once, in order')
  })

  t.test('resume after a dropped connection replays each missed event exactly once', async (t) => {
    const first = await TestSocket.open(`${wsUrl}?token=${token}`)
    await first.next('connection_ready')
    const id = await newSession()
    const started = await first.request('start_simulation', { session_id: id, max_pending_ticks: 4 })
    const total = started.data.total_ticks as number
    const processed = new Map<number, string>([[started.sequence_id!, started.type]])
    // Handle ticks 1..10, then vanish with events in flight.
    for (let step = 1; step <= 10; step++) {
      const tick = await first.next('tick')
      processed.set(tick.sequence_id!, 'tick')
      first.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
    }
    const lastProcessed = Math.max(...processed.keys())
    first.ws.terminate()
    await first.closed
    // The server hears the close some time after the client does: poll (bounded), never a fixed sleep.
    let state = ''
    for (let i = 0; i < 200 && state !== 'paused'; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 25))
      state = (await rest('GET', `/sessions/${id}`)).body.state
    }
    t.equal(state, 'paused', 'the run pauses while its strategy is away')

    const second = await open(t)
    const sync = await second.request('resume_session', { session_id: id, last_processed_sequence_id: lastProcessed })
    t.equal(sync.type, 'state_sync')
    const missed = sync.data.missed_events as WsMessage[]
    t.same(missed.map((e) => e.sequence_id), Array.from({ length: missed.length }, (_, i) => lastProcessed + 1 + i), 'contiguous from the last processed')
    for (const e of missed) processed.set(e.sequence_id!, e.type)
    t.ok(sync.data.account.cash !== undefined)
    let lastTick = Math.max(0, ...missed.filter((e) => e.type === 'tick').map((e) => e.data.sequence_id as number))
    if (lastTick > 0) second.send({ type: 'tick_ack', data: { session_id: id, sequence_id: lastTick, processing_status: 'ready' } })
    for (;;) {
      const m = await second.next()
      if (m.sequence_id !== undefined) {
        t.notOk(processed.has(m.sequence_id), `event ${m.sequence_id} (${m.type}) is not a duplicate`)
        processed.set(m.sequence_id, m.type)
      }
      if (m.type === 'tick') {
        lastTick = m.data.sequence_id
        second.send({ type: 'tick_ack', data: { session_id: id, sequence_id: lastTick, processing_status: 'ready' } })
      }
      if (m.type === 'simulation_complete') break
    }
    const all = [...processed.keys()].sort((a, b) => a - b)
    t.same(all, Array.from({ length: all.length }, (_, i) => i + 1), 'no sequence id missing')
    t.equal([...processed.values()].filter((v) => v === 'tick').length, total, 'every tick exactly once')
  })

  t.test('a second connection watches the live stream read-only', async (t) => {
    const driver = await open(t)
    const watcher = await open(t)
    const id = await newSession()
    await driver.request('start_simulation', { session_id: id, max_pending_ticks: 1 })
    const sub = await watcher.request('subscribe_session', { session_id: id })
    t.match(sub, { type: 'subscription', data: { subscribed: true } })
    const tick = await driver.next('tick')
    driver.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
    const watched = await watcher.next('tick')
    t.equal(watched.data.sequence_id, tick.data.sequence_id + 1, 'the watcher sees ticks sent after it subscribed')
    await driver.request('pause_simulation', { session_id: id })
    t.equal((await watcher.next('simulation_paused')).data.state, 'paused')
  })

  t.test('REST: a headless run, orders over REST, results and the event log', async (t) => {
    const id = await newSession({ symbols: ['MSFT'] })
    const notStarted = await rest('POST', `/sessions/${id}/orders`, { batch_id: 'x', orders: [{ order_id: 'a', symbol: 'MSFT', side: 'buy', type: 'market', quantity: 1 }] })
    t.match(notStarted, { status: 409, body: { error_code: 'INVALID_STATE' } })
    const start = await rest('POST', `/sessions/${id}/start`, { flow_control: false })
    t.match(start, { status: 200, body: { state: 'running' } })
    const again = await rest('POST', `/sessions/${id}/start`, {})
    t.match(again, { status: 409, body: { error_code: 'INVALID_STATE' } })
    let state = 'running'
    for (let i = 0; i < 100 && state !== 'completed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      state = (await rest('GET', `/sessions/${id}`)).body.state
    }
    t.equal(state, 'completed')
    const results = await rest('GET', `/sessions/${id}/results`)
    t.equal(results.status, 200)
    t.equal(results.body.fill_policy_version, '1.0.0')
    const page = await rest('GET', `/sessions/${id}/events?after_seq=0&limit=5`)
    t.same(page.body.events.map((e: WsMessage) => e.sequence_id), [1, 2, 3, 4, 5])
    t.equal(page.body.has_more, true)
    const tail = await rest('GET', `/sessions/${id}/events?after_seq=${page.body.last_sequence_id - 1}`)
    t.equal(tail.body.events[0].type, 'simulation_complete')
    const late = await rest('POST', `/sessions/${id}/orders`, { batch_id: 'y', orders: [{ order_id: 'b', symbol: 'MSFT', side: 'buy', type: 'market', quantity: 1 }] })
    t.match(late, { status: 409, body: { error_code: 'INVALID_STATE' } })
  })

  t.test("simulation routes answer SESSION_NOT_FOUND for another user's session", async (t) => {
    const id = await newSession()
    const other = await tokenFor(baseUrl, KEYS.dev)
    for (const [method, path] of [['POST', 'start'], ['POST', 'pause'], ['GET', 'account'], ['GET', 'results'], ['GET', 'events'], ['GET', 'orders']]) {
      const res = await rest(method, `/sessions/${id}/${path}`, method === 'POST' ? {} : undefined, other)
      t.equal(res.status, 404, `${method} ${path}`)
      t.equal(res.body.error_code, 'SESSION_NOT_FOUND')
    }
  })

  t.test('orders_per_minute counts simulated minutes: 101 orders in one bar are refused, the next bar is fresh', async (t) => {
    const alice = await tokenFor(baseUrl, KEYS.alice)
    const ws = await TestSocket.open(`${wsUrl}?token=${alice}`)
    t.teardown(() => { ws.close() })
    await ws.next('connection_ready')
    const created = await ws.request('create_session', SESSION)
    const id = created.data.session_id
    await ws.request('start_simulation', { session_id: id })
    await ws.next('tick')
    const order = (i: number): Record<string, unknown> => ({ order_id: `o${i}`, symbol: 'AAPL', side: 'buy', type: 'limit', price: 1, quantity: 1, time_in_force: 'gtc' })
    const tooMany = await ws.request('order_batch', { session_id: id, batch_id: 'big', orders: Array.from({ length: 101 }, (_, i) => order(i)) })
    t.match(tooMany, { type: 'error', data: { error_code: 'RATE_LIMIT_EXCEEDED', details: { limit: 100, limit_name: 'orders_per_minute' } } })
    const hundred = await ws.request('order_batch', { session_id: id, batch_id: 'ok', orders: Array.from({ length: 100 }, (_, i) => order(i)) })
    t.equal(hundred.data.accepted_orders.length, 100, 'the refused batch changed nothing')
    const again = await ws.request('order_batch', { session_id: id, batch_id: 'ok-again', orders: Array.from({ length: 100 }, (_, i) => order(i)) })
    t.equal(again.type, 'batch_ack', 'the same orders sent again (a retry after a reconnect) use no allowance')
    t.same(again.data.accepted_orders, [])
    t.equal(again.data.rejected_orders.length, 100, 'each is refused as already held')
    const one = await ws.request('order_batch', { session_id: id, batch_id: 'more', orders: [order(200)] })
    t.equal(one.data.error_code, 'RATE_LIMIT_EXCEEDED', 'the same simulated minute is full')
    ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: 1, processing_status: 'ready' } })
    await ws.next('tick')
    const next = await ws.request('order_batch', { session_id: id, batch_id: 'next', orders: [order(300)] })
    t.same(next.data.accepted_orders, ['o300'], 'a new bar is a new simulated minute')
  })

  t.test('the same inputs give byte-identical event data', async (t) => {
    const run = async (): Promise<string> => {
      const ws = await open(t)
      const id = await newSession({ session_id: `det-${Math.random().toString(36).slice(2, 10)}` })
      await ws.request('start_simulation', { session_id: id, flow_control: true, max_pending_ticks: 1 })
      const out: string[] = []
      for (;;) {
        const m = await ws.next()
        if (m.type === 'tick' && m.data.sequence_id === 3) {
          await ws.request('order_batch', { session_id: id, batch_id: 'b', orders: [{ order_id: 'l1', symbol: 'AAPL', side: 'buy', type: 'limit', price: '125', quantity: 7, time_in_force: 'gtc' }] })
        }
        if (m.type === 'tick') ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
        // The run's events (numbered); session_updated pushes carry wall-clock fields and are not part of it.
        if (m.sequence_id !== undefined) out.push(JSON.stringify({ type: m.type, seq: m.sequence_id, data: { ...m.data, session_id: undefined } }))
        if (m.type === 'simulation_complete') return out.join('\n')
      }
    }
    const a = await run()
    const b = await run()
    t.ok(a.length > 1000)
    t.equal(a, b)
  })
})
