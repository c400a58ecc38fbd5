// Builds the SimuTrador Fastify app (never listens: server/main.ts does). Tests and scripts build it the
// same way. Order matters: schemas, error mapping, CORS, the shared bus (Redis), auth, rate limits, docs, WebSocket gateway, then routes, and the dashboard at `/` last.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { allSchemas } from '../schemas/index.js'
import type { Config } from './config.js'
import type { Storage } from './ports/storage.js'
import { buildValidator } from './validation.js'
import errorsPlugin from './plugins/errors.js'
import instancePlugin from './plugins/instance.js'
import noStorePlugin from './plugins/no-store.js'
import jsonBodyPlugin from './plugins/json-body.js'
import authPlugin from './plugins/auth.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import redisPlugin from './plugins/redis.js'
import swaggerPlugin from './plugins/swagger.js'
import corsPlugin from './plugins/cors.js'
import dashboardPlugin from './plugins/dashboard.js'
import metricsPlugin from './plugins/metrics.js'
import gatewayPlugin from './ws/gateway.js'
import servicesPlugin from './plugins/services.js'
import sessionWsHandlers from './ws/session-handlers.js'
import simulationWsHandlers from './ws/simulation-handlers.js'
import healthRoutes from './routes/health.js'
import authRoutes from './routes/auth.js'
import sessionRoutes from './routes/sessions.js'
import marketDataRoutes from './routes/market-data.js'
import simulationRoutes from './routes/simulation.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface BuildOptions {
  /** Fastify logger option; tests pass false. */
  logger?: FastifyServerOptions['logger']
  /** Clock for the services (tests of expiry and validation). */
  now?: () => number
  /** Storage to use instead of opening the configured one; the caller closes it (tests, benchmarks). */
  storage?: Storage
}

/** Never log a token: drop the query string (`?token=`) from logged URLs; headers are not logged at all. */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : `${url.slice(0, q)}?[redacted]`
}

/** Every log line names the instance (several instances share one log pipeline). */
export function loggerOptions (level: string, instanceId?: string): FastifyServerOptions['logger'] {
  return {
    level,
    ...(instanceId !== undefined ? { base: { pid: process.pid, instance: instanceId } } : {}),
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.query.token'], censor: '[redacted]' },
    serializers: {
      req (req: { method: string, url: string, id: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url) }
      }
    }
  }
}

export async function buildApp (config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? loggerOptions(config.logLevel, config.instanceId),
    bodyLimit: config.bodyLimit,
    requestTimeout: config.requestTimeout,
    connectionTimeout: config.requestTimeout,
    return503OnClosing: true,
    ...(config.trustProxy !== undefined ? { trustProxy: config.trustProxy } : {}),
    // Opening storage can take a while: creating the embedded database folder costs several seconds.
    pluginTimeout: 120_000,
    schemaController: { compilersFactory: { buildValidator } },
    ajv: { customOptions: { removeAdditional: false, useDefaults: true, coerceTypes: 'array' } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  for (const schema of allSchemas) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(corsPlugin, { origins: config.corsOrigins })
  await app.register(instancePlugin, { instanceId: config.instanceId, shared: config.redis !== undefined })
  await app.register(noStorePlugin)
  await app.register(jsonBodyPlugin, { maxDepth: config.maxJsonDepth })
  await app.register(metricsPlugin, { enabled: config.metricsEnabled, ...(config.metricsToken !== undefined ? { token: config.metricsToken } : {}) })
  await app.register(redisPlugin, { config })
  await app.register(authPlugin, { config })
  await app.register(rateLimitPlugin)
  await app.register(swaggerPlugin)
  await app.register(gatewayPlugin, { config, references: allSchemas })
  await app.register(servicesPlugin, { config, now: opts.now, storage: opts.storage })

  await app.register(healthRoutes)
  await app.register(authRoutes)
  await app.register(marketDataRoutes)
  await app.register(sessionRoutes)
  await app.register(simulationRoutes)
  await app.register(sessionWsHandlers)
  await app.register(simulationWsHandlers)
  await app.register(dashboardPlugin)
  return app
}
