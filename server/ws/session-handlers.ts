// WebSocket session operations: create_session, get_session, list_sessions, delete_session — the same
// service calls as the REST routes, so both transports agree on every outcome; failures are session_error.
// Every change to a user's sessions, from either transport or the runner, on any instance, is also pushed to
// all of that user's connections on this instance (`session_updated`, `session_deleted`, without request_id;
// app.sessionEvents brings other instances' changes here): a dashboard sees sessions being created, started,
// paused, completed or expired live. The requester hears its reply before the push of its own change
// (reply-first.ts).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { CreateSessionData, DeleteSessionData, GetSessionData, ListSessionsData } from '../../schemas/sessions.js'
import { pushAfterReply } from './reply-first.js'

export default fp(async function sessionWsHandlers (app: FastifyInstance) {
  const { dispatcher, connections } = app.ws
  app.ws.supportedFeatures.push('sessions', 'session_events')

  const unsubscribe = app.sessionEvents.subscribe((event) => {
    const targets = connections.forUser(event.user_id)
    if (targets.size === 0) return
    const gone = event.kind === 'deleted' || event.kind === 'expired'
    const type = gone ? 'session_deleted' : 'session_updated'
    const data = gone ? { session_id: event.session.session_id, deleted: true } : event.session
    for (const conn of targets) pushAfterReply(conn, type, data)
  })
  app.addHook('onClose', async () => { unsubscribe() })

  dispatcher.register({
    type: 'create_session',
    schema: CreateSessionData,
    family: 'session',
    async handle (ctx, data) {
      const { idempotency_key: key, ...body } = data
      const { session } = await app.sessionOps.create(ctx.conn.user, body, key)
      ctx.reply('session_created', session)
    }
  })

  dispatcher.register({
    type: 'get_session',
    schema: GetSessionData,
    family: 'session',
    async handle (ctx, data) {
      ctx.reply('session_info', await app.sessions.get(ctx.conn.user, data.session_id))
    }
  })

  dispatcher.register({
    type: 'list_sessions',
    schema: ListSessionsData,
    family: 'session',
    async handle (ctx, data) {
      ctx.reply('session_list', await app.sessions.list(ctx.conn.user, data))
    }
  })

  dispatcher.register({
    type: 'delete_session',
    schema: DeleteSessionData,
    family: 'session',
    async handle (ctx, data) {
      ctx.reply('session_deleted', await app.sessions.delete(ctx.conn.user, data.session_id))
    }
  })
}, { name: 'ws-session-handlers', dependencies: ['ws-gateway', 'services'] })
