// Every plan limit SessionManager.create enforces, at its exact boundary, for each plan and with the real
// plan table (no overrides): bar events (ticks × symbols), symbols per session, concurrent sessions and
// sessions per hour on a fake clock. Also: metadata depth and canonical JSON stay safe for deep values.
import t from 'tap'
import type { Timeframe } from '../../../schemas/market-data.js'
import type { SessionMarketData, SessionUser } from '../../../server/sessions/session-manager.js'
import { DEFAULT_PLAN_LIMITS } from '../../../server/plans.js'
import { canonicalJson } from '../../../server/sessions/idempotency.js'
import { body, freeUser, harness } from './session-fixtures.js'
import { HOUR, rejection } from './session-records.js'

const pro: SessionUser = { user_id: 'user_pro', plan: 'professional' }
const ent: SessionUser = { user_id: 'user_ent', plan: 'enterprise' }

/** Market data that accepts SYMnnn (any case) and answers a tick count the test sets. */
class TickMarketData implements SessionMarketData {
  ticks = 100
  validateSessionRequest (req: { symbols: string[], start_date: string, end_date: string, timeframe: Timeframe }): { symbols: string[], estimated_ticks: number } {
    return { symbols: req.symbols.map((s) => s.toUpperCase()), estimated_ticks: this.ticks }
  }
}

function symbols (n: number): string[] {
  return Array.from({ length: n }, (_, i) => `SYM${i + 1}`)
}

function withTicks (t: Parameters<typeof harness>[0]): ReturnType<typeof harness> & { ticks: TickMarketData } {
  const ticks = new TickMarketData()
  return { ...harness(t, { marketData: ticks }), ticks }
}

t.test('the plan table holds the documented bar-event caps', async (t) => {
  t.equal(DEFAULT_PLAN_LIMITS.free.bar_events_per_session, 1_000_000)
  t.equal(DEFAULT_PLAN_LIMITS.professional.bar_events_per_session, 5_000_000)
  t.equal(DEFAULT_PLAN_LIMITS.enterprise.bar_events_per_session, 20_000_000)
})

// [user, symbols, ticks per symbol]: symbols × ticks is exactly the plan's cap.
const atCap: Array<[SessionUser, number, number]> = [
  [freeUser, 2, 500_000],
  [pro, 10, 500_000],
  [ent, 40, 500_000]
]
for (const [user, n, ticks] of atCap) {
  const cap = DEFAULT_PLAN_LIMITS[user.plan].bar_events_per_session
  t.test(`${user.plan}: ${n} symbols × ${ticks} ticks (= ${cap}) is accepted, one tick more is SESSION_LIMIT_EXCEEDED`, async (t) => {
    const h = withTicks(t)
    h.ticks.ticks = ticks + 1
    const err = await rejection(h.manager.create(user, body({ symbols: symbols(n) })))
    t.match(err, {
      error_code: 'SESSION_LIMIT_EXCEEDED',
      details: { limit_name: 'bar_events_per_session', limit: cap, requested: n * (ticks + 1), estimated_ticks: ticks + 1, symbols: n }
    })
    t.match((err as Error).message, /fewer symbols, a shorter date range or a larger timeframe/)
    t.equal(await h.store.size(), 0, 'a refused create stores nothing')
    t.same(await h.manager.usage(user), { active_sessions: 0, sessions_created_last_hour: 0 }, 'and does not count')
    h.ticks.ticks = ticks
    const { session } = await h.manager.create(user, body({ symbols: symbols(n) }))
    t.equal(session.estimated_ticks, ticks)
  })
}

t.test('a single symbol may use the whole cap', async (t) => {
  const h = withTicks(t)
  h.ticks.ticks = 1_000_001
  t.match(await rejection(h.manager.create(freeUser, body({ symbols: ['SYM1'] }))), { details: { limit_name: 'bar_events_per_session', requested: 1_000_001 } })
  h.ticks.ticks = 1_000_000
  t.equal((await h.manager.create(freeUser, body({ symbols: ['SYM1'] }))).session.state, 'ready')
})

t.test('two spellings of one symbol count once towards bar events', async (t) => {
  const h = withTicks(t)
  h.ticks.ticks = 1_000_000
  const { session } = await h.manager.create(freeUser, body({ symbols: ['SYM1', 'sym1'] }))
  t.same(session.symbols, ['SYM1'])
})

t.test('symbols_per_session is checked before bar events', async (t) => {
  const h = withTicks(t)
  h.ticks.ticks = 10_000_000
  t.match(await rejection(h.manager.create(freeUser, body({ symbols: symbols(6) }))), { details: { limit_name: 'symbols_per_session' } })
})

// ---- symbols_per_session, concurrent_sessions and sessions_per_hour of the paid plans, at their boundaries.

t.test('professional: 50 symbols per session are accepted, 51 are not', async (t) => {
  const h = withTicks(t)
  t.equal((await h.manager.create(pro, body({ symbols: symbols(50) }))).session.symbols.length, 50)
  t.match(await rejection(h.manager.create(pro, body({ symbols: symbols(51) }))), {
    error_code: 'SESSION_LIMIT_EXCEEDED',
    details: { limit_name: 'symbols_per_session', limit: 50, requested: 51 }
  })
})

