// Redis restarted under load, for the shared parts (session pushes, WebSocket connection counts, rate limits,
// the authentication throttle), with three real instances on a private redis-server (the machine's Redis is
// shared and never goes down): while it is down REST reads and writes keep working (rate limits are skipped),
// open WebSocket connections keep working, new ones are refused 503 BUS_UNAVAILABLE at the upgrade, and no
// process crashes; once it is back (empty), pushes flow again, new connections are accepted, and connection
// counts are rebuilt from the instances' open connections.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { KEYS, tokenFor, type TestSocket, type WsMessage } from '../fixtures/app.js'
import { startCluster } from '../fixtures/cluster.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'
import { privateRedis } from '../fixtures/private-redis.js'
import { upgrade } from '../fixtures/ws-upgrade.js'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { DURABLE_RUN, comparable, comparableResults, readRun, runDurable, smaStrategy, type DurableOutcome } from '../fixtures/durable-run.js'
import { call } from '../fixtures/rest.js'

const CREATE = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d', initial_capital: '10000.00' }

async function open (url: string): Promise<TestSocket> {
  const out = await upgrade(url)
  if (out.socket === undefined) throw new Error(`upgrade refused: ${out.status} ${JSON.stringify(out.body)}`)
  return out.socket
}

/** Polls `probe` (bounded in count and time) until it is true. */
async function until (probe: () => Promise<boolean>, what: string, tries = 150, pauseMs = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await probe()) return
    await sleep(pauseMs)
  }
  throw new Error(`gave up waiting for ${what}`)
}

