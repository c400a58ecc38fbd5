// Rebuild time of a durable run (issue 9, goal ≤ 2 s at step 50,000 of a `1m` run). A real server process
// (`node bin/simutrador-server.js`, PGlite in a temporary state folder or PostgreSQL in a fresh schema) and a
// lockstep strategy in this process over a real WebSocket: SMA 10/30 crossover on AAPL 1m bars of 2023
// (≈ 97,000 steps, include_bars), 100 shares, long-only. At the first tick at or after step 50,000 on which
// the strategy sends no order, it holds the tick (no tick_ack), waits 100 ms, and the server is killed
// (SIGKILL by default) and started again on the same storage. The strategy then connects and sends
// resume_session: the server rebuilds the run (replays the bars and the logged inputs through the engine,
// checking every regenerated event against the stored one) before it answers state_sync.
//
// Measured: process start → listening; resume_session sent → state_sync received (the rebuild is inside it),
// with the server's CPU time over that interval (/proc/<pid>/stat, 10 ms resolution); then the run goes on to
// the end, and its final equity and fills are compared with those of an uninterrupted run of the same
// strategy on the same server (the rebuild must not change the outcome). Figures only; nothing asserts timing.
//
// Run:      npx tsx scripts/bench/rebuild.ts                               (PGlite and PostgreSQL, 2 rounds, ~3-5 min)
// Options:  --storage=pglite,postgres  --rounds=N  --at=50000  --signal=SIGTERM
//           --profile   (the restarted server runs with --cpu-prof and is stopped with SIGTERM right after
//                        state_sync, so the profile covers start-up and the rebuild; top frames are printed)
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import {
  BENCH_JWT_SECRET, Sma, benchStorages, benchUsers, int, machineLine, ms, printProfileSummary, sleep, storageArg, tokenFor,
  type BenchStorage, type BenchUser
} from './lib.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-12-29', timeframe: '1m' }
const QUANTITY = 100
const CLK_TCK = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

// ── the server process ───────────────────────────────────────────────────────────────────────────────

interface Server { child: ChildProcess, baseUrl: string, wsUrl: string, startMs: number, spawnedAt: number, output: () => string }