t.test('enterprise: 500 symbols per session are accepted; 501 exceed the request schema as well', async (t) => {
  const h = withTicks(t)
  t.equal((await h.manager.create(ent, body({ symbols: symbols(500) }))).session.symbols.length, 500)
  // symbols has maxItems 500 in CreateSessionBody, which refuses 501 before the plan check is reached.
  t.match(await rejection(h.manager.create(ent, body({ symbols: symbols(501) }))), { error_code: 'VALIDATION_FAILED', details: { field: 'symbols' } })
})

for (const [user, limit] of [[pro, 10], [ent, 100]] as const) {
  t.test(`${user.plan}: ${limit} active sessions are allowed, the next is refused until one finishes`, async (t) => {
    const h = withTicks(t)
    const ids: string[] = []
    for (let i = 0; i < limit; i++) ids.push((await h.manager.create(user, body())).session.session_id)
    t.match(await rejection(h.manager.create(user, body())), {
      error_code: 'SESSION_LIMIT_EXCEEDED',
      details: { limit_name: 'concurrent_sessions', limit, current: limit }
    })
    await h.manager.transition(user, ids[0], 'running')
    await h.manager.transition(user, ids[0], 'completed')
    t.equal((await h.manager.create(user, body())).session.state, 'ready')
  })
}

for (const [user, limit] of [[pro, 50], [ent, 500]] as const) {
  t.test(`${user.plan}: ${limit} sessions per rolling hour, then refused until the hour rolls over`, async (t) => {
    const h = withTicks(t)
    // Deleting keeps the active count low; deletions do not refund the hourly quota.
    for (let i = 0; i < limit; i++) {
      const { session } = await h.manager.create(user, body())
      await h.manager.delete(user, session.session_id)
    }
    t.match(await rejection(h.manager.create(user, body())), {
      error_code: 'SESSION_LIMIT_EXCEEDED',
      details: { limit_name: 'sessions_per_hour', limit, current: limit, retry_after_seconds: 3600 }
    })
    h.clock.advance(HOUR - 1)
    t.match(await rejection(h.manager.create(user, body())), { details: { limit_name: 'sessions_per_hour' } })
    h.clock.advance(1)
    t.equal((await h.manager.create(user, body())).session.state, 'ready')
  })
}

// ---- deep values reaching the manager from any transport

/** A value of `depth` nested arrays. */
function nested (depth: number): unknown {
  let v: unknown = []
  for (let i = 1; i < depth; i++) v = [v]
  return v
}

t.test('metadata nested 3,300 deep is VALIDATION_FAILED naming the depth cap, not a crash', async (t) => {
  const h = withTicks(t)
  t.match(await rejection(h.manager.create(pro, body({ metadata: { x: nested(3300) } }))), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'metadata', max_depth: 32 }
  })
  const { session } = await h.manager.create(pro, body())
  t.match(await rejection(h.manager.update(pro, session.session_id, { metadata: { x: nested(3300) } })), { details: { max_depth: 32 } })
  t.same((await h.manager.get(pro, session.session_id)).metadata, {}, 'the refused update changed nothing')
})

t.test('metadata exactly at the depth cap is accepted, one level more is not', async (t) => {
  const h = withTicks(t)
  // { x: 31 arrays } is 32 levels deep.
  t.same((await h.manager.create(pro, body({ metadata: { x: nested(31) } }))).session.metadata, { x: nested(31) })
  t.match(await rejection(h.manager.create(pro, body({ metadata: { x: nested(32) } }))), { details: { max_depth: 32 } })
})

t.test('the metadata depth cap follows maxJsonDepth', async (t) => {
  const ticks = new TickMarketData()
  const h = harness(t, { marketData: ticks, maxJsonDepth: 8 })
  t.match(await rejection(h.manager.create(pro, body({ metadata: { x: nested(8) } }))), { details: { max_depth: 8 } })
  t.ok(await h.manager.create(pro, body({ metadata: { x: nested(7) } })))
})

t.test('canonical JSON handles a value nested 100,000 deep without recursion', async (t) => {
  let v: unknown = 1
  for (let i = 0; i < 100_000; i++) v = i % 2 === 0 ? [v] : { k: v, a: 0 }
  const text = canonicalJson(v)
  t.equal(text.length, 50_000 * ('[{"a":0,"k":'.length + ']}'.length) + 1)
  t.match(text, /^\{"a":0,"k":\[\{"a":0,"k":\[/, 'keys sorted at every depth')
})

t.test('canonical JSON agrees with JSON.stringify apart from key order', async (t) => {
  const value = { b: [1, undefined, () => 1, { d: new Date(0), c: null }], a: 'x\n"', u: undefined, n: Number.NaN }
  t.equal(canonicalJson(value), '{"a":"x\\n\\"","b":[1,null,null,{"c":null,"d":"1970-01-01T00:00:00.000Z"}],"n":null}')
  t.same(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)))
  const shared = { s: 1 }
  t.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"s":1},"b":[{"s":1}]}', 'a shared object is not a cycle')
  const cyclic: Record<string, unknown> = {}
  cyclic.self = [cyclic]
  t.throws(() => canonicalJson(cyclic), TypeError)
})
