// Runs owned by one of three real server processes (issue 10), on one PostgreSQL schema and one Redis prefix,
// killed and stopped the hard way (kill -9, SIGSTOP): the owner of a lockstep run killed at five seeded points,
// the strategy moving on through the SDK's URL list, ends as the uninterrupted run does; a resume on another
// instance takes the run from its live owner by a handover; a watcher on a third instance sees the owner's
// frames byte for byte; REST commands on any instance reach the owner; a headless run whose owner was killed
// is picked up once its lease lapses; and a zombie owner (SIGSTOP past its lease, then SIGCONT) never appends.
// Every loop is bounded in count and time.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { KEYS, TestSocket, tokenFor, type WsMessage } from '../fixtures/app.js'
import { startCluster, type Cluster } from '../fixtures/cluster.js'
import { front } from '../fixtures/cluster-in-process.js'
import { DURABLE_RUN, comparable, comparableResults, killPoints, readRun, runDurable, smaStrategy, type DurableOutcome } from '../fixtures/durable-run.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'
import type { ServerProcess } from '../fixtures/server-process.js'

const LEASE_MS = 1500
/** A headless run long enough to be still going when the test acts on it (98 k one-minute ticks). */
const YEAR_OF_MINUTES = { ...DURABLE_RUN, timeframe: '1m' }

interface Reply { status: number, body: any }

