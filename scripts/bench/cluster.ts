// Several instances as one service (issue 10): real server processes (`node bin/simutrador-server.js`) on one
// PostgreSQL schema and one Redis prefix, fresh for each configuration, against load from other processes.
//  - throughput: one instance against three, interleaved per round: creates/s (POST /sessions spread round
//    robin over the instances, 32 in flight) and lockstep ticks/s in total across `--runs` concurrent runs
//    (AAPL 1m, one week, a lean client in a child process acking every tick), with the servers' CPU per
//    create and per tick (from /proc: every instance's user + system time);
//  - fanout: a lockstep run owned by A, watched on A and on B: for each frame, B's receipt minus A's (A's
//    local watcher gets it as the owner sends it; B's comes through the owner's batched append to the Redis
//    stream and B's XREAD), p50/p99;
//  - failover: the SDK with the three URLs runs a lockstep strategy; the run's owner is killed (kill -9) at
//    `--kills` points and restarted; time from the kill to the strategy's next tick, per RUN_LEASE_MS.
// Figures only; nothing asserts timing.
//
// Run: npx tsx scripts/bench/cluster.ts [--rounds=2] [--runs=50] [--creates=2000] [--only=throughput,fanout,failover] [--kills=5]
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { BENCH_JWT_SECRET, benchStorages, benchUsers, int, isWorker, machineLine, percentiles, serveWorker, sleep, tokenFor, WorkerProcess, type BenchUser } from './lib.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WEEK = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-09', timeframe: '1m' as const }
const USERS = benchUsers(40, 'cl')
const CLK_TCK = 100

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt

interface Instance { id: string, baseUrl: string, wsUrl: string, child: ChildProcess, port: number }

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}
const cpuOf = (instances: readonly Instance[]): number => instances.reduce((sum, i) => sum + (i.child.pid !== undefined ? cpuSeconds(i.child.pid) : 0), 0)

interface Space { env: Record<string, string>, drop: () => Promise<void> }

/** A fresh PostgreSQL schema and Redis prefix for one configuration (the `redis` storage mode of lib.ts). */
async function freshSpace (): Promise<Space> {
  const [space] = await benchStorages(['redis'])
  if (space === undefined) throw new Error('PostgreSQL is not reachable')
  return space
}

async function startInstance (id: string, env: Record<string, string>, port = 0): Promise<Instance> {
  const child = spawn(process.execPath, ['bin/simutrador-server.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JWT_SECRET: BENCH_JWT_SECRET,
      SIMUTRADOR_API_KEYS: USERS.map((u) => `${u.key}:${u.user_id}:${u.plan}`).join(','),
      INSTANCE_ID: id,
      ...env
    }
  })
  let out = ''
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`instance ${id} did not listen:\n${out}`)) }, 120_000)
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`instance ${id} exited (${String(code)}):\n${out}`)) })
  })
  return { id, baseUrl, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws/simulate`, child, port: Number(new URL(baseUrl).port) }
}

async function stop (inst: Instance, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (inst.child.exitCode !== null || inst.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => { inst.child.once('exit', () => { resolve() }) })
  inst.child.kill(signal)
  await exited
}

async function startCluster (n: number, extra: Record<string, string> = {}): Promise<{ instances: Instance[], space: Space }> {
  const space = await freshSpace()
  const first = await startInstance('a', { ...space.env, ...extra })
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await startInstance(String.fromCharCode(98 + i), { ...space.env, ...extra })))
  return { instances: [first, ...rest], space }
}

async function stopCluster (c: { instances: Instance[], space: Space }): Promise<void> {
  await Promise.all(c.instances.map(async (i) => { await stop(i) }))
  await c.space.drop()
}

// ── the lean lockstep client (in a worker process) ────────────────────────────────────────────────────

interface RunsArgs { targets: Array<{ baseUrl: string, wsUrl: string }>, users: BenchUser[], runs: number }
interface RunsResult { ticks: number, wallMs: number, failures: string[] }

/** One lockstep run on `target`: create over REST, start over the WebSocket, ack every tick; resolves its ticks. */
async function lockstep (target: { baseUrl: string, wsUrl: string }, token: string): Promise<number> {
  const created = await fetch(`${target.baseUrl}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(WEEK) })
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`)
  const id = (await created.json() as { session_id: string }).session_id
  const ws = new WebSocket(`${target.wsUrl}?token=${token}`)
  return await new Promise<number>((resolve, reject) => {
    let ticks = 0
    ws.on('error', reject)
    ws.on('message', (raw: Buffer) => {
      const text = raw.toString()
      if (text.startsWith('{"type":"tick"')) {
        ticks++
        const seq = /"sequence_id":(\d+)/.exec(text)?.[1]
        ws.send(`{"type":"tick_ack","data":{"session_id":"${id}","sequence_id":${seq ?? '0'},"processing_status":"ready"}}`)
      } else if (text.startsWith('{"type":"connection_ready"')) {
        ws.send(JSON.stringify({ type: 'start_simulation', data: { session_id: id }, request_id: 'start' }))
      } else if (text.startsWith('{"type":"simulation_complete"')) {
        ws.close()
        resolve(ticks)
      } else if (text.startsWith('{"type":"session_error"') || text.startsWith('{"type":"error"')) {
        ws.close()
        reject(new Error(text.slice(0, 300)))
      }
    })
  })
}

async function workerRuns (raw: unknown): Promise<RunsResult> {
  const { targets, users, runs } = raw as RunsArgs
  const tokens = await Promise.all(users.map(async (u) => await tokenFor(targets[0].baseUrl, u.key)))
  const started = performance.now()
  const failures: string[] = []
  const counts = await Promise.all(Array.from({ length: runs }, async (_, i) => {
    try {
      return await lockstep(targets[i % targets.length], tokens[i % tokens.length])
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err))
      return 0
    }
  }))
  return { ticks: counts.reduce((a, b) => a + b, 0), wallMs: performance.now() - started, failures }
}

// ── throughput: one instance against three ────────────────────────────────────────────────────────────

async function creates (instances: readonly Instance[], count: number): Promise<{ perSec: number, cpuMsPer: number, failures: number }> {
  const tokens = await Promise.all(USERS.map(async (u) => await tokenFor(instances[0].baseUrl, u.key)))
  const cpu0 = cpuOf(instances)
  const started = performance.now()
  let next = 0
  let failures = 0
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < count; i = next++) {
      const res = await fetch(`${instances[i % instances.length].baseUrl}/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[i % tokens.length]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...WEEK, timeframe: '1d' })
      })
      await res.arrayBuffer()
      if (res.status !== 201) failures++
    }
  }))
  const wall = performance.now() - started
  return { perSec: count / (wall / 1000), cpuMsPer: (cpuOf(instances) - cpu0) * 1000 / count, failures }
}

