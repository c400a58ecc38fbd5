// The WebSocket gateway `GET /ws/simulate`: authenticates before the upgrade (401, no 101), enforces per-plan
// connection limits, greets with `connection_ready`, answers `ping`, closes idle and expired connections with a
// warning first, and says `connection_closing` + 1001 to every client on shutdown. Each connection gets its
// bounds here (outbound backlog and JSON depth from config, message bucket and in-flight cap from the plan).
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { PingData, WsQuery, type ConnectionReadyData } from '../../schemas/ws-messages.js'
import { AppError } from '../app-error.js'
import { busUnavailable } from '../adapters/redis/connection.js'
import { RedisConnectionSlots } from '../adapters/redis/ws-connection-slots.js'
import { limitsFor } from '../plans.js'
import { bearerToken } from '../plugins/auth.js'
import type { Config } from '../config.js'
import { WsDispatcher } from './dispatcher.js'
import { UserBuckets } from './message-bucket.js'
import { CLOSE_POLICY, WsConnection, type ConnectionCounters } from './connection.js'

export const WS_PATH = '/ws/simulate'
const CLOSE_GOING_AWAY = 1001
const CLOSE_TOKEN_EXPIRED = 4001
const CLOSE_IDLE = 4002
const TOKEN_WARNING_MS = 60_000

/** Open connections by user, for plan limits, broadcast and shutdown. */
export class ConnectionRegistry {
  readonly #byUser = new Map<string, Set<WsConnection>>()

