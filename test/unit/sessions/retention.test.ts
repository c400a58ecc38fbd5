// SESSION_RETENTION_DAYS: the periodic sweep (cleanupExpired) deletes finished sessions (completed or error)
// last changed longer ago than the retention, even when they are kept from idling out; others stay.
import t from 'tap'
import { MemorySessionStore } from '../../../server/adapters/memory/memory-session-store.js'
import { SessionManager } from '../../../server/sessions/session-manager.js'
import { FakeMarketData, alice, body } from './session-fixtures.js'
import { FakeClock, HOUR, rejection } from './session-records.js'

const DAY = 24 * HOUR

function harness (retentionDays?: number): { manager: SessionManager, clock: FakeClock, store: MemorySessionStore } {
  const clock = new FakeClock()
  const store = new MemorySessionStore()
  // A week of idle TTL, so only the retention can remove a finished session within the test.
  const manager = new SessionManager({ store, marketData: new FakeMarketData(), now: clock.now, ttlMinutes: 10080, ...(retentionDays !== undefined ? { retentionDays } : {}) })
  return { manager, clock, store }
}

t.test('finished sessions older than the retention are swept with an expired event; the rest stay', async (t) => {
  const { manager, clock, store } = harness(2)
  const expired: string[] = []
  manager.subscribe((e) => { if (e.kind === 'expired') expired.push(e.session.session_id) })
  const done = (await manager.create(alice, body())).session.session_id
  await manager.transition(alice, done, 'running')
  await manager.transition(alice, done, 'completed', { progress: 1 })
  const failed = (await manager.create(alice, body())).session.session_id
  await manager.transition(alice, failed, 'running')
  await manager.transition(alice, failed, 'error', { error_message: 'boom' })
  const idle = (await manager.create(alice, body())).session.session_id
  clock.advance(DAY)
  const later = (await manager.create(alice, body())).session.session_id
  await manager.transition(alice, later, 'running')
  await manager.transition(alice, later, 'completed', { progress: 1 })

  clock.advance(DAY - 1)
  await manager.touch(alice, done)
  t.equal(await manager.cleanupExpired(), 0, 'not yet two days')
  clock.advance(2)
  await manager.touch(alice, done)
  t.equal(await manager.cleanupExpired(), 2, 'touching does not extend the retention')
  t.same(expired.sort(), [done, failed].sort())
  t.match(await rejection(manager.get(alice, done)), { error_code: 'SESSION_NOT_FOUND' })
  t.match(await rejection(manager.get(alice, failed)), { error_code: 'SESSION_NOT_FOUND' })
  t.equal((await manager.get(alice, idle)).state, 'ready', 'an unfinished session is left to its idle expiry')
  t.equal((await manager.get(alice, later)).state, 'completed')
  t.equal(await store.size(), 2)
  clock.advance(DAY)
  t.equal(await manager.cleanupExpired(), 1)
  t.same(expired.slice(2), [later])
})

t.test('the retention defaults to 30 days', async (t) => {
  const { manager, clock } = harness()
  const done = (await manager.create(alice, body())).session.session_id
  await manager.transition(alice, done, 'running')
  await manager.transition(alice, done, 'completed', { progress: 1 })
  for (let day = 0; day < 30; day++) { clock.advance(DAY - 1); await manager.touch(alice, done); await manager.cleanupExpired() }
  t.equal((await manager.get(alice, done)).state, 'completed', 'kept at 30 days less a few ms')
  clock.advance(31)
  t.equal(await manager.cleanupExpired(), 1, 'swept once more than 30 days old')
})