async function throughput (rounds: number, runs: number, createCount: number): Promise<void> {
  console.log(`\n## One instance against three (${runs} concurrent lockstep runs of ${WEEK.symbols[0]} 1m ${WEEK.start_date}..${WEEK.end_date}; ${createCount} creates, 32 in flight)`)
  console.log('| round | instances | creates/s | server CPU per create | lockstep ticks/s (total) | server CPU per tick | failures |')
  console.log('|---|---|---|---|---|---|---|')
  const worker = new WorkerProcess(fileURLToPath(import.meta.url))
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const n of round % 2 === 1 ? [1, 3] : [3, 1]) {
        const cluster = await startCluster(n)
        try {
          const made = await creates(cluster.instances, createCount)
          const cpu0 = cpuOf(cluster.instances)
          // Sessions of the runs are created by the worker, 5 per user at most (fresh users: the creates above used theirs).
          const r = await worker.call<RunsResult>('runs', { targets: cluster.instances.map((i) => ({ baseUrl: i.baseUrl, wsUrl: i.wsUrl })), users: USERS.slice(20), runs }, 600_000)
          const cpuTick = (cpuOf(cluster.instances) - cpu0) * 1e6 / Math.max(1, r.ticks)
          console.log(`| ${round} | ${n} | ${int(made.perSec)} | ${(made.cpuMsPer).toFixed(2)} ms | ${int(r.ticks / (r.wallMs / 1000))} (${int(r.ticks)} ticks in ${(r.wallMs / 1000).toFixed(1)} s) | ${int(cpuTick)} µs | ${made.failures + r.failures.length}${r.failures.length > 0 ? ` (${r.failures[0].slice(0, 80)})` : ''} |`)
        } finally {
          await stopCluster(cluster)
        }
      }
    }
  } finally {
    await worker.call('exit').catch(() => undefined)
  }
}

// ── fan-out latency ───────────────────────────────────────────────────────────────────────────────────

async function watch (wsUrl: string, token: string, sessionId: string, seen: Map<number, number>): Promise<WebSocket> {
  const ws = new WebSocket(`${wsUrl}?token=${token}`)
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject)
    ws.on('message', (raw: Buffer) => {
      const text = raw.toString()
      if (text.startsWith('{"type":"connection_ready"')) ws.send(JSON.stringify({ type: 'subscribe_session', data: { session_id: sessionId }, request_id: 'sub' }))
      else if (text.startsWith('{"type":"subscription"')) resolve()
      const seq = /"sequence_id":(\d+)\}$/.exec(text)?.[1]
      if (seq !== undefined) seen.set(Number(seq), performance.now())
    })
  })
  return ws
}

