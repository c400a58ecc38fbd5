// SessionManager.create: the happy path, defaults and each error code; the wire schemas it answers in;
// plan limits under 50 concurrent creates; and Idempotency-Key semantics.
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import type { PlanLimits } from '../../../schemas/common.js'
import { Timeframe } from '../../../schemas/market-data.js'
import { CreateSessionBody, SESSION_DEFAULTS, Session, SessionState, sessionSchemas } from '../../../schemas/sessions.js'
import { AppError } from '../../../server/app-error.js'
import { DEFAULT_PLAN_LIMITS } from '../../../server/plans.js'
import { IdempotencyCache, canonicalJson } from '../../../server/sessions/idempotency.js'
import { alice, body, bob, freeUser, harness } from './session-fixtures.js'
import { FakeClock, HOUR, MINUTE, T0, rejection } from './session-records.js'

t.test('a valid request creates a ready session with canonical symbols and exact money', async (t) => {
  const { manager } = harness(t, { idFactory: () => 'sess_fixed0000000000' })
  const { session, replayed } = await manager.create(alice, body({ initial_capital: '25000.5', metadata: { strategy: 'sma' } }))
  t.equal(replayed, false)
  t.match(session, {
    session_id: 'sess_fixed0000000000',
    symbols: ['AAPL', 'MSFT'],
    state: 'ready',
    initial_capital: '25000.50',
    progress: 0,
    estimated_ticks: 29,
    metadata: { strategy: 'sma' },
    created_at: new Date(T0).toISOString(),
    expires_at: new Date(T0 + HOUR).toISOString()
  })
})

t.test('the created session matches the Session wire schema', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body({ volume_participation: 0.1 }))
  t.ok(Value.Check(Session, [SessionState, Timeframe], session), JSON.stringify([...Value.Errors(Session, [SessionState, Timeframe], session)][0]))
})

t.test('omitted settings take the documented defaults', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body())
  t.match(session, {
    timeframe: '1d',
    initial_capital: '100000.00',
    commission_per_share: '0.005',
    min_commission_per_order: '0.00',
    slippage_bps: 5,
    allow_short: false,
    fill_policy_version: '1',
    metadata: {}
  })
  t.notOk('volume_participation' in session)
  t.notOk('error_message' in session)
})

t.test('generated ids are sess_ plus 16 base62 characters and differ', async (t) => {
  const { manager } = harness(t)
  const a = await manager.create(alice, body())
  const b = await manager.create(alice, body())
  t.match(a.session.session_id, /^sess_[A-Za-z0-9]{16}$/)
  t.not(a.session.session_id, b.session.session_id)
})

t.test('a client-chosen session_id is used as given', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body({ session_id: 'my-backtest-1' }))
  t.equal(session.session_id, 'my-backtest-1')
  t.equal((await manager.get(alice, 'my-backtest-1')).session_id, 'my-backtest-1')
})

t.test('reusing one of your own session_ids is VALIDATION_FAILED on session_id', async (t) => {
  const { manager } = harness(t)
  await manager.create(alice, body({ session_id: 'mine' }))
  t.match(await rejection(manager.create(alice, body({ session_id: 'mine' }))), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'session_id', reason: 'already_exists' }
  })
})

t.test('duplicated symbols after normalisation count and appear once', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(alice, body({ symbols: ['aapl', 'AAPL', 'eur/usd'] }))
  t.same(session.symbols, ['AAPL', 'EURUSD'])
})

t.test('capital below the minimum is INSUFFICIENT_CAPITAL (the plan\'s code) naming the field, the limit crossed, min, max and value', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ initial_capital: 999.99 }))), {
    error_code: 'INSUFFICIENT_CAPITAL',
    message: 'initial_capital must be from 1000.00 to 10000000.00 (got 999.99)',
    details: { field: 'initial_capital', fields: ['initial_capital'], limit: '1000.00', min: '1000.00', max: '10000000.00', value: '999.99' }
  })
})

t.test('capital above the maximum is CAPITAL_ABOVE_MAXIMUM, with the same message and the other limit', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ initial_capital: '10000000.01' }))), {
    error_code: 'CAPITAL_ABOVE_MAXIMUM',
    message: 'initial_capital must be from 1000.00 to 10000000.00 (got 10000000.01)',
    details: { field: 'initial_capital', fields: ['initial_capital'], limit: '10000000.00', min: '1000.00', max: '10000000.00', value: '10000000.01' }
  })
})