function api (base: () => string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`${base()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
}

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function until (what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`${what}: not within ${ms} ms`)
}

/** The instances by id, each restartable under its id on its port (a URL list stays valid). */
function byId (cluster: Cluster): { get: (id: string) => ServerProcess, ofUrl: (url: string) => string, restart: (id: string) => Promise<void> } {
  const live = new Map(cluster.instances.map((s, i) => [String.fromCharCode(97 + i), s]))
  return {
    get: (id) => live.get(id) as ServerProcess,
    ofUrl: (url) => [...live].find(([, s]) => s.baseUrl === url)?.[0] ?? 'none',
    restart: async (id) => {
      const port = new URL((live.get(id) as ServerProcess).baseUrl).port
      live.set(id, await cluster.start(id, { PORT: port }))
    }
  }
}

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('kill -9 of the owner at five points: the strategy moves on through the SDK\'s URL list, and the run ends as the uninterrupted one', async (t) => {
    const cluster = await startCluster(t, 3, { RUN_LEASE_MS: String(LEASE_MS) })
    const inst = byId(cluster)
    const baseline = await runDurable(() => inst.get('a').baseUrl, KEYS.ent)

    const points = killPoints(20261127, 5)
    // Bounded by the test's time rather than by a count: a restarting instance may take seconds under load.
    const client = new SessionClient({ url: ['a', 'b', 'c'].map((id) => inst.get(id).baseUrl), apiKey: KEYS.ent, reconnect: { baseDelayMs: 50, maxDelayMs: 300, maxAttempts: 1000 } })
    t.teardown(() => { client.close() })
    // What the client went through, printed if the run fails.
    const moves: string[] = []
    client.on('disconnected', (d) => { moves.push(`${Math.round(performance.now())} disconnected ${d.code} ${d.reason} from ${inst.ofUrl(d.url)}`) })
    client.on('reconnecting', (r) => { if (r.last_error !== undefined) moves.push(`${Math.round(performance.now())} attempt ${r.attempt} → ${inst.ofUrl(r.url)} after ${r.last_error}`) })
    client.on('connected', (c) => { moves.push(`${Math.round(performance.now())} connected to ${inst.ofUrl(c.url)}`) })
    await client.connect()
    const killed: string[] = []
    const restarts: Array<Promise<void>> = []
    const failovers: number[] = []
    let killedAt: number | undefined
    const strategy = smaStrategy(async (step) => {
      if (points.length === 0 || step < points[0]) return
      points.shift()
      // One instance down at a time (the others may still be restarting from an earlier kill: that takes
      // seconds under load, and killing faster than they come back would stop the whole service).
      await Promise.all(restarts)
      const owner = inst.ofUrl(client.url)
      killed.push(`${owner}@${step}`)
      moves.push(`${Math.round(performance.now())} KILL ${owner} at ${step}`)
      killedAt = performance.now()
      await inst.get(owner).stop('SIGKILL')
      restarts.push(inst.restart(owner))
    })
    const run = await runStrategy(client, {
      async onTick (tick, ctx) {
        if (killedAt !== undefined) { failovers.push(performance.now() - killedAt); killedAt = undefined; moves.push(`${Math.round(performance.now())} first tick ${tick.sequence_id}`) }
        return await strategy.onTick(tick, ctx)
      }
    }, { session: DURABLE_RUN }).catch((err: unknown) => {
      t.comment(`the client's moves:\n${moves.slice(-60).join('\n')}`)
      throw err
    })
    await Promise.all(restarts)
    t.equal(killed.length, 5, `owners killed: ${killed.join(', ')}`)
    t.ok(new Set(killed.map((k) => k[0])).size >= 2, 'the run moved between instances')
    const interrupted: DurableOutcome = { sessionId: run.session.session_id, ...await readRun(inst.get('c').baseUrl, KEYS.ent, run.session.session_id) }
    t.same(comparableResults(interrupted), comparableResults(baseline), 'results (equity, fills, trades) equal the uninterrupted run\'s')
    t.same(comparable(interrupted), comparable(baseline), 'events (type, data, request id) equal: none lost or repeated')
    t.same(interrupted.events.map((_, i) => i), [...interrupted.events.keys()])
    const sorted = [...failovers].sort((x, y) => x - y)
    t.comment(`kill -9 → first tick after the resume (lease ${LEASE_MS} ms): ${sorted.map((ms) => Math.round(ms)).join(', ')} ms`)
  })

  t.test('a resume on another instance takes the run from its live owner (a handover); a watcher on a third sees every frame', async (t) => {
    const cluster = await startCluster(t, 3, { RUN_LEASE_MS: String(LEASE_MS), LOG_LEVEL: 'info' })
    const [a, b, c] = cluster.instances
    const baseline = await runDurable(() => a.baseUrl, KEYS.ent)
    const token = await tokenFor(a.baseUrl, KEYS.ent)

    const lb = await front(t, a.baseUrl)
    let watcher: TestSocket | undefined
    let moved = false
    const interrupted = await runDurable(() => lb.url, KEYS.ent, async (step, sessionId) => {
      if (watcher === undefined) {
        watcher = await TestSocket.open(`${c.wsUrl}?token=${token}`)
        t.teardown(() => { watcher?.close() })
        await watcher.next('connection_ready')
        const sub = await watcher.request('subscribe_session', { session_id: sessionId })
        t.equal(sub.data.subscribed, true, 'C watches the run A owns')
      }
      if (step >= 60 && !moved) {
        moved = true
        lb.routeTo(b.baseUrl, true)
      }
    })
    t.ok(moved)
    t.same(comparableResults(interrupted), comparableResults(baseline), 'results equal the uninterrupted run\'s')
    t.same(comparable(interrupted), comparable(baseline), 'and so do the events')
    t.match(a.output(), /run handed over to another instance/, 'A handed the run over (no lease had to lapse)')
    t.match(b.output(), /run handed over to this instance/, 'B took it from A')

    const w = watcher as TestSocket
    await w.next('simulation_complete', 30_000)
    const seen = w.messages.filter((m) => typeof m.sequence_id === 'number')
    const first = seen[0]?.sequence_id as number
    const stored = interrupted.events.slice(first - 1)
    t.ok(seen.length > 200, `the watcher on C saw ${seen.length} frames`)
    t.same(seen.map((m: WsMessage) => ({ type: m.type, data: m.data, ...(m.request_id !== undefined ? { request_id: m.request_id } : {}) })), stored.slice(0, seen.length),
      'the same frames as the stored log, in order, across the handover, none lost or repeated')
    t.same(seen.map((m) => m.sequence_id), seen.map((_, i) => first + i), 'an unbroken sequence')
  })

  t.test('REST commands on any instance reach the owner; a headless run whose owner was killed is picked up', async (t) => {
    const cluster = await startCluster(t, 3, { RUN_LEASE_MS: String(LEASE_MS) })
    const [a, b, c] = cluster.instances
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const onA = api(() => a.baseUrl, token)
    const onB = api(() => b.baseUrl, token)
    const onC = api(() => c.baseUrl, token)

    const plain = (await onC('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    t.equal((await onC('POST', `/sessions/${plain}/start`, { flow_control: false })).status, 200)
    await until('the uninterrupted run completes', async () => (await onC('GET', `/sessions/${plain}`)).body.state === 'completed')

    const id = (await onA('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    t.equal((await onA('POST', `/sessions/${id}/start`, { flow_control: false })).status, 200)
    const paused = await onB('POST', `/sessions/${id}/pause`)
    t.equal(paused.status, 200, 'pause on B')
    t.equal(paused.body.state, 'paused')
    t.same(await onC('GET', `/sessions/${id}/account`), await onA('GET', `/sessions/${id}/account`), 'the account on C, as the owner has it')
    const order = await onC('POST', `/sessions/${id}/orders`, { batch_id: 'x1', orders: [{ order_id: 'lim1', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 5, time_in_force: 'gtc' }] })
    t.equal(order.status, 200, 'orders on C')
    t.equal((await onB('DELETE', `/sessions/${id}/orders/lim1`)).body.status, 'cancelled', 'a cancel on B')

    // Resumed on B, and killed on the watcher's first frame after: A still holds the lease.
    const watcher = await TestSocket.open(`${a.wsUrl}?token=${token}`)
    t.teardown(() => { watcher.close() })
    await watcher.next('connection_ready')
    await watcher.request('subscribe_session', { session_id: id })
    t.equal((await onB('POST', `/sessions/${id}/resume`)).body.state, 'running', 'resume on B')
    const seen = await watcher.next('tick', 30_000)
    await a.stop('SIGKILL')
    t.ok((seen.data.sequence_id as number) < 90_000, `killed before the end (a watcher saw tick ${seen.data.sequence_id as number})`)
    t.equal((await onB('GET', `/sessions/${id}`)).body.state, 'running', 'running, as far as the store knows')
    await until('picked up and completed', async () => (await onC('GET', `/sessions/${id}`)).body.state === 'completed')
    const results = async (sid: string): Promise<any> => JSON.parse(JSON.stringify((await onC('GET', `/sessions/${sid}/results`)).body).replaceAll(sid, 'S').replaceAll(sid.slice(-6), 'S6'))
    const got = await results(id)
    const want = await results(plain)
    t.same(got.metrics, want.metrics, 'the metrics of the uninterrupted run (the limit order never filled)')
    t.same(got.equity_curve, want.equity_curve, 'and its equity curve')
    const orders = (await onB('GET', `/sessions/${id}/orders`)).body.orders as Array<{ order_id: string, status: string }>
    t.same(orders.map((o) => [o.order_id, o.status]), [['lim1', 'cancelled']], 'the order and its cancel survived the pickup')
  })

  t.test('a zombie owner (SIGSTOP past its lease, then SIGCONT) never appends', async (t) => {
    const cluster = await startCluster(t, 3, { RUN_LEASE_MS: String(LEASE_MS) })
    const [a, b, c] = cluster.instances
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const onB = api(() => b.baseUrl, token)
    const onC = api(() => c.baseUrl, token)

    const plain = (await onC('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    await onC('POST', `/sessions/${plain}/start`, { flow_control: false })
    await until('the uninterrupted run completes', async () => (await onC('GET', `/sessions/${plain}`)).body.state === 'completed')

    const id = (await api(() => a.baseUrl, token)('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    const watcher = await TestSocket.open(`${a.wsUrl}?token=${token}`)
    t.teardown(() => { watcher.close() })
    await watcher.next('connection_ready')
    await api(() => a.baseUrl, token)('POST', `/sessions/${id}/start`, { flow_control: false })
    await watcher.request('subscribe_session', { session_id: id })
    await watcher.next('tick', 30_000)
    a.child.kill('SIGSTOP')
    t.teardown(() => { a.child.kill('SIGCONT') })
    await until('picked up and completed by another instance', async () => (await onB('GET', `/sessions/${id}`)).body.state === 'completed')
    const before = await readRun(b.baseUrl, KEYS.ent, id)

    a.child.kill('SIGCONT')
    // The zombie wakes past its lease's deadline with frames and store writes under way: give it time to try.
    await until('A answers again', async () => (await fetch(`${a.baseUrl}/health`)).status === 200, 30_000)
    await sleep(2 * LEASE_MS)
    const after = await readRun(b.baseUrl, KEYS.ent, id)
    t.same(after.events.length, before.events.length, `the stream still has ${before.events.length} events: the zombie appended none`)
    t.same(after, before, 'results and events unchanged')
    t.same((await onB('GET', `/sessions/${id}`)).body.state, 'completed', 'and the session stays completed')
    const norm = (o: Omit<DurableOutcome, 'sessionId'>, sid: string): unknown => comparableResults({ sessionId: sid, ...o })
    const plainRun = await readRun(b.baseUrl, KEYS.ent, plain)
    t.same(norm(after, id), norm(plainRun, plain), 'the results of the uninterrupted run')
    t.same(comparable({ sessionId: id, ...after }), comparable({ sessionId: plain, ...plainRun }), 'and its events, each once')
  })
}
