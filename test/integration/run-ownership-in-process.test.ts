// Runs owned by one of several instances (issue 10), with the instances in this process (for coverage; the
// same over real processes, with kill -9 and SIGSTOP, is cluster-runs.test.ts), on the machine's
// PostgreSQL and Redis: a lockstep run handed over on resume_session and failed over after a crash ends as an
// uninterrupted run does; a watcher on another instance gets the owner's frames in order; REST commands on
// any instance reach the owner; a headless run whose owner crashed is picked up with no client action.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { KEYS, TestSocket, tokenFor, type WsMessage } from '../fixtures/app.js'
import { front, startLocalCluster, type LocalInstance } from '../fixtures/cluster-in-process.js'
import { DURABLE_RUN, comparable, comparableResults, runDurable } from '../fixtures/durable-run.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'

interface Reply { status: number, body: any }

function api (inst: () => LocalInstance, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`${inst().baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
}

async function until (what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(20)
  }
  throw new Error(`${what}: not within ${ms} ms`)
}

/** Long enough that a headless run is still going when the test acts on it. */
const YEAR_OF_MINUTES = { ...DURABLE_RUN, timeframe: '1m' }

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('a lockstep run handed over on resume, then failed over after a crash, ends as the uninterrupted run does', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b', 'c'])
    const inst = (id: string): LocalInstance => cluster.instances.get(id) as LocalInstance
    const baseline = await runDurable(() => inst('a').baseUrl, KEYS.ent)
    t.equal(inst('a').app.simulation.ownedRuns, 0, 'a finished run holds no lease')

    const lb = await front(t, inst('a').baseUrl)
    const moves: string[] = []
    const interrupted = await runDurable(() => lb.url, KEYS.ent, async (step) => {
      if (step >= 40 && moves.length === 0) {
        moves.push('a→b (handover)')
        t.equal(inst('a').app.simulation.ownedRuns, 1, 'a owns the run')
        lb.routeTo(inst('b').baseUrl, true)
      } else if (step >= 120 && moves.length === 1) {
        moves.push('b→c (crash)')
        t.equal(inst('b').app.simulation.ownedRuns, 1, 'b owns it after the handover')
        t.equal(inst('a').app.simulation.ownedRuns, 0, 'a gave it up')
        lb.routeTo(inst('c').baseUrl)
        await cluster.crash('b')
      }
    })
    t.same(moves, ['a→b (handover)', 'b→c (crash)'])
    t.same(comparableResults(interrupted), comparableResults(baseline), 'results (equity, fills, trades) equal the uninterrupted run\'s')
    t.same(comparable(interrupted), comparable(baseline), 'events (type, data, request id) equal, none lost or repeated')
    const seqs = (await api(() => inst('a'), await tokenFor(inst('a').baseUrl, KEYS.ent))('GET', `/sessions/${interrupted.sessionId}/events?limit=1000`)).body
    t.equal(seqs.events.length, seqs.last_sequence_id, 'the shared stream has every event once')
  })

  t.test('a watcher on another instance gets the owner\'s frames, in the same order', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const rest = api(() => a, token)
    const id = (await rest('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const driver = await TestSocket.open(`${a.wsUrl}?token=${token}`)
    const local = await TestSocket.open(`${a.wsUrl}?token=${token}`)
    const remote = await TestSocket.open(`${b.wsUrl}?token=${token}`)
    t.teardown(() => { driver.close(); local.close(); remote.close() })
    for (const s of [driver, local, remote]) await s.next('connection_ready')
    const started = await driver.request('start_simulation', { session_id: id })
    const subLocal = await local.request('subscribe_session', { session_id: id })
    const subRemote = await remote.request('subscribe_session', { session_id: id })
    t.equal(subRemote.data.subscribed, true)
    const from = Math.max(subLocal.data.last_sequence_id as number, subRemote.data.last_sequence_id as number)
    const total = started.data.total_ticks as number
    for (let step = 1; step <= total; step++) {
      await driver.next('tick')
      if (step === 5 || step === 50) {
        await driver.request('order_batch', { session_id: id, batch_id: `b${step}`, orders: [{ order_id: `o${step}`, symbol: 'AAPL', side: step === 5 ? 'buy' : 'sell', type: 'market', quantity: 10, time_in_force: 'day' }] })
      }
      driver.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
    }
    await local.next('simulation_complete', 10_000)
    await remote.next('simulation_complete', 10_000)
    const strip = (ms: WsMessage[]): string[] => ms.filter((m) => (m.sequence_id ?? 0) > from).map((m) => JSON.stringify(m))
    const seen = strip(local.messages)
    t.ok(seen.length > total, 'the local watcher saw the run')
    t.same(strip(remote.messages), seen, 'the remote watcher saw the same frames, byte for byte, in the same order')
    t.ok(remote.messages.some((m) => m.type === 'execution_report'), 'fills included')
  })

  t.test('REST commands on any instance reach the owner and answer as the owner does', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const onA = api(() => a, token)
    const onB = api(() => b, token)
    const id = (await onA('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    t.equal((await onA('POST', `/sessions/${id}/start`, { flow_control: false })).status, 200)
    const paused = await onB('POST', `/sessions/${id}/pause`)
    t.equal(paused.status, 200, 'pause on B')
    t.equal(paused.body.state, 'paused')
    t.equal(b.app.simulation.ownedRuns, 0, 'B only relayed it')
    t.same(await onB('GET', `/sessions/${id}/account`), await onA('GET', `/sessions/${id}/account`), 'the account, as the owner has it')
    t.same(await onB('GET', `/sessions/${id}/orders`), await onA('GET', `/sessions/${id}/orders`))
    const again = await onB('POST', `/sessions/${id}/pause`)
    t.same(again, await onA('POST', `/sessions/${id}/pause`), 'an error too, code, message and details')
    t.equal(again.body.error_code, 'INVALID_STATE')
    const ack = await onB('POST', `/sessions/${id}/orders`, { batch_id: 'x1', orders: [{ order_id: 'lim1', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 5, time_in_force: 'gtc' }] })
    t.equal(ack.status, 200, 'orders on B')
    t.equal(ack.body.accepted?.length ?? ack.body.orders?.length ?? 1, 1)
    t.equal((await onB('DELETE', `/sessions/${id}/orders/lim1`)).body.status, 'cancelled', 'cancel on B')
    t.equal((await onB('GET', `/sessions/${id}/events?after_seq=0&limit=5`)).body.events.length, 5, 'the event log from B')
    t.equal((await onB('POST', `/sessions/${id}/resume`)).body.state, 'running', 'resume on B')
    t.equal((await onB('GET', `/sessions/${id}/results`)).body.error_code, 'INVALID_STATE', 'results before the end: as the owner says')
    const stopped = await onB('POST', `/sessions/${id}/cancel`)
    t.equal(stopped.body.state, 'completed', 'cancel on B')
    await until('completed in the store', async () => (await onB('GET', `/sessions/${id}`)).body.state === 'completed')
    t.equal((await onB('GET', `/sessions/${id}/results`)).status, 200, 'results from B')
    await until('lease given up', () => a.app.simulation.ownedRuns === 0)
  })

  t.test('a headless run whose owner crashed is picked up by another instance and ends as an uninterrupted run', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const onA = api(() => a, token)
    const onB = api(() => b, token)
    const plain = (await onB('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    await onB('POST', `/sessions/${plain}/start`, { flow_control: false })
    await until('the uninterrupted run completes', async () => (await onB('GET', `/sessions/${plain}`)).body.state === 'completed')

    // A watcher on A says where the run is; A crashes on the watcher's first tick (a headless run steps at
    // full speed, so waiting for progress in the store could see it finished already).
    const id = (await onA('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    const watcher = await TestSocket.open(`${a.wsUrl}?token=${token}`)
    t.teardown(() => { watcher.close() })
    await watcher.next('connection_ready')
    await onA('POST', `/sessions/${id}/start`, { flow_control: false })
    await watcher.request('subscribe_session', { session_id: id })
    const seen = await watcher.next('tick', 30_000)
    await cluster.crash('a')
    t.ok(seen.data.sequence_id < 90_000, `crashed early in the run (a watcher saw tick ${seen.data.sequence_id as number})`)
    t.equal((await onB('GET', `/sessions/${id}`)).body.state, 'running', 'still running as far as the store knows')
    await until('picked up and completed', async () => (await onB('GET', `/sessions/${id}`)).body.state === 'completed')
    const results = async (id: string): Promise<string> => JSON.stringify((await onB('GET', `/sessions/${id}/results`)).body).replaceAll(id, 'S').replaceAll(id.slice(-6), 'S6')
    t.equal(await results(id), await results(plain), 'the same results as the uninterrupted run')
    const events = (await onB('GET', `/sessions/${id}/events?after_seq=0&limit=1000`)).body
    t.equal(events.events[0].sequence_id, 1, 'its events from the first')
  })
}
