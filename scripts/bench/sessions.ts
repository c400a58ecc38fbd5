// Session benchmarks (issue 3 §6) against the real app listening on 127.0.0.1:0 with demo data and 200
// enterprise users; the load generator is a CHILD process (its own event loop and core), so client work
// does not inflate server latency. Measures:
//   1. REST session creation: open loop at 1,000 creates/s for 5 s (latency from send and from schedule,
//      achieved rate), closed loop at concurrency 1 and 32 (max throughput);
//   2. WebSocket session creation (create_session → session_created by request_id), 1,000/s over 50 connections;
//   3. market-data validation cold (every request a cache miss) vs cached: POST /market-data/validate over
//      HTTP, and in-process through app.marketData.validate (the targets apply to the in-process call);
//   4. 2,000 concurrently active sessions across 200 users (1,000 of them running and waiting for tick_ack):
//      GET /sessions and GET /sessions/{id} latency under load, heap and RSS;
//   5. memory per stored session at 10,000 and 100,000 sessions through the app's SessionManager.
// Targets: create p99 ≤ 5 ms at 1,000/s; validation ≤ 1 ms cold, ≤ 50 µs cached; ≤ 10 KB per idle session;
// 100,000 sessions in one process; 1,000+ concurrently active sessions across 200 users. Figures only.
//
// Run: node --expose-gc --import tsx scripts/bench/sessions.ts        (about 1 minute)
//
// With --storage, instead: REST creation (open loop 1,000/s; closed loops c=1 and c=32) on each storage mode
// in the same run — memory, embedded PostgreSQL (PGlite) and the machine's PostgreSQL — then the time from
// process start to serving with 100,000 stored sessions (PGlite and PostgreSQL). About 2 minutes.
//   node --expose-gc --import tsx scripts/bench/sessions.ts --storage
// Sessions are deleted in-process between phases, so plan limits (enterprise: 100 active, 500/hour per user)
// never refuse a benchmark request; the refusals column stays 0 unless the server errs.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openPglite } from '../../server/adapters/sql/pglite-client.js'
import { openPostgres } from '../../server/adapters/sql/pg-client.js'
import type { SqlClient } from '../../server/adapters/sql/sql-client.js'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { buildApp } from '../../server/app.js'
import type { CreateSessionBody } from '../../schemas/sessions.js'
import {
  BENCH_JWT_SECRET, benchStorages, benchConfig, benchUsers, type BenchStorage, closedLoop, cpuSince, gcFunction, int, isWorker, latencyLine, listenApp, machineLine,
  mb, memoryAfterGc, openLoop, percentiles, serveWorker, tokenFor, us, WorkerProcess,
  type BenchUser, type CpuSpent, type LoadReport, type LoadResult
} from './lib.js'

