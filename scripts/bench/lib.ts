// Shared helpers of the benchmark scripts (scripts/bench/sessions.ts, scripts/bench/e2e-ticks.ts): percentiles,
// memory after GC, CPU deltas, a configured app with many API keys, open- and closed-loop load drivers, a
// forked worker process for the client side (so client and server do not share one event loop), and a
// summary of a .cpuprofile by self time. Not a benchmark itself; nothing here asserts timing.
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { Redis } from 'ioredis'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { FastifyInstance } from 'fastify'
import { buildApp, type BuildOptions } from '../../server/app.js'
import { loadConfig, type Config } from '../../server/config.js'
import { memoryStorage, sqlStorage } from '../../server/adapters/open-storage.js'
import { migrate } from '../../server/adapters/sql/migrate.js'
import { openPostgres } from '../../server/adapters/sql/pg-client.js'
import { openPglite } from '../../server/adapters/sql/pglite-client.js'
import type { SqlClient, SqlQueryable } from '../../server/adapters/sql/sql-client.js'
import type { Storage } from '../../server/ports/storage.js'

// ── statistics and formatting ─────────────────────────────────────────────────────────────────────────

export interface Stats { n: number, p50: number, p90: number, p99: number, max: number, mean: number }

/** Nearest-rank percentiles of `samples` (any unit); all NaN when empty. */
export function percentiles (samples: readonly number[]): Stats {
  if (samples.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN }
  const s = Float64Array.from(samples).sort()
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
  let sum = 0
  for (const v of s) sum += v
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1], mean: sum / s.length }
}

export const int = (n: number): string => Math.round(n).toLocaleString('en-US')
export const ms = (v: number, digits = 2): string => `${v.toFixed(digits)} ms`
export const us = (v: number, digits = 1): string => `${v.toFixed(digits)} µs`
export const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MB`

/** `label: p50 …, p90 …, p99 …, max … (n=…)` with values in milliseconds. */
export function latencyLine (label: string, samplesMs: readonly number[]): string {
  const p = percentiles(samplesMs)
  return `${label.padEnd(64)} p50 ${ms(p.p50, 3).padStart(10)}  p90 ${ms(p.p90, 3).padStart(10)}  p99 ${ms(p.p99, 3).padStart(10)}  max ${ms(p.max, 1).padStart(9)}  (n=${int(p.n)})`
}

// ── process resources ─────────────────────────────────────────────────────────────────────────────────

/** globalThis.gc under --expose-gc, otherwise enabled at run time (the same trick as engine.ts). */
export function gcFunction (): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  v8.setFlagsFromString('--expose_gc')
  return vm.runInNewContext('gc') as () => void
}

export interface MemorySample { heapUsed: number, rss: number, external: number, arrayBuffers: number }

/** Memory after two full collections. */
export function memoryAfterGc (gc: () => void): MemorySample {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers }
}

export interface CpuSpent { userMs: number, systemMs: number, totalMs: number }

/** CPU time of this process since `start` (from process.cpuUsage()). */
export function cpuSince (start: NodeJS.CpuUsage): CpuSpent {
  const d = process.cpuUsage(start)
  return { userMs: d.user / 1000, systemMs: d.system / 1000, totalMs: (d.user + d.system) / 1000 }
}

/** Node version, cores and load average: the context every figure needs on a shared machine. */
export function machineLine (): string {
  const cpus = os.cpus()
  return `Node ${process.version} ${process.arch}, ${cpus.length} × ${cpus[0]?.model ?? '?'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`
}

export const sleep = async (millis: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, millis)) }

// ── a configured app ──────────────────────────────────────────────────────────────────────────────────

export const BENCH_JWT_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789'

export interface BenchUser { key: string, user_id: string, plan: 'enterprise' }

/** `count` enterprise users `user000…` with keys `bench_key_user000_…` (keys must be ≥ 16 characters). */
export function benchUsers (count: number, prefix = 'user'): BenchUser[] {
  return Array.from({ length: count }, (_, i) => {
    const user_id = `${prefix}${String(i).padStart(3, '0')}`
    return { key: `bench_key_${user_id}_0123456789`, user_id, plan: 'enterprise' as const }
  })
}

export function benchConfig (users: readonly BenchUser[], env: Record<string, string> = {}): Config {
  return loadConfig({
    JWT_SECRET: BENCH_JWT_SECRET,
    SIMUTRADOR_API_KEYS: users.map((u) => `${u.key}:${u.user_id}:${u.plan}`).join(','),
    LOG_LEVEL: 'silent',
    SIMUTRADOR_STATE_DIR: ':memory:',
    ...env
  })
}

export interface BenchApp { app: FastifyInstance, baseUrl: string, wsUrl: string }

/**
 * The real app (logger off) listening on 127.0.0.1 and an ephemeral port; `prepare` may add hooks first;
 * `storage`: already open storage (the caller closes it) instead of the one `env` configures.
 */
export async function listenApp (users: readonly BenchUser[], env: Record<string, string> = {}, prepare?: (app: FastifyInstance) => void, storage?: Storage): Promise<BenchApp> {
  const opts: BuildOptions = { logger: false, ...(storage !== undefined ? { storage } : {}) }
  const app = await buildApp(benchConfig(users, env), opts)
  prepare?.(app)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, baseUrl, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws/simulate` }
}

