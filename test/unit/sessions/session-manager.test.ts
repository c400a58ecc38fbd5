// SessionManager beyond create: per-user isolation (another user's session looks missing), idle expiry
// and the background sweep, and the events subscribers receive.
import t from 'tap'
import { AppError } from '../../../server/app-error.js'
import type { SessionEvent, SessionManager } from '../../../server/sessions/session-manager.js'
import { alice, body, bob, harness } from './session-fixtures.js'
import { MINUTE, T0, rejection } from './session-records.js'

// --- Per-user isolation: another user's session is indistinguishable from one that does not exist.

async function aliceSession (manager: SessionManager): Promise<string> {
  return (await manager.create(alice, body({ session_id: 'shared-name' }))).session.session_id
}

/** Bob's error for Alice's id must equal, in every field, his error for an id nobody has. */
/** The assertions assertLooksMissing needs from a tap test. */
interface Asserts {
  ok (value: unknown): unknown
  same (found: unknown, wanted: unknown): unknown
  equal (found: unknown, wanted: unknown): unknown
}

async function assertLooksMissing (t: Asserts, attempt: (id: string) => Promise<unknown>): Promise<void> {
  const foreign = await rejection(attempt('shared-name'))
  const missing = await rejection(attempt('no-such-id'))
  t.ok(foreign instanceof AppError && missing instanceof AppError)
  const body = (err: unknown) => (err as AppError).toBody()
  t.same(body(foreign), { ...body(missing), message: body(missing).message.replace('no-such-id', 'shared-name'), details: { session_id: 'shared-name' } })
  t.equal((foreign as AppError).error_code, 'SESSION_NOT_FOUND')
  t.equal((foreign as AppError).statusCode, 404)
}

t.test('get of another user\'s session is SESSION_NOT_FOUND, exactly like a missing id', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  await assertLooksMissing(t, (id) => manager.get(bob, id))
})

t.test('update of another user\'s session is SESSION_NOT_FOUND and changes nothing', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  await assertLooksMissing(t, (id) => manager.update(bob, id, { metadata: { hijacked: true } }))
  t.same((await manager.get(alice, 'shared-name')).metadata, {})
})

t.test('delete of another user\'s session is SESSION_NOT_FOUND and deletes nothing', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  await assertLooksMissing(t, (id) => manager.delete(bob, id))
  t.equal((await manager.get(alice, 'shared-name')).state, 'ready')
})

t.test('transition of another user\'s session is SESSION_NOT_FOUND, not INVALID_STATE', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  // completed is illegal from ready: a leaky check would answer INVALID_STATE and reveal the session.
  await assertLooksMissing(t, (id) => manager.transition(bob, id, 'completed'))
  await assertLooksMissing(t, (id) => manager.transition(bob, id, 'running'))
  t.equal((await manager.get(alice, 'shared-name')).state, 'ready')
})

t.test('setProgress and touch of another user\'s session are SESSION_NOT_FOUND', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  await assertLooksMissing(t, (id) => manager.setProgress(bob, id, 0.5))
  await assertLooksMissing(t, (id) => manager.touch(bob, id))
})

t.test('list shows only the caller\'s sessions', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  await manager.create(bob, body())
  const bobs = await manager.list(bob)
  t.equal(bobs.sessions.length, 1)
  t.not(bobs.sessions[0].session_id, 'shared-name')
})

t.test('two users may each choose the same session_id', async (t) => {
  const { manager } = harness(t)
  await aliceSession(manager)
  const { session } = await manager.create(bob, body({ session_id: 'shared-name', initial_capital: 5000 }))
  t.equal(session.initial_capital, '5000.00')
  t.equal((await manager.get(alice, 'shared-name')).initial_capital, '100000.00')
})

// --- Idle expiry: last activity + TTL, running sessions exempt, the background sweep and stopping it.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('expires_at is last activity plus the TTL, and get refreshes it', async (t) => {
  const { manager, clock } = harness(t, { ttlMinutes: 30 })
  const { session } = await manager.create(alice, body())
  t.equal(session.expires_at, new Date(T0 + 30 * MINUTE).toISOString())
  clock.advance(20 * MINUTE)
  t.equal((await manager.get(alice, session.session_id)).expires_at, new Date(T0 + 50 * MINUTE).toISOString())
})

t.test('touch refreshes expiry without counting as a modification', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  clock.advance(5 * MINUTE)
  const touched = await manager.touch(alice, session.session_id)
  t.equal(touched.updated_at, session.updated_at)
  t.equal(touched.expires_at, new Date(T0 + 65 * MINUTE).toISOString())
})

t.test('an empty update is a keep-alive', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  clock.advance(59 * MINUTE)
  await manager.update(alice, session.session_id, {})
  clock.advance(59 * MINUTE)
  t.equal((await manager.get(alice, session.session_id)).state, 'ready')
})

t.test('cleanupExpired removes idle sessions past expiry and keeps the rest', async (t) => {
  const { manager, clock, store } = harness(t)
  const idle = (await manager.create(alice, body())).session.session_id
  clock.advance(30 * MINUTE)
  const fresh = (await manager.create(alice, body())).session.session_id
  clock.advance(30 * MINUTE)
  t.equal(await manager.cleanupExpired(), 1)
  t.match(await rejection(manager.get(alice, idle)), { error_code: 'SESSION_NOT_FOUND' })
  t.equal((await manager.get(alice, fresh)).session_id, fresh)
  t.equal(await store.size(), 1)
})