const USERS = 200
const SESSION_BODY = { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30', timeframe: '1d' as const }
const VALIDATE_SYMBOLS = ['AAPL', 'msft', 'EURUSD', 'X:BTCUSD', 'brk-b']
const VALIDATE_BASE_MS = Date.UTC(2015, 0, 5)
const DAY_MS = 86_400_000
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

// ── the load generator (child process) ───────────────────────────────────────────────────────────────

interface InitArgs { baseUrl: string, wsUrl: string, keys: string[] }
interface CreateArgs { loop: 'open' | 'closed', rate?: number, durationMs: number, concurrency?: number, maxCount?: number }
interface WsCreateArgs { rate: number, durationMs: number, connections: number }
interface ValidateArgs { kind: 'warm' | 'cold' | 'cached', n: number }
interface ReadArgs { loop: 'open' | 'closed', rate?: number, durationMs: number, concurrency?: number, ids: string[][] }
interface ReadReport extends LoadReport { listMs: number[], getMs: number[] }

const client = { baseUrl: '', wsUrl: '', tokens: [] as string[] }

function headers (token: string, json: boolean): Record<string, string> {
  return json ? { authorization: `Bearer ${token}`, 'content-type': 'application/json' } : { authorization: `Bearer ${token}` }
}

function count (outcomes: Record<string, number>, key: string): void { outcomes[key] = (outcomes[key] ?? 0) + 1 }

async function drive (args: { loop: 'open' | 'closed', rate?: number, durationMs: number, concurrency?: number, maxCount?: number }, op: (i: number) => Promise<boolean>): Promise<LoadResult> {
  if (args.loop === 'open') return await openLoop({ rate: args.rate ?? 1000, durationMs: args.durationMs, op })
  return await closedLoop({ concurrency: args.concurrency ?? 1, durationMs: args.durationMs, maxCount: args.maxCount ?? 20_000, op })
}

async function restCreate (args: CreateArgs): Promise<LoadReport & { ids: string[][] }> {
  const outcomes: Record<string, number> = {}
  const ids: string[][] = client.tokens.map(() => [])
  const cpu0 = process.cpuUsage()
  const result = await drive(args, async (i) => {
    const u = i % client.tokens.length
    const res = await fetch(`${client.baseUrl}/sessions`, {
      method: 'POST',
      headers: headers(client.tokens[u], true),
      body: JSON.stringify({ ...SESSION_BODY, metadata: { strategy: 'bench', run: i } })
    })
    const text = await res.text()
    count(outcomes, String(res.status))
    if (res.status !== 201) return false
    ids[u].push((JSON.parse(text) as { session_id: string }).session_id)
    return true
  })
  return { result, clientCpu: cpuSince(cpu0), outcomes, ids }
}

async function wsCreate (args: WsCreateArgs): Promise<LoadReport> {
  const outcomes: Record<string, number> = {}
  const conns = await Promise.all(Array.from({ length: args.connections }, async (_, c) => {
    const ws = new WebSocket(`${client.wsUrl}?token=${client.tokens[c % client.tokens.length]}`)
    const pending = new Map<string, (reply: { type: string, data: { error_code?: string } }) => void>()
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject)
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString()) as { type: string, request_id?: string, data: { error_code?: string } }
        if (m.type === 'connection_ready') { resolve(); return }
        if (m.request_id === undefined) return
        const done = pending.get(m.request_id)
        if (done !== undefined) { pending.delete(m.request_id); done(m) }
      })
    })
    return { ws, pending }
  }))
  const cpu0 = process.cpuUsage()
  const result = await openLoop({
    rate: args.rate,
    durationMs: args.durationMs,
    op: async (i) => {
      const conn = conns[i % conns.length]
      const requestId = `c${i}`
      const reply = await new Promise<{ type: string, data: { error_code?: string } }>((resolve) => {
        conn.pending.set(requestId, resolve)
        conn.ws.send(JSON.stringify({ type: 'create_session', request_id: requestId, data: { ...SESSION_BODY, metadata: { strategy: 'bench', run: i } } }))
      })
      count(outcomes, reply.type === 'session_created' ? reply.type : `${reply.type}:${reply.data.error_code ?? '?'}`)
      return reply.type === 'session_created'
    }
  })
  const clientCpu = cpuSince(cpu0)
  await Promise.all(conns.map(async ({ ws }) => {
    ws.close()
    await new Promise((resolve) => { ws.once('close', resolve) })
  }))
  return { result, clientCpu, outcomes }
}

async function validateHttp (args: ValidateArgs): Promise<{ samplesMs: number[], outcomes: Record<string, number> }> {
  const outcomes: Record<string, number> = {}
  const token = client.tokens[0]
  const post = async (body: unknown): Promise<number> => {
    const t0 = performance.now()
    const res = await fetch(`${client.baseUrl}/market-data/validate`, { method: 'POST', headers: headers(token, true), body: JSON.stringify(body) })
    const reply = await res.json() as { valid?: boolean }
    const took = performance.now() - t0
    count(outcomes, `${res.status}${reply.valid === true ? ' valid' : ' invalid'}`)
    return took
  }
  const samplesMs: number[] = []
  const same = { symbols: VALIDATE_SYMBOLS, start_date: '2020-01-02', end_date: '2023-12-29', timeframe: '1d' }
  for (let i = 0; i < args.n; i++) {
    // warm: dates before the measured ones (connection, JIT, route); cold: a new start date each time.
    const startMs = args.kind === 'warm' ? VALIDATE_BASE_MS - (i + 1) * DAY_MS : VALIDATE_BASE_MS + i * DAY_MS
    samplesMs.push(await post(args.kind === 'cached' ? same : { ...same, start_date: isoDay(startMs) }))
  }
  return { samplesMs, outcomes }
}

