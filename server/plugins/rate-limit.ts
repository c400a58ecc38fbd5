// Per-user request limits from the caller's plan, counted after authentication (hook: preHandler) so the
// bucket is the user, not an address. Routes opt in with `config.rateLimit`; the WebSocket route does not
// (its connections and messages have their own plan limits), which also keeps injectWS upgrades working.
import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../app-error.js'
import { limitsFor } from '../plans.js'

export function clientAddress (request: FastifyRequest): string {
  // Under injectWS request.ip is undefined; the default generator would throw.
  return request.ip ?? 'inject'
}

/** Most buckets kept (users, keys, addresses); the least recently counted is dropped beyond it. */
const MAX_BUCKETS = 10_000

/**
 * One fixed-window counter table for every route. @fastify/rate-limit's own LocalStore gives each route a
 * child table, which made `requests_per_minute` an allowance per route (120 on /me, 120 more on each
 * market-data route, …). Keys already say whose bucket it is (`user:…`, `key:…`, `ip:…`), so every route
 * shares this one table.
 */
export class SharedWindowStore implements FastifyRateLimitStore {
  readonly #windows = new Map<string, { current: number, start: number }>()
  readonly #maxBuckets: number

  /** The plugin constructs it with its own options (no `maxBuckets`), so the default applies there. */
  constructor (options: { maxBuckets?: number } = {}) {
    this.#maxBuckets = options.maxBuckets ?? MAX_BUCKETS
  }

  incr (key: string, callback: (error: Error | null, result?: { current: number, ttl: number }) => void, timeWindow: number): void {
    const now = Date.now()
    let w = this.#windows.get(key)
    if (w === undefined || w.start + timeWindow <= now) w = { current: 0, start: now }
    w.current++
    // Re-inserted so the Map's order is recency and the first key is the one to drop.
    this.#windows.delete(key)
    this.#windows.set(key, w)
    if (this.#windows.size > this.#maxBuckets) this.#windows.delete(this.#windows.keys().next().value as string)
    callback(null, { current: w.current, ttl: w.start + timeWindow - now })
  }

  child (): this {
    return this
  }
}

export default fp(async function rateLimitPlugin (app: FastifyInstance) {
  await app.register(rateLimit, {
    global: false,
    // One instance per app (the plugin constructs it once); child() hands the same table to every route.
    store: SharedWindowStore,
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
