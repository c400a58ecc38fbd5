// The counters several instances share, against real Redis under a fresh prefix: WebSocket connection slots
// (exact under concurrency, given back on release, lapsing without refresh, written back by a refresh after
// Redis lost them), the rate limiter's store (one bucket per key across routes and instances) and the
// authentication failure counter (exact across instances, local while Redis is down).
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { openRedis, type RedisBus } from '../../../server/adapters/redis/connection.js'
import { RedisConnectionSlots } from '../../../server/adapters/redis/ws-connection-slots.js'
import { RedisFailureCounter } from '../../../server/adapters/redis/failure-counter.js'
import { FailureThrottle } from '../../../server/auth/failure-throttle.js'
import { sharedRedisStore } from '../../../server/plugins/rate-limit.js'
import { isAppError } from '../../../server/app-error.js'
import { REDIS_URL, freshPrefix, requireRedis } from '../../fixtures/redis.js'
import { privateRedis } from '../../fixtures/private-redis.js'
import { rejection } from '../sessions/session-records.js'

const quiet = { warn: () => {}, info: () => {} }

async function bus (t: Test, prefix: string, url = REDIS_URL): Promise<RedisBus> {
  const b = await openRedis({ url, keyPrefix: prefix }, quiet as never)
  t.teardown(async () => { await b.close() })
  return b
}

async function until (cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  for (let waited = 0; !(await cond()); waited += 50) {
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

if (await requireRedis(t)) {
  t.test('connection slots: exact under concurrent acquires from two instances, given back on release', async (t) => {
    const prefix = freshPrefix(t)
    const [a, b] = [new RedisConnectionSlots(await bus(t, prefix)), new RedisConnectionSlots(await bus(t, prefix))]
    t.teardown(async () => { await a.close(); await b.close() })
    const results = await Promise.all(Array.from({ length: 12 }, async (_, i) => await (i % 2 === 0 ? a : b).acquire('alice', 3)))
    const taken = results.filter((s) => s !== undefined)
    t.equal(taken.length, 3, 'exactly the limit')
    t.equal(await a.count('alice'), 3)
    t.equal(await b.count('bob'), 0, 'per user')
    t.equal(a.held + b.held, 3)
    t.equal(await a.acquire('alice', 3), undefined, 'full')

    const i = results.findIndex((s) => s !== undefined)
    const owner = i % 2 === 0 ? a : b
    owner.release(results[i] as string)
    owner.release(results[i] as string)
    await owner.close()
    t.equal(await b.count('alice'), 2, 'released once (idempotent)')
    t.type(await b.acquire('alice', 3), 'string', 'a freed slot is taken again')
  })

  t.test('connection slots: lapse without refresh, and a refresh writes back what Redis lost', async (t) => {
    const prefix = freshPrefix(t)
    const b1 = await bus(t, prefix)
    const lapsing = new RedisConnectionSlots(b1, { ttlMs: 300, refreshMs: 3_600_000 })
    t.teardown(async () => { await lapsing.close() })
    t.type(await lapsing.acquire('alice', 1), 'string')
    await until(async () => (await lapsing.count('alice')) === 0, 'the unrefreshed slot to lapse')
    t.pass('an instance that stopped refreshing stops counting')
    t.type(await lapsing.acquire('alice', 1), 'string', 'and the slot can be taken')

    const kept = new RedisConnectionSlots(b1, { ttlMs: 60_000, refreshMs: 3_600_000 })
    t.teardown(async () => { await kept.close() })
    await kept.acquire('bob', 2)
    await kept.acquire('bob', 2)
    await b1.client.del('ws:conn:bob')
    t.equal(await kept.count('bob'), 0, 'Redis lost the slots (a restart)')
    await kept.refresh()
    t.equal(await kept.count('bob'), 2, 'the refresh wrote both back')
    t.equal(await kept.acquire('bob', 2), undefined, 'so the limit holds again')
    t.ok(await b1.client.pttl('ws:conn:bob') > 0, 'the set expires if nobody refreshes it')
  })

  t.test('rate-limit store: one bucket per key across routes and instances, expiring with the window', async (t) => {
    const prefix = freshPrefix(t)
    const [b1, b2] = [await bus(t, prefix), await bus(t, prefix)]
    // The plugin's connections carry no key prefix: the store adds it itself.
    const Store = sharedRedisStore(b1.dedicated('rl-1'), prefix)
    const Store2 = sharedRedisStore(b2.dedicated('rl-2'), prefix)
    const one = new Store({})
    const two = new Store2({})
    const incr = async (store: InstanceType<typeof Store>, key: string): Promise<{ current: number, ttl: number }> =>
      await new Promise((resolve, reject) => { store.incr(key, (err, res) => { if (err !== null || res === undefined) reject(err); else resolve(res) }, 60_000, 10) })
    const route = one.child({} as never)
    t.equal(route, one, 'every route shares the table')
    const counts = [(await incr(one, 'user:alice')).current, (await incr(route, 'user:alice')).current, (await incr(two, 'user:alice')).current]
    t.same(counts, [1, 2, 3], 'one count for the user across routes and instances')
    t.equal((await incr(two, 'user:bob')).current, 1, 'per key')
    const { ttl } = await incr(one, 'user:alice')
    t.ok(ttl > 0 && ttl <= 60_000, `ttl ${ttl}`)
    t.equal(await b1.client.exists('rl:user:alice'), 1, 'the key lives under the prefix')
  })

  t.test('auth failures: exact across instances, then refused with the time left', async (t) => {
    const prefix = freshPrefix(t)
    const counters = [await bus(t, prefix), await bus(t, prefix)].map((b) =>
      new RedisFailureCounter(b, { maxFailures: 5, windowMs: 60_000, fallback: new FailureThrottle({ maxFailures: 5, windowMs: 60_000 }) }))
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, async (_, i) => { await counters[i % 2].failed('ip:10.0.0.1') }))
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 5, 'five failures counted')
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown)
    t.equal(refused.length, 7)
    t.ok(refused.every((e) => isAppError(e) && e.error_code === 'RATE_LIMIT_EXCEEDED'), 'the rest are RATE_LIMIT_EXCEEDED')
    const first = refused[0] as { details?: { retry_after_seconds?: number } }
    const retry = first.details?.retry_after_seconds ?? 0
    t.ok(retry >= 1 && retry <= 60, `retry after ${retry} s`)
    await counters[0].failed('ip:10.0.0.2')
    t.pass('another address is unaffected')
  })

  t.test('auth failures: a window that ended counts again from one', async (t) => {
    const counter = new RedisFailureCounter(await bus(t, freshPrefix(t)), { maxFailures: 1, windowMs: 200, fallback: new FailureThrottle({ maxFailures: 1, windowMs: 200 }) })
    await counter.failed('ip:x')
    t.match(await rejection(counter.failed('ip:x')), { error_code: 'RATE_LIMIT_EXCEEDED' })
    await until(async () => await counter.failed('ip:x').then(() => true, () => false), 'the window to end')
    t.pass('counted again after the window')
  })

  t.test('auth failures while Redis is down: counted by the instance itself', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const b = await bus(t, freshPrefix(t), redis.url)
    const counter = new RedisFailureCounter(b, { maxFailures: 2, windowMs: 60_000, fallback: new FailureThrottle({ maxFailures: 2, windowMs: 60_000 }) })
    await redis.stop()
    await counter.failed('ip:y')
    await counter.failed('ip:y')
    t.match(await rejection(counter.failed('ip:y')), { error_code: 'RATE_LIMIT_EXCEEDED' }, 'the local allowance applies')
  })
}
