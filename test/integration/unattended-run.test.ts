// A flow-controlled run that no strategy drives (the workflow doc's `curl -X POST …/start`, never attached)
// pauses itself after UNATTENDED_RUN_PAUSE_SECONDS with pause_reason no_strategy, and gives its
// concurrent-session slot up: the free plan's one slot serves the next session. Resuming it takes a slot
// again (409 SESSION_LIMIT_EXCEEDED while none is free); a strategy that attaches with resume_session runs it
// to the end. In durable mode the pause is an input, so the run rebuilt after a restart agrees with its log.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import { KEYS, TestSocket, testConfig, tokenFor, type WsMessage } from '../fixtures/app.js'

const RUN = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }
const ENV = { UNATTENDED_RUN_PAUSE_SECONDS: '1' }

interface Api { status: number, body: any }

async function serve (t: { teardown: (fn: () => unknown) => void }, storage = memoryStorage(), env: Record<string, string> = ENV): Promise<{ app: FastifyInstance, baseUrl: string }> {
  const app = await buildApp(testConfig(env), { logger: false, storage })
  t.teardown(async () => { await app.close() })
  return { app, baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }) }
}

function client (baseUrl: string, token: string): (method: string, path: string, body?: unknown) => Promise<Api> {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
}

/** Polls the session until `pred` holds (generous deadline: the machine is shared). */
async function waitFor (api: ReturnType<typeof client>, id: string, pred: (s: any) => boolean): Promise<any> {
  const deadline = Date.now() + 30_000
  // Backing off to one poll a second keeps within the free plan's 120 requests a minute.
  for (let wait = 50; ; wait = Math.min(1000, wait * 2)) {
    const s = (await api('GET', `/sessions/${id}`)).body
    if (pred(s)) return s
    if (Date.now() > deadline) throw new Error(`session ${id} never matched; last ${JSON.stringify(s)}`)
    await new Promise((resolve) => setTimeout(resolve, wait))
  }
}

/** Attaches over the WebSocket with resume_session and acknowledges every tick to the end. */
async function driveToEnd (baseUrl: string, token: string, id: string): Promise<WsMessage> {
  const ws = await TestSocket.open(`${baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  try {
    await ws.next('connection_ready')
    const sync = await ws.request('resume_session', { session_id: id, last_processed_sequence_id: 0 })
    if (sync.type !== 'state_sync') throw new Error(JSON.stringify(sync))
    const missed = sync.data.missed_events as WsMessage[]
    const lastTick = Math.max(0, ...missed.filter((e) => e.type === 'tick').map((e) => e.data.sequence_id as number))
    if (lastTick > 0) ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: lastTick, processing_status: 'ready' } })
    for (;;) {
      const m = await ws.next(() => true, 20_000)
      if (m.type === 'tick') ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
      if (m.type === 'simulation_complete' || m.type === 'session_error') return m
    }
  } finally {
    ws.close()
  }
}

t.test('a run nobody drives pauses itself (no_strategy) and frees its slot; resuming takes one again', async (t) => {
  const { baseUrl } = await serve(t)
  const token = await tokenFor(baseUrl, KEYS.alice) // free plan: one concurrent session
  const api = client(baseUrl, token)
  const id = (await api('POST', '/sessions', RUN)).body.session_id as string
  t.equal((await api('POST', `/sessions/${id}/start`)).status, 200, 'started with flow control, as curl -X POST …/start does')
  const paused = await waitFor(api, id, (s) => s.state === 'paused')
  t.equal(paused.pause_reason, 'no_strategy')
  t.type(paused.expires_at, 'string', 'an idle session again: it expires SESSION_TTL_MINUTES after the pause')
  const events = (await api('GET', `/sessions/${id}/events`)).body.events as WsMessage[]
  t.match(events.find((e) => e.type === 'simulation_paused'), { data: { state: 'paused', reason: 'no_strategy' } }, 'in the event log, with its reason')
  t.equal((await api('GET', '/me')).body.usage.active_sessions, 0, 'it holds no slot')

  const next = await api('POST', '/sessions', RUN)
  t.equal(next.status, 201, 'the free plan\'s one slot serves the next session')
  const refused = await api('POST', `/sessions/${id}/resume`)
  t.equal(refused.status, 409)
  t.match(refused.body, { error_code: 'SESSION_LIMIT_EXCEEDED', details: { limit_name: 'concurrent_sessions', limit: 1, current: 1, session_id: id } })
  t.equal((await api('GET', `/sessions/${id}`)).body.state, 'paused', 'and it stays paused')

  t.equal((await api('DELETE', `/sessions/${next.body.session_id as string}`)).status, 204)
  const end = await driveToEnd(baseUrl, token, id)
  t.match(end, { type: 'simulation_complete', data: { reason: 'finished' } }, 'a strategy that attaches resumes it and runs it to the end')
  t.equal((await api('GET', `/sessions/${id}`)).body.state, 'completed')
})

t.test('a strategy that attaches in time keeps the run going; UNATTENDED_RUN_PAUSE_SECONDS=0 turns the pause off', async (t) => {
  // A minute to attach: far more than the attach takes, however loaded the machine.
  const { baseUrl } = await serve(t, memoryStorage(), { UNATTENDED_RUN_PAUSE_SECONDS: '60' })
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = client(baseUrl, token)
  const id = (await api('POST', '/sessions', RUN)).body.session_id as string
  await api('POST', `/sessions/${id}/start`)
  t.match(await driveToEnd(baseUrl, token, id), { type: 'simulation_complete' })
  const events = (await api('GET', `/sessions/${id}/events`)).body.events as WsMessage[]
  t.notOk(events.some((e) => e.type === 'simulation_paused'), 'never paused')

  const off = await buildApp(testConfig({ UNATTENDED_RUN_PAUSE_SECONDS: '0' }), { logger: false })
  t.teardown(async () => { await off.close() })
  t.equal(off.config.unattendedPauseMs, 0)
})

t.test('durable: the pause is an input, so the run rebuilt after a restart agrees with its log', async (t) => {
  const storage = memoryStorage({ journal: true })
  let app = (await serve(t, storage)).app
  let baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const token = await tokenFor(baseUrl, KEYS.ent)
  let api = client(baseUrl, token)
  const id = (await api('POST', '/sessions', RUN)).body.session_id as string
  await api('POST', `/sessions/${id}/start`)
  await waitFor(api, id, (s) => s.state === 'paused' && s.pause_reason === 'no_strategy')
  const before = (await api('GET', `/sessions/${id}/events`)).body.events as WsMessage[]

  await app.close()
  app = (await serve(t, storage)).app
  baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  api = client(baseUrl, token)
  t.match((await api('GET', `/sessions/${id}`)).body, { state: 'paused', pause_reason: 'no_strategy' }, 'still paused for want of a strategy')
  const end = await driveToEnd(baseUrl, token, id)
  t.match(end, { type: 'simulation_complete', data: { reason: 'finished' } }, 'rebuilt from its inputs (no REPLAY_DIVERGED) and run to the end')
  const after = (await api('GET', `/sessions/${id}/events`)).body.events as WsMessage[]
  t.same(after.slice(0, before.length).map((e) => [e.type, e.sequence_id, e.data]), before.map((e) => [e.type, e.sequence_id, e.data]), 'the events before the restart are the same')
})