async function startSessions (args: { ids: string[][], count: number }): Promise<LoadReport> {
  const outcomes: Record<string, number> = {}
  const flat = args.ids.flatMap((list, u) => list.map((id) => ({ u, id }))).slice(0, args.count)
  const cpu0 = process.cpuUsage()
  const result = await closedLoop({
    concurrency: 16,
    durationMs: 30_000,
    maxCount: flat.length,
    op: async (i) => {
      const { u, id } = flat[i]
      // Flow control on and no strategy attached: the run sends tick 1 and waits for its ack (a live run).
      const res = await fetch(`${client.baseUrl}/sessions/${id}/start`, { method: 'POST', headers: headers(client.tokens[u], true), body: '{}' })
      await res.text()
      count(outcomes, String(res.status))
      return res.status === 200
    }
  })
  return { result, clientCpu: cpuSince(cpu0), outcomes }
}

async function readLoad (args: ReadArgs): Promise<ReadReport> {
  const outcomes: Record<string, number> = {}
  const listMs: number[] = []
  const getMs: number[] = []
  const cpu0 = process.cpuUsage()
  const users = args.ids.length
  const result = await drive(args, async (i) => {
    const u = i % users
    const list = (i >> 1) % 2 === 0
    const ids = args.ids[u]
    const path = list ? '/sessions?limit=20' : `/sessions/${ids[(i >> 2) % ids.length]}`
    const t0 = performance.now()
    const res = await fetch(`${client.baseUrl}${path}`, { headers: headers(client.tokens[u], false) })
    await res.text()
    ;(list ? listMs : getMs).push(performance.now() - t0)
    count(outcomes, `${list ? 'list' : 'get'} ${res.status}`)
    return res.status === 200
  })
  return { result, clientCpu: cpuSince(cpu0), outcomes, listMs, getMs }
}

function workerMain (): void {
  serveWorker({
    init: async (raw) => {
      const args = raw as InitArgs
      client.baseUrl = args.baseUrl
      client.wsUrl = args.wsUrl
      client.tokens = []
      for (const key of args.keys) client.tokens.push(await tokenFor(args.baseUrl, key))
      return client.tokens.length
    },
    restCreate: async (args) => await restCreate(args as CreateArgs),
    wsCreate: async (args) => await wsCreate(args as WsCreateArgs),
    validateHttp: async (args) => await validateHttp(args as ValidateArgs),
    startSessions: async (args) => await startSessions(args as { ids: string[][], count: number }),
    readLoad: async (args) => await readLoad(args as ReadArgs)
  })
}

// ── the server and the report (parent process) ───────────────────────────────────────────────────────

function cpuText (server: CpuSpent, client: CpuSpent, wallMs: number): string {
  return `CPU server ${int(server.totalMs)} ms (${(100 * server.totalMs / wallMs).toFixed(0)} % of a core), client ${int(client.totalMs)} ms (${(100 * client.totalMs / wallMs).toFixed(0)} %)`
}

/**
 * Server-side time of each HTTP request by route (`POST /sessions` …): Fastify's reply.elapsedTime in an
 * onResponse hook (request received → response written), i.e. without the client's own overhead.
 */
const serverTimes = new Map<string, number[]>()
function recordServerTimes (app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const key = `${request.method} ${request.routeOptions.url ?? '?'}`
    let list = serverTimes.get(key)
    if (list === undefined) { list = []; serverTimes.set(key, list) }
    list.push(reply.elapsedTime)
  })
}
function printServerTimes (): void {
  for (const [route, samples] of serverTimes) if (!route.startsWith('POST /auth')) console.log(`  ${latencyLine(`server time ${route}`, samples)}`)
  serverTimes.clear()
}

function printLoad (label: string, r: LoadReport, serverCpu: CpuSpent): void {
  const x = r.result
  const outcomes = Object.entries(r.outcomes).map(([k, v]) => `${k}×${int(v)}`).join(' ')
  console.log(`${label}`)
  console.log(`  sent ${int(x.sent)}, ok ${int(x.ok)}, failed ${int(x.failed)}, skipped ${int(x.skipped)}, unfinished ${int(x.unfinished)} [${outcomes}]; ` +
    `send rate ${int(x.sendRate)}/s, completion rate ${int(x.completionRate)}/s over ${int(x.elapsedMs)} ms`)
  console.log(`  ${latencyLine('latency (send → reply)', x.latencyMs)}`)
  if (x.fromScheduleMs.length > 0) console.log(`  ${latencyLine('latency (scheduled send → reply)', x.fromScheduleMs)}`)
  printServerTimes()
  console.log(`  ${cpuText(serverCpu, r.clientCpu, x.elapsedMs)}; server CPU per request ${(1000 * serverCpu.totalMs / Math.max(1, x.ok + x.failed)).toFixed(0)} µs`)
}

