// Expensive WebSocket messages cost more of the bucket, and the bucket is the user's (issue 24 item 3): a flood of
// create_session (or list_sessions, start_simulation, resume_session, get_session, query_account, order_batch,
// delete_session) on one connection is refused with RATE_LIMIT_EXCEEDED after the burst its type's cost allows,
// then closed 1008 when it goes on, while another user's pings are all answered; and a user's connections share
// one bucket, so more sockets buy no more. Over real sockets. Latency is the benchmark's business
// (scripts/bench/ws-flood.ts); this file asserts the limiting.
import t from 'tap'
import WebSocket from 'ws'
import { MESSAGE_COSTS } from '../../server/ws/message-costs.js'
import { KEYS, TestSocket, listen, tokenFor, type WsMessage } from '../fixtures/app.js'
import { call } from '../fixtures/rest.js'
import { connectedClient } from '../fixtures/sdk.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const SMALL = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1d' }
/** The professional plan's bucket (plans.ts): the flooder's. */
const RATE = 1000
const BURST = 2000

/** A raw client that records every message and its close. */
async function recording (url: string): Promise<{ ws: WebSocket, received: WsMessage[], closed: Promise<number> }> {
  const ws = new WebSocket(url)
  const received: WsMessage[] = []
  const closed = new Promise<number>((resolve) => { ws.on('close', (code) => { resolve(code) }) })
  ws.on('message', (raw) => { received.push(JSON.parse(raw.toString()) as WsMessage) })
  await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
  while (!received.some((m) => m.type === 'connection_ready')) await sleep(5)
  return { ws, received, closed }
}

async function until (cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await sleep(10)
  return cond()
}

const refusedFor = (received: WsMessage[], type: string): WsMessage[] =>
  received.filter((m) => m.type === 'error' && m.data.error_code === 'RATE_LIMIT_EXCEEDED' && m.data.details?.message_type === type)

