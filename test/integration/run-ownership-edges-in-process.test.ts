// The edges of run ownership across instances, in this process (coverage), on the machine's PostgreSQL and
// Redis: who may drive a run owned elsewhere, what the displaced connection hears, watchers that follow a
// run as it moves, a delete or a strategy_error on another instance, a graceful stop that hands leases back
// at once, lockstep runs whose owner crashed shown paused (server_restart) until their strategy returns, and
// an input another instance logged first (a lease lost by this one without its knowing yet).
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import pg from 'pg'
import { KEYS, TestSocket, tokenFor, type WsMessage } from '../fixtures/app.js'
import { startLocalCluster, type LocalInstance } from '../fixtures/cluster-in-process.js'
import { DURABLE_RUN } from '../fixtures/durable-run.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { REDIS_URL, requireRedis } from '../fixtures/redis.js'

async function until (what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(20)
  }
  throw new Error(`${what}: not within ${ms} ms`)
}

function api (inst: () => LocalInstance, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${inst().baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
}

async function socket (t: Test, inst: LocalInstance, token: string): Promise<TestSocket> {
  const s = await TestSocket.open(`${inst.wsUrl}?token=${token}`)
  t.teardown(() => { s.close() })
  await s.next('connection_ready')
  return s
}

/** Acks ticks on `s` until `through` (each awaited), returning the last tick's sequence id. */
async function drive (s: TestSocket, id: string, from: number, through: number): Promise<number> {
  let seq = 0
  for (let step = from; step <= through; step++) {
    const tick = await s.next('tick', 10_000)
    seq = tick.sequence_id as number
    s.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
  }
  return seq
}

/** After state_sync: acks the tick it replayed last (a lockstep run waits for it), then drives on to `through`. */
async function driveAfterSync (s: TestSocket, id: string, sync: WsMessage, through: number): Promise<void> {
  const ticks = (sync.data.missed_events as WsMessage[]).filter((e) => e.type === 'tick')
  const last = ticks.at(-1)?.data.sequence_id as number | undefined
  if (last !== undefined) s.send({ type: 'tick_ack', data: { session_id: id, sequence_id: last, processing_status: 'ready' } })
  await drive(s, id, (last ?? 0) + 1, through)
}

const YEAR_OF_MINUTES = { ...DURABLE_RUN, timeframe: '1m' }

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('driving a run owned elsewhere: refused until resume_session takes it over; the displaced connection hears STREAM_TAKEN_OVER; watchers follow it', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const id = (await api(() => a, token)('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const x = await socket(t, a, token)
    const watcher = await socket(t, a, token)
    const y = await socket(t, b, token)
    const total = (await x.request('start_simulation', { session_id: id })).data.total_ticks as number
    const sub = await watcher.request('subscribe_session', { session_id: id })
    t.equal(sub.data.subscribed, true, 'a local watcher on the owner')
    const seen = await drive(x, id, 1, 10)

    const refused = await y.request('tick_ack', { session_id: id, sequence_id: 10, processing_status: 'ready' })
    t.match(refused.data, { error_code: 'INVALID_STATE', message: /Only the connection driving the run/ }, 'an ack from a connection on another instance is refused')
    const account = await y.request('query_account', { session_id: id })
    t.equal(account.type, 'account_snapshot', 'an account query from B reaches the owner')

    const sync = await y.request('resume_session', { session_id: id, last_processed_sequence_id: seen })
    t.equal(sync.type, 'state_sync', 'B takes the run over')
    t.same(sync.data.missed_events.map((e: WsMessage) => e.sequence_id), Array.from({ length: sync.data.last_sequence_id - seen }, (_, i) => seen + 1 + i), 'with what followed what it saw')
    const taken = await x.next('session_error', 5000)
    t.equal(taken.data.error_code, 'STREAM_TAKEN_OVER', 'the connection that drove it on A is told')
    const late = await x.request('tick_ack', { session_id: id, sequence_id: 10, processing_status: 'ready' })
    t.equal(late.data.error_code, 'STREAM_TAKEN_OVER', 'and its acks are refused as taken over')
    t.equal(a.app.simulation.ownedRuns, 0)
    t.equal(b.app.simulation.ownedRuns, 1)

    // A watcher on A, which no longer owns the run, subscribes and unsubscribes (it follows the shared stream).
    const other = await socket(t, a, token)
    t.equal((await other.request('subscribe_session', { session_id: id })).data.subscribed, true)
    t.equal((await other.request('unsubscribe_session', { session_id: id })).data.subscribed, false)
    const pausedHere = await other.request('pause_simulation', { session_id: id })
    t.equal(pausedHere.type, 'simulation_paused', 'a pause from A reaches the owner on B, answered to the requester')
    t.equal((await other.request('resume_simulation', { session_id: id })).type, 'simulation_resumed')

    await driveAfterSync(y, id, sync, total)
    const done = await watcher.next('simulation_complete', 20_000)
    const frames = [...watcher.messages.filter((m: WsMessage) => m.sequence_id !== undefined), done]
    const first = frames[0].sequence_id as number
    t.same(frames.map((m) => m.sequence_id), Array.from({ length: frames.length }, (_, i) => first + i), 'the watcher on A followed the run to B without a gap or a repeat')
  })

  t.test('a delete, a strategy_error, or a REST resume on another instance', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const onA = api(() => a, token)
    const onB = api(() => b, token)

    const headless = (await onA('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    await onA('POST', `/sessions/${headless}/start`, { flow_control: false })
    t.equal(a.app.simulation.ownedRuns, 1)
    t.equal((await onB('DELETE', `/sessions/${headless}`)).status, 204, 'deleted on B')
    await until('the owner stops the run', () => a.app.simulation.ownedRuns === 0)

    const lockstep = (await onA('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const x = await socket(t, a, token)
    await x.request('start_simulation', { session_id: lockstep })
    await drive(x, lockstep, 1, 3)
    const y = await socket(t, b, token)
    const info = await y.request('strategy_error', { session_id: lockstep, message: 'boom on B' })
    t.equal(info.type, 'session_info', 'a strategy_error sent to B reaches the owner')
    t.equal(info.data.state, 'error')
    t.match((await onB('GET', `/sessions/${lockstep}`)).body, { state: 'error', error_message: 'boom on B' })
    await until('its lease is given up', () => a.app.simulation.ownedRuns === 0)

    const other = (await onB('POST', '/sessions', YEAR_OF_MINUTES)).body.session_id as string
    await onB('POST', `/sessions/${other}/start`, { flow_control: false })
    t.equal((await onA('POST', `/sessions/${other}/pause`)).body.state, 'paused')
    t.equal((await onA('POST', `/sessions/${other}/resume`)).body.state, 'running', 'a REST resume on A reaches B')
    t.equal((await onA('POST', `/sessions/${other}/cancel`)).body.state, 'completed')
  })

  t.test('a graceful stop gives its leases back at once; runs of a crashed owner are shown paused (server_restart)', async (t) => {
    const cluster = await startLocalCluster(t, ['a', 'b'])
    const inst = (id: string): LocalInstance => cluster.instances.get(id) as LocalInstance
    const token = await tokenFor(inst('a').baseUrl, KEYS.ent)
    const onB = api(() => inst('b'), token)

    const moved = (await onB('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const x = await socket(t, inst('a'), token)
    await x.request('start_simulation', { session_id: moved })
    const seen = await drive(x, moved, 1, 5)
    await cluster.close('a')
    const redis = new Redis(REDIS_URL)
    t.teardown(() => { redis.disconnect() })
    t.equal(await redis.exists(`${cluster.env.REDIS_KEY_PREFIX}run:{ent:${moved}}:lease`), 0, 'the stopped instance gave the lease up')
    const y = await socket(t, inst('b'), token)
    const sync = await y.request('resume_session', { session_id: moved, last_processed_sequence_id: seen })
    t.equal(sync.type, 'state_sync', 'B takes the run of the instance that stopped')
    t.equal(inst('b').app.simulation.ownedRuns, 1)

    // A lockstep run nobody drives, and the one above, on B, which crashes: once their leases lapse, the
    // instance started again shows them paused until their strategies come back.
    const waiting = (await onB('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    t.equal((await onB('POST', `/sessions/${waiting}/start`, {})).status, 200)
    await cluster.crash('b')
    await cluster.start('a')
    const onA = api(() => inst('a'), token)
    for (const id of [waiting, moved]) {
      await until(`${id} shown paused`, async () => (await onA('GET', `/sessions/${id}`)).body.state === 'paused')
      t.match((await onA('GET', `/sessions/${id}`)).body, { state: 'paused', pause_reason: 'server_restart' })
    }
    const z = await socket(t, inst('a'), token)
    const again = await z.request('resume_session', { session_id: moved, last_processed_sequence_id: seen })
    t.equal(again.type, 'state_sync', 'its strategy resumes it on A')
    await driveAfterSync(z, moved, again, 8)
  })

  t.test('an input that another instance logged first: the run is dropped here with a clear answer, and resume_session rebuilds it with that input', async (t) => {
    const cluster = await startLocalCluster(t, ['a'])
    const a = cluster.instances.get('a') as LocalInstance
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const id = (await api(() => a, token)('POST', '/sessions', DURABLE_RUN)).body.session_id as string
    const x = await socket(t, a, token)
    await x.request('start_simulation', { session_id: id })
    const seen = await drive(x, id, 1, 10)
    // What another instance that took the run over (an empty Redis after a restart) would have logged: the
    // input this instance logs next, a user's pause at the step the run is at.
    const db = new pg.Client({ connectionString: cluster.env.DATABASE_URL })
    await db.connect()
    t.teardown(async () => { await db.end() })
    const { rows } = await db.query<{ seq: number }>('SELECT max(seq)::int AS seq FROM run_inputs WHERE user_id = $1 AND session_id = $2', ['ent', id])
    await db.query("INSERT INTO run_inputs (user_id, session_id, seq, step, kind, payload) VALUES ($1, $2, $3, $4, 'pause', $5::jsonb)",
      ['ent', id, rows[0].seq + 1, seen, JSON.stringify({ reason: 'user', request_id: null })])

    // The batch is not applied: the run is dropped here, and its connection closed as for any run that moved.
    x.send({ type: 'order_batch', request_id: 'late', data: { session_id: id, batch_id: 'late', orders: [{ order_id: 'late', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }] } })
    t.same(await x.closed, { code: 1012, reason: 'run moved; reconnect and resume it' }, 'the connection driving it is closed: reconnect and resume')
    t.notOk(x.messages.some((m: WsMessage) => m.data?.error_code === 'INTERNAL_ERROR'), 'not an internal error')
    t.equal(a.app.simulation.ownedRuns, 0, 'the run is dropped here')
    t.same((await db.query('SELECT kind FROM run_inputs WHERE user_id = $1 AND session_id = $2 AND seq > $3', ['ent', id, rows[0].seq])).rows, [{ kind: 'pause' }], 'and nothing more is logged')

    const y = await socket(t, a, token)
    const sync = await y.request('resume_session', { session_id: id, last_processed_sequence_id: seen })
    t.equal(sync.type, 'state_sync', 'resume_session rebuilds the run from the log')
    t.equal(sync.data.state, 'paused', 'with the input logged elsewhere applied: paused by the user')
    t.equal((await y.request('resume_simulation', { session_id: id })).type, 'simulation_resumed')
    const ack = await y.request('order_batch', { session_id: id, batch_id: 'again', orders: [{ order_id: 'again', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }] })
    t.equal(ack.type, 'batch_ack', 'the strategy goes on')
    await driveAfterSync(y, id, sync, 15)
  })
}