async function timedCall<T> (worker: WorkerProcess, cmd: string, args: unknown): Promise<{ value: T, serverCpu: CpuSpent }> {
  const cpu0 = process.cpuUsage()
  const value = await worker.call<T>(cmd, args)
  return { value, serverCpu: cpuSince(cpu0) }
}

/** Deletes every session of `users` in-process (so the next phase starts below every plan limit). */
async function purge (app: FastifyInstance, users: readonly BenchUser[]): Promise<number> {
  let n = 0
  for (const u of users) {
    const user = { user_id: u.user_id, plan: u.plan }
    for (;;) {
      const page = await app.sessions.list(user, { limit: 100 })
      if (page.sessions.length === 0) break
      for (const s of page.sessions) { await app.sessions.delete(user, s.session_id); n++ }
    }
  }
  return n
}

function inProcessValidation (app: FastifyInstance): void {
  const md = app.marketData
  const body = (startMs: number, end = '2023-12-29'): { symbols: string[], start_date: string, end_date: string, timeframe: '1d' } =>
    ({ symbols: VALIDATE_SYMBOLS, start_date: isoDay(startMs), end_date: end, timeframe: '1d' })
  for (let i = 0; i < 2000; i++) md.validate(body(VALIDATE_BASE_MS - (400 - (i % 300)) * DAY_MS))
  md.validator.clearCache()
  const cold: number[] = []
  for (let i = 0; i < 3000; i++) {
    const b = body(VALIDATE_BASE_MS + i * DAY_MS)
    const t0 = performance.now()
    md.validate(b)
    cold.push((performance.now() - t0) * 1000)
  }
  const same = { symbols: VALIDATE_SYMBOLS, start_date: '2020-01-02', end_date: '2023-12-29', timeframe: '1d' as const }
  md.validate(same)
  const cached: number[] = []
  for (let i = 0; i < 20_000; i++) {
    const t0 = performance.now()
    md.validate(same)
    cached.push((performance.now() - t0) * 1000)
  }
  const tc = performance.now()
  for (let i = 0; i < 100_000; i++) md.validate(same)
  const cachedMean = ((performance.now() - tc) * 1000) / 100_000
  md.validator.clearCache()
  const bodies = Array.from({ length: 3000 }, (_, i) => body(VALIDATE_BASE_MS + i * DAY_MS, '2024-12-31'))
  const tm = performance.now()
  for (const b of bodies) md.validate(b)
  const coldMean = ((performance.now() - tm) * 1000) / bodies.length
  const line = (label: string, s: number[]): string => {
    const p = percentiles(s)
    return `  ${label.padEnd(62)} p50 ${us(p.p50).padStart(9)}  p99 ${us(p.p99).padStart(9)}  max ${us(p.max).padStart(10)}  (n=${int(p.n)})`
  }
  console.log('validation in-process, app.marketData.validate, 5 symbols (stock, forex, crypto), 1d:')
  console.log(line('cold (cache miss: every start date differs)', cold))
  console.log(line('cached (same request)', cached))
  console.log(`  batched means (timer overhead excluded): cold ${us(coldMean, 2)}, cached ${us(cachedMean, 2)} per call`)
}

/** A typical session request (as in session-store.ts): three stocks, a year of daily bars, small metadata. */
function typicalBody (i: number): CreateSessionBody {
  return { symbols: ['aapl', 'msft', 'spy'], start_date: '2023-01-03', end_date: '2023-12-29', initial_capital: 100000, metadata: { strategy: 'sma-cross', fast: 10, slow: 50, run: i } }
}