export async function tokenFor (baseUrl: string, key: string): Promise<string> {
  const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': key } })
  if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`)
  return (await res.json() as { access_token: string }).access_token
}

// ── storage modes ─────────────────────────────────────────────────────────────────────────────────────

/** The machine's PostgreSQL for benchmarks (override with SIMUTRADOR_BENCH_PG_URL). */
export const BENCH_PG_URL = process.env.SIMUTRADOR_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export type StorageKey = 'memory' | 'pglite' | 'postgres' | 'postgres-async' | 'redis'
export const STORAGE_KEYS: readonly StorageKey[] = ['memory', 'pglite', 'postgres', 'postgres-async', 'redis']
/** The machine's Redis for the `redis` mode (override with SIMUTRADOR_BENCH_REDIS_URL). */
export const BENCH_REDIS_URL = process.env.SIMUTRADOR_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface BenchStorage {
  readonly key: StorageKey
  readonly label: string
  /** Environment selecting the mode (SIMUTRADOR_STATE_DIR or DATABASE_URL). */
  readonly env: Record<string, string>
  /** Removes the data (temporary folder, schema). */
  readonly drop: () => Promise<void>
}

async function adminQuery (text: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  await client.connect()
  try { await client.query(text) } finally { await client.end() }
}

/**
 * Memory, PGlite in a temporary folder, and PostgreSQL in fresh schemas (left out, with a note, if
 * unreachable); `only`: just these modes, in this order.
 */
export async function benchStorages (only: readonly StorageKey[] = STORAGE_KEYS): Promise<BenchStorage[]> {
  const modes: BenchStorage[] = []
  for (const key of only) {
    if (key === 'memory') {
      modes.push({ key, label: 'memory', env: { SIMUTRADOR_STATE_DIR: ':memory:' }, drop: async () => {} })
    } else if (key === 'pglite') {
      const dir = await mkdtemp(join(os.tmpdir(), 'st-bench-'))
      modes.push({ key, label: 'PGlite', env: { SIMUTRADOR_STATE_DIR: dir }, drop: async () => { await rm(dir, { recursive: true, force: true }) } })
    } else {
      // postgres-async: commits that do not wait for the WAL flush (lost only if PostgreSQL itself crashes).
      // redis: several-instance mode (PostgreSQL for sessions and inputs, Redis for leases and the event stream).
      const [label, extra] = key === 'postgres' ? ['PostgreSQL', ''] : key === 'redis' ? ['PostgreSQL + Redis', ''] : ['PostgreSQL, synchronous_commit=off', ' -c synchronous_commit=off']
      try {
        const schema = `st_bench_${randomBytes(4).toString('hex')}`
        await adminQuery(`CREATE SCHEMA ${schema}`)
        const url = new URL(BENCH_PG_URL)
        url.searchParams.set('options', `-c search_path=${schema}${extra}`)
        const redis: Record<string, string> = key === 'redis' ? { REDIS_URL: BENCH_REDIS_URL, REDIS_KEY_PREFIX: `${schema}:` } : {}
        modes.push({
          key,
          label,
          env: { DATABASE_URL: url.toString(), ...redis },
          drop: async () => {
            await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
            if (key === 'redis') await dropRedisKeys(`${schema}:`)
          }
        })
      } catch (err) {
        console.log(`(PostgreSQL at ${new URL(BENCH_PG_URL).host} not reachable: ${err instanceof Error ? err.message : String(err)}; ${label} is left out)`)
      }
    }
  }
  return modes
}

async function dropRedisKeys (prefix: string): Promise<void> {
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    await redis.connect()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** `--storage=memory,pglite,postgres` (or `all`) from argv; undefined when absent. */
export function storageArg (argv: readonly string[], all: readonly StorageKey[] = ['memory', 'pglite', 'postgres']): StorageKey[] | undefined {
  const arg = argv.find((a) => a.startsWith('--storage'))
  if (arg === undefined) return undefined
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : 'all'
  if (value === 'all') return [...all]
  const keys = value.split(',')
  for (const k of keys) if (!(STORAGE_KEYS as readonly string[]).includes(k)) throw new Error(`--storage: unknown mode ${k} (${STORAGE_KEYS.join(', ')})`)
  return keys as StorageKey[]
}

// ── counting SQL statements ──────────────────────────────────────────────────────────────────────────

export interface StatementCount {
  /** Statements sent. */
  n: number
  /** Milliseconds from send to answer, summed (each statement is a round trip to the database). */
  ms: number
  /** INSERT INTO run_event_batches: frames inserted (the batch sizes). */
  rows: number
}

/** Statements by kind (`insert run_event_batches`, `update sessions`, `select sessions`, `begin`, …). */
export class StatementCounter {
  readonly byKind = new Map<string, StatementCount>()

  record (text: string, params: readonly unknown[] | undefined, ms: number): void {
    const kind = statementKind(text)
    const c = this.byKind.get(kind) ?? { n: 0, ms: 0, rows: 0 }
    c.n++
    c.ms += ms
    if (kind === 'insert run_event_batches' && typeof params?.[2] === 'number' && typeof params[3] === 'number') c.rows += params[3] - params[2] + 1
    this.byKind.set(kind, c)
  }

  /** A copy, to subtract later (`since`). */
  snapshot (): Map<string, StatementCount> {
    return new Map([...this.byKind].map(([k, v]) => [k, { ...v }]))
  }

  /** What was counted since `before` (a snapshot). */
  since (before: Map<string, StatementCount>): Map<string, StatementCount> {
    const out = new Map<string, StatementCount>()
    for (const [k, v] of this.byKind) {
      const b = before.get(k) ?? { n: 0, ms: 0, rows: 0 }
      if (v.n > b.n) out.set(k, { n: v.n - b.n, ms: v.ms - b.ms, rows: v.rows - b.rows })
    }
    return out
  }
}

/** `insert run_event_batches`, `update sessions`, `select run_event_batches`, `begin` … from the statement's text. */
export function statementKind (text: string): string {
  const t = text.trimStart()
  const write = /^(insert\s+into|update|delete\s+from)\s+([a-z_]+)/i.exec(t)
  if (write !== null) return `${write[1].split(/\s+/)[0].toLowerCase()} ${write[2]}`
  const verb = /^[a-z]+/i.exec(t)?.[0].toLowerCase() ?? '?'
  if (verb === 'select' || verb === 'with') {
    const fn = /^select\s+\*?\s*from\s+([a-z_]+)\s*\(/i.exec(t)
    if (fn !== null) return `call ${fn[1]}`
    const from = /\bfrom\s+([a-z_]+)/i.exec(t)
    return `${verb} ${from?.[1] ?? ''}`.trim()
  }
  return verb
}

function countedQueryable (q: SqlQueryable, counter: StatementCounter): SqlQueryable {
  return {
    query: async <R extends object>(text: string, params?: readonly unknown[]) => {
      const t0 = performance.now()
      try { return await q.query<R>(text, params) } finally { counter.record(text, params, performance.now() - t0) }
    },
    exec: async (script: string) => { await q.exec(script) }
  }
}

/** `db` with every statement counted (and timed) by kind; transactions count as `begin` (+ their statements). */
export function countedSqlClient (db: SqlClient, counter: StatementCounter): SqlClient {
  return {
    ...countedQueryable(db, counter),
    transaction: async <T>(work: (tx: SqlQueryable) => Promise<T>) => {
      const t0 = performance.now()
      try {
        return await db.transaction(async (tx) => await work(countedQueryable(tx, counter)))
      } finally { counter.record('begin', undefined, performance.now() - t0) }
    },
    close: async () => { await db.close() }
  }
}

export interface CountedStorage { storage: Storage, counter: StatementCounter }

/**
 * The storage of `mode`, opened as the server opens it (same clients, migrations and stores; without the
 * state folder lock), with every SQL statement counted. Memory mode counts nothing.
 */
export async function openCountedStorage (mode: BenchStorage): Promise<CountedStorage> {
  const counter = new StatementCounter()
  let db: SqlClient
  if (mode.env.DATABASE_URL !== undefined) {
    db = openPostgres(mode.env.DATABASE_URL, { onConnectionError: (err) => { console.log(`PostgreSQL connection error: ${err.message}`) } })
  } else if (mode.env.SIMUTRADOR_STATE_DIR !== undefined && mode.env.SIMUTRADOR_STATE_DIR !== ':memory:') {
    await mkdir(mode.env.SIMUTRADOR_STATE_DIR, { recursive: true })
    db = await openPglite(join(mode.env.SIMUTRADOR_STATE_DIR, 'pgdata'))
  } else {
    return { storage: memoryStorage(), counter }
  }
  await migrate(db)
  return { storage: sqlStorage(countedSqlClient(db, counter)), counter }
}

/** One line per statement kind: count, per tick (when `ticks`), mean ms, frames per insert. */
export function statementLines (counts: Map<string, StatementCount>, ticks?: number): string[] {
  return [...counts].sort((a, b) => b[1].n - a[1].n).map(([kind, c]) =>
    `${kind.padEnd(24)} ${int(c.n).padStart(7)}` +
    (ticks !== undefined ? `  (${(c.n / ticks).toFixed(4)} per tick)` : '') +
    `  mean ${ms(c.ms / c.n, 2)}` +
    (c.rows > 0 ? `, ${(c.rows / c.n).toFixed(0)} frames per insert (${int(c.rows)} frames)` : ''))
}

// ── load drivers ──────────────────────────────────────────────────────────────────────────────────────

export interface LoadResult {
  /** Requests issued and how they ended (`ok` is what `op` resolved true for). */
  sent: number
  ok: number
  failed: number
  /** Open loop: scheduled requests skipped because `maxInFlight` were outstanding (a saturated server). */
  skipped: number
  /** Requests still outstanding when the hard time limit struck. */
  unfinished: number
  /** Milliseconds from the first send to the last completion. */
  elapsedMs: number
  /** Open loop: sends per second over the schedule window; closed loop: completions per second. */
  sendRate: number
  completionRate: number
  /** Per request: completion − send (service time). */
  latencyMs: number[]
  /** Open loop only: completion − scheduled send time (includes queueing behind the schedule). */
  fromScheduleMs: number[]
}

/**
 * Open loop: request i is due at start + i/rate whether or not earlier ones have finished (so a slow server
 * shows up as latency, not as a lower offered rate). Bounded: `rate × durationMs` requests, at most
 * `maxInFlight` outstanding, and `durationMs + drainMs` of wall time.
 */
export async function openLoop (opts: { rate: number, durationMs: number, op: (i: number) => Promise<boolean>, maxInFlight?: number, drainMs?: number }): Promise<LoadResult> {
  const total = Math.round((opts.rate * opts.durationMs) / 1000)
  const maxInFlight = opts.maxInFlight ?? 5000
  const interval = 1000 / opts.rate
  const latencyMs: number[] = []
  const fromScheduleMs: number[] = []
  let next = 0
  let inFlight = 0
  let ok = 0
  let failed = 0
  let skipped = 0
  let lastSend = 0
  let lastDone = 0
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    let finished = false
    const finish = (): void => { if (!finished) { finished = true; clearTimeout(hardStop); resolve() } }
    const hardStop = setTimeout(finish, opts.durationMs + (opts.drainMs ?? 10_000))
    const fire = (): void => {
      if (finished) return
      const now = performance.now()
      while (next < total && t0 + next * interval <= now) {
        const i = next++
        const due = t0 + i * interval
        if (inFlight >= maxInFlight) { skipped++; continue }
        inFlight++
        const sentAt = performance.now()
        lastSend = sentAt
        opts.op(i).then((good) => { if (good) ok++; else failed++ }, () => { failed++ }).finally(() => {
          const done = performance.now()
          lastDone = done
          inFlight--
          latencyMs.push(done - sentAt)
          fromScheduleMs.push(done - due)
          if (next >= total && inFlight === 0) finish()
        })
      }
      if (next < total) setTimeout(fire, Math.max(0, t0 + next * interval - performance.now()))
      else if (inFlight === 0) finish()
    }
    fire()
  })
  const sent = next - skipped
  return {
    sent,
    ok,
    failed,
    skipped,
    unfinished: inFlight,
    elapsedMs: lastDone - t0,
    sendRate: sent / (Math.max(lastSend - t0, interval) / 1000),
    completionRate: (ok + failed) / ((lastDone - t0) / 1000),
    latencyMs,
    fromScheduleMs
  }
}

/** Closed loop: `concurrency` workers, each sending its next request when the previous one completes. */
export async function closedLoop (opts: { concurrency: number, durationMs: number, maxCount: number, op: (i: number) => Promise<boolean> }): Promise<LoadResult> {
  const latencyMs: number[] = []
  let issued = 0
  let ok = 0
  let failed = 0
  const t0 = performance.now()
  const deadline = t0 + opts.durationMs
  const worker = async (): Promise<void> => {
    while (issued < opts.maxCount && performance.now() < deadline) {
      const i = issued++
      const sentAt = performance.now()
      try {
        if (await opts.op(i)) ok++; else failed++
      } catch {
        failed++
      }
      latencyMs.push(performance.now() - sentAt)
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  const elapsedMs = performance.now() - t0
  const rate = (ok + failed) / (elapsedMs / 1000)
  return { sent: issued, ok, failed, skipped: 0, unfinished: 0, elapsedMs, sendRate: rate, completionRate: rate, latencyMs, fromScheduleMs: [] }
}

/** What a worker returns for a load phase: the figures and its own CPU (the client's share). */
export interface LoadReport {
  result: LoadResult
  clientCpu: CpuSpent
  /** Counts by outcome label (e.g. HTTP status), to show what failed. */
  outcomes: Record<string, number>
}

// ── the client side in a child process ───────────────────────────────────────────────────────────────

interface WorkerRequest { id: number, cmd: string, args: unknown }
interface WorkerReply { id: number, ok: boolean, result?: unknown, error?: string }

/**
 * A forked copy of a bench script running its client role (argv `--worker`). `call` sends a command and
 * resolves with the worker's reply; commands run one at a time, in order.
 */
export class WorkerProcess {
  readonly #child: ChildProcess
  readonly #pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  #nextId = 1
  readonly exited: Promise<number | null>

  constructor (scriptPath: string, execArgv: string[] = ['--import', 'tsx']) {
    this.#child = fork(scriptPath, ['--worker'], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.#child.on('message', (raw) => {
      const reply = raw as WorkerReply
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      if (reply.ok) p.resolve(reply.result)
      else p.reject(new Error(`worker: ${reply.error ?? 'failed'}`))
    })
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        for (const p of this.#pending.values()) p.reject(new Error(`worker exited with ${String(code)}`))
        this.#pending.clear()
        resolve(code)
      })
    })
  }

  get pid (): number | undefined { return this.#child.pid }

  async call<T> (cmd: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    const id = this.#nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new Error(`worker command ${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.#pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T) },
        reject: (e) => { clearTimeout(timer); reject(e) }
      })
      this.#child.send({ id, cmd, args } satisfies WorkerRequest)
    })
  }

  /** Ask the worker to exit; kill it (this child only) if it has not within 5 s. */
  async close (): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    this.#child.send({ id: 0, cmd: 'exit', args: {} } satisfies WorkerRequest)
    const timer = setTimeout(() => { this.#child.kill('SIGKILL') }, 5000)
    await this.exited
    clearTimeout(timer)
  }
}

