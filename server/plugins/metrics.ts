// Prometheus metrics (prom-client) with one Registry per app instance, so building the app twice (tests)
// never hits "already registered". Features add their instruments to `app.metrics`.
import fp from 'fastify-plugin'
import { Registry, Histogram, Counter, Gauge } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from '../app-error.js'
import { bearerToken } from './auth.js'

export interface AppMetrics {
  readonly registry: Registry
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  readonly wsConnections: Gauge
  readonly sessionsCreated: Counter
  readonly sessionsFailed: Counter<'error_code'>
  readonly sessionsByState: Gauge<'state'>
  readonly validationDuration: Histogram
  /** WebSocket connections closed with 4008 because their outbound backlog did not drain (or passed the ceiling). */
  readonly wsSlowConsumerCloses: Counter
  /** WebSocket messages refused by the per-connection bucket, and session pushes dropped for a connection over its backlog. */
  readonly wsMessagesThrottled: Counter<'reason'>
  /** WebSocket connections closed with 1008 for sustained abuse of the message bucket. */
  readonly wsRateLimitCloses: Counter
}

declare module 'fastify' {
  interface FastifyInstance { metrics: AppMetrics }
}

const REQUEST_START = Symbol('requestStart')

export default fp(async function metricsPlugin (app: FastifyInstance, opts: { enabled: boolean, token?: string }) {
  const registry = new Registry()
  const metrics: AppMetrics = {
    registry,
    httpDuration: new Histogram({ name: 'simutrador_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
    wsConnections: new Gauge({ name: 'simutrador_ws_connections', help: 'Open WebSocket connections', registers: [registry], collect () { this.set(app.ws?.connections.size ?? 0) } }),
    sessionsCreated: new Counter({ name: 'simutrador_sessions_created_total', help: 'Sessions created', registers: [registry] }),
    sessionsFailed: new Counter({ name: 'simutrador_sessions_failed_total', help: 'Session creations refused, by error code', labelNames: ['error_code'], registers: [registry] }),
    sessionsByState: new Gauge({ name: 'simutrador_sessions', help: 'Stored sessions by state', labelNames: ['state'], registers: [registry] }),
    validationDuration: new Histogram({ name: 'simutrador_market_data_validation_seconds', help: 'Market-data validation latency', buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05], registers: [registry] }),
    wsSlowConsumerCloses: new Counter({ name: 'simutrador_ws_slow_consumer_closes_total', help: 'WebSocket connections closed 4008 slow_consumer', registers: [registry] }),
    wsMessagesThrottled: new Counter({ name: 'simutrador_ws_messages_throttled_total', help: 'WebSocket messages refused by the rate bucket (rate_limited) or session pushes dropped over backlog (push_dropped)', labelNames: ['reason'], registers: [registry] }),
    wsRateLimitCloses: new Counter({ name: 'simutrador_ws_rate_limit_closes_total', help: 'WebSocket connections closed 1008 for sustained rate-limit abuse', registers: [registry] })
  }
  app.decorate('metrics', metrics)

  app.addHook('onRequest', async (request) => {
    (request as unknown as Record<symbol, bigint>)[REQUEST_START] = process.hrtime.bigint()
  })
  app.addHook('onResponse', async (request, reply) => {
    const start = (request as unknown as Record<symbol, bigint | undefined>)[REQUEST_START]
    if (start === undefined) return
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, seconds)
  })

  if (opts.enabled) {
    const expected = opts.token === undefined ? undefined : createHash('sha256').update(opts.token).digest()
    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (expected !== undefined) {
        // Compared as digests in constant time: the scrape token must not leak through response timing.
        const given = createHash('sha256').update(bearerToken(request.headers.authorization) ?? '').digest()
        if (!timingSafeEqual(given, expected)) throw new AppError('UNAUTHORIZED', 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>')
      }
      void reply.header('content-type', registry.contentType)
      return await registry.metrics()
    })
  }
}, { name: 'metrics' })
