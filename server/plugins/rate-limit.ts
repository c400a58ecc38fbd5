// Per-user request limits from the caller's plan, counted after authentication (hook: preHandler) so the
// bucket is the user, not an address. Routes opt in with `config.rateLimit`; the WebSocket route does not
// (its connections and messages have their own plan limits), which also keeps injectWS upgrades working.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../app-error.js'
import { limitsFor } from '../plans.js'

export function clientAddress (request: FastifyRequest): string {
  // Under injectWS request.ip is undefined; the default generator would throw.
  return request.ip ?? 'inject'
}

export default fp(async function rateLimitPlugin (app: FastifyInstance) {
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    timeWindow: 60_000,
    max: (request) => request.user?.plan !== undefined ? limitsFor(request.user.plan).requests_per_minute : 60,
    keyGenerator: (request) => request.user?.user_id !== undefined ? `user:${request.user.user_id}` : `ip:${clientAddress(request)}`,
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
      return new AppError('RATE_LIMIT_EXCEEDED', `Rate limit of ${context.max} requests per minute exceeded, retry in ${seconds} s`, { retry_after_seconds: seconds, limit: context.max })
    }
  })
}, { name: 'rate-limit', dependencies: ['auth'] })

/** Route config for an authenticated route limited per user by plan. */
export const perUserLimit = { rateLimit: {} }
