// Server configuration: one TypeBox schema for the environment, validated at start with a message naming
// the bad variable. Development defaults (random JWT secret, a generated API key) make a bare `npm start` work.
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Plan } from '../schemas/common.js'

export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8003 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  LOG_FORMAT: Type.Union(['auto', 'json', 'pretty'].map((l) => Type.Literal(l)), { default: 'auto' }),
  NODE_ENV: Type.String({ default: 'development' }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_ISSUER: Type.String({ minLength: 1, default: 'simutrador' }),
  JWT_AUDIENCE: Type.String({ minLength: 1, default: 'simutrador-api' }),
  TOKEN_TTL_SECONDS: Type.Integer({ minimum: 30, maximum: 86400, default: 3600 }),
  SIMUTRADOR_API_KEYS: Type.Optional(Type.String()),
  SIMUTRADOR_DATA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  SIMUTRADOR_DEMO_DATA: Type.Boolean({ default: true }),
  SESSION_TTL_MINUTES: Type.Integer({ minimum: 1, maximum: 10080, default: 60 }),
  SESSION_RETENTION_DAYS: Type.Number({ minimum: 0, maximum: 36500, default: 30 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 16777216, default: 1048576 }),
  WS_MAX_PAYLOAD_BYTES: Type.Integer({ minimum: 1024, maximum: 16777216, default: 1048576 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 30000 }),
  WS_IDLE_TIMEOUT_SEC: Type.Integer({ minimum: 5, maximum: 86400, default: 300 }),
  AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 100000, default: 10 }),
  AUTH_TOKENS_PER_MINUTE_PER_KEY: Type.Integer({ minimum: 1, maximum: 100000, default: 60 }),
  METRICS_ENABLED: Type.Boolean({ default: true }),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  WS_MAX_BACKLOG_BYTES: Type.Integer({ minimum: 65536, maximum: 1073741824, default: 8388608 }),
  WS_SLOW_CONSUMER_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  MAX_JSON_DEPTH: Type.Integer({ minimum: 4, maximum: 256, default: 32 }),
  EVENT_LOG_MAX_BYTES_PER_RUN: Type.Integer({ minimum: 65536, maximum: 4294967296, default: 33554432 }),
  EVENT_LOG_MEMORY_BYTES_PER_RUN: Type.Integer({ minimum: 65536, maximum: 4294967296, default: 4194304 }),
  EVENT_LOG_USER_BYTES: Type.Integer({ minimum: 0, maximum: 4294967296, default: 67108864 }),
  EVENT_LOG_RETENTION_HOURS: Type.Number({ minimum: 0, maximum: 8760, default: 24 }),
  SIMUTRADOR_STATE_DIR: Type.String({ minLength: 1, default: '.simutrador' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'postgres://user:password@host:port/database' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis://[:password@]host:port[/db]' })),
  REDIS_KEY_PREFIX: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$', default: 'simutrador:' }),
  INSTANCE_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$' })),
  RUN_LEASE_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 10000 }),
  TRUST_PROXY: Type.Optional(Type.String({ pattern: '^(true|[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*)$' })),
  CORS_ORIGINS: Type.Optional(Type.String()),
  UNATTENDED_RUN_PAUSE_SECONDS: Type.Integer({ minimum: 0, maximum: 86400, default: 300 })
}, { additionalProperties: true })

export type Env = Static<typeof EnvSchema>

export interface ApiKeyEntry { key: string, user_id: string, plan: Plan }

/** Where state lives: ephemeral memory, embedded PostgreSQL (PGlite) in a folder, or a PostgreSQL server. */
export type StorageConfig =
  | { readonly mode: 'memory' }
  | { readonly mode: 'embedded', readonly dir: string }
  | { readonly mode: 'postgres', readonly url: string }

/** SIMUTRADOR_STATE_DIR's value for the ephemeral in-memory mode. */
export const MEMORY_STATE_DIR = ':memory:'