export type WorkerHandler = (args: unknown) => Promise<unknown>

/** The child side: answers each command with its handler's result; `exit` ends the process. */
export function serveWorker (handlers: Record<string, WorkerHandler>): void {
  let queue: Promise<void> = Promise.resolve()
  process.on('message', (raw) => {
    const req = raw as WorkerRequest
    if (req.cmd === 'exit') {
      void queue.then(() => { process.disconnect() })
      return
    }
    queue = queue.then(async () => {
      const handler = handlers[req.cmd]
      let reply: WorkerReply
      try {
        if (handler === undefined) throw new Error(`unknown command ${req.cmd}`)
        reply = { id: req.id, ok: true, result: await handler(req.args) }
      } catch (err) {
        reply = { id: req.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }
      }
      process.send?.(reply)
    })
  })
}

export const isWorker = (): boolean => process.argv.includes('--worker')

// ── a strategy ────────────────────────────────────────────────────────────────────────────────────────

const SMA_FAST = 10
const SMA_SLOW = 30

/**
 * SMA 10/30 crossover on closes, long-only (buy when the fast average crosses above the slow one, sell when
 * it crosses below): running sums over a ring of the last 30 closes. The strategy of e2e-ticks.ts.
 */
export class Sma {
  readonly #ring = new Float64Array(SMA_SLOW)
  #seen = 0
  #sumFast = 0
  #sumSlow = 0
  #wasAbove = 0
  long = false

