// The one HTTP error mapping: AppError → its status and `{error_code, message, details}`; Fastify's own
// errors (schema, body size, bad JSON, 404) → a stable code; 5xx → "Internal Server Error", details logged only.
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import type { ErrorCode } from '../../schemas/errors.js'
import { AppError, isAppError } from '../app-error.js'
import { validationStoppedEarly } from '../validation.js'
import { ajvIssueMessage } from '../validation-messages.js'

interface ValidationIssue { instancePath?: string, message?: string, params?: Record<string, unknown>, keyword?: string }

/** Name the offending field of an Ajv issue: `body.symbols/0`, `querystring.limit`, `body.extra` (unknown). */
function fieldOf (context: string | undefined, issue: ValidationIssue): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.')
  const extra = issue.params?.additionalProperty ?? issue.params?.missingProperty
  const tail = typeof extra === 'string' ? (path.length > 0 ? `${path}.${extra}` : extra) : path
  return [context, tail].filter((s) => s !== undefined && s.length > 0).join('.')
}

/** At most this many problems are listed in `details.errors`; `details.more_errors` says when there were more. */
export const MAX_LISTED_ERRORS = 20
/** A validation error response (JSON) never exceeds this many bytes, whatever the client sent. */
export const MAX_VALIDATION_RESPONSE_BYTES = 16 * 1024
// Field paths and Ajv messages echo client input (property names, patterns): cut them so 20 fit the budget.
const MAX_FIELD_CHARS = 120
const MAX_ISSUE_CHARS = 200
const MAX_MESSAGE_CHARS = 1000

function truncate (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}

/**
 * VALIDATION_FAILED for a schema failure: `details.errors` lists at most 20 problems (field, message, keyword),
 * `details.fields` their fields, `details.more_errors` whether the list is incomplete and, when validation
 * counted every problem (small inputs), `details.error_count`. The whole body stays under 16 KB.
 */
export function validationError (err: FastifyError): AppError {
  const issues = (err.validation ?? []) as ValidationIssue[]
  const stoppedEarly = validationStoppedEarly(err.validation)
  let errors = issues.slice(0, MAX_LISTED_ERRORS).map((i) => ({
    field: truncate(fieldOf(err.validationContext, i), MAX_FIELD_CHARS),
    message: truncate(ajvIssueMessage(i), MAX_ISSUE_CHARS),
    keyword: i.keyword
  }))
  for (;;) {
    const omitted = issues.length - errors.length
    const summary = errors.map((e) => `${e.field} ${e.message}`).join('; ')
    const tail = stoppedEarly ? ' (checking stopped at the first problem)' : omitted > 0 ? ` (and ${omitted} more)` : ''
    const details = {
      fields: [...new Set(errors.map((e) => e.field))],
      errors,
      more_errors: stoppedEarly || omitted > 0,
      ...(stoppedEarly ? {} : { error_count: issues.length })
    }
    const appErr = new AppError('VALIDATION_FAILED', `Invalid request: ${truncate(summary, MAX_MESSAGE_CHARS)}${tail}`, details)
    // Escapes can multiply echoed characters by six: drop listed problems until the answer fits.
    if (errors.length <= 1 || Buffer.byteLength(JSON.stringify(appErr.toBody())) <= MAX_VALIDATION_RESPONSE_BYTES) return appErr
    errors = errors.slice(0, Math.ceil(errors.length / 2))
  }
}

const STATUS_CODES: Record<number, ErrorCode> = {
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMIT_EXCEEDED'
}

export function toAppError (err: FastifyError | AppError | Error): AppError {
  if (isAppError(err)) return err
  const fe = err as FastifyError
  if (fe.validation !== undefined) return validationError(fe)
  const status = fe.statusCode ?? 500
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AppError('PAYLOAD_TOO_LARGE', 'Request body is larger than the limit')
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new AppError('VALIDATION_FAILED', 'Unsupported Content-Type; send application/json')
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new AppError('VALIDATION_FAILED', 'Body is empty; send a JSON object')
  if (status === 400 && (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY')) {
    return new AppError('VALIDATION_FAILED', 'Body is not valid JSON')
  }
  if (status >= 400 && status < 500) {
    return new AppError(STATUS_CODES[status] ?? 'VALIDATION_FAILED', fe.message)
  }
  return new AppError('INTERNAL_ERROR', 'Internal Server Error')
}

export default fp(async function errorsPlugin (app: FastifyInstance) {
  app.setErrorHandler(function handleError (err: FastifyError, request, reply) {
    const appErr = toAppError(err)
    if (appErr.error_code === 'BUS_UNAVAILABLE') {
      // Expected while Redis is down, whose loss and return the connection logs once each: a line with a stack
      // per refused request (clients retry) would flood the log.
      request.log.debug({ code: appErr.error_code }, 'request refused: shared bus unavailable')
    } else if (appErr.statusCode >= 500) {
      request.log.error({ err }, 'request failed')
    } else if (!isAppError(err)) {
      request.log.info({ code: appErr.error_code, msg: appErr.message }, 'request rejected')
    }
    const retryAfter = appErr.details?.retry_after_seconds
    if (appErr.statusCode === 429 && typeof retryAfter === 'number' && reply.getHeader('retry-after') === undefined) {
      void reply.header('retry-after', String(retryAfter))
    }
    // Fastify's own 4xx keep their precise status (413, 415); their code comes from the mapping above.
    const fastifyStatus = !isAppError(err) && err.validation === undefined && err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined
    void reply.code(fastifyStatus ?? appErr.statusCode).send(appErr.toBody())
  })

  app.setNotFoundHandler(function notFound (request, reply) {
    void reply.code(404).send(new AppError('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`).toBody())
  })
}, { name: 'errors' })
