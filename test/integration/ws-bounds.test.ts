// Outbound bounds of a WebSocket connection over real sockets (issue 8 item 1): a client that asks for large
// replies and never reads is closed 4008 slow_consumer within a bounded time, the server's memory stays
// bounded, other users are still answered, session pushes are dropped (not queued) while a connection is over
// its budget, and a client that keeps reading is never closed.
import t from 'tap'
import WebSocket from 'ws'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'

const SESSIONS = 100
/** ~15 KB of metadata per session: a list_sessions page of 100 is ~1.5 MB. */
const METADATA = { notes: 'x'.repeat(15_000) }
const BUDGET = 2 << 20

/** `p`, or undefined after `ms`; the timer is cleared either way so it never holds the process open. */
async function within<T> (p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

async function metric (baseUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

async function createSessions (baseUrl: string, token: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - i) }, async () => {
      const res = await fetch(`${baseUrl}/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d', metadata: METADATA })
      })
      if (res.status !== 201) throw new Error(`create session: ${res.status} ${await res.text()}`)
    }))
  }
}

/** A raw client that reads connection_ready and then stops reading (its TCP receive window fills up). */
async function openNonReading (url: string): Promise<{ ws: WebSocket, closed: Promise<{ code: number, reason: string, at: number }>, received: WsMessage[] }> {
  const ws = new WebSocket(url)
  const received: WsMessage[] = []
  const closed = new Promise<{ code: number, reason: string, at: number }>((resolve) => {
    ws.on('close', (code, reason) => { resolve({ code, reason: reason.toString(), at: Date.now() }) })
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as WsMessage
      received.push(m)
      if (m.type === 'connection_ready') resolve()
    })
  })
  ;(ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  return { ws, closed, received }
}

function rawSocketOf (ws: WebSocket): { pause: () => void, resume: () => void } {
  return (ws as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
}

t.test('WebSocket outbound bounds', async (t) => {
  const { app, baseUrl, wsUrl } = await listen(t, { WS_MAX_BACKLOG_BYTES: String(BUDGET), WS_SLOW_CONSUMER_MS: '1000' })
  const entToken = await tokenFor(baseUrl, KEYS.ent)
  const devToken = await tokenFor(baseUrl, KEYS.dev)
  await createSessions(baseUrl, entToken, SESSIONS)

  t.test('a client that floods list_sessions and never reads is closed, memory stays bounded, others are answered', async (t) => {
    const bystander = await TestSocket.open(`${wsUrl}?token=${devToken}`)
    t.teardown(() => { bystander.close() })
    await bystander.next('connection_ready')
    const before = await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total')

    const m0 = process.memoryUsage()
    let peak = 0
    const sampler = setInterval(() => {
      const m = process.memoryUsage()
      peak = Math.max(peak, (m.heapUsed - m0.heapUsed) + (m.arrayBuffers - m0.arrayBuffers))
    }, 20)
    t.teardown(() => { clearInterval(sampler) })

    const flooder = await openNonReading(`${wsUrl}?token=${entToken}`)
    t.teardown(() => { flooder.ws.terminate() })
    const started = Date.now()
    // 600 × ~1.5 MB of replies (≈ 900 MB) if nothing bounded them, as in the issue.
    const request = JSON.stringify({ type: 'list_sessions', data: { limit: 100 } })
    for (let i = 0; i < 600; i++) flooder.ws.send(request)

    // The bystander keeps being answered while the flooder is held and then closed.
    let pongs = 0
    const pinging = (async () => {
      const until = Date.now() + 2500
      while (Date.now() < until) {
        const pong = await bystander.request('ping', {})
        if (pong.type === 'pong') pongs++
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()

    // A client that does not read cannot see its own close, so the server side is watched (bounded).
    const deadline = started + 15_000
    while (Date.now() < deadline && app.ws.connections.countFor('ent') > 0) await new Promise((resolve) => setTimeout(resolve, 10))
    const closedAfter = Date.now() - started
    await pinging
    clearInterval(sampler)
    t.equal(app.ws.connections.countFor('ent'), 0, 'the server dropped the non-reading client')
    t.ok(closedAfter < 10_000, `within 10 s (took ${closedAfter} ms)`)
    // Reading again, the client finds the connection closed: 4008 if the close frame reached it, else dropped.
    rawSocketOf(flooder.ws).resume()
    const closed = await within(flooder.closed, 5000)
    t.ok(closed !== undefined && (closed.code === 4008 || closed.code === 1006), `client sees the close (${closed?.code ?? 'none'})`)
    t.equal(await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total'), before + 1, 'counted as a slow-consumer close')
    t.ok(peak < 200 * 1048576, `heap + buffers grew by ${(peak / 1048576).toFixed(1)} MB (< 200 MB)`)
    t.ok(pongs > 10, `the bystander got ${pongs} pongs during the flood`)
  })

  t.test('a client that stalls and reads again later learns why: 4008 slow_consumer', async (t) => {
    const before = await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total')
    const client = await openNonReading(`${wsUrl}?token=${entToken}`)
    t.teardown(() => { client.ws.terminate() })
    const request = JSON.stringify({ type: 'list_sessions', data: { limit: 100 } })
    for (let i = 0; i < 40; i++) client.ws.send(request)
    // Wait (bounded) for the server to give up on it, then read everything that was queued.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total') === before) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    rawSocketOf(client.ws).resume()
    const closed = await client.closed
    t.equal(closed.code, 4008)
    t.equal(closed.reason, 'slow_consumer')
    const lists = client.received.filter((m) => m.type === 'session_list').length
    t.ok(lists < 40, `only ${lists} of 40 replies were produced before reading stopped`)
  })

  t.test('session pushes are dropped, not queued, while a connection is over its budget', async (t) => {
    const { app: app2, baseUrl: base2, wsUrl: ws2 } = await listen(t, { WS_MAX_BACKLOG_BYTES: String(BUDGET), WS_SLOW_CONSUMER_MS: '20000' })
    const token = await tokenFor(base2, KEYS.ent)
    await createSessions(base2, token, 30)
    const client = await openNonReading(`${ws2}?token=${token}`)
    t.teardown(() => { client.ws.terminate() })
    const request = JSON.stringify({ type: 'list_sessions', data: { limit: 100 } })
    for (let i = 0; i < 20; i++) client.ws.send(request)
    const conn = [...app2.ws.connections.forUser('ent')][0]
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && !conn.overBudget) await new Promise((resolve) => setTimeout(resolve, 10))
    t.ok(conn.overBudget, 'the connection went over its budget')

    const res = await fetch(`${base2}/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d' })
    })
    const created = await res.json() as { session_id: string }
    t.ok(await metric(base2, 'simutrador_ws_messages_throttled_total', '{reason="push_dropped"}') >= 1, 'the push was counted as dropped')

    // Read again: every list reply arrives (it was only delayed), the dropped push never does.
    rawSocketOf(client.ws).resume()
    const until = Date.now() + 15_000
    while (Date.now() < until && client.received.filter((m) => m.type === 'session_list').length < 20) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    t.equal(client.received.filter((m) => m.type === 'session_list').length, 20, 'all 20 replies, in the end')
    t.notOk(client.received.some((m) => m.type === 'session_updated' && m.data.session_id === created.session_id), 'no push for the session created meanwhile')
    t.notOk(conn.overBudget, 'back under budget')
    t.equal(client.ws.readyState, WebSocket.OPEN, 'still open: it caught up in time')
  })

  t.test('a client that keeps reading gets every large reply and is never closed', async (t) => {
    const before = await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total')
    const s = await TestSocket.open(`${wsUrl}?token=${entToken}`)
    t.teardown(() => { s.close() })
    await s.next('connection_ready')
    for (let i = 0; i < 30; i++) s.send({ type: 'list_sessions', data: { limit: 100 }, request_id: `l${i}` })
    for (let i = 0; i < 30; i++) {
      const reply = await s.next((m) => m.request_id === `l${i}`, 15_000)
      t.equal(reply.data.sessions.length, SESSIONS, `reply ${i} is complete`)
    }
    t.equal(await metric(baseUrl, 'simutrador_ws_slow_consumer_closes_total'), before, 'no slow-consumer close')
    t.equal(s.ws.readyState, WebSocket.OPEN)
  })
})