export interface Config {
  port: number
  host: string
  logLevel: Env['LOG_LEVEL']
  /** LOG_FORMAT: `auto` is readable lines on a terminal in development, JSON otherwise (log pipelines, production). */
  logFormat: Env['LOG_FORMAT']
  production: boolean
  jwt: { secret: string, issuer: string, audience: string, ttlSeconds: number, generated: boolean }
  apiKeys: ApiKeyEntry[]
  /** True when no keys were configured and one development key was generated. */
  devKeyGenerated: boolean
  dataDir: string | undefined
  demoData: boolean
  sessionTtlMinutes: number
  /** Finished sessions (completed/error) are deleted with their data this long after their last change. */
  sessionRetentionDays: number
  bodyLimit: number
  wsMaxPayload: number
  requestTimeout: number
  wsIdleTimeoutSec: number
  authFailuresPerMinute: number
  authTokensPerMinutePerKey: number
  metricsEnabled: boolean
  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  metricsToken: string | undefined
  /** Outbound bytes a WebSocket connection may have queued (replies, pushes, run and watcher frames) before the server stops reading it. */
  wsMaxBacklogBytes: number
  /** How long a connection may stay over its backlog before it is closed with 4008 slow_consumer. */
  wsSlowConsumerMs: number
  /** Deepest nesting of arrays/objects accepted in a JSON body or WebSocket message (checked before parsing). */
  maxJsonDepth: number
  /** A run's event log keeps at most this many bytes of its newest frames while it runs. */
  eventLogMaxBytesPerRun: number
  /** Durable modes: newest bytes of a run's events held in memory (older ones are read from storage). */
  eventLogMemoryBytesPerRun: number
  /** Bytes of finished runs' event logs kept per user (newest runs first); older ones are released. */
  eventLogUserBytes: number
  /** Hours a finished run's event log is kept (within eventLogUserBytes); 0 releases it at completion. */
  eventLogRetentionHours: number
  /** DATABASE_URL wins over SIMUTRADOR_STATE_DIR; `:memory:` keeps nothing across restarts. */
  storage: StorageConfig
  /** REDIS_URL: the shared parts of a multi-instance deployment (bus, event streams, leases, counters, rate limits). */
  redis: RedisConfig | undefined
  /** This process among the instances (INSTANCE_ID, default host:pid): in /health and in every log line. */
  instanceId: string
  /** How long a run's ownership lease lasts without renewal (renewed at a third of it). */
  runLeaseMs: number
  /**
   * TRUST_PROXY: which hops may set X-Forwarded-For (Fastify's trustProxy): addresses/CIDRs, or true (any).
   * Unset, the client's address is the socket's (behind a proxy: the proxy's, one bucket for everyone).
   */
  trustProxy: true | string | undefined
  /** CORS_ORIGINS: origins (scheme://host[:port]) allowed to call the REST API and open WebSockets; empty = same origin only. */
  corsOrigins: string[]
  /** A flow-controlled run that no strategy drives pauses itself (no_strategy) after this long; 0 never. */
  unattendedPauseMs: number
}

export interface RedisConfig {
  readonly url: string
  /** Every key and channel starts with it, so several deployments (or test runs) can share one Redis. */
  readonly keyPrefix: string
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const PLANS: readonly Plan[] = ['free', 'professional', 'enterprise']

/** What a user id may be: API-key owners here, and the `sub` of every token the server accepts. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/

/** `key:user_id:plan,key2:user2:plan2` → entries; every part checked so a typo names itself. */
export function parseApiKeys (text: string): ApiKeyEntry[] {
  const entries = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (entries.length === 0) throw new ConfigError('SIMUTRADOR_API_KEYS is set but lists no keys (format key:user_id:plan,…)')
  const seen = new Set<string>()
  return entries.map((entry, i) => {
    const parts = entry.split(':')
    if (parts.length !== 3) throw new ConfigError(`SIMUTRADOR_API_KEYS entry ${i + 1} must be key:user_id:plan`)
    const [key, userId, plan] = parts
    if (key.length < 16) throw new ConfigError(`SIMUTRADOR_API_KEYS entry ${i + 1}: key must be at least 16 characters`)
    if (!USER_ID_PATTERN.test(userId)) throw new ConfigError(`SIMUTRADOR_API_KEYS entry ${i + 1}: invalid user_id`)
    if (!PLANS.includes(plan as Plan)) throw new ConfigError(`SIMUTRADOR_API_KEYS entry ${i + 1}: plan must be one of ${PLANS.join(', ')}`)
    if (seen.has(key)) throw new ConfigError(`SIMUTRADOR_API_KEYS entry ${i + 1}: duplicate key`)
    seen.add(key)
    return { key, user_id: userId, plan: plan as Plan }
  })
}

export function generateApiKey (): string {
  return `sk_dev_${randomBytes(18).toString('base64url')}`
}

/** `https://a.example,http://localhost:5173` → normalised origins; anything that is not a bare origin names itself. */
export function parseCorsOrigins (text: string | undefined): string[] {
  if (text === undefined) return []
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((entry) => {
    let url: URL | undefined
    try { url = new URL(entry) } catch { url = undefined }
    if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== entry.replace(/\/$/, '').toLowerCase()) {
      throw new ConfigError(`CORS_ORIGINS entry ${JSON.stringify(entry)} must be an origin such as https://dash.example.com or http://localhost:5173`)
    }
    return url.origin
  })
}