t.test('the capital bounds themselves are allowed', async (t) => {
  const { manager } = harness(t)
  t.equal((await manager.create(alice, body({ initial_capital: 1000 }))).session.initial_capital, '1000.00')
  t.equal((await manager.create(alice, body({ initial_capital: '10000000' }))).session.initial_capital, '10000000.00')
})

t.test('a negative commission is VALIDATION_FAILED', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ commission_per_share: '-0.01' }))), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'commission_per_share' }
  })
})

t.test('a request that breaks the schema is VALIDATION_FAILED naming the field', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ slippage_bps: 5000 }))), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'slippage_bps' }
  })
  t.match(await rejection(manager.create(alice, { ...body(), extra: 1 } as unknown as CreateSessionBody)), {
    error_code: 'VALIDATION_FAILED'
  })
  t.match(await rejection(manager.create(alice, body({ symbols: [] }))), { error_code: 'VALIDATION_FAILED', details: { field: 'symbols' } })
})

t.test('an unknown symbol is INVALID_SYMBOL from market data', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ symbols: ['AAPL', 'NOPE'] }))), {
    error_code: 'INVALID_SYMBOL',
    details: { symbols: ['NOPE'] }
  })
})

t.test('an inverted date range is INVALID_DATE_RANGE from market data', async (t) => {
  const { manager } = harness(t)
  t.match(await rejection(manager.create(alice, body({ start_date: '2023-02-01', end_date: '2023-01-01' }))), {
    error_code: 'INVALID_DATE_RANGE'
  })
})

t.test('more symbols than the plan allows is SESSION_LIMIT_EXCEEDED on symbols_per_session', async (t) => {
  const { manager } = harness(t)
  const symbols = ['SYM1', 'SYM2', 'SYM3', 'SYM4', 'SYM5', 'SYM6']
  t.match(await rejection(manager.create(freeUser, body({ symbols }))), {
    error_code: 'SESSION_LIMIT_EXCEEDED',
    details: { limit_name: 'symbols_per_session', limit: 5, requested: 6 }
  })
})

t.test('local checks run before market data is consulted', async (t) => {
  const { manager, marketData } = harness(t)
  await rejection(manager.create(alice, body({ initial_capital: 10 })))
  await rejection(manager.create(alice, body({ metadata: { big: 'x'.repeat(20_000) } })))
  t.equal(marketData.calls, 0)
})

t.test('market-data errors win over plan-limit errors', async (t) => {
  const { manager } = harness(t)
  await manager.create(freeUser, body())
  // The free plan's single slot is taken, yet the bad symbol is what the user hears about first.
  t.match(await rejection(manager.create(freeUser, body({ symbols: ['NOPE'] }))), { error_code: 'INVALID_SYMBOL' })
})

t.test('a failed create stores nothing and does not count towards the hourly quota', async (t) => {
  const { manager, store } = harness(t)
  await rejection(manager.create(alice, body({ symbols: ['NOPE'] })))
  await rejection(manager.create(alice, body({ initial_capital: 1 })))
  t.equal(await store.size(), 0)
  t.same(await manager.usage(alice), { active_sessions: 0, sessions_created_last_hour: 0 })
})

t.test('metadata larger than the cap is VALIDATION_FAILED with the sizes', async (t) => {
  const { manager } = harness(t, { maxMetadataBytes: 100 })
  const metadata = { note: 'é'.repeat(45) } // 90 characters of text, 101 bytes of JSON in UTF-8
  t.match(await rejection(manager.create(alice, body({ metadata }))), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'metadata', max_bytes: 100, actual_bytes: 101 }
  })
})

t.test('metadata exactly at the cap is accepted', async (t) => {
  const { manager } = harness(t, { maxMetadataBytes: 100 })
  const metadata = { note: 'x'.repeat(89) } // {"note":"…"} is 11 + 89 bytes
  t.same((await manager.create(alice, body({ metadata }))).session.metadata, metadata)
})

t.test('metadata is copied: changing the caller\'s object later does not change the session', async (t) => {
  const { manager } = harness(t)
  const metadata: Record<string, unknown> = { tags: ['a'] }
  const { session } = await manager.create(alice, body({ metadata }))
  ;(metadata.tags as string[]).push('b')
  session.metadata.tags = 'mutated'
  t.same((await manager.get(alice, session.session_id)).metadata, { tags: ['a'] })
})

// --- The session wire schemas: registrable ($id, closed objects) and agreeing with the manager's defaults.

