// Which node-postgres failures mean "the database cannot be reached now" (503 STORE_UNAVAILABLE, retry)
// and which are a statement's own error (passed on as they are).
import t from 'tap'
import { AppError } from '../../../server/app-error.js'
import { isUnavailable, storeUnavailable } from '../../../server/adapters/sql/pg-client.js'

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code })

t.test('connection failures are unavailability', async (t) => {
  for (const err of [
    withCode('ECONNREFUSED'), withCode('ECONNRESET'), withCode('ETIMEDOUT'), withCode('EPIPE'), withCode('ENOTFOUND'),
    new Error('Connection terminated unexpectedly'), new Error('timeout exceeded when trying to connect'),
    new Error('Client has encountered a connection error and is not queryable'),
    withCode('08006'), withCode('08001'), withCode('57P01'), withCode('57P03'), withCode('53300'),
    storeUnavailable(new Error('x'))
  ]) t.ok(isUnavailable(err), `${(err as { code?: string }).code ?? err.message}`)
})

t.test('a statement\'s own errors are not', async (t) => {
  for (const err of [withCode('23505'), withCode('22P02'), withCode('42P01'), withCode('40001'), new AppError('INVALID_STATE', 'no'), new TypeError('x is not a function'), 'a string']) {
    t.notOk(isUnavailable(err), String((err as { code?: string }).code ?? err))
  }
})

t.test('STORE_UNAVAILABLE is a 503 that keeps its cause for the log', async (t) => {
  const cause = new Error('ECONNREFUSED')
  const err = storeUnavailable(cause)
  t.match(err, { error_code: 'STORE_UNAVAILABLE', statusCode: 503, message: 'The database is unavailable; retry shortly' })
  t.equal((err as { cause?: unknown }).cause, cause)
})
