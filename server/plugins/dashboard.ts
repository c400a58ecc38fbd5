// The web dashboard (dashboard/, built by Vite into dashboard/dist at install) served at `/`, with security
// headers that allow only its own scripts. Encapsulated on purpose: helmet's CSP must not reach /docs.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import helmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'

// From the package root (found by self-reference), so the sources (tsx) and dist/server/ find the same folder.
export const DASHBOARD_DIST = join(dirname(createRequire(import.meta.url).resolve('simutrador/package.json')), 'dashboard/dist/')

export interface DashboardOptions {
  /** Folder of the built dashboard (tests point it elsewhere). */
  root?: string
}

export default async function dashboardPlugin (app: FastifyInstance, opts: DashboardOptions) {
  const root = opts.root ?? DASHBOARD_DIST
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        // The chart library styles the elements it creates inline; styles cannot run code, scripts stay 'self' only.
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        // REST and the WebSocket on this origin only ('self' covers ws:/wss: to the same host).
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"]
      }
    },
    // The dashboard fetches nothing cross-origin and embeds nothing: the strict defaults fit.
    crossOriginEmbedderPolicy: false
  })

  if (!existsSync(`${root}/index.html`)) {
    app.log.warn({ root }, 'dashboard not built: GET / explains how to build it')
    app.get('/', { schema: { hide: true } }, async (_request, reply) => {
      return await reply.code(503).type('text/plain; charset=utf-8')
        .send('The dashboard is not built. Run `npm run dashboard:build` (npm ci does it) and restart the server.\n')
    })
    return
  }
  // wildcard: false registers one route per built file, so unknown paths keep the API's JSON 404.
  await app.register(fastifyStatic, { root, prefix: '/', wildcard: false, index: ['index.html'], schemaHide: true })
}