t.test('expensive messages cost more of a user\'s bucket; a flood of any type is cut off', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const dev = await tokenFor(baseUrl, KEYS.dev)
  const ent = await tokenFor(baseUrl, KEYS.ent)

  // The bystander: another user pinging every 10 ms through every flood below; every ping must be answered.
  const bystander = await TestSocket.open(`${wsUrl}?token=${ent}`)
  t.teardown(() => { bystander.close() })
  await bystander.next('connection_ready')
  let pinging = true
  let pings = 0
  const lost: string[] = []
  const pinger = (async () => {
    while (pinging) {
      const id = `by${pings++}`
      const reply = await bystander.request('ping', {}, id).catch(() => undefined)
      if (reply?.type !== 'pong') lost.push(id)
      await sleep(10)
    }
  })()

  // Sessions for the types that need one: some ready, one running (lockstep, waiting for its first ack).
  const ready: string[] = []
  for (let i = 0; i < 5; i++) ready.push((await call(baseUrl, dev, 'POST', '/sessions', SMALL)).json.session_id as string)
  const driver = await TestSocket.open(`${wsUrl}?token=${dev}`)
  t.teardown(() => { driver.close() })
  await driver.next('connection_ready')
  const running = ready.pop() as string
  // Never started: its order batches are refused (INVALID_STATE), so they keep their cost.
  const idle = ready.pop() as string
  t.equal((await driver.request('start_simulation', { session_id: running })).type, 'simulation_started')
  // Let the driver's start cost refill before the floods measure the bucket.
  await sleep(2 * BURST / RATE * 1000)

  const floods: Array<[string, (i: number) => unknown]> = [
    ['create_session', () => SMALL],
    ['list_sessions', () => ({ limit: 100 })],
    ['start_simulation', (i) => ({ session_id: ready[i % ready.length] })],
    ['resume_session', () => ({ session_id: running, last_processed_sequence_id: 0 })],
    ['get_session', () => ({ session_id: running })],
    ['query_account', () => ({ session_id: running })],
    ['order_batch', (i) => ({ session_id: idle, batch_id: `b${i}`, orders: [{ order_id: `o${i}`, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }] })],
    ['delete_session', () => ({ session_id: 'sess_doesnotexist0000' })]
  ]
  for (const [type, data] of floods) {
    await t.test(`a ${type} flood is refused past the burst its cost allows`, async (t) => {
      const cost = MESSAGE_COSTS[type]
      t.ok(cost > 1, `${type} costs ${cost} tokens`)
      const f = await recording(`${wsUrl}?token=${dev}`)
      t.teardown(() => { f.ws.terminate() })
      // Three bursts' worth at once, as fast as the socket takes them.
      const sent = Math.ceil(3 * BURST / cost)
      const t0 = Date.now()
      for (let i = 0; i < sent; i++) f.ws.send(JSON.stringify({ type, request_id: `f${i}`, data: data(i) }))
      const answered = (): number => f.received.filter((m) => typeof m.request_id === 'string' && m.request_id.startsWith('f')).length
      t.ok(await until(() => answered() >= sent, 60_000), `every one of ${sent} answered`)
      const elapsedS = (Date.now() - t0) / 1000
      // Refused before parsing (the bucket had not a token left) or once the type was known (not its cost).
      const refused = f.received.filter((m) => m.type === 'error' && m.data.error_code === 'RATE_LIMIT_EXCEEDED')
      const typed = refusedFor(f.received, type)
      const handled = answered() - refused.length
      // The burst, plus what refilled meanwhile, plus one message's slack per second.
      const allowed = Math.floor(BURST / cost) + Math.ceil(RATE * elapsedS / cost) + 1
      t.ok(refused.length > 0, `${refused.length} refused`)
      t.ok(handled <= allowed, `${handled} handled of ${sent} in ${elapsedS.toFixed(2)} s; the bucket allows ${allowed} at ${cost} tokens each`)
      t.ok(typed.length > 0, `${typed.length} refused for the cost of their type`)
      t.match(typed[0]?.data, { error_type: 'rate_limit', recoverable: true, details: { limit_name: 'ws_messages_per_second', message_type: type, cost } })
      t.ok(refused.every((m) => m.data.retry_after_ms >= 1), 'each refusal says when to retry')
      f.ws.terminate()
      // Let the user's bucket refill for the next flood.
      await sleep(BURST / RATE * 1000 + 200)
    })
  }

  await t.test('a create_session flood that goes on is closed with 1008', async (t) => {
    const f = await recording(`${wsUrl}?token=${dev}`)
    t.teardown(() => { f.ws.terminate() })
    let sent = 0
    while (f.ws.readyState === WebSocket.OPEN && sent < 20_000) {
      if (f.ws.bufferedAmount > 1 << 20) { await sleep(1); continue }
      for (let i = 0; i < 200; i++) f.ws.send(JSON.stringify({ type: 'create_session', request_id: `g${sent++}`, data: SMALL }))
      await new Promise((resolve) => setImmediate(resolve))
    }
    t.equal(await Promise.race([f.closed, sleep(20_000).then(() => -1)]), 1008, `closed 1008 after ${sent} creates`)
    t.match(f.received.find((m) => m.type === 'connection_closing')?.data, { reason: 'rate_limit', close_code: 1008 })
    await sleep(BURST / RATE * 1000 + 200)
  })

  await t.test('a user\'s connections share one bucket: three sockets get one burst between them', async (t) => {
    const sockets = await Promise.all([0, 1, 2].map(async () => await recording(`${wsUrl}?token=${dev}`)))
    t.teardown(() => { for (const s of sockets) s.ws.terminate() })
    const each = BURST
    const t0 = Date.now()
    for (const [n, s] of sockets.entries()) for (let i = 0; i < each; i++) s.ws.send(JSON.stringify({ type: 'ping', request_id: `u${n}-${i}`, data: {} }))
    const answered = (): number => sockets.reduce((a, s) => a + s.received.filter((m) => typeof m.request_id === 'string' && m.request_id.startsWith('u')).length, 0)
    t.ok(await until(() => answered() >= 3 * each, 30_000), 'all answered')
    const pongs = sockets.reduce((a, s) => a + s.received.filter((m) => m.type === 'pong').length, 0)
    const allowed = BURST + Math.ceil(RATE * (Date.now() - t0) / 1000) + 1
    t.ok(pongs <= allowed, `${pongs} of ${3 * each} pings answered across three sockets; one user's bucket allows ${allowed}`)
    t.ok(sockets.every((s) => s.received.some((m) => m.data?.error_code === 'RATE_LIMIT_EXCEEDED')), 'every socket was refused some')
  })

  pinging = false
  await pinger
  t.ok(pings > 50, `${pings} bystander pings sent during the floods`)
  t.same(lost, [], 'every bystander ping was answered')
})

t.test('the SDK waits out a refusal by the message bucket and sends the request again', async (t) => {
  const { baseUrl } = await listen(t)
  // A free user (burst 400): twenty list_sessions at 30 tokens each are more than one burst holds.
  const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.bob })
  const lists = await Promise.allSettled(Array.from({ length: 20 }, async () => await client.listSessions()))
  t.same(lists.map((r) => r.status), Array(20).fill('fulfilled'), 'every request was answered, the refused ones once the bucket had refilled')
})
