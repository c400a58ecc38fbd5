// The plan limits of ARCHITECTURE.md §5 that other files test for the paid plans or with overridden tables,
// here for the free plan with the real table, at the boundary and one step either side: symbols per session,
// sessions per rolling hour, concurrent sessions; initial capital to the last unit (0.00000001) inside and
// outside 1,000..10,000,000; idle expiry one millisecond before and at the TTL. (Which error code an
// out-of-range capital gets is being changed elsewhere: only that it is refused is pinned here.)
import t, { type Test } from 'tap'
import { AppError } from '../../../server/app-error.js'
import { DEFAULT_PLAN_LIMITS } from '../../../server/plans.js'
import { body, freeUser, harness } from './session-fixtures.js'
import { HOUR, MINUTE, rejection } from './session-records.js'

t.test('the plan table holds the documented limits of ARCHITECTURE.md §5', async (t) => {
  const pick = (p: keyof typeof DEFAULT_PLAN_LIMITS): number[] => {
    const l = DEFAULT_PLAN_LIMITS[p]
    return [l.concurrent_sessions, l.sessions_per_hour, l.symbols_per_session, l.orders_per_minute, l.ws_connections]
  }
  t.same([pick('free'), pick('professional'), pick('enterprise')], [[1, 5, 5, 100, 1], [10, 50, 50, 1000, 10], [100, 500, 500, 10000, 100]])
})

t.test('free: 5 symbols per session are accepted, 6 are SESSION_LIMIT_EXCEEDED', async (t) => {
  const { manager } = harness(t)
  t.equal((await manager.create(freeUser, body({ symbols: ['SYM1', 'SYM2', 'SYM3', 'SYM4', 'SYM5'] }))).session.symbols.length, 5)
  const { manager: other } = harness(t)
  t.match(await rejection(other.create(freeUser, body({ symbols: ['SYM1', 'SYM2', 'SYM3', 'SYM4', 'SYM5', 'SYM6'] }))), { details: { limit_name: 'symbols_per_session', limit: 5 } })
})

t.test('free: the 5th session of an hour is accepted, the 6th refused until exactly an hour after the first', async (t) => {
  const { manager, clock } = harness(t)
  for (let i = 0; i < 5; i++) {
    const { session } = await manager.create(freeUser, body())
    await manager.delete(freeUser, session.session_id)
  }
  t.match(await rejection(manager.create(freeUser, body())), { error_code: 'SESSION_LIMIT_EXCEEDED', details: { limit_name: 'sessions_per_hour', limit: 5, current: 5 } })
  clock.advance(HOUR - 1)
  t.match(await rejection(manager.create(freeUser, body())), { details: { limit_name: 'sessions_per_hour', retry_after_seconds: 1 } })
  clock.advance(1)
  t.equal((await manager.create(freeUser, body())).session.state, 'ready')
})

t.test('free: one active session; a second is refused while the first is active', async (t) => {
  const { manager } = harness(t)
  await manager.create(freeUser, body())
  t.match(await rejection(manager.create(freeUser, body())), { details: { limit_name: 'concurrent_sessions', limit: 1, current: 1 } })
})

async function capitalAccepted (t: Test, capital: string): Promise<boolean> {
  const { manager, store } = harness(t)
  const err = await rejection(manager.create(freeUser, body({ initial_capital: capital })))
  if (err === undefined) return true
  if (!(err instanceof AppError)) throw err
  t.equal(await store.size(), 0, `a refused capital (${capital}) stores nothing`)
  return false
}

t.test('initial capital: 1000 and one unit above are accepted, one unit below is refused', async (t) => {
  t.same([await capitalAccepted(t, '999.99999999'), await capitalAccepted(t, '1000'), await capitalAccepted(t, '1000.00000001')], [false, true, true])
})

t.test('initial capital: 10,000,000 and one unit below are accepted, one unit above is refused', async (t) => {
  t.same([await capitalAccepted(t, '9999999.99999999'), await capitalAccepted(t, '10000000'), await capitalAccepted(t, '10000000.00000001')], [true, true, false])
})

t.test('an idle session is still there one millisecond before its TTL and gone at it', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(freeUser, body())
  clock.advance(60 * MINUTE - 1)
  t.equal(await manager.cleanupExpired(), 0, 'the sweep keeps it')
  clock.advance(1)
  t.equal(await manager.cleanupExpired(), 1, 'at exactly 60 minutes it is swept')
  t.match(await rejection(manager.get(freeUser, session.session_id)), { error_code: 'SESSION_NOT_FOUND' })
})
