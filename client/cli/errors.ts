// The CLI's failure kinds and their exit codes: a usage error (bad flags or input, exit 2), a failed
// operation (the server or the network said no, exit 1), the user's strategy throwing (exit 1, with its
// stack) and Ctrl-C (exit 130, as a shell reports SIGINT). Commands throw these; main.ts prints and exits.
import type { Schemas } from '../../generated-client/index.js'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
/** 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130

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

/** The user pressed Ctrl-C (or cancelled a prompt): exit 130 with one short line, no stack. */
export class InterruptedError extends Error {
  constructor (message = 'Interrupted') {
    super(message)
    this.name = 'InterruptedError'
  }
}

let interruptHandler: (() => void) | undefined

/**
 * Let the running command answer Ctrl-C itself (watch unsubscribes and closes first, then ends with an
 * InterruptedError); returns the function that hands Ctrl-C back to main.ts's default (exit 130 at once).
 */
export function handleInterrupt (handler: () => void): () => void {
  interruptHandler = handler
  return () => { if (interruptHandler === handler) interruptHandler = undefined }
}

/** Called by main.ts on SIGINT: true when a command took it. */
export function interruptCommand (): boolean {
  if (interruptHandler === undefined) return false
  interruptHandler()
  return true
}
