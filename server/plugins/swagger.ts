// OpenAPI 3.1 document from the registered TypeBox schemas (components named by `$id`), Swagger UI at /docs
// and the raw spec at /openapi.json. Used by scripts/emit-openapi.ts without listening.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

export const API_VERSION = '0.1.0'

export default fp(async function swaggerPlugin (app: FastifyInstance) {
  // @fastify/swagger marks every request body required; routes with `config.optionalBody` take none.
  const optionalBodies = new Set<string>()
  app.addHook('onRoute', (route) => {
    const operationId = (route.schema as { operationId?: unknown } | undefined)?.operationId
    if (route.config?.optionalBody === true && typeof operationId === 'string') optionalBodies.add(operationId)
  })
  await app.register(swagger, {
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      const openapiObject = document.openapiObject
      for (const item of Object.values(openapiObject.paths ?? {})) {
        for (const op of Object.values(item ?? {}) as Array<{ operationId?: string, requestBody?: { required?: boolean } }>) {
          if (op?.requestBody !== undefined && op.operationId !== undefined && optionalBodies.has(op.operationId)) op.requestBody.required = false
        }
      }
      return openapiObject
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SimuTrador API',
        version: API_VERSION,
        description: 'Trading-simulation server. Exchange an API key at POST /auth/token, then send `Authorization: Bearer <token>`; ' +
          'or send the key itself as `X-API-Key` on any REST route (the WebSocket takes tokens only). ' +
          'Live simulations stream over the WebSocket `GET /ws/simulate?token=<token>`; its message schemas are listed under components.'
      },
      tags: [
        { name: 'auth', description: 'API key → token exchange and identity' },
        { name: 'sessions', description: 'Simulation sessions' },
        { name: 'market-data', description: 'Symbols, validation and bars' },
        { name: 'simulation', description: 'Running sessions: control, orders, account and results' },
        { name: 'system', description: 'Health and metrics' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /auth/token' },
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'Your API key: exchanged at POST /auth/token, and accepted as it is on every REST route (checked on each ' +
              'request; a wrong key counts in the same failure throttle as /auth/token). A bearer token, when sent, is used instead.'
          }
        }
      }
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'swagger' })