  /** The side to trade on this close, if the averages crossed. */
  onClose (c: number): 'buy' | 'sell' | undefined {
    const i = this.#seen++
    const dropSlow = i >= SMA_SLOW ? this.#ring[i % SMA_SLOW] : 0
    const dropFast = i >= SMA_FAST ? this.#ring[(i - SMA_FAST) % SMA_SLOW] : 0
    this.#ring[i % SMA_SLOW] = c
    this.#sumFast += c - dropFast
    this.#sumSlow += c - dropSlow
    if (this.#seen < SMA_SLOW) return undefined
    const above = this.#sumFast / SMA_FAST > this.#sumSlow / SMA_SLOW ? 1 : -1
    let side: 'buy' | 'sell' | undefined
    if (this.#wasAbove !== 0 && above !== this.#wasAbove && (above === 1) !== this.long) {
      side = above === 1 ? 'buy' : 'sell'
      this.long = side === 'buy'
    }
    this.#wasAbove = above
    return side
  }
}

// ── CPU profiles ──────────────────────────────────────────────────────────────────────────────────────

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface ProfileRow { selfMs: number, selfPct: number, totalMs: number, totalPct: number, frame: string }

/**
 * Top functions of a .cpuprofile (from `--cpu-prof` or the inspector) by self time, with inclusive time too
 * (a frame counted once per sample even when recursive). Frames are `name file:line`, paths shortened.
 * `window`: only samples taken that many ms after the profile started (e.g. one request of a long process).
 */
export function summariseCpuProfile (path: string, top = 25, window?: { fromMs: number, toMs: number }): { rows: ProfileRow[], totalMs: number, idleMs: number } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (n: ProfileNode): string => {
    const f = n.callFrame
    const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/work\/main\//, '')
    return `${f.functionName.length > 0 ? f.functionName : '(anonymous)'} ${file.length > 0 ? `${file}:${f.lineNumber + 1}` : ''}`.trim()
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  let atUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    atUs += dt
    if (window !== undefined && (atUs < window.fromMs * 1000 || atUs > window.toMs * 1000)) continue
    const node = byId.get(profile.samples[i])
    if (node === undefined) continue
    totalUs += dt
    if (node.callFrame.functionName === '(idle)') { idleUs += dt; continue }
    const name = label(node)
    self.set(name, (self.get(name) ?? 0) + dt)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)
      if (n === undefined) break
      const l = label(n)
      if (seen.has(l)) continue
      seen.add(l)
      total.set(l, (total.get(l) ?? 0) + dt)
    }
  }
  const busyUs = Math.max(1, totalUs - idleUs)
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([frame, s]) => ({
    frame,
    selfMs: s / 1000,
    selfPct: (100 * s) / busyUs,
    totalMs: (total.get(frame) ?? 0) / 1000,
    totalPct: (100 * (total.get(frame) ?? 0)) / busyUs
  }))
  return { rows, totalMs: totalUs / 1000, idleMs: idleUs / 1000 }
}