t.test('every exported schema has a unique $id', async (t) => {
  const ids = sessionSchemas.map((s) => s.$id)
  t.ok(ids.every((id) => typeof id === 'string' && id.length > 0))
  t.equal(new Set(ids).size, ids.length)
})

t.test('every object schema refuses unknown properties', async (t) => {
  for (const schema of sessionSchemas) {
    if (schema.type === 'object') t.equal(schema.additionalProperties, false, String(schema.$id))
  }
})

t.test('the schema defaults of CreateSessionBody are the manager\'s defaults', async (t) => {
  const filled = Value.Default(CreateSessionBody, [Timeframe, SessionState], { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' })
  t.match(filled, {
    timeframe: SESSION_DEFAULTS.timeframe,
    initial_capital: SESSION_DEFAULTS.initial_capital,
    commission_per_share: SESSION_DEFAULTS.commission_per_share,
    min_commission_per_order: SESSION_DEFAULTS.min_commission_per_order,
    slippage_bps: SESSION_DEFAULTS.slippage_bps,
    allow_short: SESSION_DEFAULTS.allow_short
  })
})

t.test('CreateSessionBody accepts money as a number or a decimal string and rejects other shapes', async (t) => {
  const base = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }
  t.ok(Value.Check(CreateSessionBody, [Timeframe], { ...base, initial_capital: 5000 }))
  t.ok(Value.Check(CreateSessionBody, [Timeframe], { ...base, initial_capital: '5000.25' }))
  t.notOk(Value.Check(CreateSessionBody, [Timeframe], { ...base, initial_capital: '5,000' }))
  t.notOk(Value.Check(CreateSessionBody, [Timeframe], { ...base, timeframe: '5m' }))
  t.notOk(Value.Check(CreateSessionBody, [Timeframe], { ...base, session_id: 'has space' }))
})

// --- Plan limits under load: one user firing 50 creates at once gets exactly the plan's allowance.

function settleAll (promises: Promise<unknown>[]) {
  return Promise.allSettled(promises).then((results) => ({
    ok: results.filter((r) => r.status === 'fulfilled').length,
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { error_code: string, details: Record<string, unknown> }] : []))
  }))
}

const limits = (overrides: Partial<PlanLimits>) => () => ({ ...DEFAULT_PLAN_LIMITS.professional, ...overrides })

t.test('50 concurrent creates on a 10-session plan: exactly 10 succeed, 40 hit concurrent_sessions', async (t) => {
  const { manager, store } = harness(t, { limitsFor: limits({ concurrent_sessions: 10, sessions_per_hour: 1000 }) })
  const { ok, errors } = await settleAll(Array.from({ length: 50 }, () => manager.create(alice, body())))
  t.equal(ok, 10)
  t.equal(errors.length, 40)
  t.ok(errors.every((e) => e.error_code === 'SESSION_LIMIT_EXCEEDED' && e.details.limit_name === 'concurrent_sessions' && e.details.limit === 10))
  t.equal(await store.size(), 10)
  t.same(await manager.usage(alice), { active_sessions: 10, sessions_created_last_hour: 10 })
})

t.test('50 concurrent creates on a 10-per-hour plan: exactly 10 succeed, 40 hit sessions_per_hour', async (t) => {
  const { manager } = harness(t, { limitsFor: limits({ concurrent_sessions: 100, sessions_per_hour: 10 }) })
  const { ok, errors } = await settleAll(Array.from({ length: 50 }, () => manager.create(alice, body())))
  t.equal(ok, 10)
  t.equal(errors.length, 40)
  t.ok(errors.every((e) => e.error_code === 'SESSION_LIMIT_EXCEEDED' && e.details.limit_name === 'sessions_per_hour'))
})

t.test('the hourly quota is not refunded by deleting, and rolls over after an hour', async (t) => {
  const { manager, clock } = harness(t, { limitsFor: limits({ concurrent_sessions: 100, sessions_per_hour: 3 }) })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    ids.push((await manager.create(alice, body())).session.session_id)
    clock.advance(10 * MINUTE)
  }
  for (const id of ids) await manager.delete(alice, id)
  // 30 minutes after the first creation: it leaves the window 30 minutes from now.
  t.match(await rejection(manager.create(alice, body())), {
    error_code: 'SESSION_LIMIT_EXCEEDED',
    details: { limit_name: 'sessions_per_hour', limit: 3, current: 3, retry_after_seconds: 30 * 60 }
  })
  clock.advance(30 * MINUTE - 1)
  t.match(await rejection(manager.create(alice, body())), { details: { retry_after_seconds: 1 } })
  clock.advance(1)
  t.equal((await manager.create(alice, body())).session.state, 'ready')
})

