// The single application error type. Services throw it; server/plugins/errors.ts (HTTP) and
// server/ws/connection.ts (WebSocket) are the only places that translate it for the wire.
import type { ErrorCode } from '../schemas/errors.js'

export type ErrorDetails = Record<string, unknown>

const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_SYMBOL: 422,
  INVALID_DATE_RANGE: 422,
  INSUFFICIENT_CAPITAL: 422,
  CAPITAL_ABOVE_MAXIMUM: 422,
  SESSION_LIMIT_EXCEEDED: 409,
  VALIDATION_FAILED: 400,
  SESSION_NOT_FOUND: 404,
  INVALID_STATE: 409,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  INVALID_API_KEY: 401,
  RATE_LIMIT_EXCEEDED: 429,
  CONNECTION_LIMIT_EXCEEDED: 429,
  INVALID_ORDER: 422,
  INSUFFICIENT_BUYING_POWER: 422,
  ORDER_NOT_FOUND: 404,
  IDEMPOTENCY_CONFLICT: 422,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_MESSAGE: 400,
  UNKNOWN_MESSAGE_TYPE: 400,
  STREAM_TAKEN_OVER: 409,
  EVENTS_EXPIRED: 410,
  REPLAY_DIVERGED: 500,
  STORE_UNAVAILABLE: 503,
  BUS_UNAVAILABLE: 503,
  ORIGIN_NOT_ALLOWED: 403,
  INTERNAL_ERROR: 500
}

export class AppError extends Error {
  readonly error_code: ErrorCode
  readonly details: ErrorDetails | undefined
  readonly statusCode: number

  constructor (errorCode: ErrorCode, message: string, details?: ErrorDetails) {
    super(message)
    this.name = 'AppError'
    this.error_code = errorCode
    this.details = details
    this.statusCode = HTTP_STATUS[errorCode]
  }

  toBody (): { error_code: ErrorCode, message: string, details?: ErrorDetails } {
    return this.details === undefined
      ? { error_code: this.error_code, message: this.message }
      : { error_code: this.error_code, message: this.message, details: this.details }
  }
}

export function httpStatusFor (code: ErrorCode): number {
  return HTTP_STATUS[code]
}

export function isAppError (err: unknown): err is AppError {
  return err instanceof AppError
}