async function fanout (): Promise<void> {
  const cluster = await startCluster(2)
  try {
    const [a, b] = cluster.instances
    const token = await tokenFor(a.baseUrl, USERS[0].key)
    const id = (await (await fetch(`${a.baseUrl}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(WEEK) })).json() as { session_id: string }).session_id
    const local = new Map<number, number>()
    const remote = new Map<number, number>()
    // The driver: a strategy connection on A from a worker, started once both watchers are subscribed.
    const driver = new WebSocket(`${a.wsUrl}?token=${token}`)
    await new Promise<void>((resolve) => { driver.once('message', () => { resolve() }) })
    const driverDone = new Promise<void>((resolve) => {
      driver.on('message', (raw: Buffer) => {
        const text = raw.toString()
        if (text.startsWith('{"type":"tick"')) {
          const seq = /"sequence_id":(\d+)/.exec(text)?.[1]
          // Ack after a pause, as a strategy that thinks: frames do not pile up in one batch.
          setTimeout(() => { driver.send(`{"type":"tick_ack","data":{"session_id":"${id}","sequence_id":${seq ?? '0'},"processing_status":"ready"}}`) }, 1)
        } else if (text.startsWith('{"type":"simulation_complete"')) resolve()
      })
    })
    driver.send(JSON.stringify({ type: 'start_simulation', data: { session_id: id }, request_id: 'start' }))
    await sleep(50)
    const wa = await watch(a.wsUrl, token, id, local)
    const wb = await watch(b.wsUrl, token, id, remote)
    await driverDone
    await sleep(500)
    const deltas: number[] = []
    for (const [seq, at] of local) {
      const there = remote.get(seq)
      if (there !== undefined) deltas.push(there - at)
    }
    const p = percentiles(deltas)
    console.log('\n## Cross-instance fan-out (owner A; watcher on A vs watcher on B, same client process)')
    console.log(`frames compared: ${int(p.n)} of ${int(local.size)}; B later than A by p50 ${p.p50.toFixed(2)} ms, p90 ${p.p90.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, max ${p.max.toFixed(2)} ms`)
    for (const s of [wa, wb, driver]) s.close()
  } finally {
    await stopCluster(cluster)
  }
}

// ── failover ──────────────────────────────────────────────────────────────────────────────────────────

async function failover (leaseMs: number, kills: number): Promise<void> {
  const cluster = await startCluster(3, { RUN_LEASE_MS: String(leaseMs) })
  const live = cluster.instances
  try {
    const client = new SessionClient({ url: live.map((i) => i.baseUrl), apiKey: USERS[0].key, reconnect: { baseDelayMs: 50, maxDelayMs: 300, maxAttempts: 100 } })
    await client.connect()
    const samples: number[] = []
    let killedAt: number | undefined
    let tick = 0
    const every = Math.floor(1800 / (kills + 1))
    const restarts: Array<Promise<void>> = []
    await runStrategy(client, {
      async onTick () {
        tick++
        if (killedAt !== undefined) { samples.push(performance.now() - killedAt); killedAt = undefined }
        if (tick % every === 0 && samples.length + (killedAt === undefined ? 0 : 1) < kills) {
          const i = live.findIndex((x) => x.baseUrl === client.url)
          const owner = live[i]
          killedAt = performance.now()
          await stop(owner, 'SIGKILL')
          restarts.push((async () => { live[i] = await startInstance(owner.id, { ...cluster.space.env, RUN_LEASE_MS: String(leaseMs) }, owner.port) })())
        }
      }
    }, { session: WEEK })
    await Promise.all(restarts)
    client.close()
    const sorted = [...samples].sort((x, y) => x - y)
    console.log(`RUN_LEASE_MS ${leaseMs}: kill -9 → next tick ${sorted.map((v) => (v / 1000).toFixed(2)).join(', ')} s (median ${(percentiles(samples).p50 / 1000).toFixed(2)} s)`)
  } finally {
    await stopCluster(cluster)
  }
}

if (isWorker()) {
  serveWorker({ runs: workerRuns })
} else {
  const only = new Set(arg('only', 'throughput,fanout,failover').split(','))
  console.log(`# scripts/bench/cluster.ts — ${machineLine()}`)
  if (only.has('throughput')) await throughput(Number(arg('rounds', '2')), Number(arg('runs', '50')), Number(arg('creates', '2000')))
  if (only.has('fanout')) await fanout()
  if (only.has('failover')) {
    console.log('\n## Failover (3 instances, the SDK with the three URLs, lockstep; the owner killed and restarted)')
    for (const lease of arg('leases', '1500,3000').split(',').map(Number)) await failover(lease, Number(arg('kills', '5')))
  }
  console.log(`\n${machineLine()}`)
}
