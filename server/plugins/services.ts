// Wires the transport-free services into the app: storage (memory, embedded PostgreSQL or a PostgreSQL
// server, per config), market data, the session manager, the simulation service, and the session
// operations both transports call, so REST and WebSocket count, time and fail identically.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { CreateSessionBody, Session } from '../../schemas/sessions.js'
import type { MarketDataValidation, ValidateMarketDataBody } from '../../schemas/market-data.js'
import { isAppError } from '../app-error.js'
import type { Config } from '../config.js'
import { MarketDataService } from '../market-data/market-data-service.js'
import { SessionManager, type CreateResult, type SessionMarketData, type SessionUser } from '../sessions/session-manager.js'
import { openStorage } from '../adapters/open-storage.js'
import { openRunCluster } from '../adapters/redis/run-cluster.js'
import type { Storage } from '../ports/storage.js'
import type { SessionEvents } from '../ports/session-events.js'
import { LocalSessionEvents } from '../adapters/memory/local-session-events.js'
import { RedisSessionEvents } from '../adapters/redis/session-events.js'
import { SimulationService } from '../simulation/simulation-service.js'
import { FILL_POLICY_VERSION } from '../../schemas/simulation.js'

/** Operations with cross-cutting accounting (metrics) shared by REST routes and WebSocket handlers. */
export interface SessionOperations {
  create: (user: SessionUser, body: CreateSessionBody, idempotencyKey?: string) => Promise<CreateResult>
  validateMarketData: (body: ValidateMarketDataBody) => MarketDataValidation
}

declare module 'fastify' {
  interface FastifyInstance {
    marketData: MarketDataService
    sessions: SessionManager
    sessionOps: SessionOperations
    simulation: SimulationService
    storage: Storage
    /** Session changes of every instance (WebSocket pushes, runs stopped on delete); in-process without Redis. */
    sessionEvents: SessionEvents
  }
}

export interface ServicesOptions {
  config: Config
  /** Clock for services (tests). */
  now?: () => number
  /** Already open storage (the caller closes it); otherwise the configured one is opened and closed here. */
  storage?: Storage | undefined
}

