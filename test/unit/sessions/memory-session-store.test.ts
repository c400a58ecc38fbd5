// MemorySessionStore against the SessionStore contract: keyed per user, atomic guarded inserts,
// keyset pagination, conditional deletes and expiry listing.
import t from 'tap'
import { MemorySessionStore } from '../../../server/adapters/memory/memory-session-store.js'
import { AppError } from '../../../server/app-error.js'
import { HOUR, OPEN_GUARD, T0, record, rejection } from './session-records.js'

t.test('records are keyed by user and session id', async (t) => {
  const store = new MemorySessionStore()
  t.same(await store.insert(record({ user_id: 'u1', session_id: 'same' }), OPEN_GUARD), { ok: true })
  t.same(await store.insert(record({ user_id: 'u2', session_id: 'same', progress: 0.5 }), OPEN_GUARD), { ok: true })
  t.equal((await store.get('u1', 'same'))?.progress, 0)
  t.equal((await store.get('u2', 'same'))?.progress, 0.5)
  t.equal(await store.get('u3', 'same'), undefined)
  t.equal(await store.size(), 2)
})

t.test('a second insert of the same user and id is refused and changes nothing', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record({ progress: 0.1 }), OPEN_GUARD)
  t.same(await store.insert(record({ progress: 0.9 }), OPEN_GUARD), { ok: false, reason: 'duplicate_id' })
  t.equal((await store.get('user_alice', 'sess_a'))?.progress, 0.1)
  t.equal(await store.countCreatedSince('user_alice', 0), 1)
})

t.test('stored records are frozen so they cannot change behind the store', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record(), OPEN_GUARD)
  const r = await store.get('user_alice', 'sess_a')
  t.ok(Object.isFrozen(r))
  t.ok(Object.isFrozen(r?.symbols))
})

t.test('insert refuses when the active-session guard is reached, counting only active states', async (t) => {
  const store = new MemorySessionStore()
  const guard = { ...OPEN_GUARD, max_active: 2 }
  await store.insert(record({ session_id: 's1' }), guard)
  await store.insert(record({ session_id: 's2', state: 'completed' }), guard)
  t.same(await store.insert(record({ session_id: 's3', state: 'running' }), guard), { ok: true })
  t.same(await store.insert(record({ session_id: 's4' }), guard), { ok: false, reason: 'concurrent_sessions', current: 2 })
  t.equal(await store.get('user_alice', 's4'), undefined)
  t.equal(await store.countActive('user_alice'), 2)
})

t.test('insert refuses past the creation window guard and says when a slot frees', async (t) => {
  const store = new MemorySessionStore()
  for (let i = 0; i < 3; i++) {
    await store.insert(record({ session_id: `s${i}`, created_at: T0 + i * 1000 }), { ...OPEN_GUARD, max_created_in_window: 3 })
  }
  const guard = { ...OPEN_GUARD, max_created_in_window: 3, window_start: T0 + 5000 - HOUR }
  t.same(await store.insert(record({ session_id: 's3', created_at: T0 + 5000 }), guard), {
    ok: false,
    reason: 'sessions_per_hour',
    current: 3,
    frees_at: T0
  })
})

t.test('deleting a session does not remove it from the creation log', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record(), OPEN_GUARD)
  await store.delete('user_alice', 'sess_a')
  t.equal(await store.countCreatedSince('user_alice', T0), 1)
  await store.pruneCreationLog(T0 + 1)
  t.equal(await store.countCreatedSince('user_alice', 0), 0)
})

t.test('update swaps in the changed record; a throwing change leaves the old one', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record(), OPEN_GUARD)
  const next = await store.update('user_alice', 'sess_a', (r) => ({ ...r, progress: 0.25 }))
  t.equal(next?.progress, 0.25)
  const err = await rejection(store.update('user_alice', 'sess_a', () => { throw new AppError('INVALID_STATE', 'no') }))
  t.match(err, { error_code: 'INVALID_STATE' })
  t.equal((await store.get('user_alice', 'sess_a'))?.progress, 0.25)
  t.equal(await store.update('user_bob', 'sess_a', (r) => r), undefined)
})