async function memoryPerSession (): Promise<void> {
  const gc = gcFunction()
  const memUsers = Array.from({ length: 1000 }, (_, i) => ({ user_id: `mem${String(i).padStart(4, '0')}`, plan: 'enterprise' as const }))
  const app = await buildApp(benchConfig(benchUsers(1, 'memkey')), { logger: false })
  await app.ready()
  try {
    const u0 = { user_id: 'warm', plan: 'enterprise' as const }
    for (let i = 0; i < 100; i++) await app.sessions.create(u0, typicalBody(i))
    await app.sessions.create(memUsers[0], typicalBody(0))
    await purge(app, [{ ...u0, key: '' }, { ...memUsers[0], key: '' }])
    const base = memoryAfterGc(gc)
    console.log('memory per stored idle session, in-process through app.sessions.create (1,000 users, typical request):')
    let created = 0
    for (const target of [10_000, 100_000]) {
      const t0 = performance.now()
      const from = created
      for (; created < target; created++) await app.sessions.create(memUsers[created % memUsers.length], typicalBody(created))
      const took = performance.now() - t0
      const m = memoryAfterGc(gc)
      console.log(`  ${int(target).padStart(7)} sessions: heap ${mb(m.heapUsed - base.heapUsed)} → ${((m.heapUsed - base.heapUsed) / target / 1024).toFixed(2)} KB/session; ` +
        `RSS ${mb(base.rss)} → ${mb(m.rss)}; created ${int(target - from)} in ${int(took)} ms (${int((target - from) / (took / 1000))}/s)`)
    }
    const usage = await app.sessions.usage(memUsers[0])
    console.log(`  check: user ${memUsers[0].user_id} holds ${usage.active_sessions} active sessions; total stored ${int(created)}`)
  } finally {
    await app.close()
  }
}

