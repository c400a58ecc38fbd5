// Session CRUD over REST (ARCHITECTURE.md §3): thin adapters over SessionManager; no rules live here.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { CreateSessionBody, ListSessionsQuery, SessionIdParams, UpdateSessionBody } from '../../schemas/sessions.js'
import { authenticated, bearer, errorResponses } from './route-options.js'

const SessionRef = Type.Ref('Session')

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = authenticated(app)

  app.post('/sessions', {
    ...auth,
    schema: {
      operationId: 'createSession',
      tags: ['sessions'],
      summary: 'Create a simulation session',
      description: 'Validates symbols and dates against the market-data catalogue and the plan limits. ' +
        'With `Idempotency-Key`, a retry with the same body returns the original session (header `Idempotent-Replayed: true`); ' +
        'the same key with a different body is 422 IDEMPOTENCY_CONFLICT (draft-ietf-httpapi-idempotency-key-header), even while ' +
        'the first request is still running; the same body sent again while the first runs waits for it and gets its answer. ' +
        'Keys are per user and kept 24 h.',
      security: bearer,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }),
      body: CreateSessionBody,
      response: { 201: SessionRef, ...errorResponses(400, 401, 409, 422, 429, 503) }
    }
  }, async (request, reply) => {
    const { session, replayed } = await app.sessionOps.create(request.user, request.body, request.headers['idempotency-key'])
    if (replayed) void reply.header('idempotent-replayed', 'true')
    return await reply.code(201).send(session)
  })

  app.get('/sessions', {
    ...auth,
    schema: {
      operationId: 'listSessions',
      tags: ['sessions'],
      summary: "List the caller's sessions, newest first",
      security: bearer,
      querystring: ListSessionsQuery,
      response: { 200: Type.Ref('SessionList'), ...errorResponses(400, 401, 429, 503) }
    }
  }, async (request) => await app.sessions.list(request.user, request.query))

  app.get('/sessions/:id', {
    ...auth,
    schema: {
      operationId: 'getSession',
      tags: ['sessions'],
      summary: 'One session (404 for ids of other users)',
      security: bearer,
      params: SessionIdParams,
      response: { 200: SessionRef, ...errorResponses(400, 401, 404, 429, 503) }
    }
  }, async (request) => await app.sessions.get(request.user, request.params.id))

  app.patch('/sessions/:id', {
    ...auth,
    schema: {
      operationId: 'updateSession',
      tags: ['sessions'],
      summary: 'Replace metadata; any PATCH (even {}) refreshes the idle expiry',
      security: bearer,
      params: SessionIdParams,
      body: UpdateSessionBody,
      response: { 200: SessionRef, ...errorResponses(400, 401, 404, 429, 503) }
    }
  }, async (request) => await app.sessions.update(request.user, request.params.id, request.body))

  app.delete('/sessions/:id', {
    ...auth,
    schema: {
      operationId: 'deleteSession',
      tags: ['sessions'],
      summary: 'Delete a session (stops it if running)',
      security: bearer,
      params: SessionIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 404, 429, 503) }
    }
  }, async (request, reply) => {
    await app.sessions.delete(request.user, request.params.id)
    return await reply.code(204).send(null)
  })
}

export default sessionRoutes