export default fp(async function servicesPlugin (app: FastifyInstance, opts: ServicesOptions) {
  const { config } = opts
  const metrics = app.metrics
  const marketData = new MarketDataService({ dataDir: config.dataDir, demo: config.demoData, now: opts.now })
  await marketData.init()

  const timed = <T>(fn: () => T): T => {
    const end = metrics.validationDuration.startTimer()
    try { return fn() } finally { end() }
  }
  const timedMarketData: SessionMarketData = {
    validateSessionRequest: (req) => timed(() => marketData.validateSessionRequest(req))
  }

  const storage = opts.storage ?? await openStorage(config.storage, app.log)
  // Opened by the redis plugin, before the rate limiter and the gateway that count through it.
  const redis = app.redis
  if (opts.storage === undefined && config.storage.mode === 'postgres' && redis === undefined) {
    app.log.warn('DATABASE_URL without REDIS_URL: this instance works alone. Several instances on one database are unsupported ' +
      'without REDIS_URL (they would pause each other\'s runs at start and not share pushes, runs or limits); see docs/deployment.md.')
  }
  if (redis !== undefined && config.storage.mode !== 'postgres') {
    app.log.warn('REDIS_URL without DATABASE_URL: the state of this instance is its own (embedded or in memory), so other instances ' +
      'cannot serve its sessions. Several instances need one DATABASE_URL and one REDIS_URL; see docs/deployment.md.')
  }

  const sessions = new SessionManager({
    store: storage.sessions,
    idempotency: storage.idempotency,
    marketData: timedMarketData,
    now: opts.now,
    ttlMinutes: config.sessionTtlMinutes,
    retentionDays: config.sessionRetentionDays,
    fillPolicyVersion: FILL_POLICY_VERSION,
    maxJsonDepth: config.maxJsonDepth
  })
  // Every change the manager makes here goes to every instance's listeners (this one's included) through
  // the port; with Redis, changes made on other instances come in through it too.
  const sessionEvents: SessionEvents = redis !== undefined ? new RedisSessionEvents(redis, app.log) : new LocalSessionEvents()
  sessions.subscribe((event) => { sessionEvents.publish(event) })
  await sessionEvents.ready()
  // The calendar's short names (pre/after) as the wire's MarketSession (pre_market/after_hours).
  const WIRE_SESSION = { pre: 'pre_market', regular: 'regular', after: 'after_hours', closed: 'closed' } as const
  // Several instances (Redis and a SQL journal): runs are owned by leases, and a run stored as running may be
  // another instance's live run; one whose owner stopped is found by the pickup once its lease lapsed.
  const runCluster = redis !== undefined && storage.journal !== undefined
    ? await openRunCluster(redis, config.instanceId, (err) => { app.log.error({ err }, 'run ownership') })
    : undefined
  if (runCluster === undefined) {
    const interrupted = await sessions.pauseInterruptedRuns()
    if (interrupted > 0) app.log.warn({ sessions: interrupted }, 'sessions that were running when the server stopped are now paused')
  }
  const simulation = new SimulationService({
    sessions,
    sessionEvents,
    now: opts.now,
    runs: storage.runs,
    marketData: {
      acquireSeries: async (symbol, timeframe, start, end) => await marketData.acquireSeries(symbol, timeframe, start, end),
      marketSessionAt: (symbol, ms) => WIRE_SESSION[marketData.marketSessionAt(symbol, ms)],
      dailyCloseAt: (symbol, day) => marketData.dailyCloseAt(symbol, day)
    },
    onError: (err) => { app.log.error({ err }, 'simulation state update failed') },
    onStrategyError: (info) => { app.log.info(info, 'strategy reported an error; run ended in state error') },
    runner: { unattendedPauseMs: config.unattendedPauseMs },
    eventLog: {
      maxBytesPerRun: config.eventLogMaxBytesPerRun,
      memoryBytesPerRun: config.eventLogMemoryBytesPerRun,
      userBytes: config.eventLogUserBytes,
      retentionHours: config.eventLogRetentionHours
    },
    ...(storage.journal !== undefined ? { journal: runCluster !== undefined ? { inputs: storage.journal.inputs, events: runCluster.events } : storage.journal } : {}),
    ...(runCluster !== undefined
      ? {
          cluster: {
            instanceId: config.instanceId,
            leaseMs: config.runLeaseMs,
            leases: runCluster.leases,
            commands: runCluster.commands,
            follower: runCluster.follower,
            listRunning: async (before, limit, offset) => await sessions.listRunningBefore(before, limit, offset),
            onInfo: (info, message) => { app.log.info(info, message) }
          }
        }
      : {})
  })

  const byState = metrics.sessionsByState
  // The gauge counts stored sessions, so it starts from what earlier processes (and other instances) left and
  // follows every instance's changes; the creation counter counts this instance's creates.
  for (const [state, n] of Object.entries(await sessions.countByState())) byState.set({ state }, n)
  sessions.subscribe((event) => { if (event.kind === 'created') metrics.sessionsCreated.inc() })
  sessionEvents.subscribe((event) => {
    const s: Session = event.session
    switch (event.kind) {
      case 'created': byState.inc({ state: s.state }); break
      case 'state_changed':
        if (event.previous_state !== undefined) byState.dec({ state: event.previous_state })
        byState.inc({ state: s.state })
        break
      case 'deleted': case 'expired': byState.dec({ state: s.state }); break
      default: break
    }
  })

  const ops: SessionOperations = {
    async create (user, body, idempotencyKey) {
      try {
        return await sessions.create(user, body, idempotencyKey === undefined ? {} : { idempotencyKey })
      } catch (err) {
        metrics.sessionsFailed.inc({ error_code: isAppError(err) ? err.error_code : 'INTERNAL_ERROR' })
        throw err
      }
    },
    validateMarketData: (body) => timed(() => marketData.validate(body))
  }

  app.decorate('marketData', marketData)
  app.decorate('sessions', sessions)
  app.decorate('sessionOps', ops)
  app.decorate('simulation', simulation)
  app.decorate('storage', storage)
  app.decorate('sessionEvents', sessionEvents)
  sessions.startSweeper()
  app.addHook('onClose', async () => {
    sessions.stop()
    await simulation.close()
    await sessionEvents.close()
    if (opts.storage === undefined) await storage.close()
  })
}, { name: 'services', dependencies: ['metrics', 'redis'] })
