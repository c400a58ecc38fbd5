// The transition table against an independently written list of the legal moves.
import t from 'tap'
import { TRANSITIONS, assertTransition, canTransition, isActive } from '../../../server/sessions/lifecycle.js'
import { AppError } from '../../../server/app-error.js'
import type { SessionState } from '../../../schemas/sessions.js'

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
