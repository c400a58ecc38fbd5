// The session lifecycle: the transition table against an independently written list of legal moves,
// and state changes through the manager (legal moves apply atomically, illegal ones change nothing).
import t from 'tap'
import { TRANSITIONS, assertTransition, canTransition, isActive } from '../../../server/sessions/lifecycle.js'
import { AppError } from '../../../server/app-error.js'
import type { SessionState } from '../../../schemas/sessions.js'
import type { SessionManager } from '../../../server/sessions/session-manager.js'
import { alice, body, harness } from './session-fixtures.js'
import { MINUTE, rejection } from './session-records.js'

function thrown (fn: () => void): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

const STATES: SessionState[] = ['initializing', 'ready', 'running', 'paused', 'completed', 'error']

// Written out by hand from the spec (initializing → ready → running ⇄ paused → completed, non-terminal → error),
// so a wrong edit to TRANSITIONS fails here.
const LEGAL = new Set([
  'initializing>ready', 'initializing>error',
  'ready>running', 'ready>error',
  'running>paused', 'running>completed', 'running>error',
  'paused>running', 'paused>completed', 'paused>error'
])

t.test('every legal pair is allowed', async (t) => {
  for (const pair of LEGAL) {
    const [from, to] = pair.split('>') as [SessionState, SessionState]
    t.ok(canTransition(from, to), pair)
    t.doesNotThrow(() => assertTransition(from, to), pair)
  }
})

t.test('every other pair is INVALID_STATE with from, to and the allowed list', async (t) => {
  let illegal = 0
  for (const from of STATES) {
    for (const to of STATES) {
      if (LEGAL.has(`${from}>${to}`)) continue
      illegal++
      t.notOk(canTransition(from, to), `${from}>${to}`)
      const err = thrown(() => assertTransition(from, to))
      t.ok(err instanceof AppError, `${from}>${to} throws AppError`)
      t.match(err, { error_code: 'INVALID_STATE', details: { from, to } }, `${from}>${to}`)
      t.same((err as AppError).details?.allowed, TRANSITIONS[from], `${from}>${to} lists the allowed moves`)
    }
  }
  t.equal(illegal, 36 - LEGAL.size)
})

t.test('completed and error are terminal', async (t) => {
  t.same(TRANSITIONS.completed, [])
  t.same(TRANSITIONS.error, [])
})

t.test('the table cannot be mutated at runtime', async (t) => {
  t.throws(() => { (TRANSITIONS.ready as SessionState[]).push('completed') })
  t.notOk(canTransition('ready', 'completed'))
})

t.test('initializing, ready, running and paused hold a concurrent slot; completed and error do not', async (t) => {
  t.same(STATES.filter(isActive), ['initializing', 'ready', 'running', 'paused'])
})

// --- State changes through the manager: legal moves apply atomically, illegal ones change nothing.

// A path from ready to each state, to set a session up in it.
const PATH_TO: Record<Exclude<SessionState, 'initializing'>, SessionState[]> = {
  ready: [],
  running: ['running'],
  paused: ['running', 'paused'],
  completed: ['running', 'completed'],
  error: ['error']
}

async function sessionIn (manager: SessionManager, state: Exclude<SessionState, 'initializing'>): Promise<string> {
  const { session } = await manager.create(alice, body())
  for (const step of PATH_TO[state]) await manager.transition(alice, session.session_id, step)
  return session.session_id
}

t.test('every illegal move from a stored state is INVALID_STATE and leaves the session untouched', async (t) => {
  const { manager, clock } = harness(t)
  const states = Object.keys(PATH_TO) as Exclude<SessionState, 'initializing'>[]
  const all = Object.keys(TRANSITIONS) as SessionState[]
  for (const from of states) {
    const id = await sessionIn(manager, from)
    const before = await manager.get(alice, id)
    clock.advance(MINUTE)
    for (const to of all.filter((s) => !TRANSITIONS[from].includes(s))) {
      t.match(await rejection(manager.transition(alice, id, to)), {
        error_code: 'INVALID_STATE',
        details: { from, to }
      }, `${from} → ${to}`)
    }
    // Same state, same updated_at and expiry: the failed attempts wrote nothing, not even a touch.
    const after = (await manager.list(alice, { state: from })).sessions.find((s) => s.session_id === id)
    t.same(after, before, `${from} unchanged`)
  }
})

