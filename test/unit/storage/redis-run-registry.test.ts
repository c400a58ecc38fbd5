// Run ownership in Redis against the machine's real Redis (a fresh key prefix per test): the lease scripts
// (acquire, renew, release, handover, take-back), the FENCED append of a run's event stream (a stale token
// or a gap never writes), the follower that feeds remote watchers, commands to an instance over pub/sub,
// and RunOwnership's renewal and deadlines.
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { openRedis, type RedisBus } from '../../../server/adapters/redis/connection.js'
import { RedisEventStore, RedisStreamFollower } from '../../../server/adapters/redis/event-streams.js'
import { RedisRunCommands } from '../../../server/adapters/redis/run-commands.js'
import { RedisRunLeases, runKey } from '../../../server/adapters/redis/run-leases.js'
import { FencedAppendError, NoAnswerError, tokenInstance } from '../../../server/ports/run-registry.js'
import { RunOwnership } from '../../../server/simulation/run-ownership.js'
import { REDIS_URL, freshPrefix, requireRedis } from '../../fixtures/redis.js'
import { privateRedis } from '../../fixtures/private-redis.js'
import { AppError } from '../../../server/app-error.js'

const quiet = { warn: () => {}, info: () => {} }
const run = { userId: 'alice', sessionId: 'sess_1' }
const frames = (from: number, n: number): Array<{ seq: number, frame: string }> =>
  Array.from({ length: n }, (_, i) => ({ seq: from + i, frame: `{"type":"tick","data":{"n":${from + i}},"sequence_id":${from + i}}` }))

async function bus (t: Test, prefix = freshPrefix(t)): Promise<RedisBus> {
  const b = await openRedis({ url: REDIS_URL, keyPrefix: prefix }, quiet)
  t.teardown(async () => { await b.close() })
  return b
}