export function printProfileSummary (path: string, top = 25, window?: { fromMs: number, toMs: number }): void {
  const { rows, totalMs, idleMs } = summariseCpuProfile(path, top, window)
  const span = window !== undefined ? ` (${ms(window.fromMs, 0)}..${ms(window.toMs, 0)} after it started)` : ''
  console.log(`profile ${path}${span}: ${ms(totalMs, 0)} sampled, ${ms(idleMs, 0)} idle, ${ms(totalMs - idleMs, 0)} busy (percentages of busy time)`)
  console.log(`${'self ms'.padStart(9)} ${'self %'.padStart(7)} ${'total %'.padStart(8)}  function`)
  for (const r of rows) console.log(`${r.selfMs.toFixed(1).padStart(9)} ${r.selfPct.toFixed(1).padStart(7)} ${r.totalPct.toFixed(1).padStart(8)}  ${r.frame}`)
}

// ── server CPU split (issue 13) ───────────────────────────────────────────────────────────────────────

export type CpuPart = 'parse' | 'validate' | 'engine' | 'serialise' | 'write' | 'dispatch' | 'gc' | 'other'
export const CPU_PARTS: readonly CpuPart[] = ['parse', 'validate', 'engine', 'serialise', 'write', 'dispatch', 'gc', 'other']

