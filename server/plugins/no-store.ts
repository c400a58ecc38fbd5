// Responses that carry credentials or one user's data are never stored by a browser or a proxy (RFC 6749
// §5.1 for the token exchange, RFC 9111 `no-store`): `Cache-Control: no-store` and `Pragma: no-cache` on every
// response to a request that presents a credential, and on every answer of the token exchange, errors included.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'

/** Routes whose every answer is private even without a credential (an error can still name the key's throttle). */
const ALWAYS_PRIVATE = new Set(['/auth/token', '/me'])

/** True when the request presents a credential: a bearer token, an API key, or the WebSocket `?token=`. */
function presentsCredential (request: FastifyRequest): boolean {
  const h = request.headers
  if (h.authorization !== undefined || h['x-api-key'] !== undefined) return true
  const q = request.url.indexOf('?')
  return q !== -1 && /(?:^|&)token=/.test(request.url.slice(q + 1))
}

export default fp(async function noStorePlugin (app: FastifyInstance) {
  app.addHook('onSend', async (request, reply) => {
    if (!ALWAYS_PRIVATE.has(request.routeOptions.url ?? '') && !presentsCredential(request)) return
    // A handler that chose its own caching (none does today for private data) keeps it.
    if (reply.hasHeader('cache-control')) return
    void reply.header('cache-control', 'no-store')
    void reply.header('pragma', 'no-cache')
  })
}, { name: 'no-store' })