if (await requireRedis(t)) {
  t.test('leases: one holder at a time; renew, release and hand over only with the holder\'s token', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    t.equal(await leases.acquire(run, 'a|1', 5000), true, 'the first takes it')
    t.equal(await leases.acquire(run, 'b|1', 5000), false, 'the second does not')
    const holder = await leases.holder(run)
    t.equal(holder?.token, 'a|1')
    t.ok((holder?.ttlMs ?? 0) > 4000 && (holder?.ttlMs ?? 0) <= 5000, 'with its time left')
    t.equal(tokenInstance('host:12|ab|cd'), 'host:12|ab', 'the instance is what precedes the last bar')

    const other = { userId: 'alice', sessionId: 'sess_2' }
    await leases.acquire(other, 'a|2', 1000)
    t.same(await leases.renew([{ run, token: 'a|1' }, { run: other, token: 'b|9' }, { run: other, token: 'a|2' }], 60_000), [true, false, true], 'renewed per run, in one round trip')
    t.ok((await leases.holder(other))?.ttlMs ?? 0 > 5000, 'renewal extends the lease')
    t.same(await leases.renew([], 1000), [])

    t.equal(await leases.release(run, 'b|1'), false, 'another token cannot release it')
    t.equal(await leases.transfer(run, 'b|1', 'c|1', 5000), false, 'nor hand it over')
    t.equal(await leases.transfer(run, 'a|1', 'c|1', 5000), true, 'the holder hands it over')
    t.equal((await leases.holder(run))?.token, 'c|1', 'with no moment without an owner')
    t.equal(await leases.release(run, 'c|1'), true)
    t.equal(await leases.holder(run), undefined)
  })

  t.test('the event stream: fenced, gap-free batches read back byte for byte from any offset', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    const store = new RedisEventStore(b.client)
    await t.rejects(store.append(run.userId, run.sessionId, frames(1, 1)), /lease token/, 'an unfenced append is refused')
    await t.rejects(store.append(run.userId, run.sessionId, frames(1, 2), { token: 'a|1' }), FencedAppendError, 'no lease, no write')
    await leases.acquire(run, 'a|1', 5000)
    await store.append(run.userId, run.sessionId, frames(1, 3), { token: 'a|1' })
    await store.append(run.userId, run.sessionId, [], { token: 'a|1' })
    // The holder's retry of a batch that went through (its answer lost): what is there already is skipped.
    await store.append(run.userId, run.sessionId, [{ seq: 2, frame: 'other' }, { seq: 3, frame: 'other' }], { token: 'a|1' })
    t.same(await store.read(run.userId, run.sessionId, 0, 10, 1 << 20), frames(1, 3).map((f) => f.frame), 'a retried batch adds nothing twice')
    const gap = await store.append(run.userId, run.sessionId, frames(5, 1), { token: 'a|1' }).catch((err: unknown) => err)
    t.ok(gap instanceof FencedAppendError && gap.reason === 'gap', 'so is one that skips')
    // More than one script's worth: split, still in order.
    await store.append(run.userId, run.sessionId, frames(4, 2500), { token: 'a|1' })
    t.equal(await store.lastSeq(run.userId, run.sessionId), 2503)
    t.equal(await b.client.xlen(runKey(run, 'events')), 2503, 'one entry per event, no repeat')
    t.same(await store.read(run.userId, run.sessionId, 0, 3, 1 << 20), frames(1, 3).map((f) => f.frame))
    t.same(await store.read(run.userId, run.sessionId, 1999, 2, 1 << 20), frames(2000, 2).map((f) => f.frame), 'from any offset')
    t.same(await store.read(run.userId, run.sessionId, 10, 100, 1), [frames(11, 1)[0].frame], 'at most maxChars, at least one')
    t.same(await store.read(run.userId, run.sessionId, 2503, 10, 1 << 20), [])

    // The lease moves on: the old holder (a zombie) cannot write any more.
    t.equal(await leases.transfer(run, 'a|1', 'b|1', 5000), true)
    const zombie = await store.append(run.userId, run.sessionId, frames(2504, 1), { token: 'a|1' }).catch((err: unknown) => err)
    t.ok(zombie instanceof FencedAppendError && zombie.reason === 'fenced', 'the previous holder is fenced off')
    t.match((zombie as Error).message, /held by b\|1/)
    await store.append(run.userId, run.sessionId, frames(2504, 1), { token: 'b|1', finalTtlMs: 60_000 })
    const ttl = await b.client.pttl(runKey(run, 'events'))
    t.ok(ttl > 50_000 && ttl <= 60_000, 'the last batch of a finished run sets the stream\'s expiry')
    t.equal(await store.deleteFinishedBefore(), 0, 'finished streams expire by themselves')
    await store.delete(run.userId, run.sessionId)
    t.equal(await store.lastSeq(run.userId, run.sessionId), 0)
  })

  t.test('a lease that lapsed: another instance takes it, and the old token can neither append nor take it back', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    const store = new RedisEventStore(b.client)
    await leases.acquire(run, 'a|1', 5000)
    await store.append(run.userId, run.sessionId, frames(1, 5), { token: 'a|1' })
    t.equal(await leases.reacquire(run, 'a|1', 5000, 5), 'kept', 'still held: kept')
    await b.client.pexpire(runKey(run, 'lease'), 1)
    await sleep(20)
    t.equal(await leases.reacquire(run, 'a|1', 5000, 6, 8), 'moved', 'the stream is shorter than what the caller stored (lost): moved')
    t.equal(await leases.reacquire(run, 'a|1', 5000, 3, 4), 'moved', 'longer than the caller tried to store (someone wrote): moved')
    t.equal(await leases.reacquire(run, 'a|1', 5000, 3, 6), 'acquired', 'between what it stored and what it tried (an answer lost): taken back')
    await b.client.pexpire(runKey(run, 'lease'), 1)
    await sleep(20)
    t.equal(await leases.reacquire(run, 'a|1', 5000, 5), 'acquired', 'nobody took it and nobody wrote: taken back')
    await b.client.pexpire(runKey(run, 'lease'), 1)
    await sleep(20)
    t.equal(await leases.acquire(run, 'b|1', 5000), true, 'lapsed: another instance takes it')
    await store.append(run.userId, run.sessionId, frames(6, 1), { token: 'b|1' })
    t.equal(await leases.reacquire(run, 'a|1', 5000, 5), 'held', 'held by another: not taken back')
    await leases.release(run, 'b|1')
    t.equal(await leases.reacquire(run, 'a|1', 5000, 5), 'moved', 'free, but someone appended since: moved')
    const late = await store.append(run.userId, run.sessionId, frames(6, 1), { token: 'a|1' }).catch((err: unknown) => err)
    t.ok(late instanceof FencedAppendError, 'the zombie\'s late batch is refused')
    t.equal(await store.lastSeq(run.userId, run.sessionId), 6, 'and the stream is as the new owner left it')
  })

  t.test('the follower feeds watchers each frame once, in order, from where each joined', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    const store = new RedisEventStore(b.client)
    const errors: unknown[] = []
    const follower = new RedisStreamFollower(b, store, (err) => { errors.push(err) })
    t.teardown(async () => { await follower.close() })
    await leases.acquire(run, 'a|1', 10_000)
    await store.append(run.userId, run.sessionId, frames(1, 3), { token: 'a|1' })
    t.equal(await follower.lastSeq(run), 3)
    const early: string[] = []
    const late: string[] = []
    const stopEarly = follower.follow(run, 3, (f) => { early.push(...f) })
    await store.append(run.userId, run.sessionId, frames(4, 2), { token: 'a|1' })
    for (let i = 0; i < 200 && early.length < 2; i++) await sleep(10)
    const stopLate = follower.follow(run, 1, (f) => { late.push(...f) })
    await store.append(run.userId, run.sessionId, frames(6, 700), { token: 'a|1' })
    for (let i = 0; i < 300 && (early.length < 702 || late.length < 704); i++) await sleep(10)
    t.same(early, frames(4, 702).map((f) => f.frame), 'from its start, every frame once, in order (over several reads)')
    t.same(late, frames(2, 704).map((f) => f.frame), 'a watcher that joined behind is caught up first')
    stopEarly()
    stopEarly()
    await store.append(run.userId, run.sessionId, frames(706, 1), { token: 'a|1' })
    for (let i = 0; i < 200 && late.length < 705; i++) await sleep(10)
    t.equal(early.length, 702, 'a stopped follower hears nothing more')
    t.equal(late.length, 705)
    stopLate()
    t.same(errors, [])
  })

  t.test('commands reach the instance that serves them; a missing or silent one is told apart', async (t) => {
    const prefix = freshPrefix(t)
    const [ba, bb] = [await bus(t, prefix), await bus(t, prefix)]
    const errors: unknown[] = []
    const a = await RedisRunCommands.open(ba, 'a', (err) => { errors.push(err) })
    const b = await RedisRunCommands.open(bb, 'b', (err) => { errors.push(err) })
    t.teardown(async () => { await a.close(); await b.close() })
    b.serve(async (command) => command.op === 'silent'
      ? await new Promise(() => {})
      : { ok: true, value: { echo: command.args, from: 'b' } })
    const cmd = { op: 'echo', user: { user_id: 'alice', plan: 'free' }, session_id: 's', args: { n: 1 } }
    t.same(await a.call('b', cmd, 2000), { ok: true, value: { echo: { n: 1 }, from: 'b' } }, 'request and reply')
    const absent = await a.call('zz', cmd, 2000).catch((err: unknown) => err)
    t.ok(absent instanceof NoAnswerError && absent.reason === 'absent', 'nobody listens for that instance: at once')
    const silent = await a.call('b', { ...cmd, op: 'silent' }, 100).catch((err: unknown) => err)
    t.ok(silent instanceof NoAnswerError && silent.reason === 'timeout', 'no answer in time')
    t.same(errors, [])
  })

  t.test('RunOwnership keeps leases alive, stops at its deadline, takes back a lapsed lease only if nothing moved', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    const store = new RedisEventStore(b.client)
    const lost: string[] = []
    const renewed: string[] = []
    let unchanged = true
    const own = new RunOwnership({
      leases,
      instanceId: 'a',
      leaseMs: 400,
      hooks: {
        lost: (key, why) => { lost.push(`${key}: ${why}`) },
        renewed: (key) => { renewed.push(key) },
        appended: () => ({ through: 2, tried: 2 }),
        unchanged: async () => unchanged,
        onError: (err) => { throw err }
      }
    })
    t.teardown(() => { own.stop() })
    t.equal(await own.acquire('k', run), true)
    t.equal(await own.acquire('k2', { userId: 'alice', sessionId: 'sess_9' }), true)
    const token = own.token('k') as string
    t.match(token, /^a\|[0-9a-f]{16}$/, 'the token names the instance')
    t.ok(own.isMine(token) && !own.isMine('a|other'))
    t.equal(own.valid('k'), true)
    t.equal(own.valid('nope'), false)
    await store.append(run.userId, run.sessionId, frames(1, 2), { token })
    await own.renewNow()
    t.ok(renewed.includes('k'), 'a renewal confirms the run')
    t.equal(own.size, 2)

    // Lapsed while nobody moved it: taken back.
    await b.client.del(runKey(run, 'lease'))
    await own.renewNow()
    for (let i = 0; i < 100 && (await leases.holder(run))?.token !== token; i++) await sleep(10)
    t.equal((await leases.holder(run))?.token, token, 'taken back with the same token')
    t.same(lost, [])

    // Lapsed, taken back, but the inputs moved on meanwhile: given up.
    unchanged = false
    await b.client.del(runKey(run, 'lease'))
    await own.renewNow()
    for (let i = 0; i < 100 && lost.length === 0; i++) await sleep(10)
    t.match(lost, [/^k: /], 'lost: someone else logged inputs')
    t.equal(await leases.holder(run), undefined, 'and the lease released again')
    t.equal(own.holds('k'), false)

    // Another instance holds it: lost at the next renewal.
    unchanged = true
    t.equal(await own.acquire('k', run), true)
    await b.client.set(runKey(run, 'lease'), 'b|1')
    await own.renewNow()
    for (let i = 0; i < 100 && lost.length < 2; i++) await sleep(10)
    t.match(lost[1], /another instance holds its lease/)

    const until = performance.now() + 500
    while (performance.now() < until) await sleep(50)
    t.equal(own.valid('k2'), true, 'the timer kept renewing it past its first lease')
    t.equal(await own.transfer('none', 'x'), false)
    await own.release('none')
  })

  t.test('RunOwnership cut off from Redis: past the local deadline a run is not valid, without asking Redis', async (t) => {
    const b = await bus(t)
    const leases = new RedisRunLeases(b.client)
    let down = false
    const flaky = {
      acquire: leases.acquire.bind(leases),
      release: leases.release.bind(leases),
      transfer: leases.transfer.bind(leases),
      holder: leases.holder.bind(leases),
      reacquire: leases.reacquire.bind(leases),
      renew: async (runs: Parameters<typeof leases.renew>[0], ttl: number) => {
        if (down) throw new Error('connection lost')
        return await leases.renew(runs, ttl)
      }
    }
    const renewed: string[] = []
    const own = new RunOwnership({ leases: flaky, instanceId: 'a', leaseMs: 3000, hooks: { lost: () => {}, renewed: (k) => { renewed.push(k) }, appended: () => ({ through: 0, tried: 0 }), unchanged: async () => true, onError: () => {} } })
    t.teardown(() => { own.stop() })
    await own.acquire('k', run)
    down = true
    const start = performance.now()
    while (own.valid('k') && performance.now() - start < 10_000) await sleep(10)
    t.equal(own.valid('k'), false, 'not valid once renewals fail past the deadline')
    // The deadline comes a tenth of the lease (here 300 ms) before Redis can let the lease go.
    t.ok(((await leases.holder(run))?.ttlMs ?? 0) > 0, 'while Redis still shows the lease (so nobody else can have taken it)')
    down = false
    await own.renewNow()
    t.equal(own.valid('k'), true, 'a renewal that gets through makes it valid again')
    t.ok(renewed.includes('k'))
    await own.transfer('k', 'b|1')
    t.equal(own.holds('k'), false, 'handed over: no longer held')
  })

  t.test('the event stream while Redis is down: every call rejects with BUS_UNAVAILABLE (retried by callers), and works again once it is back', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const b = await openRedis({ url: redis.url, keyPrefix: freshPrefix(t) }, quiet)
    t.teardown(async () => { await b.close() })
    const leases = new RedisRunLeases(b.client)
    const store = new RedisEventStore(b.client)
    await leases.acquire(run, 'a|1', 60_000)
    await store.append(run.userId, run.sessionId, frames(1, 3), { token: 'a|1' })
    await redis.stop()
    const busDown = new AppError('BUS_UNAVAILABLE', 'The shared bus (Redis) is unavailable; retry shortly')
    await t.rejects(store.lastSeq(run.userId, run.sessionId), busDown, 'lastSeq')
    await t.rejects(store.read(run.userId, run.sessionId, 0, 10, 1e6), busDown, 'read')
    await t.rejects(store.append(run.userId, run.sessionId, frames(4, 1), { token: 'a|1' }), busDown, 'append')
    await t.rejects(store.delete(run.userId, run.sessionId), busDown, 'delete')
    await redis.start()
    let last: number | undefined
    for (let i = 0; i < 100 && last === undefined; i++) {
      last = await store.lastSeq(run.userId, run.sessionId).catch(async () => { await sleep(100); return undefined })
    }
    t.equal(last, 0, 'back (empty, as it restarted without persistence): the stream is read again')
  })
}