t.test('a second session on the free plan is refused until the first finishes', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(freeUser, body())
  t.match(await rejection(manager.create(freeUser, body())), {
    error_code: 'SESSION_LIMIT_EXCEEDED',
    details: { limit_name: 'concurrent_sessions', limit: 1, current: 1 }
  })
  await manager.transition(freeUser, session.session_id, 'running')
  await manager.transition(freeUser, session.session_id, 'completed')
  t.equal((await manager.create(freeUser, body())).session.state, 'ready')
})

t.test('a deleted session frees its concurrent slot', async (t) => {
  const { manager } = harness(t)
  const { session } = await manager.create(freeUser, body())
  await manager.delete(freeUser, session.session_id)
  t.equal((await manager.create(freeUser, body())).session.state, 'ready')
})

t.test('one user\'s usage does not count against another\'s limits', async (t) => {
  const { manager } = harness(t, { limitsFor: limits({ concurrent_sessions: 2 }) })
  await manager.create(alice, body())
  await manager.create(alice, body())
  t.equal((await manager.create(bob, body())).session.state, 'ready')
  t.same(await manager.usage(bob), { active_sessions: 1, sessions_created_last_hour: 1 })
})

t.test('usage counts creations in the rolling last hour, deleted ones included', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body())
  await manager.delete(alice, session.session_id)
  t.same(await manager.usage(alice), { active_sessions: 0, sessions_created_last_hour: 1 })
  clock.advance(HOUR + 1)
  t.same(await manager.usage(alice), { active_sessions: 0, sessions_created_last_hour: 0 })
})

// --- Idempotency-Key semantics of create: replay, conflict, concurrency, per-user scope, 24 h lifetime.

t.test('the same key and body returns the original session, marked replayed, without creating another', async (t) => {
  const { manager, store } = harness(t)
  const first = await manager.create(alice, body(), { idempotencyKey: 'key-1' })
  const again = await manager.create(alice, body(), { idempotencyKey: 'key-1' })
  t.equal(first.replayed, false)
  t.equal(again.replayed, true)
  t.same(again.session, first.session)
  t.equal(await store.size(), 1)
})

t.test('equivalent spellings of the same request count as the same body', async (t) => {
  const { manager } = harness(t)
  const first = await manager.create(alice, body({ initial_capital: 100000, metadata: { a: 1, b: 2 } }), { idempotencyKey: 'k' })
  const again = await manager.create(alice, body({ initial_capital: '100000.00', timeframe: '1d', slippage_bps: 5, metadata: { b: 2, a: 1 } }), { idempotencyKey: 'k' })
  t.equal(again.replayed, true)
  t.equal(again.session.session_id, first.session.session_id)
})

t.test('the same key with a different body is IDEMPOTENCY_CONFLICT and creates nothing', async (t) => {
  const { manager, store } = harness(t)
  await manager.create(alice, body(), { idempotencyKey: 'key-1' })
  t.match(await rejection(manager.create(alice, body({ initial_capital: 5000 }), { idempotencyKey: 'key-1' })), {
    error_code: 'IDEMPOTENCY_CONFLICT',
    details: { idempotency_key: 'key-1' }
  })
  t.equal(await store.size(), 1)
})

t.test('concurrent requests with one key create one session and all get it', async (t) => {
  const { manager, store, marketData } = harness(t)
  const results = await Promise.all(Array.from({ length: 10 }, () => manager.create(alice, body(), { idempotencyKey: 'burst' })))
  t.equal(await store.size(), 1)
  t.equal(marketData.calls, 1)
  t.equal(new Set(results.map((r) => r.session.session_id)).size, 1)
  t.equal(results.filter((r) => !r.replayed).length, 1)
})

t.test('a concurrent request with the same key but another body is IDEMPOTENCY_CONFLICT at once', async (t) => {
  const { manager, store } = harness(t)
  const [first, second] = await Promise.allSettled([
    manager.create(alice, body(), { idempotencyKey: 'k' }),
    manager.create(alice, body({ symbols: ['NVDA'] }), { idempotencyKey: 'k' })
  ])
  t.equal(first.status, 'fulfilled')
  t.match(second, { status: 'rejected', reason: { error_code: 'IDEMPOTENCY_CONFLICT' } })
  t.equal(await store.size(), 1)
})

