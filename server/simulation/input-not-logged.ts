// What a caller hears when a durable run's input could not be stored in its input log. The input is logged
// before it takes effect, so a failed append means it did not happen: the run is exactly as it was (same state,
// same step, the input absent from the log), and the answer says so instead of a bare "Internal Server Error".
import { AppError, isAppError } from '../app-error.js'
import { InputTakenError, type InputKind } from '../ports/run-journal.js'

/**
 * The error to throw for a failed append of a `kind` input: the store's own AppError (STORE_UNAVAILABLE…) and
 * InputTakenError (another instance took the run) as they are; anything else (the database refused the value)
 * is reported to `onError` and becomes INTERNAL_ERROR with `details.applied: false`.
 */
export function inputNotLogged (kind: InputKind, err: unknown, onError: (err: unknown) => void): Error {
  if (isAppError(err) || err instanceof InputTakenError) return err
  onError(err)
  return new AppError('INTERNAL_ERROR', `The ${kind} could not be stored in the run's input log, so it did not take effect: the run is as it was`, {
    input: kind,
    applied: false
  })
}
