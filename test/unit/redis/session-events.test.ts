// Session events across instances, against real Redis under a fresh prefix: each event reaches every
// instance's listeners exactly once (its origin's included, at once), never another prefix's; garbage on the
// channel is ignored; with Redis down the origin still gets its events and the others' loss is logged once.
import t, { type Test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Session } from '../../../schemas/sessions.js'
import { openRedis, type RedisBus } from '../../../server/adapters/redis/connection.js'
import { RedisSessionEvents } from '../../../server/adapters/redis/session-events.js'
import { LocalSessionEvents } from '../../../server/adapters/memory/local-session-events.js'
import type { SessionEvent } from '../../../server/ports/session-events.js'
import { REDIS_URL, freshPrefix, requireRedis } from '../../fixtures/redis.js'
import { privateRedis } from '../../fixtures/private-redis.js'

function event (id: string, kind: SessionEvent['kind'] = 'updated', user = 'alice'): SessionEvent {
  return { kind, user_id: user, session: { session_id: id, state: 'ready', metadata: { n: id } } as unknown as Session }
}

interface Logged { level: 'warn' | 'info', msg: string, obj: unknown }
function logger (): { log: { warn: (o: unknown, m?: string) => void, info: (o: unknown, m?: string) => void }, lines: Logged[] } {
  const lines: Logged[] = []
  const at = (level: 'warn' | 'info') => (o: unknown, m?: string): void => { lines.push({ level, msg: typeof o === 'string' ? o : m ?? '', obj: o }) }
  return { log: { warn: at('warn'), info: at('info') } as never, lines }
}

/** Waits (bounded) until `cond` holds. */
async function until (cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 20) {
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** An instance: its bus, its events port and what its listener received (session ids). */
async function instance (t: Test, prefix: string, url = REDIS_URL): Promise<{ bus: RedisBus, events: RedisSessionEvents, got: string[], lines: Logged[] }> {
  const { log, lines } = logger()
  const bus = await openRedis({ url, keyPrefix: prefix }, log as never)
  const events = new RedisSessionEvents(bus, log as never)
  t.teardown(async () => { await events.close(); await bus.close() })
  const got: string[] = []
  events.subscribe((e) => { got.push(e.session.session_id) })
  await events.ready()
  return { bus, events, got, lines }
}

t.test('in-process: every listener gets its own copy, in order; unsubscribe; a throwing listener is reported', async (t) => {
  const errors: unknown[] = []
  const local = new LocalSessionEvents((err) => { errors.push(err) })
  await local.ready()
  const seen: string[] = []
  local.subscribe((e) => { (e.session.metadata as Record<string, unknown>).n = 'mutated'; throw new Error('boom') })
  const off = local.subscribe((e) => { seen.push(String((e.session.metadata as Record<string, unknown>).n)) })
  local.publish(event('s1'))
  off()
  local.publish(event('s2'))
  t.same(seen, ['s1'], 'the second listener saw the original, and nothing after unsubscribing')
  t.equal(errors.length, 2, 'the throwing listener was reported each time')
  await local.close()
  local.publish(event('s3'))
  t.equal(errors.length, 2, 'closed: no listeners left')
})

if (await requireRedis(t)) {
  t.test('each event reaches every instance exactly once, the origin at once', async (t) => {
    const prefix = freshPrefix(t)
    const a = await instance(t, prefix)
    const b = await instance(t, prefix)
    const c = await instance(t, prefix)
    const other = await instance(t, freshPrefix(t))

    a.events.publish(event('from-a-1'))
    t.same(a.got, ['from-a-1'], 'the origin delivered synchronously')
    a.events.publish(event('from-a-2'))
    b.events.publish(event('from-b-1'))
    // A PING answered on a connection means its earlier PUBLISHes were handled; Redis orders one channel's
    // messages, so once every instance has the last one it has had everything (echoes included) before it.
    await Promise.all([a.bus.client.ping(), b.bus.client.ping()])
    c.events.publish(event('from-c-last'))
    for (const i of [a, b, c]) await until(() => i.got.includes('from-c-last') && i.got.includes('from-b-1'), 'the last event')
    for (const [name, i] of [['a', a], ['b', b], ['c', c]] as const) {
      t.same([...i.got].sort(), ['from-a-1', 'from-a-2', 'from-b-1', 'from-c-last'], `${name} got each event once`)
    }
    t.same(other.got, [], 'another prefix hears nothing')
  })

  t.test('garbage on the channel is ignored', async (t) => {
    const prefix = freshPrefix(t)
    const a = await instance(t, prefix)
    const channel = a.bus.channel('session-events')
    for (const raw of ['not json', 'null', '{"o":"x"}', '{"o":"x","e":{"kind":"nope","user_id":"u","session":{"session_id":"s"}}}',
      '{"o":"x","e":{"kind":"updated","user_id":1,"session":{"session_id":"s"}}}', '{"o":"x","e":{"kind":"updated","user_id":"u","session":null}}']) {
      await a.bus.client.publish(channel, raw)
    }
    await a.bus.client.publish(channel, JSON.stringify({ o: 'someone-else', e: event('valid') }))
    await until(() => a.got.length > 0, 'the valid message')
    t.same(a.got, ['valid'])
  })

  t.test('Redis down: the origin still gets its events, the loss is logged once, and pushes flow again after', async (t) => {
    const redis = await privateRedis(t)
    if (redis === undefined) return
    const prefix = freshPrefix(t)
    const a = await instance(t, prefix, redis.url)
    const b = await instance(t, prefix, redis.url)
    await redis.stop()
    await until(() => !a.bus.ready, 'a to see Redis gone')
    a.events.publish(event('lost-1'))
    a.events.publish(event('lost-2'))
    t.same(a.got, ['lost-1', 'lost-2'], 'delivered on the origin')
    await until(() => a.lines.some((l) => l.msg.includes('session pushes to other instances are lost')), 'the warning')
    await sleep(50)
    t.equal(a.lines.filter((l) => l.msg.includes('session pushes to other instances are lost')).length, 1, 'one warning for the outage')

    await redis.start()
    await until(() => a.bus.ready, 'a to reconnect')
    // The subscriber reconnects on its own schedule: publish until b hears one (bounded).
    for (let i = 0; i < 200 && !b.got.some((id) => id.startsWith('back-')); i++) {
      a.events.publish(event(`back-${i}`))
      await sleep(50)
    }
    t.ok(b.got.some((id) => id.startsWith('back-')), 'b hears a again')
    t.notOk(b.got.includes('lost-1') || b.got.includes('lost-2'), 'what was published while down is gone')
    await until(() => a.lines.some((l) => l.msg.includes('reach the other instances again')), 'the recovery line')
    const back = a.lines.find((l) => l.msg.includes('reach the other instances again'))
    t.match(back?.obj, { lost: 2 }, 'it says how many were lost')
  })
}