t.test('keys are scoped per user: the same key from two users makes two sessions', async (t) => {
  const { manager } = harness(t)
  const a = await manager.create(alice, body(), { idempotencyKey: 'same-key' })
  const b = await manager.create(bob, body({ initial_capital: 5000 }), { idempotencyKey: 'same-key' })
  t.equal(b.replayed, false)
  t.not(a.session.session_id, b.session.session_id)
})

t.test('a failed create is not recorded, so a retry with the same key runs again', async (t) => {
  const { manager } = harness(t)
  await manager.create(freeUser, body())
  const held = await manager.list(freeUser)
  t.match(await rejection(manager.create(freeUser, body({ symbols: ['NVDA'] }), { idempotencyKey: 'retry-me' })), {
    error_code: 'SESSION_LIMIT_EXCEEDED'
  })
  await manager.delete(freeUser, held.sessions[0].session_id)
  const retried = await manager.create(freeUser, body({ symbols: ['NVDA'] }), { idempotencyKey: 'retry-me' })
  t.equal(retried.replayed, false)
  t.same(retried.session.symbols, ['NVDA'])
})

t.test('waiting duplicates share the first request\'s failure', async (t) => {
  const { manager, marketData } = harness(t)
  const results = await Promise.allSettled([
    manager.create(alice, body({ symbols: ['NOPE'] }), { idempotencyKey: 'k' }),
    manager.create(alice, body({ symbols: ['NOPE'] }), { idempotencyKey: 'k' })
  ])
  t.match(results, [{ reason: { error_code: 'INVALID_SYMBOL' } }, { reason: { error_code: 'INVALID_SYMBOL' } }])
  t.equal(marketData.calls, 1)
})

t.test('a replay returns the original response even after the session was deleted', async (t) => {
  const { manager } = harness(t)
  const first = await manager.create(alice, body(), { idempotencyKey: 'k' })
  await manager.delete(alice, first.session.session_id)
  const again = await manager.create(alice, body(), { idempotencyKey: 'k' })
  t.equal(again.replayed, true)
  t.same(again.session, first.session)
})

t.test('a replayed session is a copy: changing it does not change later replays', async (t) => {
  const { manager } = harness(t)
  await manager.create(alice, body(), { idempotencyKey: 'k' })
  const a = await manager.create(alice, body(), { idempotencyKey: 'k' })
  a.session.symbols.push('HACK')
  const b = await manager.create(alice, body(), { idempotencyKey: 'k' })
  t.same(b.session.symbols, ['AAPL', 'MSFT'])
})

t.test('keys are kept 24 hours, then the same key creates a new session', async (t) => {
  const { manager, clock } = harness(t, { ttlMinutes: 48 * 60 })
  const first = await manager.create(alice, body(), { idempotencyKey: 'k' })
  clock.advance(24 * HOUR - 1)
  t.equal((await manager.create(alice, body(), { idempotencyKey: 'k' })).session.session_id, first.session.session_id)
  clock.advance(1)
  const later = await manager.create(alice, body(), { idempotencyKey: 'k' })
  t.equal(later.replayed, false)
  t.not(later.session.session_id, first.session.session_id)
})

t.test('an invalid key is VALIDATION_FAILED on idempotency_key', async (t) => {
  const { manager } = harness(t)
  for (const key of ['', 'has space', 'x'.repeat(256)]) {
    t.match(await rejection(manager.create(alice, body(), { idempotencyKey: key })), {
      error_code: 'VALIDATION_FAILED',
      details: { field: 'idempotency_key' }
    })
  }
})

t.test('a body that fails validation is rejected before the key is looked at', async (t) => {
  const { manager } = harness(t)
  await manager.create(alice, body(), { idempotencyKey: 'k' })
  t.match(await rejection(manager.create(alice, body({ initial_capital: 1 }), { idempotencyKey: 'k' })), {
    error_code: 'INSUFFICIENT_CAPITAL',
    details: { field: 'initial_capital' }
  })
})

t.test('prune forgets only entries past their lifetime', async (t) => {
  const clock = new FakeClock()
  const cache = new IdempotencyCache<number>({ now: clock.now, ttlMs: 1000 })
  await cache.run('u', 'old', 'f', async () => 1)
  clock.advance(600)
  await cache.run('u', 'new', 'f', async () => 2)
  clock.advance(400)
  t.equal(await cache.prune(), 1)
  t.equal(await cache.size(), 1)
  t.same(await cache.run('u', 'new', 'f', async () => { throw new AppError('INTERNAL_ERROR', 'must not run') }), { value: 2, replayed: true })
})

t.test('canonical JSON ignores key order at every depth but not array order', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }))
  t.not(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }))
})