/** Validate and convert the environment; throws ConfigError naming the offending variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const v = env[key]
    if (v !== undefined && v !== '') raw[key] = v
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw)) as Record<string, unknown>
  const firstError = Value.Errors(EnvSchema, converted).First()
  if (firstError !== undefined) {
    const name = firstError.path.replace(/^\//, '')
    // Never echo a database URL: it may carry a password.
    if (name === 'REDIS_URL') throw new ConfigError('Invalid environment variable REDIS_URL: it must start with redis:// or rediss://')
    if (name === 'DATABASE_URL') throw new ConfigError('Invalid environment variable DATABASE_URL: it must start with postgres:// or postgresql://')
    throw new ConfigError(`Invalid environment variable ${name}=${JSON.stringify(raw[name] ?? '')}: ${firstError.message}`)
  }
  const e = converted as Env
  const production = e.NODE_ENV === 'production'
  // Several instances answer as one service only if each verifies the others' tokens and knows the same keys.
  const shared = e.REDIS_URL !== undefined

  let secret = e.JWT_SECRET
  let generated = false
  if (secret === undefined) {
    if (production) throw new ConfigError('JWT_SECRET is required when NODE_ENV=production')
    if (shared) throw new ConfigError('JWT_SECRET is required with REDIS_URL: every instance must sign and verify tokens with the same secret')
    secret = randomBytes(48).toString('base64url')
    generated = true
  } else if (Buffer.byteLength(secret, 'utf8') < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 bytes')
  }

  let apiKeys: ApiKeyEntry[]
  let devKeyGenerated = false
  if (e.SIMUTRADOR_API_KEYS === undefined) {
    if (production) throw new ConfigError('SIMUTRADOR_API_KEYS is required when NODE_ENV=production')
    if (shared) throw new ConfigError('SIMUTRADOR_API_KEYS is required with REDIS_URL: every instance must know the same API keys')
    apiKeys = [{ key: generateApiKey(), user_id: 'dev', plan: 'professional' }]
    devKeyGenerated = true
  } else {
    apiKeys = parseApiKeys(e.SIMUTRADOR_API_KEYS)
  }

  const storage: StorageConfig = e.DATABASE_URL !== undefined
    ? { mode: 'postgres', url: e.DATABASE_URL }
    : e.SIMUTRADOR_STATE_DIR === MEMORY_STATE_DIR
      ? { mode: 'memory' }
      : { mode: 'embedded', dir: resolve(e.SIMUTRADOR_STATE_DIR) }

  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    production,
    jwt: { secret, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE, ttlSeconds: e.TOKEN_TTL_SECONDS, generated },
    apiKeys,
    devKeyGenerated,
    dataDir: e.SIMUTRADOR_DATA_DIR,
    demoData: e.SIMUTRADOR_DEMO_DATA,
    sessionTtlMinutes: e.SESSION_TTL_MINUTES,
    sessionRetentionDays: e.SESSION_RETENTION_DAYS,
    bodyLimit: e.BODY_LIMIT_BYTES,
    wsMaxPayload: e.WS_MAX_PAYLOAD_BYTES,
    requestTimeout: e.REQUEST_TIMEOUT_MS,
    wsIdleTimeoutSec: e.WS_IDLE_TIMEOUT_SEC,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    authTokensPerMinutePerKey: e.AUTH_TOKENS_PER_MINUTE_PER_KEY,
    metricsEnabled: e.METRICS_ENABLED,
    metricsToken: e.METRICS_TOKEN,
    wsMaxBacklogBytes: e.WS_MAX_BACKLOG_BYTES,
    wsSlowConsumerMs: e.WS_SLOW_CONSUMER_MS,
    maxJsonDepth: e.MAX_JSON_DEPTH,
    eventLogMaxBytesPerRun: e.EVENT_LOG_MAX_BYTES_PER_RUN,
    eventLogMemoryBytesPerRun: e.EVENT_LOG_MEMORY_BYTES_PER_RUN,
    eventLogUserBytes: e.EVENT_LOG_USER_BYTES,
    eventLogRetentionHours: e.EVENT_LOG_RETENTION_HOURS,
    storage,
    redis: e.REDIS_URL !== undefined ? { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX } : undefined,
    instanceId: e.INSTANCE_ID ?? `${hostname()}:${process.pid}`,
    runLeaseMs: e.RUN_LEASE_MS,
    trustProxy: e.TRUST_PROXY === 'true' ? true : e.TRUST_PROXY,
    corsOrigins: parseCorsOrigins(e.CORS_ORIGINS),
    unattendedPauseMs: e.UNATTENDED_RUN_PAUSE_SECONDS * 1000
  }
}

/** A database or Redis URL fit for logs and banners: the password replaced by ***. */
export function redactDatabaseUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return `${url.startsWith('redis') ? 'redis' : 'postgres'}://(unparsable URL)`
  }
}

/** One line for the start banner: whether this instance shares state through Redis. */
export function describeRedis (config: Pick<Config, 'redis' | 'instanceId'>): string {
  return config.redis === undefined
    ? `none (single instance ${config.instanceId})`
    : `${redactDatabaseUrl(config.redis.url)} (prefix ${config.redis.keyPrefix}), instance ${config.instanceId}`
}

/** One line for the start banner: the mode and where the data lives. */
export function describeStorage (storage: StorageConfig): string {
  switch (storage.mode) {
    case 'memory': return 'in memory (SIMUTRADOR_STATE_DIR=:memory:): nothing survives a restart'
    case 'embedded': return `embedded PostgreSQL (PGlite) in ${storage.dir}`
    case 'postgres': return `PostgreSQL at ${redactDatabaseUrl(storage.url)}`
  }
}