  add (conn: WsConnection): number {
    let set = this.#byUser.get(conn.user.user_id)
    if (set === undefined) { set = new Set(); this.#byUser.set(conn.user.user_id, set) }
    set.add(conn)
    return set.size
  }

  remove (conn: WsConnection): void {
    const set = this.#byUser.get(conn.user.user_id)
    if (set === undefined) return
    set.delete(conn)
    if (set.size === 0) this.#byUser.delete(conn.user.user_id)
  }

  countFor (userId: string): number { return this.#byUser.get(userId)?.size ?? 0 }
  forUser (userId: string): ReadonlySet<WsConnection> { return this.#byUser.get(userId) ?? new Set() }
  get size (): number { let n = 0; for (const s of this.#byUser.values()) n += s.size; return n }
  * all (): Iterable<WsConnection> { for (const s of this.#byUser.values()) yield * s }
}

export interface WsGateway {
  readonly dispatcher: WsDispatcher
  /** This instance's connections. */
  readonly connections: ConnectionRegistry
  readonly supportedFeatures: string[]
  /** The user's open connections on every instance (this instance's alone without Redis, or while it is down). */
  openConnections: (userId: string) => Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance { ws: WsGateway }
}

export default fp(async function gatewayPlugin (app: FastifyInstance, opts: { config: Config, references: TSchema[] }) {
  const { config } = opts
  const dispatcher = new WsDispatcher(opts.references)
  const connections = new ConnectionRegistry()
  // One message bucket per user (not per connection): more sockets buy no more of the server.
  const buckets = new UserBuckets()
  // With Redis the plan's ws_connections counts the user's connections on every instance (slots in Redis);
  // alone, this instance's registry is the count.
  const slots = app.redis !== undefined ? new RedisConnectionSlots(app.redis) : undefined
  const gateway: WsGateway = {
    dispatcher,
    connections,
    supportedFeatures: [],
    async openConnections (userId) {
      if (slots === undefined) return connections.countFor(userId)
      return await slots.count(userId).catch(() => connections.countFor(userId))
    }
  }
  app.decorate('ws', gateway)
  if (slots !== undefined) app.addHook('onClose', async () => { await slots.close() })
  const counters: ConnectionCounters = {
    slowConsumerCloses: app.metrics.wsSlowConsumerCloses,
    rateLimitCloses: app.metrics.wsRateLimitCloses,
    messagesThrottled: app.metrics.wsMessagesThrottled
  }

  // closeTimeout is missing from @types/ws; without it a closing socket can hold the process for 30 s.
  const wsOptions = { maxPayload: config.wsMaxPayload, closeTimeout: 1000 }
  await app.register(websocket, {
    options: wsOptions,
    // Replaces the plugin's default (a bare close()) so clients learn why and get 1001 Going Away.
    preClose (done) {
      for (const conn of [...connections.all()]) closeWith(conn, 'server_shutdown', 'Server is shutting down', CLOSE_GOING_AWAY)
      this.websocketServer.close()
      done()
    },
    errorHandler (err, socket, request) {
      // ws has already queued close(1009) for oversize frames; terminating now would turn it into 1006.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return
      request.log.warn({ err }, 'WebSocket error')
      socket.terminate()
    }
  })

  dispatcher.register({
    type: 'ping',
    schema: PingData,
    family: 'system',
    handle (ctx, data) {
      ctx.reply('pong', { server_time: new Date().toISOString(), ...(data.client_time !== undefined ? { client_time: data.client_time } : {}) })
    }
  })

  async function authenticateUpgrade (request: FastifyRequest<{ Querystring: { token?: string } }>): Promise<void> {
    const token = request.query.token ?? bearerToken(request.headers.authorization)
    const user = app.auth.verify(token)
    const limit = limitsFor(user.plan).ws_connections
    const full = (): AppError => new AppError('CONNECTION_LIMIT_EXCEEDED', `Plan '${user.plan}' allows ${limit} WebSocket connection(s)`, { limit, retry_after_seconds: 1 })
    if (connections.countFor(user.user_id) >= limit) throw full()
    if (slots !== undefined) {
      // Refused before the 101 when the count cannot be checked: connections already open are not affected.
      let slot: string | undefined
      try {
        slot = await slots.acquire(user.user_id, limit)
      } catch (err) {
        throw busUnavailable(err)
      }
      if (slot === undefined) throw full()
      // The TCP socket's end is the one event every outcome reaches: a closed connection, and an upgrade
      // that never completed (the slot must not count until its TTL).
      const socket = request.raw.socket as Socket | null
      if (socket === null || socket.destroyed) slots.release(slot)
      else socket.once('close', () => { slots.release(slot) })
    }
    request.user = user
  }

  app.get<{ Querystring: { token?: string } }>(WS_PATH, {
    schema: { querystring: WsQuery, hide: true },
    preValidation: authenticateUpgrade,
    websocket: true
  }, (socket, request) => {
    const user = request.user
    const limits = limitsFor(user.plan)
    const bucket = buckets.acquire(user.user_id, limits.ws_messages_per_second, limits.ws_message_burst)
    const conn = new WsConnection(socket, user, dispatcher, request.log, {
      maxBacklogBytes: config.wsMaxBacklogBytes,
      slowConsumerMs: config.wsSlowConsumerMs,
      maxJsonDepth: config.maxJsonDepth,
      bucket,
      requestsInFlight: limits.ws_requests_in_flight
    }, counters)
    const count = connections.add(conn)
    const timers: { idle?: NodeJS.Timeout, warn?: NodeJS.Timeout, expiry?: NodeJS.Timeout } = {}
    conn.onClose(() => {
      connections.remove(conn)
      buckets.release(user.user_id, bucket)
      clearTimeout(timers.idle); clearTimeout(timers.warn); clearTimeout(timers.expiry)
    })
    if (count > limits.ws_connections) {
      // Lost a race with a concurrent upgrade of the same user: the limit holds exactly.
      closeWith(conn, 'connection_limit', `Plan '${user.plan}' allows ${limits.ws_connections} WebSocket connection(s)`, CLOSE_POLICY)
      return
    }

    const expiresAt = user.exp * 1000
    const ready: ConnectionReadyData = {
      user_id: user.user_id,
      plan: user.plan,
      server_time: new Date().toISOString(),
      connection_expires_at: new Date(expiresAt).toISOString(),
      idle_timeout_sec: config.wsIdleTimeoutSec,
      limits,
      supported_features: gateway.supportedFeatures,
      max_payload_bytes: config.wsMaxPayload
    }
    conn.send('connection_ready', ready)

    const untilExpiry = expiresAt - Date.now()
    timers.warn = setTimeout(() => {
      conn.send('connection_warning', { reason: 'token_expiring', message: 'Access token expires soon; reconnect with a fresh token', closes_at: new Date(expiresAt).toISOString() })
    }, Math.max(0, untilExpiry - TOKEN_WARNING_MS))
    timers.expiry = setTimeout(() => {
      closeWith(conn, 'token_expired', 'Access token expired', CLOSE_TOKEN_EXPIRED)
    }, Math.max(0, untilExpiry))
    timers.warn.unref(); timers.expiry.unref()

    const idleMs = config.wsIdleTimeoutSec * 1000
    const checkIdle = (): void => {
      const idleFor = Date.now() - conn.lastActivity
      if (idleFor >= idleMs) {
        closeWith(conn, 'idle_timeout', `No message for ${config.wsIdleTimeoutSec} s`, CLOSE_IDLE)
        return
      }
      timers.idle = setTimeout(checkIdle, idleMs - idleFor)
      timers.idle.unref()
    }
    timers.idle = setTimeout(checkIdle, idleMs)
    timers.idle.unref()
  })

  function closeWith (conn: WsConnection, reason: 'server_shutdown' | 'token_expired' | 'idle_timeout' | 'connection_limit', message: string, code: number): void {
    conn.send('connection_closing', { reason, message, close_code: code })
    conn.close(code, reason)
  }
}, { name: 'ws-gateway', dependencies: ['auth', 'metrics', 'redis'] })