async function main (): Promise<void> {
  console.log(machineLine())
  const gc = gcFunction()
  const users = benchUsers(USERS)
  const { app, baseUrl, wsUrl } = await listenApp(users, {}, recordServerTimes)
  const worker = new WorkerProcess(fileURLToPath(import.meta.url))
  try {
    await worker.call('init', { baseUrl, wsUrl, keys: users.map((u) => u.key) } satisfies InitArgs)
    console.log(`server pid ${process.pid}, load generator pid ${worker.pid ?? '?'} (child process), ${USERS} enterprise users; create body: 2 stocks, 1d, H1 2023`)

    // 1. REST creation. A short closed-loop warm-up first (JIT, connections), not reported.
    await worker.call('restCreate', { loop: 'closed', concurrency: 8, durationMs: 1000, maxCount: 2000 } satisfies CreateArgs)
    await purge(app, users)
    serverTimes.clear()
    for (const [label, args] of [
      ['REST POST /sessions, open loop 1,000/s for 5 s', { loop: 'open', rate: 1000, durationMs: 5000 }],
      ['REST POST /sessions, closed loop, concurrency 1, 3 s', { loop: 'closed', concurrency: 1, durationMs: 3000, maxCount: 15_000 }],
      ['REST POST /sessions, closed loop, concurrency 32, 3 s', { loop: 'closed', concurrency: 32, durationMs: 3000, maxCount: 15_000 }]
    ] as Array<[string, CreateArgs]>) {
      const { value, serverCpu } = await timedCall<LoadReport>(worker, 'restCreate', args)
      printLoad(label, value, serverCpu)
      await purge(app, users)
    }

    // 2. WebSocket creation (50 connections, one per user: 5,000 sessions = 100 per user, the enterprise limit).
    await worker.call('wsCreate', { rate: 500, durationMs: 1000, connections: 50 } satisfies WsCreateArgs)
    await purge(app, users)
    serverTimes.clear()
    {
      const { value, serverCpu } = await timedCall<LoadReport>(worker, 'wsCreate', { rate: 1000, durationMs: 5000, connections: 50 } satisfies WsCreateArgs)
      printLoad('WebSocket create_session, open loop 1,000/s for 5 s over 50 connections', value, serverCpu)
      await purge(app, users)
    }

    // 3. Validation: HTTP round trip (cache cleared after the client's warm-up), then in-process.
    {
      type V = { samplesMs: number[], outcomes: Record<string, number> }
      await worker.call<V>('validateHttp', { kind: 'warm', n: 300 } satisfies ValidateArgs)
      app.marketData.validator.clearCache()
      serverTimes.clear()
      console.log('validation over HTTP, POST /market-data/validate, 5 symbols (stock, forex, crypto), 1d, sequential (concurrency 1):')
      for (const [kind, n, label] of [['cold', 2000, 'cold (cache miss: every start date differs)'], ['cached', 5000, 'cached (same request)']] as const) {
        const { value } = await timedCall<V>(worker, 'validateHttp', { kind, n } satisfies ValidateArgs)
        console.log(`  ${latencyLine(`${label} [${Object.entries(value.outcomes).map(([k, v]) => `${k}×${v}`).join(' ')}]`, value.samplesMs)}`)
        printServerTimes()
      }
      app.marketData.validator.clearCache()
      inProcessValidation(app)
    }

    // 4. 2,000 live sessions across 200 users, 1,000 of them running; reads under load.
    {
      await purge(app, users)
      const m0 = memoryAfterGc(gc)
      const created = await timedCall<LoadReport & { ids: string[][] }>(worker, 'restCreate', { loop: 'closed', concurrency: 32, durationMs: 30_000, maxCount: 2000 } satisfies CreateArgs)
      const m1 = memoryAfterGc(gc)
      const started = await timedCall<LoadReport>(worker, 'startSessions', { ids: created.value.ids.map((l) => l.slice(0, 5)), count: 1000 })
      const m2 = memoryAfterGc(gc)
      const sample = { user_id: users[0].user_id, plan: users[0].plan }
      const usage = await app.sessions.usage(sample)
      console.log(`active sessions: ${int(created.value.result.ok)} created across ${USERS} users (closed loop c=32, ${int(created.value.result.completionRate)}/s), ` +
        `${int(started.value.result.ok)} of them started (running, waiting for tick_ack); simulation.activeRuns ${app.simulation.activeRuns}; ${users[0].user_id} has ${usage.active_sessions} active`)
      console.log(`  heap after GC: empty ${mb(m0.heapUsed)}, 2,000 created ${mb(m1.heapUsed)} (+${mb(m1.heapUsed - m0.heapUsed)}), 1,000 started ${mb(m2.heapUsed)} (+${mb(m2.heapUsed - m0.heapUsed)}); ` +
        `RSS ${mb(m0.rss)} → ${mb(m1.rss)} → ${mb(m2.rss)} (RSS also holds freed heap of the earlier phases)`)
      console.log(`  ${latencyLine('POST /sessions/{id}/start (closed loop c=16)', started.value.result.latencyMs)}`)
      serverTimes.clear()
      for (const [label, args] of [
        ['reads, open loop 1,000/s for 5 s (½ GET /sessions?limit=20, ½ GET /sessions/{id})', { loop: 'open', rate: 1000, durationMs: 5000, ids: created.value.ids }],
        ['reads, closed loop, concurrency 32, 3 s', { loop: 'closed', concurrency: 32, durationMs: 3000, ids: created.value.ids }]
      ] as Array<[string, ReadArgs]>) {
        const { value, serverCpu } = await timedCall<ReadReport>(worker, 'readLoad', args)
        printLoad(label, value, serverCpu)
        console.log(`  ${latencyLine('  GET /sessions?limit=20 (send → reply)', value.listMs)}`)
        console.log(`  ${latencyLine('  GET /sessions/{id} (send → reply)', value.getMs)}`)
      }
      console.log(`  RSS after the read phases: ${mb(process.memoryUsage().rss)}`)
      await purge(app, users)
    }
  } finally {
    await worker.close()
    await app.close()
  }

  // 5. Memory per stored session, on a fresh app with nothing else in it.
  await memoryPerSession()
}

// ── --storage: each storage mode in one run ──────────────────────────────────────────────────────────

async function storageMain (): Promise<void> {
  console.log(machineLine())
  const users = benchUsers(USERS)
  const modes = await benchStorages()
  try {
    for (const mode of modes) {
      const t0 = performance.now()
      const { app, baseUrl, wsUrl } = await listenApp(users, mode.env, recordServerTimes)
      console.log(`── ${mode.label}: app ready in ${int(performance.now() - t0)} ms`)
      const worker = new WorkerProcess(fileURLToPath(import.meta.url))
      try {
        await worker.call('init', { baseUrl, wsUrl, keys: users.map((u) => u.key) } satisfies InitArgs)
        await worker.call('restCreate', { loop: 'closed', concurrency: 8, durationMs: 1000, maxCount: 2000 } satisfies CreateArgs)
        await purge(app, users)
        serverTimes.clear()
        for (const [label, args] of [
          ['REST POST /sessions, open loop 1,000/s for 5 s', { loop: 'open', rate: 1000, durationMs: 5000 }],
          ['REST POST /sessions, closed loop, concurrency 1, 3 s', { loop: 'closed', concurrency: 1, durationMs: 3000, maxCount: 15_000 }],
          ['REST POST /sessions, closed loop, concurrency 32, 3 s', { loop: 'closed', concurrency: 32, durationMs: 3000, maxCount: 15_000 }]
        ] as Array<[string, CreateArgs]>) {
          const { value, serverCpu } = await timedCall<LoadReport>(worker, 'restCreate', args)
          printLoad(`${mode.label}: ${label}`, value, serverCpu)
          await purge(app, users)
        }
      } finally {
        await worker.close()
        await app.close()
      }
    }
    for (const mode of modes) if (mode.label === 'PGlite' || mode.label === 'PostgreSQL') await restartTime(mode)
  } finally {
    for (const mode of modes) await mode.drop()
  }
}