async function startServer (env: Record<string, string>, users: readonly BenchUser[], execArgv: string[] = []): Promise<Server> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [...execArgv, 'bin/simutrador-server.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JWT_SECRET: BENCH_JWT_SECRET,
      SIMUTRADOR_API_KEYS: users.map((u) => `${u.key}:${u.user_id}:${u.plan}`).join(','),
      ...env
    }
  })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`server did not listen within 120 s:\n${out}`)) }, 120_000)
    const look = (): void => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    }
    child.stdout?.on('data', look)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${String(code)}) before listening:\n${out}`)) })
  })
  return { child, baseUrl, wsUrl: `${baseUrl.replace(/^http/, 'ws')}/ws/simulate`, startMs: performance.now() - t0, spawnedAt: t0, output: () => out }
}

async function stopServer (server: Server, signal: NodeJS.Signals): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  child.kill(signal)
  await exited
}

/** User + system CPU of a process so far, in ms (10 ms resolution). */
function processCpuMs (pid: number): number {
  // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
}

// ── the strategy (this process) ──────────────────────────────────────────────────────────────────────

interface Frame { type: string, data: Record<string, unknown>, request_id?: string, sequence_id?: number }

interface Outcome { completed: boolean, finalEquity: string | undefined, fills: number, orders: number, ticks: number, errors: string[] }

/**
 * One strategy run that can outlive its connection: `connect` opens a socket (to the current server) and
 * either starts the run or resumes it; frames are handled once each (by envelope sequence id).
 */
class StrategyRun {
  readonly sma = new Sma()
  sessionId = ''
  lastSeq = 0
  ticks = 0
  orders = 0
  fills = 0
  rejected = 0
  errors: string[] = []
  #ws: WebSocket | undefined
  #holdAt: number | undefined
  #held: ((step: number) => void) | undefined
  #done: ((o: Outcome) => void) | undefined
  #reply = new Map<string, (f: Frame) => void>()

  /** Resolves with the tick step held: the first tick at or after `step` on which no order is sent. */
  holdFrom (step: number): Promise<number> {
    this.#holdAt = step
    return new Promise((resolve) => { this.#held = resolve })
  }

  /** Resolves at simulation_complete (or when the socket closes without it). */
  finished (): Promise<Outcome> {
    return new Promise((resolve) => { this.#done = resolve })
  }

  async connect (wsUrl: string, token: string): Promise<void> {
    const ws = new WebSocket(`${wsUrl}?token=${token}`)
    this.#ws = ws
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject)
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString()) as Frame
        if (m.type === 'connection_ready') { resolve(); return }
        this.#onFrame(m)
      })
    })
    ws.on('close', () => { if (this.#ws === ws) this.#done?.(this.#outcome(false, undefined)) })
  }

  close (): void {
    const ws = this.#ws
    this.#ws = undefined
    ws?.terminate()
  }

  async request (type: string, data: Record<string, unknown>, answer: string): Promise<Frame> {
    const rid = `r${Math.random().toString(36).slice(2)}`
    const reply = new Promise<Frame>((resolve) => { this.#reply.set(rid, resolve) })
    this.#send({ type, request_id: rid, data })
    const f = await reply
    if (f.type !== answer) throw new Error(`${type}: ${JSON.stringify(f).slice(0, 400)}`)
    return f
  }

  /** Handles state_sync's missed events as if they had arrived live. */
  replayMissed (sync: Frame): void {
    for (const e of sync.data.missed_events as Frame[]) this.#onFrame(e)
  }

  #send (msg: unknown): void { this.#ws?.send(JSON.stringify(msg)) }

  #outcome (completed: boolean, finalEquity: string | undefined): Outcome {
    return { completed, finalEquity, fills: this.fills, orders: this.orders, ticks: this.ticks, errors: this.errors }
  }

  #onFrame (m: Frame): void {
    if (m.request_id !== undefined && this.#reply.has(m.request_id) && (m.type !== 'order_update' && m.type !== 'execution_report')) {
      const r = this.#reply.get(m.request_id)
      this.#reply.delete(m.request_id)
      r?.(m)
      if (m.type !== 'simulation_started') return
    }
    if (m.sequence_id !== undefined) {
      if (m.sequence_id <= this.lastSeq) return
      this.lastSeq = m.sequence_id
    }
    switch (m.type) {
      case 'tick': {
        const step = m.data.sequence_id as number
        this.ticks = step
        const bar = (m.data.bars as Record<string, { close: number }> | undefined)?.AAPL
        const side = bar !== undefined ? this.sma.onClose(bar.close) : undefined
        if (side !== undefined) {
          const n = ++this.orders
          this.#send({ type: 'order_batch', request_id: `b${n}`, data: { session_id: this.sessionId, batch_id: `b${n}`, orders: [{ order_id: `o${n}`, symbol: 'AAPL', side, type: 'market', quantity: QUANTITY }] } })
        } else if (this.#holdAt !== undefined && step >= this.#holdAt) {
          // Held: no tick_ack, so the server is stopped between two steps, with no order in flight.
          this.#holdAt = undefined
          this.#held?.(step)
          return
        }
        this.#send({ type: 'tick_ack', data: { session_id: this.sessionId, sequence_id: step, processing_status: 'ready' } })
        break
      }
      case 'execution_report': this.fills++; break
      case 'batch_ack': {
        const rejected = m.data.rejected_orders as unknown[]
        this.rejected += rejected.length
        if (rejected.length > 0) this.sma.long = !this.sma.long
        break
      }
      case 'simulation_complete': this.#done?.(this.#outcome(true, m.data.final_equity as string | undefined)); break
      case 'error': case 'session_error':
        if (this.errors.length < 5) this.errors.push(JSON.stringify(m.data).slice(0, 300))
        break
      default: break
    }
  }
}

async function createSession (baseUrl: string, token: string): Promise<string> {
  const res = await fetch(`${baseUrl}/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(SESSION)
  })
  if (res.status !== 201) throw new Error(`create session: ${res.status} ${await res.text()}`)
  return (await res.json() as { session_id: string }).session_id
}

const START = { flow_control: true, max_pending_ticks: 1, include_bars: true }

/** An uninterrupted run of the same strategy (the reference for the resumed run's outcome). */
async function uninterrupted (server: Server, user: BenchUser): Promise<Outcome & { wallMs: number }> {
  const token = await tokenFor(server.baseUrl, user.key)
  const run = new StrategyRun()
  run.sessionId = await createSession(server.baseUrl, token)
  await run.connect(server.wsUrl, token)
  const done = run.finished()
  const t0 = performance.now()
  await run.request('start_simulation', { session_id: run.sessionId, ...START }, 'simulation_started')
  const o = await done
  run.close()
  return { ...o, wallMs: performance.now() - t0 }
}

interface RoundResult { startMs: number, resumeMs: number, serverCpuMs: number, atStep: number, events: number }