/**
 * Which part of a tick's cost a profile frame is: the innermost frame of a sample's stack that some rule
 * names decides its part (so `writev` under the runner's uncork is write, JSON.stringify under `#emit` is
 * serialise, a Buffer decode under `#handle` is parse). Rules, by file and function:
 * - parse: ws's Receiver (frame parsing, unmasking), the socket's read callback, `WsConnection#handle` itself
 *   (text decode), the depth check, secure-json-parse, `JSON.parse`, the tick_ack fast path's scanner;
 * - validate: the envelope and message checks (TypeBox compiled code, dispatcher, error iterators);
 * - engine: everything under the simulation core (engine, order book, portfolio, fills, bars, metrics,
 *   money) — in the original code this includes building the tick's object graph (`barAt`);
 * - serialise: the runner's frame rendering (`#emit`, `#emitAll`, stamps, templates), the event log,
 *   `JSON.stringify`, `WsConnection.send`'s envelope;
 * - write: from the sink's `send` down (ws's Sender, the socket's write/writev, cork/uncork);
 * - dispatch: the handler, the service's lookup and the runner's bookkeeping (ack, pump loop, flow control),
 *   the connection's bounds (bucket, queue);
 * - gc; other: the event loop, timers, V8 `(program)`, anything unnamed.
 */