t.test('every legal move from a stored state applies', async (t) => {
  const { manager } = harness(t)
  for (const from of Object.keys(PATH_TO) as Exclude<SessionState, 'initializing'>[]) {
    for (const to of TRANSITIONS[from]) {
      const id = await sessionIn(manager, from)
      t.equal((await manager.transition(alice, id, to)).state, to, `${from} → ${to}`)
      await manager.delete(alice, id)
    }
  }
})

t.test('two concurrent starts of one session: one succeeds, the other is INVALID_STATE', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'ready')
  const results = await Promise.allSettled([manager.transition(alice, id, 'running'), manager.transition(alice, id, 'running')])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  t.match(results.find((r) => r.status === 'rejected'), { reason: { error_code: 'INVALID_STATE' } })
})

t.test('moving to error records the message; other states never show one', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'running')
  const failed = await manager.transition(alice, id, 'error', { error_message: 'bar source unavailable' })
  t.equal(failed.error_message, 'bar source unavailable')
  t.notOk('error_message' in (await manager.get(alice, await sessionIn(manager, 'running'))))
})

t.test('error_message with a state other than error is VALIDATION_FAILED', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'running')
  t.match(await rejection(manager.transition(alice, id, 'paused', { error_message: 'x' })), { error_code: 'VALIDATION_FAILED' })
  t.equal((await manager.get(alice, id)).state, 'running')
})

t.test('an unknown target state is VALIDATION_FAILED', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'ready')
  t.match(await rejection(manager.transition(alice, id, 'exploded' as SessionState)), { error_code: 'VALIDATION_FAILED' })
})

t.test('a transition can set progress, e.g. 1 on completion', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'running')
  t.equal((await manager.transition(alice, id, 'completed', { progress: 1 })).progress, 1)
})

t.test('setProgress stores progress and rejects values outside 0..1', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'running')
  await manager.setProgress(alice, id, 0.42)
  t.equal((await manager.get(alice, id)).progress, 0.42)
  for (const bad of [-0.1, 1.01, Number.NaN]) {
    t.match(await rejection(manager.setProgress(alice, id, bad)), { error_code: 'VALIDATION_FAILED', details: { field: 'progress' } })
  }
  t.equal((await manager.get(alice, id)).progress, 0.42)
})

t.test('update replaces metadata and bumps updated_at', async (t) => {
  const { manager, clock } = harness(t)
  const { session } = await manager.create(alice, body({ metadata: { a: 1, b: 2 } }))
  clock.advance(MINUTE)
  const updated = await manager.update(alice, session.session_id, { metadata: { c: 3 } })
  t.same(updated.metadata, { c: 3 })
  t.not(updated.updated_at, session.updated_at)
})

t.test('update with metadata over the cap is VALIDATION_FAILED and keeps the old metadata', async (t) => {
  const { manager } = harness(t, { maxMetadataBytes: 50 })
  const { session } = await manager.create(alice, body({ metadata: { keep: true } }))
  t.match(await rejection(manager.update(alice, session.session_id, { metadata: { x: 'y'.repeat(60) } })), {
    error_code: 'VALIDATION_FAILED',
    details: { field: 'metadata', max_bytes: 50 }
  })
  t.same((await manager.get(alice, session.session_id)).metadata, { keep: true })
})

t.test('delete answers deleted: true and the session is gone', async (t) => {
  const { manager } = harness(t)
  const id = await sessionIn(manager, 'running')
  t.same(await manager.delete(alice, id), { session_id: id, deleted: true })
  t.match(await rejection(manager.get(alice, id)), { error_code: 'SESSION_NOT_FOUND' })
  t.match(await rejection(manager.delete(alice, id)), { error_code: 'SESSION_NOT_FOUND' })
})
