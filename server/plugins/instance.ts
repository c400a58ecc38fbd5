// With several instances (REDIS_URL), every response names the instance that answered
// (`X-SimuTrador-Instance`), so an operator behind a load balancer can tell where a request went.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export const INSTANCE_HEADER = 'x-simutrador-instance'

export default fp(async function instancePlugin (app: FastifyInstance, opts: { instanceId: string, shared: boolean }) {
  if (!opts.shared) return
  app.addHook('onSend', async (_request, reply) => {
    reply.header(INSTANCE_HEADER, opts.instanceId)
  })
}, { name: 'instance' })