const metadataPush = (id: string, note: string) => (m: WsMessage): boolean =>
  m.type === 'session_updated' && m.data.session_id === id && m.data.metadata?.note === note

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('Redis restarted under load', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const cluster = await startCluster(t, 3, { REDIS_URL: redis.url })
    const all = cluster.instances
    const [a, b, c] = all
    const bus = async (s: typeof a): Promise<string> => ((await (await fetch(`${s.baseUrl}/health`)).json()) as { bus: string }).bus

    const dev = await tokenFor(a.baseUrl, KEYS.dev)
    const ent = await tokenFor(a.baseUrl, KEYS.ent)
    const alice = await tokenFor(a.baseUrl, KEYS.alice)
    const [devA, devC] = await Promise.all([open(`${a.wsUrl}?token=${dev}`), open(`${c.wsUrl}?token=${dev}`)])
    // alice (free: one connection) holds hers on A through the outage.
    const aliceA = await open(`${a.wsUrl}?token=${alice}`)
    t.teardown(() => { for (const s of [devA, devC, aliceA]) s.close() })
    const id = (await call(b.baseUrl, dev, 'POST', '/sessions', CREATE)).json.session_id as string
    t.equal((await call(b.baseUrl, dev, 'PATCH', `/sessions/${id}`, { metadata: { note: 'before' } })).status, 200)
    await devA.next(metadataPush(id, 'before'))
    await devC.next(metadataPush(id, 'before'))

    // Load through the outage: reads, creates and deletes on every instance, every answer recorded.
    const entId = (await call(c.baseUrl, ent, 'POST', '/sessions', CREATE)).json.session_id as string
    const loadStatuses: number[] = []
    let loading = true
    const load = (async () => {
      for (let i = 0; loading && i < 5000; i++) {
        const base = all[i % 3].baseUrl
        if (i % 4 === 0) {
          const made = await call(base, ent, 'POST', '/sessions', CREATE)
          loadStatuses.push(made.status)
          if (made.status === 201) loadStatuses.push((await call(all[(i + 1) % 3].baseUrl, ent, 'DELETE', `/sessions/${made.json.session_id as string}`)).status)
        } else {
          loadStatuses.push((await call(base, ent, 'GET', `/sessions/${entId}`)).status)
        }
      }
    })()

    await redis.stop()
    for (const s of all) await until(async () => await bus(s) === 'down', `${s.baseUrl} to see Redis down`)
    t.pass('every instance reports bus: down')

    const before = loadStatuses.length
    for (const s of all) {
      t.equal((await call(s.baseUrl, dev, 'GET', `/sessions/${id}`)).status, 200, 'reads work while Redis is down')
      const made = await call(s.baseUrl, dev, 'POST', '/sessions', CREATE)
      t.equal(made.status, 201, 'creates work (the rate limit is skipped)')
      t.equal((await call(s.baseUrl, dev, 'DELETE', `/sessions/${made.json.session_id as string}`)).status, 204)
      const refused = await upgrade(`${s.wsUrl}?token=${dev}`)
      t.equal(refused.status, 503, 'a new WebSocket connection is refused at the upgrade')
      t.equal(refused.body?.error_code, 'BUS_UNAVAILABLE')
    }
    const token = await fetch(`${b.baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEYS.bob } })
    t.equal(token.status, 200, 'tokens are issued')
    const wrong = await fetch(`${b.baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'wrong-key-wrong-key-wrong' } })
    t.equal(wrong.status, 401, 'a wrong key is judged (throttled per instance meanwhile)')
    // A change made now is stored; its push to the other instances is lost, but the origin's own sockets get it.
    t.equal((await call(a.baseUrl, dev, 'PATCH', `/sessions/${id}`, { metadata: { note: 'during' } })).status, 200)
    await devA.next(metadataPush(id, 'during'))
    const pong = await devC.request('ping', {})
    t.equal(pong.type, 'pong', 'an open connection keeps working')
    await until(async () => loadStatuses.length > before + 6, 'load during the outage')

    await redis.start()
    for (const s of all) await until(async () => await bus(s) === 'ready', `${s.baseUrl} to reconnect`)
    t.pass('every instance reconnects by itself')

    // The subscribers reconnect on their own schedule: change until C's socket hears one made on B.
    let n = 0
    await until(async () => {
      const note = `after-${n++}`
      await call(b.baseUrl, dev, 'PATCH', `/sessions/${id}`, { metadata: { note } })
      await sleep(100)
      return devC.messages.some(metadataPush(id, note))
    }, 'pushes to flow again')
    t.pass('pushes flow again')
    t.notOk(devC.messages.some(metadataPush(id, 'during')), 'the push made during the outage did not reach C')

    // The restarted Redis is empty: A writes alice's open connection back, so B refuses her second one again.
    await until(async () => (await upgrade(`${b.wsUrl}?token=${alice}`)).body?.error_code === 'CONNECTION_LIMIT_EXCEEDED', 'the counts to be rebuilt', 60)
    t.pass('connection counts are rebuilt from the open connections')
    for (const s of all) {
      const fresh = await upgrade(`${s.wsUrl}?token=${dev}`)
      t.equal(fresh.status, 101, 'new connections are accepted again')
      fresh.socket?.close()
    }

    loading = false
    await load
    const bad = loadStatuses.filter((s) => s !== 200 && s !== 201 && s !== 204)
    t.same(bad, [], `${loadStatuses.length} requests of load through the outage all succeeded`)
    for (const s of all) t.equal(s.child.exitCode, null, 'no instance crashed')
    for (const s of all) t.notMatch(s.output(), /uncaught|unhandled/i, 'and none logged an unhandled error')
  })

  t.test('a lockstep run through a Redis restart (empty) ends as the uninterrupted run does', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const cluster = await startCluster(t, 2, { REDIS_URL: redis.url, RUN_LEASE_MS: '1500' })
    const [a, b] = cluster.instances
    const baseline = await runDurable(() => a.baseUrl, KEYS.ent)

    const client = new SessionClient({ url: [a.baseUrl, b.baseUrl], apiKey: KEYS.ent, reconnect: { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 200 } })
    t.teardown(() => { client.close() })
    await client.connect()
    let outage: Promise<void> | undefined
    let downAt = 0
    let backAt = 0
    const run = await runStrategy(client, smaStrategy(async (step) => {
      if (step < 60 || outage !== undefined) return
      // Down for two leases while the strategy holds tick 60, then back, empty; the strategy goes on meanwhile.
      await redis.stop()
      downAt = performance.now()
      outage = (async () => {
        await sleep(3000)
        await redis.start()
        backAt = performance.now()
      })()
    }), { session: DURABLE_RUN })
    const endedAt = performance.now()
    await outage
    t.ok(outage !== undefined, 'Redis went down mid-run')
    t.ok(endedAt > backAt, 'the run stood still without Redis (its lease could not be renewed) and ended after it was back')
    t.comment(`Redis down ${Math.round(backAt - downAt)} ms; the run ended ${Math.round(endedAt - backAt)} ms after it was back`)
    const after: DurableOutcome = { sessionId: run.session.session_id, ...await readRun(b.baseUrl, KEYS.ent, run.session.session_id) }
    t.same(comparableResults(after), comparableResults(baseline), 'results (equity, fills, trades) equal the uninterrupted run\'s')
    t.same(comparable(after), comparable(baseline), 'and so do the events')
    for (const s of cluster.instances) t.equal(s.child.exitCode, null, 'no instance crashed')
  })
}
