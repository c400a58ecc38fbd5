// SessionError, the SDK's one error type (a pure module): which failures are retriable by default, what the
// two server frames become, and the `{error_code, message, details}` body it serialises to.
import t from 'tap'
import { SessionError } from '../../client/session-error.js'

t.test('retriable by default: limits that reset, transient server failures and client-side transport failures', async (t) => {
  for (const code of ['RATE_LIMIT_EXCEEDED', 'CONNECTION_LIMIT_EXCEEDED', 'INTERNAL_ERROR', 'BUS_UNAVAILABLE', 'STORE_UNAVAILABLE'] as const) {
    t.equal(SessionError.fromError({ error_code: code, message: 'm', error_type: 'internal', severity: 'error', recoverable: true }).retriable, true, code)
  }
  for (const code of ['REQUEST_TIMEOUT', 'CONNECTION_LOST', 'CONNECTION_FAILED'] as const) t.equal(SessionError.client(code, 'm').retriable, true, code)
  for (const code of ['NOT_CONNECTED', 'CLIENT_CLOSED', 'RUN_IN_PROGRESS'] as const) t.equal(SessionError.client(code, 'm').retriable, false, code)
  for (const code of ['VALIDATION_FAILED', 'SESSION_NOT_FOUND', 'INVALID_API_KEY', 'STREAM_TAKEN_OVER'] as const) {
    t.equal(SessionError.fromSessionError({ error_code: code, message: 'm' }).retriable, false, code)
  }
  t.equal(new SessionError({ error_code: 'VALIDATION_FAILED', message: 'm', source: 'client', retriable: true }).retriable, true, 'an explicit value wins')
})

t.test('fromSessionError and fromError keep code, message, details and request id; fromError keeps the frame', async (t) => {
  const se = SessionError.fromSessionError({ error_code: 'SESSION_NOT_FOUND', message: 'gone', details: { session_id: 's1' } }, 'r1')
  t.match(se, { name: 'SessionError', error_code: 'SESSION_NOT_FOUND', message: 'gone', details: { session_id: 's1' }, request_id: 'r1', source: 'session_error', error: undefined })
  const bare = SessionError.fromSessionError({ error_code: 'SESSION_NOT_FOUND', message: 'gone' })
  t.same(bare.details, {}, 'details default to an empty object')
  t.equal(bare.request_id, undefined)
  const frame = { error_code: 'RATE_LIMIT_EXCEEDED' as const, message: 'slow down', error_type: 'rate_limit' as const, severity: 'warning' as const, recoverable: true, retry_after_ms: 250 }
  const e = SessionError.fromError(frame, 'r2')
  t.equal(e.error, frame, 'the whole error frame, retry_after_ms included')
  t.equal(e.source, 'error')
  t.equal(e.request_id, 'r2')
  t.same(SessionError.fromError(frame).details, {})
})

t.test('client errors carry a cause; JSON is the error body the CLI prints', async (t) => {
  const cause = new Error('ECONNREFUSED')
  const e = SessionError.client('CONNECTION_FAILED', 'Cannot connect', { request_id: 'r3', details: { url: 'ws://x' }, cause })
  t.equal(e.cause, cause)
  t.ok(e instanceof Error)
  t.same(JSON.parse(JSON.stringify(e)), { error_code: 'CONNECTION_FAILED', message: 'Cannot connect', details: { url: 'ws://x' } })
  t.equal(SessionError.client('NOT_CONNECTED', 'x').cause, undefined, 'no cause unless given')
})