export function cpuPartOf (functionName: string, url: string): CpuPart | undefined {
  const f = functionName
  if (f === '(garbage collector)') return 'gc'
  if (url.includes('/ws/lib/receiver.js') || url.includes('secure-json-parse') || url.includes('json-depth.')) return 'parse'
  if (url.includes('tick-ack-fast-path.')) return 'parse'
  if (url === '' && (f === 'parse' || f === 'JSONParse')) return 'parse'
  if (url.includes('stream_base_commons') && f === 'onStreamRead') return 'parse'
  if (url.includes('/ws/lib/sender.js') || url.includes('/ws/lib/buffer-util.js')) return 'write'
  if (url.includes('/ws/lib/websocket.js') && (f === 'send' || f === 'ping')) return 'write'
  if (url === '' && /^(writev|writeUtf8String|writeLatin1String|writeBuffer|writeAsciiString)$/.test(f)) return 'write'
  if ((url.startsWith('node:net') || url.includes('streams/writable') || url.includes('stream_base_commons')) && /write|cork|clearBuffer|doWrite|Writev/i.test(f)) return 'write'
  if (url === '' && (f === 'stringify' || f === 'JSONStringify')) return 'serialise'
  if (url.includes('/typebox/') || url.includes('validation-messages.') || url.includes('/ws/dispatcher.')) return 'validate'
  if (url.endsWith('/server/ws/connection.ts')) {
    if (f === '#handle') return 'parse'
    if (f === 'send' || f === 'sendError') return 'serialise'
    if (f === 'sendRaw' || f === '#write' || f === 'cork' || f === 'uncork') return 'write'
    if (f === 'check' || f.startsWith('#check')) return 'validate'
    return 'dispatch'
  }
  if (url.includes('/server/simulation/runner.ts')) {
    if (f === '' || f === '(anonymous)') return undefined
    if (f === '#emit' || f === '#emitAll' || f === '#stamp' || f === 'releaseFinal' || f.includes('render') || f.includes('Frame')) return 'serialise'
    return 'dispatch'
  }
  if (url.includes('/server/simulation/tick-frames.') || url.includes('/server/simulation/event-log.') || url.includes('/server/iso-time.')) return 'serialise'
  if (url.includes('/server/ws/simulation-handlers.')) return (f === 'send' || f === 'cork' || f === 'uncork') ? 'write' : 'dispatch'
  if (url.includes('/server/simulation/simulation-service.') || url.includes('/server/ws/')) return 'dispatch'
  if (url.includes('/server/market-data/sources/')) return 'other'
  if (/\/server\/(simulation\/(engine|order-book|portfolio|fills|metrics|timeline)|market-data\/|money)/.test(url)) return 'engine'
  // Any other app or library code: counted as other, but not overriding a part named further up the stack.
  return undefined
}

