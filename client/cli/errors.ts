// The CLI's failure kinds and their exit codes: a usage error (bad flags or input, exit 2), a failed
// operation (the server or the network said no, exit 1) and the user's strategy throwing (exit 1, with its
// stack). Commands throw these; main.ts prints and exits.
import type { Schemas } from '../../generated-client/index.js'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

type ErrorBody = Schemas['ErrorResponse']

/** Invalid invocation: the user can fix it by changing the command line or the config file. */
export class UsageError extends Error {
  constructor (message: string, readonly hint?: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** A failed operation with the server's (or the CLI's) `{error_code, message, details}` body. */
export class OperationError extends Error {
  readonly body: { error_code: string, message: string, details?: Record<string, unknown> }

  constructor (body: ErrorBody | { error_code: string, message: string, details?: Record<string, unknown> }) {
    super(body.message)
    this.name = 'OperationError'
    this.body = body
  }
}

/** The user's strategy threw during `simulate run`: printed with its stack (exit 1). */
export class StrategyFailedError extends Error {
  constructor (readonly strategyFile: string, readonly original: Error) {
    super(`strategy ${strategyFile} threw: ${original.message}`)
    this.name = 'StrategyFailedError'
  }
}
