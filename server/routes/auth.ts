// POST /auth/token (API key → JWT) and GET /me. Thin adapters over app.auth and the plan table.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ApiKeyRegistry } from '../auth/api-keys.js'
import { limitsFor } from '../plans.js'
import { clientAddress } from '../plugins/rate-limit.js'
import type { Me, TokenResponse } from '../../schemas/auth.js'
import { bearer, errorResponses } from './route-options.js'

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/auth/token', {
    schema: {
      operationId: 'createToken',
      tags: ['auth'],
      summary: 'Exchange an API key for an access token',
      security: [{ apiKey: [] }],
      headers: Type.Object({ 'x-api-key': Type.Optional(Type.String({ maxLength: 256 })) }),
      response: { 200: Type.Ref('TokenResponse'), ...errorResponses(401, 429) }
    },
    config: {
      // Successful exchanges are limited per key (fingerprint), never per address; failures are throttled per
      // address inside app.auth.exchange, which never refuses a valid key (so no NAT neighbour can lock
      // a user out).
      rateLimit: {
        hook: 'onRequest',
        max: app.config.authTokensPerMinutePerKey,
        keyGenerator: (request) => {
          const key = request.headers['x-api-key']
          return typeof key === 'string' && key.length > 0 ? `key:${ApiKeyRegistry.fingerprint(key)}` : `ip:${clientAddress(request)}`
        }
      }
    }
  }, async (request): Promise<TokenResponse> => {
    const key = request.headers['x-api-key']
    return await app.auth.exchange(typeof key === 'string' ? key : undefined, clientAddress(request))
  })

  app.get('/me', {
    schema: {
      operationId: 'getMe',
      tags: ['auth'],
      summary: 'The caller, its plan limits and current usage',
      security: bearer,
      response: { 200: Type.Ref('Me'), ...errorResponses(401, 429, 503) }
    },
    preValidation: app.authenticate,
    config: { rateLimit: {} }
  }, async (request): Promise<Me> => {
    const user = request.user
    const usage = await app.sessions.usage(user)
    return { user_id: user.user_id, plan: user.plan, limits: limitsFor(user.plan), usage: { ...usage, open_connections: await app.ws.openConnections(user.user_id) } }
  })
}

export default authRoutes
