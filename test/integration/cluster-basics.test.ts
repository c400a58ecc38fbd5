// Three real server processes on one PostgreSQL schema and one Redis prefix behave as one service for plain
// REST: each names itself in /health (and in its banner), and a session created on one instance is read,
// listed, patched and deleted on the others.
import t from 'tap'
import { KEYS, tokenFor } from '../fixtures/app.js'
import { startCluster } from '../fixtures/cluster.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { REDIS_URL, requireRedis } from '../fixtures/redis.js'
import { runServerToExit } from '../fixtures/server-process.js'
import { call } from '../fixtures/rest.js'

const CREATE = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d', initial_capital: '10000.00' }

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('three instances on one database and one Redis', async (t) => {
    const cluster = await startCluster(t, 3)
    const [a, b, c] = cluster.instances

    const ids = await Promise.all(cluster.instances.map(async (s) => (await (await fetch(`${s.baseUrl}/health`)).json()) as { instance_id: string, bus: string }))
    t.same(ids.map((h) => h.instance_id), ['a', 'b', 'c'], '/health names each instance')
    t.same(ids.map((h) => h.bus), ['ready', 'ready', 'ready'], 'each one reaches the bus')
    t.match(a.output(), /^ {2}Shared bus: {2}redis:\/\/127\.0\.0\.1:6379 \(prefix st[0-9a-f]+:\), instance a$/m)
    t.notMatch(a.output(), /DATABASE_URL without REDIS_URL/)

    const token = await tokenFor(a.baseUrl, KEYS.dev)
    const created = await call(a.baseUrl, token, 'POST', '/sessions', CREATE)
    t.equal(created.status, 201)
    const id = created.json.session_id as string

    const got = await call(b.baseUrl, token, 'GET', `/sessions/${id}`)
    t.equal(got.status, 200)
    // A read slides the expiry, so expires_at is the one field that moves.
    const { expires_at: _e1, ...gotRest } = got.json
    const { expires_at: _e2, ...createdRest } = created.json
    t.same(gotRest, createdRest, 'B answers what A created')
    const listed = await call(c.baseUrl, token, 'GET', '/sessions?limit=10')
    t.same(listed.json.sessions.map((s: { session_id: string }) => s.session_id), [id], 'C lists it')
    const patched = await call(c.baseUrl, token, 'PATCH', `/sessions/${id}`, { metadata: { note: 'from c' } })
    t.equal(patched.status, 200)
    t.same((await call(a.baseUrl, token, 'GET', `/sessions/${id}`)).json.metadata, { note: 'from c' }, 'A reads C\'s change')
    t.equal((await call(b.baseUrl, token, 'DELETE', `/sessions/${id}`)).status, 204)
    t.equal((await call(a.baseUrl, token, 'GET', `/sessions/${id}`)).status, 404, 'deleted on B is gone on A')
  })

  t.test('an unreachable Redis is refused at start with its address, without the password', async (t) => {
    const { code, output } = await runServerToExit({ SIMUTRADOR_STATE_DIR: ':memory:', REDIS_URL: 'redis://:s3cret@127.0.0.1:1' })
    t.equal(code, 1)
    t.match(output, /Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/)
    t.notMatch(output, /s3cret/)
  })

  t.test('REDIS_URL without DATABASE_URL warns that the state is this instance\'s own', async (t) => {
    const { startServer } = await import('../fixtures/server-process.js')
    const s = await startServer(t, { SIMUTRADOR_STATE_DIR: ':memory:', REDIS_URL, INSTANCE_ID: 'solo' })
    t.match(s.output(), /REDIS_URL without DATABASE_URL/)
    await s.stop('SIGTERM')
  })
}
