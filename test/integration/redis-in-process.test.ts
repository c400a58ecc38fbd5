// The shared parts wired into the app, in this process (so they count towards coverage; cluster-*.test.ts run
// the same over real child processes): two apps on one PostgreSQL schema and one Redis prefix push each
// other's session changes to their sockets, count a plan's WebSocket connections together (/me shows the
// global count), share the per-user rate limit and the failed-key throttle; with Redis down an app refuses new
// WebSocket connections 503 BUS_UNAVAILABLE while REST, open sockets and /me keep working.
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { KEYS, testConfig, tokenFor, type WsMessage } from '../fixtures/app.js'
import { freshSchema, requirePostgres } from '../fixtures/postgres.js'
import { REDIS_URL, freshPrefix, requireRedis } from '../fixtures/redis.js'
import { privateRedis } from '../fixtures/private-redis.js'
import { upgrade } from '../fixtures/ws-upgrade.js'
import { call } from '../fixtures/rest.js'

const CREATE = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d', initial_capital: '10000.00' }

interface Node { app: FastifyInstance, baseUrl: string, wsUrl: string }

async function node (t: Test, env: Record<string, string>): Promise<Node> {
  const app = await buildApp(testConfig(env), { logger: false })
  t.teardown(async () => { await app.close() })
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, baseUrl, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws/simulate` }
}

if (await requirePostgres(t) && await requireRedis(t)) {
  t.test('two apps on one database and one Redis', async (t) => {
    const env = { DATABASE_URL: (await freshSchema(t)).url, REDIS_URL, REDIS_KEY_PREFIX: freshPrefix(t), AUTH_FAILURES_PER_MINUTE: '3' }
    const one = await node(t, { ...env, INSTANCE_ID: 'one' })
    const two = await node(t, { ...env, INSTANCE_ID: 'two' })
    t.equal(one.app.sessionEvents.constructor.name, 'RedisSessionEvents')

    t.test('a change on one app is pushed to the owner\'s socket on the other, once', async (t) => {
      const token = await tokenFor(one.baseUrl, KEYS.dev)
      const out = await upgrade(`${two.wsUrl}?token=${token}`)
      const socket = out.socket
      if (socket === undefined) throw new Error(`refused ${out.status}`)
      t.teardown(() => { socket.close() })
      const id = (await call(one.baseUrl, token, 'POST', '/sessions', CREATE)).json.session_id as string
      t.equal((await socket.next((m: WsMessage) => m.type === 'session_updated' && m.data.session_id === id)).data.state, 'ready')
      t.equal((await call(one.baseUrl, token, 'DELETE', `/sessions/${id}`)).status, 204)
      t.same((await socket.next('session_deleted')).data, { session_id: id, deleted: true })
    })

    t.test('one plan allowance of WebSocket connections across both apps', async (t) => {
      const token = await tokenFor(one.baseUrl, KEYS.alice)
      const first = await upgrade(`${one.wsUrl}?token=${token}`)
      t.equal(first.status, 101)
      const second = await upgrade(`${two.wsUrl}?token=${token}`)
      t.equal(second.status, 429)
      t.equal(second.body?.error_code, 'CONNECTION_LIMIT_EXCEEDED')
      t.equal((await call(two.baseUrl, token, 'GET', '/me')).json.usage.open_connections, 1, '/me on the other app counts it')
      first.socket?.close()
      await first.socket?.closed
      let again
      for (let i = 0; i < 50 && again?.status !== 101; i++) {
        again = await upgrade(`${two.wsUrl}?token=${token}`)
        if (again.status !== 101) await sleep(50)
      }
      t.equal(again?.status, 101, 'the slot came back when the socket closed')
      again?.socket?.close()
    })

    t.test('the per-user rate limit and the failed-key throttle are shared', async (t) => {
      const token = await tokenFor(one.baseUrl, KEYS.bob)
      let ok = 0
      for (let i = 0; i < 12; i++) {
        const statuses = await Promise.all(Array.from({ length: 10 }, async () => (await call(i % 2 === 0 ? one.baseUrl : two.baseUrl, token, 'GET', '/me')).status))
        ok += statuses.filter((s) => s === 200).length
      }
      t.equal(ok, 120)
      t.equal((await call(one.baseUrl, token, 'GET', '/me')).json.error_code, 'RATE_LIMIT_EXCEEDED')

      const guess = async (n: Node): Promise<number> => (await fetch(`${n.baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'guess-guess-guess-guess' } })).status
      t.same([await guess(one), await guess(two), await guess(one), await guess(two)], [401, 401, 401, 429], 'three failures in all, then refused')
    })
  })

  t.test('with Redis down: new sockets 503 BUS_UNAVAILABLE, REST and open sockets work; back after', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const n = await node(t, { DATABASE_URL: (await freshSchema(t)).url, REDIS_URL: redis.url, REDIS_KEY_PREFIX: freshPrefix(t) })
    const token = await tokenFor(n.baseUrl, KEYS.dev)
    const open = await upgrade(`${n.wsUrl}?token=${token}`)
    const socket = open.socket
    if (socket === undefined) throw new Error(`refused ${open.status}`)
    t.teardown(() => { socket.close() })

    await redis.stop()
    for (let i = 0; i < 100 && n.app.redis?.ready === true; i++) await sleep(50)
    const refused = await upgrade(`${n.wsUrl}?token=${token}`)
    t.equal(refused.status, 503)
    t.equal(refused.body?.error_code, 'BUS_UNAVAILABLE')
    const made = await call(n.baseUrl, token, 'POST', '/sessions', CREATE)
    t.equal(made.status, 201, 'a create works (rate limit skipped)')
    t.equal((await socket.next((m: WsMessage) => m.type === 'session_updated' && m.data.session_id === made.json.session_id)).data.state, 'ready',
      'the origin still pushes to its own sockets')
    t.equal((await call(n.baseUrl, token, 'GET', '/me')).json.usage.open_connections, 1, '/me falls back to this instance\'s count')
    t.equal((await socket.request('ping', {})).type, 'pong', 'an open socket keeps working')

    await redis.start()
    let back
    for (let i = 0; i < 100 && back?.status !== 101; i++) {
      back = await upgrade(`${n.wsUrl}?token=${token}`)
      if (back.status !== 101) await sleep(100)
    }
    t.equal(back?.status, 101, 'accepted again once Redis is back')
    back?.socket?.close()
  })
}
