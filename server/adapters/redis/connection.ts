// Redis for the shared parts of a multi-instance deployment (REDIS_URL). One command connection per process,
// plus dedicated connections for blocking reads and subscriptions (a connection in subscriber mode or inside
// XREAD BLOCK cannot run other commands). Every connection:
// - fails fast while Redis is down (no offline queue, a command timeout), so callers answer 503
//   BUS_UNAVAILABLE instead of waiting, and reconnects on its own when Redis returns;
// - logs a lost and a regained connection once each, never an error per retry, and never crashes the process
//   (an ioredis client without an 'error' listener would throw).
// Keys carry the configured prefix (ioredis `keyPrefix`); channel names do not get it from ioredis, so
// `channel()` adds it for publishers and subscribers alike.
import { Redis, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { AppError } from '../../app-error.js'
import { redactDatabaseUrl, type RedisConfig } from '../../config.js'
import { StorageStartError } from '../../ports/storage.js'

/** Milliseconds a command may take before it fails (and the caller answers BUS_UNAVAILABLE). */
export const REDIS_COMMAND_TIMEOUT_MS = 1500
const CONNECT_TIMEOUT_MS = 2000

type Log = Pick<FastifyBaseLogger, 'warn' | 'info'>

export interface RedisBus {
  readonly config: RedisConfig
  /** The shared command connection (keys prefixed). Do not block on it or subscribe on it. */
  readonly client: Redis
  /** A new connection for blocking reads or subscriptions (or `tuning` for fail-fast commands); closed with the bus. */
  dedicated: (name: string, tuning?: DedicatedTuning) => Redis
  /** The prefixed name of a pub/sub channel. */
  channel: (name: string) => string
  /** True while the command connection is ready. */
  readonly ready: boolean
  close: () => Promise<void>
}

/** Options of a dedicated connection; the defaults suit blocking reads and subscriptions. */
export interface DedicatedTuning {
  /** Fail a command that takes longer (default: no limit, as a blocking read needs). */
  commandTimeoutMs?: number
  /** Queue commands while disconnected (default true: a subscription is sent once connected). */
  offlineQueue?: boolean
}

/** Maps a Redis failure to the wire's 503 BUS_UNAVAILABLE (an AppError passes through). */
export function busUnavailable (err: unknown): AppError {
  if (err instanceof AppError) return err
  return new AppError('BUS_UNAVAILABLE', 'The shared bus (Redis) is unavailable; retry shortly')
}

/** Runs a Redis operation; any Redis failure becomes BUS_UNAVAILABLE. */
export async function onBus<T> (op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    throw busUnavailable(err)
  }
}

function options (config: RedisConfig, name: string, forCommands: boolean): RedisOptions {
  return {
    connectionName: `simutrador:${name}`,
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Reconnect forever, backing off to 2 s; a command never waits for a reconnect.
    retryStrategy: (times) => Math.min(100 * times, 2000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    ...(forCommands ? { keyPrefix: config.keyPrefix, commandTimeout: REDIS_COMMAND_TIMEOUT_MS } : {})
  }
}

function watch (redis: Redis, name: string, log: Log): void {
  let down = false
  redis.on('error', (err: Error) => {
    if (down) return
    down = true
    log.warn({ redis: name, err: err.message }, 'Redis connection lost; what needs it answers 503 BUS_UNAVAILABLE until it is back')
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    log.info({ redis: name }, 'Redis connection is back')
  })
}

/** Connects to Redis (refusing to start if it does not answer) and returns the process's bus. */
export async function openRedis (config: RedisConfig, log: Log): Promise<RedisBus> {
  const client = new Redis(config.url, options(config, 'command', true))
  watch(client, 'command', log)
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    throw new StorageStartError(`Cannot reach Redis at ${redactDatabaseUrl(config.url)}: ${err instanceof Error ? err.message : String(err)}`)
  }
  const extra = new Set<Redis>()
  return {
    config,
    client,
    dedicated (name, tuning = {}) {
      // Blocking reads and subscriptions wait as long as they need: no command timeout, no key prefix
      // surprises (callers prefix stream keys themselves with `config.keyPrefix`).
      const r = new Redis(config.url, {
        ...options(config, name, false),
        enableOfflineQueue: tuning.offlineQueue ?? true,
        ...(tuning.commandTimeoutMs !== undefined ? { commandTimeout: tuning.commandTimeoutMs } : {})
      })
      watch(r, name, log)
      extra.add(r)
      r.connect().catch(() => undefined)
      return r
    },
    channel: (name) => `${config.keyPrefix}${name}`,
    get ready () { return client.status === 'ready' },
    async close () {
      for (const r of extra) r.disconnect()
      extra.clear()
      await client.quit().catch(() => { client.disconnect() })
    }
  }
}