const SEED_USERS = 1000
const SEED_KEY = 'bench_key_seed_0_0123456789'

/** Fills the mode's (migrated) database with 100,000 sessions of 1,000 users, then times server starts. */
async function restartTime (mode: BenchStorage): Promise<void> {
  const db: SqlClient = mode.env.DATABASE_URL !== undefined
    ? openPostgres(mode.env.DATABASE_URL, { onConnectionError: () => {} })
    : await openPglite(join(mode.env.SIMUTRADOR_STATE_DIR, 'pgdata'))
  try {
    const t0 = performance.now()
    await db.exec(`
      INSERT INTO sessions (user_id, session_id, symbols, start_date, end_date, timeframe, initial_capital, commission_per_share,
        min_commission_per_order, slippage_bps, allow_short, volume_participation, fill_policy_version, state, created_at, updated_at,
        expires_at, metadata, estimated_ticks, progress, error_message)
      SELECT 'seed_' || (g % ${SEED_USERS}), 'sess_seed_' || g, ARRAY['AAPL', 'MSFT', 'SPY'], '2023-01-03', '2023-12-29', '1d', 100000, 0.005, 0, 5,
        false, NULL, '1.0.0', CASE WHEN g % 10 = 0 THEN 'completed' ELSE 'ready' END, now() - g * interval '1 second', now(),
        now() + interval '1 day', jsonb_build_object('strategy', 'sma-cross', 'fast', 10, 'slow', 50, 'run', g), 250, 0, NULL
      FROM generate_series(1, 100000) AS g;
      INSERT INTO creation_log (user_id, session_id, created_at) SELECT user_id, session_id, created_at FROM sessions WHERE user_id LIKE 'seed%';
      ANALYZE;`)
    const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM sessions')
    console.log(`── ${mode.label}: restart with ${int(n)} stored sessions (seeded in ${int(performance.now() - t0)} ms)`)
  } finally {
    await db.close()
  }
  const root = fileURLToPath(new URL('../../', import.meta.url))
  for (let run = 1; run <= 3; run++) {
    const t0 = performance.now()
    const child = spawn(process.execPath, ['bin/simutrador-server.js'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...mode.env, PORT: '0', LOG_LEVEL: 'error', JWT_SECRET: BENCH_JWT_SECRET, SIMUTRADOR_API_KEYS: `${SEED_KEY}:seed_0:enterprise` }
    })
    const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
    let out = ''
    const baseUrl = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString()
        const m = /listening on (http:\/\/\S+)/.exec(out)
        if (m !== null) resolve(m[1])
      })
      void exited.then(() => { reject(new Error(`server exited:\n${out}`)) })
    })
    const listening = performance.now() - t0
    const token = await tokenFor(baseUrl, SEED_KEY)
    const t1 = performance.now()
    const res = await fetch(`${baseUrl}/sessions?limit=20`, { headers: { authorization: `Bearer ${token}` } })
    const page = await res.json() as { sessions: unknown[] }
    const firstList = performance.now() - t1
    console.log(`  start ${run}: listening after ${int(listening)} ms (process start → banner); first GET /sessions?limit=20 ` +
      `${res.status} with ${page.sessions.length} sessions in ${firstList.toFixed(1)} ms; serving after ${int(performance.now() - t0)} ms`)
    child.kill('SIGTERM')
    await exited
  }
}

if (isWorker()) workerMain()
else if (process.argv.includes('--storage')) await storageMain()
else await main()
