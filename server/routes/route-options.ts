// Options every authenticated route shares: JWT verification before validation, the per-user plan rate
// limit, the bearer security requirement in the spec, and error responses documented as ErrorResponse.
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'

const ErrorRef = Type.Ref('ErrorResponse')

/** `response` entries for the given error statuses, all `ErrorResponse`. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorRef> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorRef]))
}

export function authenticated (app: FastifyInstance) {
  return {
    preValidation: app.authenticate,
    config: { rateLimit: {} }
  } as const
}

export const bearer = [{ bearerAuth: [] }]
