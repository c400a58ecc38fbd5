// Inputs are logged before they take effect (issue 9), for the moves a user asks for too: a durable run's
// start, pause, resume and stop are stored in its input log before the session store shows them. Failures
// injected between the two writes (test/fixtures/faulty-storage.ts) stand in for a crash there, in one
// process: a move whose input could not be logged changes nothing; a move whose input was logged holds even
// when the store then fails (the store catches up), and a restart rebuilds the run from its log without
// REPLAY_DIVERGED, ending as the run that nobody interrupted.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import type { Storage } from '../../server/ports/storage.js'
import { KEYS, TestSocket, testConfig, tokenFor, type WsMessage } from '../fixtures/app.js'
import { DURABLE_RUN, comparable, comparableResults, readRun, runDurable } from '../fixtures/durable-run.js'
import { faultyStorage } from '../fixtures/faulty-storage.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Server { app: FastifyInstance, baseUrl: string, wsUrl: string }

async function serve (storage: Storage, port = 0): Promise<Server> {
  const app = await buildApp(testConfig(), { logger: false, storage })
  const baseUrl = await app.listen({ port, host: '127.0.0.1' })
  return { app, baseUrl, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws/simulate` }
}

/** A lockstep strategy over a TestSocket: buys 10 at tick 5, sells them at tick 100. */
class Driver {
  /** The tick received and not yet acknowledged. */
  pending: WsMessage | undefined
  /** The last event (sequence id) received. */
  lastSeq: number

  constructor (readonly ws: TestSocket, readonly id: string, lastSeq = 0) {
    this.lastSeq = lastSeq
    ws.ws.on('message', (raw) => {
      const seq = (JSON.parse(raw.toString()) as WsMessage).sequence_id
      if (typeof seq === 'number') this.lastSeq = Math.max(this.lastSeq, seq)
    })
  }

  async tick (): Promise<WsMessage> {
    this.pending = await this.ws.next('tick')
    return this.pending
  }

  /** Acknowledges the pending tick (after its orders), and waits for the next one unless the run ends. */
  async ack (): Promise<boolean> {
    const step = this.pending?.data.sequence_id as number
    if (step === 5 || step === 100) {
      const reply = await this.ws.request('order_batch', { session_id: this.id, batch_id: `b${step}`, orders: [{ order_id: `o${step}`, symbol: 'AAPL', side: step === 5 ? 'buy' : 'sell', type: 'market', quantity: 10, time_in_force: 'day' }] })
      if (reply.type !== 'batch_ack') throw new Error(`order batch at ${step}: ${JSON.stringify(reply)}`)
    }
    this.ws.send({ type: 'tick_ack', data: { session_id: this.id, sequence_id: step, processing_status: 'ready' } })
    this.pending = undefined
    const next = await this.ws.next((m) => m.type === 'tick' || m.type === 'simulation_complete')
    if (next.type === 'simulation_complete') return false
    this.ws.messages.unshift(next)
    await this.tick()
    return true
  }

  async toEnd (): Promise<void> {
    while (await this.ack());
  }
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await sleep(25)
  }
  throw new Error(`${what}: not within 10 s`)
}

t.test('user moves of a durable run: input logged first, store told after, a rebuild agrees', async (t) => {
  const { storage, faults } = faultyStorage()
  const journal = storage.journal as NonNullable<Storage['journal']>
  let server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const kinds = async (id: string): Promise<string[]> => (await journal.inputs.list('ent', id)).map((i) => i.kind)

  // The run nobody interrupts.
  const baselineId = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
  const ws0 = await TestSocket.open(`${server.wsUrl}?token=${token}`)
  await ws0.next('connection_ready')
  await ws0.request('start_simulation', { session_id: baselineId })
  const baseline = new Driver(ws0, baselineId)
  await baseline.tick()
  await baseline.toEnd()
  ws0.close()

  const id = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
  let ws = await TestSocket.open(`${server.wsUrl}?token=${token}`)
  await ws.next('connection_ready')

  faults.failInput = 'start'
  const refused = await ws.request('start_simulation', { session_id: id })
  t.match(refused, { type: 'error', data: { error_code: 'STORE_UNAVAILABLE' } }, 'a start that could not be logged is refused')
  t.equal((await api('GET', `/sessions/${id}`)).body.state, 'ready', 'and the session is still ready (not running without its start)')
  t.same(await kinds(id), [])
  t.equal((await ws.request('start_simulation', { session_id: id })).type, 'simulation_started', 'a second start works')
  t.same(await kinds(id), ['start'])

  let run = new Driver(ws, id)
  await run.tick()
  while ((run.pending?.data.sequence_id as number) < 11) await run.ack()

  await t.test('a pause whose input cannot be logged changes nothing', async (t) => {
    faults.failInput = 'pause'
    const res = await api('POST', `/sessions/${id}/pause`)
    t.equal(res.status, 503)
    t.equal(res.body.error_code, 'STORE_UNAVAILABLE')
    const session = (await api('GET', `/sessions/${id}`)).body
    t.equal(session.state, 'running', 'the store does not show a pause the log lacks')
    t.equal(session.pause_reason, undefined)
    t.notOk((await kinds(id)).includes('pause'))
    await run.ack()
    t.equal(run.pending?.data.sequence_id, 12, 'the run goes on')
  })

  await t.test('a pause that is logged holds when the store then fails; the store catches up', async (t) => {
    faults.failMoveTo = 'paused'
    const res = await api('POST', `/sessions/${id}/pause`)
    t.equal(res.status, 503, 'the caller hears that the session record did not change')
    t.equal(res.body.error_code, 'STORE_UNAVAILABLE')
    t.equal((await kinds(id)).at(-1), 'pause', 'the pause is in the input log')
    t.match(await ws.next('simulation_paused'), { data: { session_id: id, state: 'paused' } }, 'and the run paused: its strategy hears it')
    await until('the store shows the pause', async () => (await api('GET', `/sessions/${id}`)).body.state === 'paused')
    t.match((await api('GET', `/sessions/${id}`)).body, { state: 'paused', pause_reason: 'user' })
    const resumed = await api('POST', `/sessions/${id}/resume`)
    t.equal(resumed.status, 200)
    t.equal(resumed.body.state, 'running')
    t.equal((await api('GET', `/sessions/${id}`)).body.state, 'running')
  })

  await t.test('a restart rebuilds the run from that log without divergence; it ends as the uninterrupted run', async (t) => {
    while ((run.pending?.data.sequence_id as number) < 40) await run.ack()
    await sleep(50)
    ws.close()
    await server.app.close()
    server = await serve(storage)
    t.match((await api('GET', `/sessions/${id}`)).body, { state: 'paused' })
    ws = await TestSocket.open(`${server.wsUrl}?token=${token}`)
    await ws.next('connection_ready')
    const pending = run.pending
    const sync = await ws.request('resume_session', { session_id: id, last_processed_sequence_id: run.lastSeq })
    t.equal(sync.type, 'state_sync', `resume_session rebuilt the run (${sync.type === 'state_sync' ? 'ok' : JSON.stringify(sync.data)})`)
    run = new Driver(ws, id, run.lastSeq)
    run.pending = pending
    await run.toEnd()
    ws.close()
    const [interrupted, uninterrupted] = [await readRun(server.baseUrl, KEYS.ent, id), await readRun(server.baseUrl, KEYS.ent, baselineId)]
    t.same(comparableResults({ sessionId: id, ...interrupted }), comparableResults({ sessionId: baselineId, ...uninterrupted }), 'results equal')
    t.same(comparable({ sessionId: id, ...interrupted }), comparable({ sessionId: baselineId, ...uninterrupted }), 'events equal (pauses aside)')
  })

  await t.test('a stop that is logged ends the run when the store then fails: results saved, the store catches up', async (t) => {
    const stopId = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const ws2 = await TestSocket.open(`${server.wsUrl}?token=${token}`)
    t.teardown(() => { ws2.close() })
    await ws2.next('connection_ready')
    await ws2.request('start_simulation', { session_id: stopId })
    const stopped = new Driver(ws2, stopId)
    await stopped.tick()
    while ((stopped.pending?.data.sequence_id as number) < 8) await stopped.ack()
    faults.failMoveTo = 'completed'
    const res = await api('POST', `/sessions/${stopId}/cancel`)
    t.equal(res.status, 503)
    t.equal((await kinds(stopId)).at(-1), 'stop')
    t.match(await storage.runs.get('ent', stopId), { state: 'completed', account: { positions: [{ symbol: 'AAPL' }] } }, 'its results were saved before the store was told')
    await until('the store shows the stop', async () => (await api('GET', `/sessions/${stopId}`)).body.state === 'completed')
    t.equal((await api('GET', `/sessions/${stopId}/results`)).status, 200)
  })
})

t.test('a run\'s end is sent once the store shows it: a read on hearing it finds the session finished', async (t) => {
  const { storage, faults } = faultyStorage()
  const server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  const get = async (path: string): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: await res.json() }
  }
  const open = async (): Promise<TestSocket> => {
    const ws = await TestSocket.open(`${server.wsUrl}?token=${token}`)
    t.teardown(() => { ws.close() })
    await ws.next('connection_ready')
    return ws
  }
  const create = async (): Promise<string> => (await (await fetch(`${server.baseUrl}/sessions`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(DURABLE_RUN)
  })).json() as { session_id: string }).session_id
  // Every move to a finished state takes the store 300 ms: before, the end was sent meanwhile.
  faults.slowMoveTo = { state: 'completed', ms: 300 }

  const ended = await create()
  const strategy = await open()
  const watcher = await open()
  await strategy.request('start_simulation', { session_id: ended })
  await watcher.request('subscribe_session', { session_id: ended })
  const run = new Driver(strategy, ended)
  await run.tick()
  await run.toEnd()
  t.equal((await get(`/sessions/${ended}`)).body.state, 'completed', 'the strategy hears simulation_complete, then reads completed')
  t.equal((await get(`/sessions/${ended}/results`)).status, 200, 'and its results')
  await watcher.next('simulation_complete')
  t.equal(watcher.messages.filter((m) => m.type === 'simulation_complete').length, 0, 'a watcher hears the end once')

  const cancelled = await create()
  await strategy.request('start_simulation', { session_id: cancelled })
  await strategy.next('tick')
  await watcher.request('subscribe_session', { session_id: cancelled })
  const cancelling = fetch(`${server.baseUrl}/sessions/${cancelled}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  await watcher.next('simulation_complete')
  t.equal((await get(`/sessions/${cancelled}`)).body.state, 'completed', 'a cancel: the watcher hears the end, then reads completed')
  t.equal((await cancelling).status, 200)

  faults.slowMoveTo = { state: 'error', ms: 300 }
  const failed = await create()
  await strategy.request('start_simulation', { session_id: failed })
  await strategy.next('tick')
  await watcher.request('subscribe_session', { session_id: failed })
  strategy.send({ type: 'strategy_error', data: { session_id: failed, message: 'boom' } })
  await watcher.next('session_error')
  t.equal((await get(`/sessions/${failed}`)).body.state, 'error', 'a strategy_error: the watcher hears session_error, then reads error')
})

t.test('a resume refused for a passing reason (the database) is sent again by runStrategy; the run ends as the uninterrupted one', async (t) => {
  const { storage, faults } = faultyStorage()
  let server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const port = Number(new URL(server.baseUrl).port)
  const baseline = await runDurable(() => server.baseUrl, KEYS.ent)
  let restarted = false
  const interrupted = await runDurable(() => server.baseUrl, KEYS.ent, async (step) => {
    if (step < 40 || restarted) return
    restarted = true
    // A restart, after which the database fails the next reads of an input log: the resume's rebuild meets them.
    await server.app.close()
    faults.failInputReads = 3
    server = await serve(storage, port)
  })
  t.ok(restarted)
  t.equal(faults.failInputReads, 0, 'the resume met the three failures (STORE_UNAVAILABLE), and was sent again')
  t.same(comparableResults(interrupted), comparableResults(baseline), 'results equal')
  t.same(comparable(interrupted), comparable(baseline), 'events equal (pauses aside)')
})