async function round (mode: BenchStorage, users: readonly BenchUser[], at: number, signal: NodeJS.Signals, profile: boolean, verify: boolean): Promise<RoundResult> {
  const user = users[0]
  let server = await startServer(mode.env, users)
  console.log(`  server started in ${ms(server.startMs, 0)} (pid ${String(server.child.pid)})`)
  const run = new StrategyRun()
  try {
    let token = await tokenFor(server.baseUrl, user.key)
    run.sessionId = await createSession(server.baseUrl, token)
    await run.connect(server.wsUrl, token)
    const held = run.holdFrom(at)
    const t0 = performance.now()
    const started = await run.request('start_simulation', { session_id: run.sessionId, ...START }, 'simulation_started')
    const step = await held
    const runMs = performance.now() - t0
    console.log(`  ran ${int(step)} of ${int(started.data.total_ticks as number)} steps in ${ms(runMs, 0)} (${int(step / (runMs / 1000))} ticks/s lockstep), ` +
      `${int(run.orders)} orders, ${int(run.fills)} fills; holding tick ${int(step)} (event ${int(run.lastSeq)})`)
    await sleep(100) // the event store is written every 512 events or 20 ms: let the last batch land
    await stopServer(server, signal)
    run.close()
    console.log(`  server stopped with ${signal}`)

    const profileDir = profile ? await mkdtemp(join(os.tmpdir(), 'st-rebuild-prof-')) : undefined
    server = await startServer(mode.env, users, profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])
    console.log(`  restarted: process start → listening ${ms(server.startMs, 0)}`)
    token = await tokenFor(server.baseUrl, user.key)
    await run.connect(server.wsUrl, token)
    const pid = server.child.pid as number
    const cpu0 = processCpuMs(pid)
    const r0 = performance.now()
    const sync = await run.request('resume_session', { session_id: run.sessionId, last_processed_sequence_id: run.lastSeq }, 'state_sync')
    const resumeMs = performance.now() - r0
    const serverCpuMs = processCpuMs(pid) - cpu0
    const missed = (sync.data.missed_events as unknown[]).length
    const events = sync.data.last_sequence_id as number
    console.log(`  resume_session → state_sync: ${ms(resumeMs, 0)} (server CPU ${ms(serverCpuMs, 0)}); rebuilt to event ${int(events)} ` +
      `(${int(step)} steps, ${int(run.orders)} orders); state ${String(sync.data.state)}, ${missed} missed events, has_more ${String(sync.data.has_more)}`)
    if (profileDir !== undefined) {
      await stopServer(server, 'SIGTERM')
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
      // The samples between resume_session and state_sync (the profile starts as the process does).
      if (file !== undefined) printProfileSummary(join(profileDir, file), 40, { fromMs: r0 - server.spawnedAt, toMs: r0 - server.spawnedAt + resumeMs })
      return { startMs: server.startMs, resumeMs, serverCpuMs, atStep: step, events }
    }
    const done = run.finished()
    run.replayMissed(sync)
    const out = await done
    console.log(`  resumed run: ${out.completed ? 'completed' : 'NOT COMPLETED'} at step ${int(out.ticks)}, final equity ${out.finalEquity ?? '?'}, ` +
      `${int(out.fills)} fills, ${int(out.orders)} orders${out.errors.length > 0 ? `; errors: ${out.errors.join(' | ')}` : ''}`)
    if (verify) {
      const ref = await uninterrupted(server, users[1])
      const same = ref.completed && out.completed && ref.finalEquity === out.finalEquity && ref.fills === out.fills && ref.orders === out.orders
      console.log(`  uninterrupted run (same server, ${ms(ref.wallMs, 0)}): final equity ${ref.finalEquity ?? '?'}, ${int(ref.fills)} fills, ${int(ref.orders)} orders → ` +
        `${same ? 'the resumed run ends the same' : 'DIFFERENT from the resumed run'}`)
    }
    return { startMs: server.startMs, resumeMs, serverCpuMs, atStep: step, events }
  } finally {
    run.close()
    await stopServer(server, 'SIGKILL')
  }
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const num = (name: string, dflt: number): number => {
    const a = argv.find((x) => x.startsWith(`--${name}=`))
    return a === undefined ? dflt : Number(a.slice(name.length + 3))
  }
  const keys = storageArg(argv, ['pglite', 'postgres']) ?? ['pglite', 'postgres']
  const rounds = num('rounds', 2)
  const at = num('at', 50_000)
  const signal = (argv.find((x) => x.startsWith('--signal='))?.slice('--signal='.length) ?? 'SIGKILL') as NodeJS.Signals
  const profile = argv.includes('--profile')
  console.log(machineLine())
  console.log(`rebuild of a lockstep SMA 10/30 run, AAPL 1m ${SESSION.start_date}..${SESSION.end_date}, held at step ≥ ${int(at)}, server stopped with ${signal}; ${rounds} round(s)`)
  const users = benchUsers(2, 'rebuild')
  const results = new Map<string, RoundResult[]>()
  for (let r = 0; r < rounds; r++) {
    // Each round: every storage mode, the order rotating, each on fresh storage.
    const order = keys.map((_, i) => keys[(i + r) % keys.length])
    for (const mode of await benchStorages(order)) {
      console.log(`[round ${r + 1}] ${mode.label} — ${machineLine().replace(/^.*load average/, 'load average')}`)
      try {
        // The uninterrupted reference run once per mode; not while profiling (the profile is of the resume).
        const res = await round(mode, users, at, signal, profile, r === 0 && !profile)
        results.set(mode.label, [...(results.get(mode.label) ?? []), res])
      } finally {
        await mode.drop()
      }
    }
  }
  console.log('\nsummary: resume_session → state_sync (server CPU), per round')
  for (const [label, list] of results) {
    console.log(`  ${label.padEnd(12)} ${list.map((x) => `${ms(x.resumeMs, 0)} (${ms(x.serverCpuMs, 0)}) at step ${int(x.atStep)}, ${int(x.events)} events`).join('; ')}`)
  }
}

await main()
