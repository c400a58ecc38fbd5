// The one error-code enum of SimuTrador and the error body every transport sends.
// Services throw AppError (server/app-error.ts) with one of these codes; REST and WebSocket map it in one place each.
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum } from './common.js'

export const ERROR_CODES = [
  'INVALID_SYMBOL',
  'INVALID_DATE_RANGE',
  'INSUFFICIENT_CAPITAL',
  'CAPITAL_ABOVE_MAXIMUM',
  'SESSION_LIMIT_EXCEEDED',
  'VALIDATION_FAILED',
  'SESSION_NOT_FOUND',
  'INVALID_STATE',
  'UNAUTHORIZED',
  'TOKEN_EXPIRED',
  'INVALID_API_KEY',
  'RATE_LIMIT_EXCEEDED',
  'CONNECTION_LIMIT_EXCEEDED',
  'INVALID_ORDER',
  'INSUFFICIENT_BUYING_POWER',
  'ORDER_NOT_FOUND',
  'IDEMPOTENCY_CONFLICT',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'INVALID_MESSAGE',
  'UNKNOWN_MESSAGE_TYPE',
  'STREAM_TAKEN_OVER',
  'EVENTS_EXPIRED',
  'REPLAY_DIVERGED',
  'STORE_UNAVAILABLE',
  'BUS_UNAVAILABLE',
  'ORIGIN_NOT_ALLOWED',
  'INTERNAL_ERROR'
] as const

export const ErrorCode = StringEnum(ERROR_CODES, {
  $id: 'ErrorCode',
  description: 'Stable machine-readable error code'
})
export type ErrorCode = Static<typeof ErrorCode>

export const ErrorResponse = Type.Object(
  {
    error_code: Type.Unsafe<ErrorCode>(Type.Ref('ErrorCode')),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
  },
  {
    $id: 'ErrorResponse',
    additionalProperties: false,
    description: 'Body of every 4xx/5xx response',
    examples: [{
      error_code: 'VALIDATION_FAILED',
      message: 'Invalid request: body.timeframe must be one of 1d, 1h, 1m',
      details: { fields: ['body.timeframe'], errors: [{ field: 'body.timeframe', message: 'must be one of 1d, 1h, 1m', keyword: 'enum' }], more_errors: false, error_count: 1 }
    }]
  }
)
export type ErrorResponse = Static<typeof ErrorResponse>
