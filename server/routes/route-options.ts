// Options every authenticated route shares: authentication before validation (a JWT, or the API key itself),
// the per-user plan rate limit, the security requirement in the spec, and error responses documented as
// ErrorResponse.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes no body, or an empty one even with `Content-Type: application/json`, as `{}`. */
    optionalBody?: boolean
  }
}

const ErrorRef = Type.Ref('ErrorResponse')

/** 503 of every route that reads or writes stored state: declared here once, with what it means. */
const StoreUnavailableRef = Type.Ref('ErrorResponse', {
  description: 'STORE_UNAVAILABLE: the database that holds the state does not answer (for instance while PostgreSQL ' +
    'restarts); retry shortly. The error body of every 4xx/5xx response.'
})

/**
 * `response` entries for the given error statuses, all `ErrorResponse`. Routes that touch storage list 503
 * (STORE_UNAVAILABLE).
 */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorRef> {
  return Object.fromEntries(statuses.map((s) => [s, s === 503 ? StoreUnavailableRef : ErrorRef]))
}

export function authenticated (app: FastifyInstance) {
  return {
    preValidation: app.authenticate,
    config: { rateLimit: {} }
  } as const
}

/** An absent body (left undefined by the JSON parser for `optionalBody` routes) becomes `{}`, then the schema applies its defaults. */
async function absentBodyAsEmptyObject (request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {}
}

/** `authenticated`, for a POST whose JSON body is optional (`curl -X POST …/start` with no `-d`). */
export function authenticatedOptionalBody (app: FastifyInstance) {
  return {
    preValidation: [app.authenticate, absentBodyAsEmptyObject],
    config: { rateLimit: {}, optionalBody: true }
  }
}

/** Either scheme authorizes an authenticated route: a bearer token, or the API key in `X-API-Key`. */
export const bearer: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKey: [] }]
