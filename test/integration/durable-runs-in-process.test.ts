// Runs that survive a restart, in one process (coverage: the child-process tests record none): two apps in
// turn over the same storage with a journal (memory adapters), the SDK's runStrategy reconnecting across
// the restart and resuming; a tampered event store gives REPLAY_DIVERGED; a headless run resumes over REST.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import type { MemoryEventStore } from '../../server/adapters/memory/memory-run-journal.js'
import type { Storage } from '../../server/ports/storage.js'
import { KEYS, TestSocket, testConfig, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN, comparable, comparableResults, runDurable } from '../fixtures/durable-run.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface Server { app: FastifyInstance, baseUrl: string }

async function serve (storage: Storage, port = 0): Promise<Server> {
  const app = await buildApp(testConfig({ EVENT_LOG_MEMORY_BYTES_PER_RUN: '65536' }), { logger: false, storage })
  const baseUrl = await app.listen({ port, host: '127.0.0.1' })
  return { app, baseUrl }
}

t.test('a lockstep run restarted twice ends as the uninterrupted run does', async (t) => {
  const storage = memoryStorage({ journal: true })
  let server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const port = Number(new URL(server.baseUrl).port)
  const baseline = await runDurable(() => server.baseUrl, KEYS.ent)
  t.ok((baseline.results as any).total_trades > 0 || JSON.stringify(baseline.results).includes('trade'), 'the strategy trades')
  t.equal((baseline.results as any).metrics.rejected_orders, 2, 'and has two orders refused, which the rebuilds must regenerate')

  const kills = [40, 120]
  let restarting: Promise<void> = Promise.resolve()
  const interrupted = await runDurable(() => server.baseUrl, KEYS.ent, async (step) => {
    if (kills.length === 0 || step < kills[0]) return
    kills.shift()
    await server.app.close()
    await sleep(20)
    restarting = (async () => { server = await serve(storage, port) })()
  })
  await restarting
  t.equal(kills.length, 0, 'both restarts happened')
  t.same(comparableResults(interrupted), comparableResults(baseline), 'results equal the uninterrupted run\'s')
  t.same(comparable(interrupted), comparable(baseline), 'events (type, data, request id) equal the uninterrupted run\'s')
})

t.test('a headless run resumes over REST; a tampered event store gives REPLAY_DIVERGED', async (t) => {
  const storage = memoryStorage({ journal: true })
  let server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  // A lockstep run left mid-way, and a headless one paused mid-way.
  const lockstep = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
  const ws = await TestSocket.open(`${server.baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: lockstep })
  for (let step = 1; step <= 10; step++) {
    await ws.next('tick')
    if (step === 5) await ws.request('order_batch', { session_id: lockstep, batch_id: 'b5', orders: [{ order_id: 'o5', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 5, time_in_force: 'day' }] })
    ws.send({ type: 'tick_ack', data: { session_id: lockstep, sequence_id: step, processing_status: 'ready' } })
  }
  const MINUTES = { ...DURABLE_RUN, timeframe: '1m', end_date: '2023-02-28' }
  const headless = (await api('POST', '/sessions', MINUTES)).body.session_id as string
  t.equal((await api('POST', `/sessions/${headless}/start`, { flow_control: false })).status, 200)
  t.equal((await api('POST', `/sessions/${headless}/pause`)).status, 200)
  const uninterrupted = (await api('POST', '/sessions', MINUTES)).body.session_id as string
  await api('POST', `/sessions/${uninterrupted}/start`, { flow_control: false })
  for (let i = 0; i < 1000 && (await api('GET', `/sessions/${uninterrupted}`)).body.state !== 'completed'; i++) await sleep(10)
  await sleep(50)
  ws.close()
  await server.app.close()
  server = await serve(storage)

  t.match((await api('GET', `/sessions/${lockstep}`)).body, { state: 'paused', pause_reason: /^(disconnect|server_restart)$/ })
  t.equal((await api('POST', `/sessions/${lockstep}/resume`)).body.error_code, 'INVALID_STATE', 'a strategy-driven run resumes with resume_session')
  t.equal((await api('POST', `/sessions/${headless}/resume`)).status, 200, 'the headless run is rebuilt and resumed')
  for (let i = 0; i < 1000 && (await api('GET', `/sessions/${headless}`)).body.state !== 'completed'; i++) await sleep(10)
  const a = await api('GET', `/sessions/${headless}/results`)
  const b = await api('GET', `/sessions/${uninterrupted}/results`)
  t.same(JSON.parse(JSON.stringify(a.body).replaceAll(headless, 'S')), JSON.parse(JSON.stringify(b.body).replaceAll(uninterrupted, 'S')), 'the resumed headless run ends as the uninterrupted one')
  const events = await api('GET', `/sessions/${headless}/events?after_seq=0&limit=5`)
  t.equal(events.body.events[0].type, 'simulation_started', 'a finished durable run\'s events page from the store')

  // Tamper with one stored frame of the lockstep run, then resume it.
  const store = (storage.journal as unknown as { events: MemoryEventStore }).events
  const [frame] = await store.read('ent', lockstep, 4, 1, Number.POSITIVE_INFINITY)
  store.tamper('ent', lockstep, 5, frame.replace(/"is_eod":(true|false)/, (_m, v) => `"is_eod":${v === 'true' ? 'false' : 'true'}`).replace(/"sim_time":"[^"]*"/, '"sim_time":"1999-01-01T00:00:00.000Z"'))
  const ws2 = await TestSocket.open(`${server.baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  t.teardown(() => { ws2.close() })
  await ws2.next('connection_ready')
  const reply = await ws2.request('resume_session', { session_id: lockstep, last_processed_sequence_id: 0 })
  t.equal(reply.data.error_code, 'REPLAY_DIVERGED')
  t.match((await api('GET', `/sessions/${lockstep}`)).body, { state: 'error', error_message: /REPLAY_DIVERGED/ })
})
