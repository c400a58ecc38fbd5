// Opens the shared bus (REDIS_URL) before anything that counts through it: the rate limiter's store, the
// authentication throttle and the WebSocket gateway's connection counts register after this plugin, and the
// services after them. Decorates `app.redis` (undefined without REDIS_URL: one instance, no Redis) and closes
// it last (Fastify runs onClose hooks in reverse order of registration), after every user of it.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { openRedis, type RedisBus } from '../adapters/redis/connection.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared bus when REDIS_URL is set (several instances as one service); undefined alone. */
    redis: RedisBus | undefined
  }
}

export default fp(async function redisPlugin (app: FastifyInstance, opts: { config: Config }) {
  const redis = opts.config.redis !== undefined ? await openRedis(opts.config.redis, app.log) : undefined
  app.decorate('redis', redis)
  app.addHook('onClose', async () => { await redis?.close() })
}, { name: 'redis' })