t.test('a running session does not expire while running, and idles out after it stops', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  const running = await manager.transition(alice, session.session_id, 'running')
  t.equal(running.expires_at, null)
  clock.advance(10 * 60 * MINUTE)
  t.equal(await manager.cleanupExpired(), 0)
  const paused = await manager.transition(alice, session.session_id, 'paused')
  t.equal(paused.expires_at, new Date(clock.ms + 60 * MINUTE).toISOString())
  clock.advance(60 * MINUTE)
  t.equal(await manager.cleanupExpired(), 1)
})

t.test('a session past expiry is gone even before the sweep runs', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  clock.advance(60 * MINUTE)
  t.match(await rejection(manager.get(alice, session.session_id)), { error_code: 'SESSION_NOT_FOUND' })
  t.match(await rejection(manager.transition(alice, session.session_id, 'running')), { error_code: 'SESSION_NOT_FOUND' })
  t.same((await manager.list(alice)).sessions, [])
})

t.test('the sweeper deletes expired sessions in the background', async (t) => {
  const { manager, clock, store } = harness(t, { sweepIntervalMs: 5 })
  const expired: string[] = []
  manager.subscribe((e) => { if (e.kind === 'expired') expired.push(e.session.session_id) })
  const { session } = await manager.create(alice, body())
  manager.startSweeper()
  clock.advance(61 * MINUTE)
  for (let i = 0; i < 50 && expired.length === 0; i++) await sleep(5)
  t.same(expired, [session.session_id])
  t.equal(await store.size(), 0)
})

t.test('stop() stops the sweeper', async (t) => {
  const { manager, clock, store } = harness(t, { sweepIntervalMs: 5 })
  await manager.create(alice, body())
  manager.startSweeper()
  manager.stop()
  clock.advance(61 * MINUTE)
  await sleep(40)
  t.equal(await store.size(), 1)
})

t.test('the sweeper timer does not keep the process alive', async (t) => {
  const { manager } = harness(t, { sweepIntervalMs: 60_000 })
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  manager.startSweeper()
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before)
})

t.test('starting the sweeper twice keeps one timer, so one stop() ends all sweeping', async (t) => {
  const { manager, clock, store } = harness(t, { sweepIntervalMs: 5 })
  await manager.create(alice, body())
  manager.startSweeper()
  manager.startSweeper()
  manager.stop()
  clock.advance(61 * MINUTE)
  await sleep(40)
  t.equal(await store.size(), 1)
})

// --- subscribe(): the events the WebSocket layer, metrics and the runner react to.

function collectEvents (manager: { subscribe: (l: (e: SessionEvent) => void) => () => void }) {
  const events: SessionEvent[] = []
  const unsubscribe = manager.subscribe((e) => { events.push(e) })
  return { events, unsubscribe }
}

t.test('create emits created with the session already ready', async (t) => {
  const { manager } = harness(t)
  const { events } = collectEvents(manager)
  const { session } = await manager.create(alice, body())
  t.match(events, [{ kind: 'created', user_id: 'user_alice', session: { session_id: session.session_id, state: 'ready' } }])
})

t.test('update emits updated with the new metadata', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body())
  const { events } = collectEvents(manager)
  await manager.update(alice, session.session_id, { metadata: { v: 2 } })
  t.match(events, [{ kind: 'updated', session: { metadata: { v: 2 } } }])
})

t.test('a transition emits state_changed with the previous state', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body())
  const { events } = collectEvents(manager)
  await manager.transition(alice, session.session_id, 'running')
  t.match(events, [{ kind: 'state_changed', previous_state: 'ready', session: { state: 'running' } }])
})

t.test('delete emits deleted with the session as it was, so the runner can stop it', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body())
  await manager.transition(alice, session.session_id, 'running')
  const { events } = collectEvents(manager)
  await manager.delete(alice, session.session_id)
  t.match(events, [{ kind: 'deleted', user_id: 'user_alice', session: { session_id: session.session_id, state: 'running' } }])
})

t.test('the sweep emits expired, once per session', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  const { events } = collectEvents(manager)
  clock.advance(61 * MINUTE)
  await manager.cleanupExpired()
  await manager.cleanupExpired()
  t.match(events, [{ kind: 'expired', session: { session_id: session.session_id } }])
  t.equal(events.length, 1)
})

t.test('failed operations, reads, touches and progress emit nothing', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body())
  const { events } = collectEvents(manager)
  await rejection(manager.create(alice, body({ symbols: ['NOPE'] })))
  await rejection(manager.transition(alice, session.session_id, 'completed'))
  await manager.get(alice, session.session_id)
  await manager.list(alice)
  await manager.update(alice, session.session_id, {})
  await manager.transition(alice, session.session_id, 'running')
  events.length = 0
  await manager.setProgress(alice, session.session_id, 0.5)
  t.same(events, [])
})

t.test('unsubscribe stops delivery', async (t) => {
  const { manager } = harness(t)
  const { events, unsubscribe } = collectEvents(manager)
  unsubscribe()
  await manager.create(alice, body())
  t.same(events, [])
})

t.test('a throwing listener neither fails the operation nor starves other listeners', async (t) => {
  const errors: unknown[] = []
  const { manager } = harness(t, { onListenerError: (err) => { errors.push(err) } })
  manager.subscribe(() => { throw new Error('listener bug') })
  const { events } = collectEvents(manager)
  const { session } = await manager.create(alice, body())
  t.equal(session.state, 'ready')
  t.equal(events.length, 1)
  t.match(errors, [{ message: 'listener bug' }])
})

t.test('a listener that mutates its event does not change the caller\'s result or other listeners\' copy', async (t) => {
  const { manager } = harness(t)
  manager.subscribe((e) => { e.session.symbols.length = 0 })
  const { events } = collectEvents(manager)
  const { session } = await manager.create(alice, body())
  t.same(session.symbols, ['AAPL', 'MSFT'])
  t.same(events[0].session.symbols, ['AAPL', 'MSFT'])
})