/** Busy time of a .cpuprofile split into CpuPart (see cpuPartOf), in ms. */
export function cpuSplit (path: string): { busyMs: number, parts: Record<CpuPart, number> } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const partOfNode = new Map<number, CpuPart>()
  const resolve = (id: number): CpuPart => {
    const known = partOfNode.get(id)
    if (known !== undefined) return known
    const n = byId.get(id)
    let part: CpuPart = 'other'
    if (n !== undefined) {
      const own = cpuPartOf(n.callFrame.functionName, n.callFrame.url)
      const up = parent.get(id)
      part = own ?? (up !== undefined ? resolve(up) : 'other')
    }
    partOfNode.set(id, part)
    return part
  }
  // The inspector's own work (the `dispatch` of Profiler messages) is the profiler's cost, not the server's.
  const inspectorIds = new Map<number, boolean>()
  const underInspector = (id: number): boolean => {
    const known = inspectorIds.get(id)
    if (known !== undefined) return known
    const n = byId.get(id)
    const up = parent.get(id)
    const v = n !== undefined && (n.callFrame.url === 'node:inspector' || (up !== undefined && underInspector(up)))
    inspectorIds.set(id, v)
    return v
  }
  const parts = Object.fromEntries(CPU_PARTS.map((p) => [p, 0])) as Record<CpuPart, number>
  let busyUs = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    const node = byId.get(profile.samples[i])
    if (node === undefined || node.callFrame.functionName === '(idle)' || underInspector(node.id)) continue
    busyUs += dt
    parts[resolve(node.id)] += dt
  }
  for (const p of CPU_PARTS) parts[p] /= 1000
  return { busyMs: busyUs / 1000, parts }
}

/** One line: busy µs per tick and each part's µs per tick and share. */
export function printCpuSplit (path: string, ticks: number): void {
  const { busyMs, parts } = cpuSplit(path)
  const per = (v: number): string => (1000 * v / Math.max(1, ticks)).toFixed(1)
  console.log(`  CPU split (profiled, ${per(busyMs)} µs busy per tick): ` +
    CPU_PARTS.map((p) => `${p} ${per(parts[p])} µs (${(100 * parts[p] / Math.max(1e-9, busyMs)).toFixed(0)} %)`).join(', '))
}