t.test('update may not change a record\'s identity', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record(), OPEN_GUARD)
  const err = await rejection(store.update('user_alice', 'sess_a', (r) => ({ ...r, user_id: 'user_bob' })))
  t.match(err, { error_code: 'INTERNAL_ERROR' })
  t.equal(await store.get('user_bob', 'sess_a'), undefined)
})

t.test('a conditional delete removes only when the condition holds', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record(), OPEN_GUARD)
  t.equal(await store.delete('user_alice', 'sess_a', () => false), undefined)
  t.equal(await store.size(), 1)
  t.equal((await store.delete('user_alice', 'sess_a', () => true))?.session_id, 'sess_a')
  t.equal(await store.size(), 0)
  t.equal(await store.delete('user_alice', 'sess_a'), undefined)
})

t.test('listing is newest first with session_id breaking ties, and only the user\'s own', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record({ session_id: 'b', created_at: T0 }), OPEN_GUARD)
  await store.insert(record({ session_id: 'old', created_at: T0 - 1 }), OPEN_GUARD)
  await store.insert(record({ session_id: 'a', created_at: T0 }), OPEN_GUARD)
  await store.insert(record({ session_id: 'new', created_at: T0 + 1 }), OPEN_GUARD)
  await store.insert(record({ user_id: 'user_bob', session_id: 'bobs', created_at: T0 }), OPEN_GUARD)
  const page = await store.listByUser('user_alice', { limit: 10 })
  t.same(page.records.map((r) => r.session_id), ['new', 'b', 'a', 'old'])
  t.equal(page.next_cursor, null)
})

t.test('cursors walk every session exactly once while others are inserted and deleted', async (t) => {
  const store = new MemorySessionStore()
  for (let i = 0; i < 25; i++) {
    await store.insert(record({ session_id: `s${String(i).padStart(2, '0')}`, created_at: T0 + Math.floor(i / 3) }), OPEN_GUARD)
  }
  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await store.listByUser('user_alice', { limit: 4, ...(cursor === undefined ? {} : { cursor }) })
    seen.push(...page.records.map((r) => r.session_id))
    cursor = page.next_cursor ?? undefined
    if (pages === 1) {
      // A newer insert and the deletion of an already-served row must not shift the walk.
      await store.insert(record({ session_id: 'late', created_at: T0 + 100 }), OPEN_GUARD)
      await store.delete('user_alice', seen[0])
    }
    pages++
  } while (cursor !== undefined)
  t.equal(seen.length, 25)
  t.equal(new Set(seen).size, 25)
  t.notOk(seen.includes('late'))
  t.equal(pages, 7)
})

t.test('the state filter applies before the limit', async (t) => {
  const store = new MemorySessionStore()
  for (let i = 0; i < 10; i++) {
    await store.insert(record({ session_id: `s${i}`, created_at: T0 + i, state: i % 2 === 0 ? 'completed' : 'ready' }), OPEN_GUARD)
  }
  const first = await store.listByUser('user_alice', { limit: 3, state: 'completed' })
  t.same(first.records.map((r) => r.session_id), ['s8', 's6', 's4'])
  const rest = await store.listByUser('user_alice', { limit: 3, state: 'completed', cursor: first.next_cursor as string })
  t.same(rest.records.map((r) => r.session_id), ['s2', 's0'])
  t.equal(rest.next_cursor, null)
})

t.test('a malformed cursor is VALIDATION_FAILED on the cursor field', async (t) => {
  const store = new MemorySessionStore()
  for (const cursor of ['garbage', Buffer.from('x:sess').toString('base64url'), Buffer.from('12:bad id!').toString('base64url')]) {
    t.match(await rejection(store.listByUser('user_alice', { limit: 5, cursor })), {
      error_code: 'VALIDATION_FAILED',
      details: { field: 'cursor' }
    }, cursor)
  }
})

t.test('listExpired returns sessions at or past expiry and never those without one', async (t) => {
  const store = new MemorySessionStore()
  await store.insert(record({ session_id: 'due', expires_at: T0 }), OPEN_GUARD)
  await store.insert(record({ session_id: 'later', expires_at: T0 + 1 }), OPEN_GUARD)
  await store.insert(record({ session_id: 'running', state: 'running', expires_at: null }), OPEN_GUARD)
  t.same((await store.listExpired(T0)).map((r) => r.session_id), ['due'])
})
