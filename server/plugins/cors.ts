// Cross-origin access: `CORS_ORIGINS` lists the dashboards on other origins that may call the REST API
// (@fastify/cors) and open WebSockets (Origin checked on the upgrade). Unset, only the server's own origin.
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../app-error.js'

export interface CorsOptions {
  /** Allowed origins, normalised by `parseCorsOrigins` (config.ts). */
  origins: string[]
}

/** The origin a browser on this server's own pages sends: scheme and Host as the request reached us. */
function ownOrigin (request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`.toLowerCase()
}

function isWebSocketUpgrade (request: FastifyRequest): boolean {
  return request.headers.upgrade?.toLowerCase() === 'websocket'
}

export default fp(async function corsPlugin (app: FastifyInstance, opts: CorsOptions) {
  const allowed = new Set(opts.origins)

  // A WebSocket upgrade is not subject to CORS in browsers: refuse other pages' origins before the 101, so a
  // page elsewhere cannot drive a run with a token it obtained. Clients that send no Origin (SDK, CLI) pass.
  // preValidation, not onRequest: @fastify/websocket's onRequest must see the upgrade first, or a refusal leaves the socket open.
  app.addHook('preValidation', async (request) => {
    const origin = request.headers.origin
    if (origin === undefined || !isWebSocketUpgrade(request)) return
    if (origin.toLowerCase() === ownOrigin(request) || allowed.has(origin.toLowerCase())) return
    throw new AppError('ORIGIN_NOT_ALLOWED', `Origin ${origin.slice(0, 200)} may not open a WebSocket here (CORS_ORIGINS)`)
  })

  if (allowed.size === 0) return
  await app.register(cors, {
    origin: (origin, cb) => { cb(null, origin !== undefined && allowed.has(origin.toLowerCase())) },
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-API-Key'],
    exposedHeaders: ['Retry-After', 'Location'],
    maxAge: 600
  })
}, { name: 'cors' })
