// deploy/nginx.conf in front of three real instances (one PostgreSQL schema, one Redis prefix): REST and the
// WebSocket upgrade pass through it, a session's requests stick to one instance (hash of the id in the path)
// while different sessions spread, a strategy runs to completion through it, and when the instance serving a
// session is killed its requests are answered by another.
import t from 'tap'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { createStrategy } from '../../examples/sma-crossover.js'
import { KEYS, tokenFor } from '../fixtures/app.js'
import { startCluster } from '../fixtures/cluster.js'
import { requireNginx, startNginx } from '../fixtures/nginx.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'

const INSTANCE = 'x-simutrador-instance'
const CREATE = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-06-30', timeframe: '1d' as const, initial_capital: '10000.00' }

if (await requirePostgres(t) && await requireRedis(t) && await requireNginx(t)) {
  t.test('three instances behind deploy/nginx.conf', async (t) => {
    const cluster = await startCluster(t, 3)
    const nginx = await startNginx(t, cluster.instances.map((s) => Number(new URL(s.baseUrl).port)))
    const base = nginx.baseUrl
    const token = await tokenFor(base, KEYS.ent)
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

    const ids: string[] = []
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${base}/sessions`, { method: 'POST', headers, body: JSON.stringify(CREATE) })
      t.equal(res.status, 201)
      ids.push(((await res.json()) as { session_id: string }).session_id)
    }
    const servedBy = async (id: string): Promise<string> => {
      const res = await fetch(`${base}/sessions/${id}`, { headers })
      t.equal(res.status, 200)
      await res.arrayBuffer()
      return res.headers.get(INSTANCE) ?? 'none'
    }
    const first = await Promise.all(ids.map(servedBy))
    t.same(await Promise.all(ids.map(servedBy)), first, 'each session\'s requests go to the same instance every time')
    t.ok(new Set(first).size >= 2, `12 sessions are spread over ${new Set(first).size} instances (${first.join(',')})`)

    const client = new SessionClient({ url: base, apiKey: KEYS.ent, reconnect: false })
    t.teardown(() => client.close())
    await client.connect()
    const run = await runStrategy(client, createStrategy(), { session: { ...CREATE, symbols: ['MSFT'] } })
    t.equal(run.complete.session_id, run.session.session_id, 'a lockstep run through the proxy completes')
    t.equal(run.ticks, run.session.estimated_ticks, 'every tick went through the proxy')
    const read = await fetch(`${base}/sessions/${run.session.session_id}`, { headers })
    t.equal(((await read.json()) as { state: string }).state, 'completed', 'read through the proxy as soon as the run ends, on whichever instance: completed')

    const victim = first[0]
    await cluster.instances[victim.charCodeAt(0) - 97].stop('SIGKILL')
    const after = await servedBy(ids[0])
    t.not(after, victim, `with ${victim} killed, ${after} answers for its session`)
    t.match(nginx.output(), /connect\(\) failed/, 'nginx saw the dead instance and moved on')
  })
}
