// The one error type of the SDK: a failed WebSocket request, carrying the server's error_code, message and
// details (from `session_error` or `error` frames) or a client-side code when the failure never reached
// the server (timeout, dropped connection). `retriable` says whether sending the same request again may work.
import type { ErrorCode } from '../schemas/errors.js'
import type { SessionErrorData, WsErrorData } from '../schemas/ws-messages.js'

/** Failures detected by the SDK itself, never sent by the server. */
export type ClientErrorCode =
  | 'REQUEST_TIMEOUT'
  | 'CONNECTION_LOST'
  | 'CONNECTION_FAILED'
  | 'NOT_CONNECTED'
  | 'CLIENT_CLOSED'
  | 'RUN_IN_PROGRESS'

export type SessionErrorCode = ErrorCode | ClientErrorCode

/**
 * Server codes worth retrying unchanged: limits that reset with time and transient server failures
 * (BUS_UNAVAILABLE: the instances' shared Redis is down; STORE_UNAVAILABLE: the database is; both recover
 * when it is back).
 */
const RETRIABLE_SERVER_CODES: ReadonlySet<string> = new Set(['RATE_LIMIT_EXCEEDED', 'CONNECTION_LIMIT_EXCEEDED', 'INTERNAL_ERROR', 'BUS_UNAVAILABLE', 'STORE_UNAVAILABLE'])
const RETRIABLE_CLIENT_CODES: ReadonlySet<string> = new Set(['REQUEST_TIMEOUT', 'CONNECTION_LOST', 'CONNECTION_FAILED'])

export interface SessionErrorInit {
  error_code: SessionErrorCode
  message: string
  details?: Record<string, unknown>
  request_id?: string
  /** Which frame carried the error: `session_error`, `error`, or none (`client`). */
  source: 'session_error' | 'error' | 'client'
  /** The whole `error` frame payload (error_type, severity, recoverable, retry_after_ms…), when source is `error`. */
  error?: WsErrorData
  retriable?: boolean
  cause?: unknown
}

export class SessionError extends Error {
  readonly error_code: SessionErrorCode
  readonly details: Record<string, unknown>
  readonly request_id: string | undefined
  readonly source: SessionErrorInit['source']
  readonly error: WsErrorData | undefined
  readonly retriable: boolean

  constructor (init: SessionErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'SessionError'
    this.error_code = init.error_code
    this.details = init.details ?? {}
    this.request_id = init.request_id
    this.source = init.source
    this.error = init.error
    this.retriable = init.retriable ?? (RETRIABLE_SERVER_CODES.has(init.error_code) || RETRIABLE_CLIENT_CODES.has(init.error_code))
  }

  static fromSessionError (data: SessionErrorData, requestId?: string): SessionError {
    return new SessionError({ error_code: data.error_code, message: data.message, ...(data.details !== undefined ? { details: data.details } : {}), ...(requestId !== undefined ? { request_id: requestId } : {}), source: 'session_error' })
  }

  static fromError (data: WsErrorData, requestId?: string): SessionError {
    return new SessionError({ error_code: data.error_code, message: data.message, ...(data.details !== undefined ? { details: data.details } : {}), ...(requestId !== undefined ? { request_id: requestId } : {}), source: 'error', error: data })
  }

  static client (code: ClientErrorCode, message: string, extra: { request_id?: string, details?: Record<string, unknown>, cause?: unknown } = {}): SessionError {
    return new SessionError({ error_code: code, message, source: 'client', ...extra })
  }

  /** The `{error_code, message, details}` body, as the CLI prints it with --json. */
  toJSON (): { error_code: SessionErrorCode, message: string, details: Record<string, unknown> } {
    return { error_code: this.error_code, message: this.message, details: this.details }
  }
}
