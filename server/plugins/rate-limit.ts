// Per-user request limits from the caller's plan, counted after authentication (hook: preHandler) so the
// bucket is the user, not an address. Routes opt in with `config.rateLimit`; the WebSocket route does not
// (its connections and messages have their own plan limits), which also keeps injectWS upgrades working.
// With REDIS_URL the counters live in Redis (the plugin's own RedisStore, on a dedicated fail-fast
// connection), so a user's requests_per_minute is one allowance across every instance; while Redis is down
// requests are let through uncounted (skipOnError) rather than refused.
import { once } from 'node:events'
import { createRequire } from 'node:module'
import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
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

/** A counter command slower than this is skipped (the request goes through uncounted). */
export const RATE_LIMIT_REDIS_TIMEOUT_MS = 500
/** How long start-up waits for the rate limiter's connection before counting starts without it. */
const CONNECT_WAIT_MS = 2000

type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key: string) => FastifyRateLimitStore
// The plugin's RedisStore (a fixed window per key: INCR, PEXPIRE on the first hit, in one Lua script) is not
// exported from its entry point; the package has no "exports" map, so its file is reachable.
const PluginRedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor

/**
 * The plugin's RedisStore with one table for every route, as SharedWindowStore: its own child() appends the
 * route (`<prefix>GET/me-user:alice`), which would make requests_per_minute an allowance per route again.
 * Keys are `<REDIS_KEY_PREFIX>rl:user:<id>` (or `key:`/`ip:`), each expiring with its window.
 */
export function sharedRedisStore (redis: Redis, keyPrefix: string): FastifyRateLimitStoreCtor {
  return class SharedRedisStore extends PluginRedisStore {
    constructor () {
      super(false, false, redis, `${keyPrefix}rl:`)
    }

    override child (): this {
      return this
    }
  }
}

/** A connection of its own, failing fast, so counting never queues behind (or waits for) other Redis work. */
async function rateLimitConnection (app: FastifyInstance): Promise<Redis | undefined> {
  if (app.redis === undefined) return undefined
  const redis = app.redis.dedicated('rate-limit', { commandTimeoutMs: RATE_LIMIT_REDIS_TIMEOUT_MS, offlineQueue: false })
  if (redis.status !== 'ready') {
    const ac = new AbortController()
    const timer = setTimeout(() => { ac.abort() }, CONNECT_WAIT_MS)
    await once(redis, 'ready', { signal: ac.signal }).catch(() => undefined)
    clearTimeout(timer)
  }
  return redis
}

export default fp(async function rateLimitPlugin (app: FastifyInstance) {
  const redis = await rateLimitConnection(app)
  await app.register(rateLimit, {
    global: false,
    // One instance per app (the plugin constructs it once); child() hands the same table to every route.
    store: redis !== undefined ? sharedRedisStore(redis, app.redis?.config.keyPrefix ?? '') : SharedWindowStore,
    // Only the Redis store can fail: a request is then let through rather than refused (or left waiting).
    skipOnError: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    max: (request) => request.user?.plan !== undefined ? limitsFor(request.user.plan).requests_per_minute : 60,
    keyGenerator: (request) => request.user?.user_id !== undefined ? `user:${request.user.user_id}` : `ip:${clientAddress(request)}`,
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
      return new AppError('RATE_LIMIT_EXCEEDED', `Rate limit of ${context.max} requests per minute exceeded, retry in ${seconds} s`, { retry_after_seconds: seconds, limit: context.max })
    }
  })
}, { name: 'rate-limit', dependencies: ['auth', 'redis'] })

/** Route config for an authenticated route limited per user by plan. */
export const perUserLimit = { rateLimit: {} }
