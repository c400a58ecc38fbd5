// GET /health: liveness for load balancers and humans (no auth).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { API_VERSION } from '../plugins/swagger.js'
import type { Health } from '../../schemas/health.js'

const started = Date.now()

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    schema: {
      operationId: 'getHealth',
      tags: ['system'],
      summary: 'Liveness',
      response: { 200: Type.Ref('Health') }
    }
  }, async (): Promise<Health> => ({
    status: 'ok',
    version: API_VERSION,
    uptime_sec: Math.round((Date.now() - started) / 1000),
    server_time: new Date().toISOString(),
    instance_id: app.config.instanceId,
    bus: app.redis === undefined ? 'none' : app.redis.ready ? 'ready' : 'down'
  }))
}

export default healthRoutes
