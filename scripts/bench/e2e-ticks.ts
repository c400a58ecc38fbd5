// End-to-end ticks per second (issue 5 §9): the real app listening on 127.0.0.1, and a strategy in a CHILD
// process (its own event loop and core) over a real WebSocket: SMA 10/30 crossover on closes, long-only,
// 100 shares (buy when SMA10 crosses above SMA30, sell when it crosses below), one symbol (AAPL), 1m bars,
// 2023-01-03..2023-07-14 (≥ 50,000 ticks), include_bars true. Modes: (a) lockstep max_pending_ticks 1 with a
// tick_ack after each tick, (b) window 16 (ack every tick), (c) flow_control false. Prints ticks/s, wall
// time, orders/fills and server + client CPU; then the memory of one running session of 10 symbols × one
// year of minute bars (heap/RSS delta and the event log's size). Figures only; nothing asserts timing.
//
// Run:      npx tsx scripts/bench/e2e-ticks.ts                  (all modes + memory, ~30-60 s)
// Profile:  npx tsx scripts/bench/e2e-ticks.ts --profile        (server side of (a) only → /tmp/*.cpuprofile + top frames;
//           with --storage, of every run)
// Summary:  npx tsx scripts/bench/e2e-ticks.ts --summarise=/tmp/x.cpuprofile [--ticks=51690]  (any --cpu-prof output;
//           with --ticks, the CPU split per tick too: parse, validate, engine, serialise, write, dispatch, gc, other)
// Options:  --only=floor,lockstep,inprocess,window,stream,memory (floor: raw TCP ping-pong, the ceiling for lockstep here)
// Storage:  npx tsx scripts/bench/e2e-ticks.ts --storage=memory,pglite,postgres,redis --rounds=3
//           (redis: PostgreSQL plus the machine's Redis, the several-instance mode with its lease and event stream;
//           postgres-async: PostgreSQL with synchronous_commit=off)
//           (issue 9: one app per storage mode, all listening at once; lockstep and window 16 by default, each
//           round runs every mode on every storage back to back, the storage order rotating per round; SQL
//           statements are counted by kind, to show what the durable run costs the database per tick)
//           --env=NAME=value (repeatable): the server's environment, e.g. --env=DATABASE_URL=postgres://… and
//           --env=REDIS_URL=redis://127.0.0.1:6379 --env=REDIS_KEY_PREFIX=bench: for the cost of a shared bus
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { Session as InspectorSession } from 'node:inspector/promises'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import type { EventSink } from '../../server/simulation/runner.js'
import {
  benchStorages, benchUsers, cpuSince, gcFunction, int, isWorker, listenApp, machineLine, mb, memoryAfterGc, ms, openCountedStorage, percentiles,
  printCpuSplit, printProfileSummary, serveWorker, sleep, statementLines, storageArg, tokenFor, WorkerProcess, type BenchApp, type BenchStorage, type CpuSpent,
  type StatementCounter, type StorageKey
} from './lib.js'
import type { Storage } from '../../server/ports/storage.js'
import { runFloorClient, startFloorServer, type FloorResult } from './ws-floor.js'

const SYMBOL = 'AAPL'
const START = '2023-01-03'
const END = '2023-07-14'
const FAST = 10
const SLOW = 30
const QUANTITY = 100
// Generous: a durable run under a load average of 10+ on this shared machine took 30 s and more.
const RUN_TIMEOUT_MS = 180_000

type Mode = 'lockstep' | 'window' | 'stream'

interface RunArgs { baseUrl: string, wsUrl: string, key: string, mode: Mode, start: string, end: string }

interface RunResult {
  mode: Mode
  totalTicks: number
  ticks: number
  orders: number
  rejected: number
  /** Rejections by `error_code: reason` (non-lockstep modes: a sell can arrive before its buy has filled). */
  rejectReasons: Record<string, number>
  fills: number
  /** order_batch sent → its batch_ack received, per batch (durable runs store the batch first). */
  batchAckMs: number[]
  /** Median size of a tick frame in bytes. */
  tickFrameBytes: number
  errors: string[]
  /** start_simulation sent → simulation_complete received (includes loading the bars). */
  wallMs: number
  /** simulation_started received → simulation_complete received. */
  streamMs: number
  clientCpu: CpuSpent
  completed: boolean
  finalEquity: string | undefined
}

const MODES: Record<Mode, { flow_control: boolean, max_pending_ticks: number, ack: boolean, label: string }> = {
  lockstep: { flow_control: true, max_pending_ticks: 1, ack: true, label: '(a) lockstep, max_pending_ticks 1' },
  window: { flow_control: true, max_pending_ticks: 16, ack: true, label: '(b) window 16, ack every tick' },
  stream: { flow_control: false, max_pending_ticks: 1, ack: false, label: '(c) flow_control false' }
}

// ── the strategy (child process) ─────────────────────────────────────────────────────────────────────

interface Frame { type: string, data: Record<string, unknown> & { sequence_id?: number }, request_id?: string }

async function runStrategy (args: RunArgs): Promise<RunResult> {
  const token = await tokenFor(args.baseUrl, args.key)
  const res = await fetch(`${args.baseUrl}/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ symbols: [SYMBOL], start_date: args.start, end_date: args.end, timeframe: '1m' })
  })
  if (res.status !== 201) throw new Error(`create session: ${res.status} ${await res.text()}`)
  const sessionId = (await res.json() as { session_id: string }).session_id
  const mode = MODES[args.mode]

  const ws = new WebSocket(`${args.wsUrl}?token=${token}`)
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.on('message', function ready (raw) {
      if ((JSON.parse(raw.toString()) as Frame).type !== 'connection_ready') return
      ws.off('message', ready)
      resolve()
    })
  })

  // SMA state: running sums over a ring of the last SLOW closes.
  const ring = new Float64Array(SLOW)
  let seen = 0
  let sumFast = 0
  let sumSlow = 0
  let wasAbove = 0
  let long = false
  const pendingSide = new Map<string, 'buy' | 'sell'>()
  const batchSentAt = new Map<string, number>()

  const out: RunResult = {
    mode: args.mode, totalTicks: 0, ticks: 0, orders: 0, rejected: 0, rejectReasons: {}, fills: 0, batchAckMs: [], tickFrameBytes: 0, errors: [], wallMs: 0, streamMs: 0,
    clientCpu: { userMs: 0, systemMs: 0, totalMs: 0 }, completed: false, finalEquity: undefined
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let tStarted = t0
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { out.errors.push(`timed out after ${RUN_TIMEOUT_MS} ms`); resolve() }, RUN_TIMEOUT_MS)
    ws.on('close', () => { clearTimeout(timer); resolve() })
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as Frame
      switch (m.type) {
        case 'tick': {
          out.ticks++
          if (out.ticks === 1000) out.tickFrameBytes = (raw as Buffer).length
          const step = m.data.sequence_id as number
          const bar = (m.data.bars as Record<string, { close: number }> | undefined)?.[SYMBOL]
          if (bar !== undefined) {
            const c = bar.close
            const i = seen++
            const dropSlow = i >= SLOW ? ring[i % SLOW] : 0
            const dropFast = i >= FAST ? ring[(i - FAST) % SLOW] : 0
            ring[i % SLOW] = c
            sumFast += c - dropFast
            sumSlow += c - dropSlow
            if (seen >= SLOW) {
              const above = sumFast / FAST > sumSlow / SLOW ? 1 : -1
              if (wasAbove !== 0 && above !== wasAbove && (above === 1) !== long) {
                const side = above === 1 ? 'buy' : 'sell'
                const orderId = `o${++out.orders}`
                pendingSide.set(orderId, side)
                batchSentAt.set(`b${out.orders}`, performance.now())
                long = side === 'buy'
                ws.send(JSON.stringify({
                  type: 'order_batch',
                  request_id: `b${out.orders}`,
                  data: { session_id: sessionId, batch_id: `b${out.orders}`, orders: [{ order_id: orderId, symbol: SYMBOL, side, type: 'market', quantity: QUANTITY }] }
                }))
              }
              wasAbove = above
            }
          }
          if (mode.ack) ws.send(JSON.stringify({ type: 'tick_ack', data: { session_id: sessionId, sequence_id: step, processing_status: 'ready' } }))
          break
        }
        case 'execution_report': out.fills++; break
        case 'batch_ack': {
          const sentAt = m.request_id !== undefined ? batchSentAt.get(m.request_id) : undefined
          if (sentAt !== undefined) { out.batchAckMs.push(performance.now() - sentAt); batchSentAt.delete(m.request_id as string) }
          // A rejected order leaves the position as it was; keep the strategy's view in sync.
          for (const r of (m.data.rejected_orders as Array<{ order_id: string, error_code: string, reason: string }>)) {
            out.rejected++
            const why = `${r.error_code}: ${r.reason.replace(/[0-9.]+/g, 'N')}`
            out.rejectReasons[why] = (out.rejectReasons[why] ?? 0) + 1
            const side = pendingSide.get(r.order_id)
            if (side !== undefined) long = side === 'sell'
          }
          for (const id of (m.data.accepted_orders as string[])) pendingSide.delete(id)
          break
        }
        case 'simulation_started':
          tStarted = performance.now()
          out.totalTicks = m.data.total_ticks as number
          break
        case 'simulation_complete':
          out.completed = true
          out.finalEquity = m.data.final_equity as string | undefined
          out.wallMs = performance.now() - t0
          out.streamMs = performance.now() - tStarted
          clearTimeout(timer)
          resolve()
          break
        case 'error': case 'session_error':
          if (out.errors.length < 5) out.errors.push(JSON.stringify(m.data).slice(0, 300))
          break
        default: break
      }
    })
    ws.send(JSON.stringify({
      type: 'start_simulation',
      request_id: 'start',
      data: { session_id: sessionId, flow_control: mode.flow_control, max_pending_ticks: mode.max_pending_ticks, include_bars: true }
    }))
  })
  out.clientCpu = cpuSince(cpu0)
  if (!out.completed) out.wallMs = performance.now() - t0
  ws.close()
  return out
}

/** The child's half of the transport floor: echo every chunk back until the parent closes. */
async function echo (args: { port: number }): Promise<CpuSpent> {
  const cpu0 = process.cpuUsage()
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(args.port, '127.0.0.1', () => { s.setNoDelay(true) })
    s.on('data', (d) => { s.write(d) })
    s.on('error', reject)
    s.on('close', () => { resolve() })
  })
  return cpuSince(cpu0)
}

/**
 * The ceiling for lockstep on this machine: raw TCP ping-pong of `bytes`-byte messages with the child
 * process (no WebSocket framing, no JSON, no simulation): one round trip per tick is all lockstep needs.
 */
async function transportFloor (worker: WorkerProcess, bytes: number, rounds: number): Promise<void> {
  const msg = Buffer.alloc(bytes, 0x61)
  let result = { wallMs: 0, cpu: { userMs: 0, systemMs: 0, totalMs: 0 } }
  const server = net.createServer((sock) => {
    sock.setNoDelay(true)
    let n = 0
    let got = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const deadline = t0 + 20_000
    sock.on('data', (d) => {
      got += d.length
      if (got < bytes) return // a message can arrive in pieces
      got -= bytes
      if (++n >= rounds || performance.now() > deadline) {
        result = { wallMs: performance.now() - t0, cpu: cpuSince(cpu0) }
        sock.end()
        return
      }
      sock.write(msg)
    })
    sock.write(msg)
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as net.AddressInfo).port
  const childCpu = await worker.call<CpuSpent>('echo', { port }, 60_000)
  await new Promise((resolve) => { server.close(resolve) })
  console.log(`transport floor: raw TCP ping-pong, ${bytes}-byte messages, child process: ${int(rounds)} round trips in ${ms(result.wallMs, 0)} → ${int(rounds / (result.wallMs / 1000))} round trips/s; ` +
    `CPU per round trip: server side ${(1000 * result.cpu.totalMs / rounds).toFixed(1)} µs (system ${(1000 * result.cpu.systemMs / rounds).toFixed(1)}), child ${(1000 * childCpu.totalMs / rounds).toFixed(1)} µs`)
}

/** The bare Fastify + ws floor for a window of `window` unacknowledged ticks: ticks/s over as many ticks as a run. */
async function bareFloor (worker: WorkerProcess, wsUrl: string, window: number): Promise<number> {
  const cpu0 = process.cpuUsage()
  const r = await worker.call<FloorResult>('floor', { wsUrl, ticks: 51_690, window }, 120_000)
  const cpu = cpuSince(cpu0)
  const rate = r.ticks / (r.wallMs / 1000)
  console.log(`bare Fastify + ws floor, window ${window}: ${int(r.ticks)} ticks in ${ms(r.wallMs, 0)} → ${int(rate)} ticks/s; CPU per tick: server ${(1000 * cpu.totalMs / r.ticks).toFixed(1)} µs, ` +
    `client ${(1000 * r.clientCpu.totalMs / r.ticks).toFixed(1)} µs; tick frame ${r.tickFrameBytes} bytes`)
  return rate
}

// ── the server (parent process) ──────────────────────────────────────────────────────────────────────

function printRun (label: string, r: RunResult, serverCpu: CpuSpent | undefined): void {
  const rate = r.ticks / (r.wallMs / 1000)
  console.log(`${label}`)
  console.log(`  ticks ${int(r.ticks)} of ${int(r.totalTicks)}${r.completed ? '' : ' (INCOMPLETE)'}; wall ${ms(r.wallMs, 0)} (stream ${ms(r.streamMs, 0)}); ` +
    `${int(rate)} ticks/s (${int(r.ticks / (r.streamMs / 1000))} over the stream alone)`)
  console.log(`  orders ${int(r.orders)}, rejected ${int(r.rejected)}, fills ${int(r.fills)}, final equity ${r.finalEquity ?? '?'}; tick frame ${r.tickFrameBytes} bytes`)
  const acks = percentiles(r.batchAckMs)
  if (acks.n > 0) console.log(`  order_batch → batch_ack: p50 ${ms(acks.p50)}, p90 ${ms(acks.p90)}, p99 ${ms(acks.p99)}, mean ${ms(acks.mean)} (n=${int(acks.n)}; the run waits meanwhile)`)
  for (const [why, n] of Object.entries(r.rejectReasons)) console.log(`  rejected ×${n}: ${why}`)
  if (serverCpu === undefined) {
    console.log(`  CPU (server and client together, one process): ${ms(r.clientCpu.totalMs, 0)} (${(100 * r.clientCpu.totalMs / r.wallMs).toFixed(0)} %, ${(1000 * r.clientCpu.totalMs / Math.max(1, r.ticks)).toFixed(1)} µs/tick)`)
    return
  }
  console.log(`  CPU: server ${ms(serverCpu.totalMs, 0)} (${(100 * serverCpu.totalMs / r.wallMs).toFixed(0)} % of one core, ${(1000 * serverCpu.totalMs / Math.max(1, r.ticks)).toFixed(1)} µs/tick), ` +
    `client ${ms(r.clientCpu.totalMs, 0)} (${(100 * r.clientCpu.totalMs / r.wallMs).toFixed(0)} %, ${(1000 * r.clientCpu.totalMs / Math.max(1, r.ticks)).toFixed(1)} µs/tick)`)
  if (r.errors.length > 0) console.log(`  errors: ${r.errors.join(' | ')}`)
}

async function memoryOfRunningSession (): Promise<void> {
  const gc = gcFunction()
  const users = benchUsers(1, 'mem')
  const { app } = await listenApp(users)
  try {
    const user = { user_id: users[0].user_id, plan: users[0].plan }
    const symbols = ['AAPL', 'MSFT', 'GOOGL', 'AMZN', 'META', 'NVDA', 'TSLA', 'JPM', 'V', 'WMT']
    const TICKS = 50_000
    const before = memoryAfterGc(gc)
    const { session } = await app.sessions.create(user, { symbols, start_date: '2023-01-03', end_date: '2023-12-29', timeframe: '1m' })
    const id = session.session_id
    let running = false
    let frames = 0
    let frameChars = 0
    // An in-process strategy connection that acknowledges every tick until TICKS, then stops acking.
    const sink: EventSink = {
      id: 1_000_000_001,
      open: true,
      backlogBytes: () => 0,
      send (frame) {
        frames++
        frameChars += frame.length
        if (running && frame.startsWith('{"type":"tick"')) {
          const step = Number(/"sequence_id":(\d+)/.exec(frame)?.[1] ?? 0)
          if (step < TICKS) queueMicrotask(() => { if (running) void app.simulation.ack(user, id, sink.id, step, 'ready') })
        }
      }
    }
    const t0 = performance.now()
    running = true
    await app.simulation.start(user, id, { flow_control: true, max_pending_ticks: 16, include_bars: true }, sink)
    const loaded = performance.now() - t0
    const deadline = performance.now() + 60_000
    for (;;) {
      const st = await app.simulation.state(user, id)
      if (st.ticks_sent >= TICKS || st.state !== 'running' || performance.now() >= deadline) break
      await sleep(20)
    }
    const runMs = performance.now() - t0
    const during = memoryAfterGc(gc)
    const stats = await app.simulation.logStats(user, id)
    const logBytes = stats.approximate_bytes
    const logEvents = stats.last_sequence_id
    running = false
    await app.sessions.delete(user, id)
    await sleep(100) // let an already scheduled pump turn (which still references the runner) run
    const after = memoryAfterGc(gc)
    const d = (a: typeof before, b: typeof before): string =>
      `heap ${mb(b.heapUsed - a.heapUsed)}, array buffers ${mb(b.arrayBuffers - a.arrayBuffers)}, RSS ${mb(b.rss - a.rss)}`
    console.log(`memory of one running session: ${symbols.length} symbols × 1m bars 2023-01-03..2023-12-29, window 16, include_bars, every_fill`)
    console.log(`  steps ${int(session.estimated_ticks)} estimated; ran ${int(TICKS)} ticks in ${ms(runMs, 0)} (start incl. loading bars ${ms(loaded, 0)})`)
    console.log(`  after ${int(TICKS)} ticks vs. before create:  ${d(before, during)}`)
    console.log(`  event log: ${int(logEvents)} events, approximateBytes ${mb(logBytes)} (UTF-16 estimate; frames sent ${int(frames)}, ${mb(frameChars)} of characters)`)
    console.log(`  after delete vs. before create:          ${d(before, after)}`)
  } finally {
    await app.close()
  }
}

/** The server process's CPU profile (sampled every 250 µs) through the inspector. */
async function startProfiler (): Promise<InspectorSession> {
  const inspector = new InspectorSession()
  inspector.connect()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.setSamplingInterval', { interval: 250 })
  await inspector.post('Profiler.start')
  return inspector
}

/** Stops the profile and writes it to /tmp/simutrador-e2e-<label>-<time>.cpuprofile; resolves the path. */
async function stopProfiler (inspector: InspectorSession, label: string): Promise<string> {
  const { profile } = await inspector.post('Profiler.stop')
  inspector.disconnect()
  const path = `/tmp/simutrador-e2e-${label}-${Date.now()}.cpuprofile`
  writeFileSync(path, JSON.stringify(profile))
  return path
}

interface StorageApp extends BenchApp {
  readonly mode: BenchStorage
  /** SQL modes: the storage the app was given, with its statements counted. */
  readonly storage?: Storage
  readonly counter?: StatementCounter
}

/**
 * Issue 9: the same e2e runs against one app per storage mode (memory = `:memory:`, PGlite in a temporary
 * state folder, PostgreSQL in a fresh schema), interleaved: in each round every mode runs on every storage
 * back to back, the storage order rotating from round to round. Prints each run, the SQL statements it
 * caused (by kind, per tick), and a summary with durable ÷ memory per round.
 */
async function storageComparison (keys: readonly StorageKey[], only: ReadonlySet<string>, rounds: number, profile: boolean): Promise<void> {
  const modes = await benchStorages(keys)
  const users = benchUsers(5, 'e2e')
  const apps: StorageApp[] = []
  const worker = new WorkerProcess(fileURLToPath(import.meta.url))
  const runModes = (['lockstep', 'window', 'stream'] as const).filter((m) => only.has(m))
  const results = new Map<string, number[]>()
  try {
    for (const mode of modes) {
      const t0 = performance.now()
      if (mode.key === 'memory') {
        apps.push({ mode, ...await listenApp(users, mode.env) })
      } else {
        const { storage, counter } = await openCountedStorage(mode)
        apps.push({ mode, storage, counter, ...await listenApp(users, mode.env, undefined, storage) })
      }
      console.log(`${mode.label}: app ready in ${ms(performance.now() - t0, 0)}`)
    }
    let run = 0
    const nextKey = (): string => users[run++ % users.length].key
    for (const app of apps) {
      // Warm-up per app (JIT, the demo walk, PGlite's first statements): one month in lockstep, not reported.
      await worker.call<RunResult>('run', { baseUrl: app.baseUrl, wsUrl: app.wsUrl, key: nextKey(), mode: 'lockstep', start: START, end: '2023-01-31' } satisfies RunArgs)
    }
    if (only.has('floor')) await transportFloor(worker, 350, 50_000)
    for (let round = 0; round < rounds; round++) {
      const order = apps.map((_, i) => apps[(i + round) % apps.length])
      for (const mode of runModes) {
        for (const app of order) {
          const before = app.counter?.snapshot()
          const inspector = profile ? await startProfiler() : undefined
          const cpu0 = process.cpuUsage()
          const r = await worker.call<RunResult>('run', { baseUrl: app.baseUrl, wsUrl: app.wsUrl, key: nextKey(), mode, start: START, end: END } satisfies RunArgs, RUN_TIMEOUT_MS + 30_000)
          const serverCpu = cpuSince(cpu0)
          const profilePath = inspector !== undefined ? await stopProfiler(inspector, `${mode}-${app.mode.key}`) : undefined
          // Let the last event batch reach the store before counting (flushed within 20 ms of the last event).
          await sleep(100)
          console.log(`[round ${round + 1}] ${app.mode.label}: ${machineLine().replace(/^.*load average/, 'load average')}`)
          printRun(`[round ${round + 1}] ${app.mode.label} ${MODES[mode].label}`, r, serverCpu)
          const rate = r.ticks / (r.wallMs / 1000)
          const key = `${mode}\u0000${app.mode.label}`
          results.set(key, [...(results.get(key) ?? []), r.completed ? rate : NaN])
          if (app.counter !== undefined && before !== undefined) {
            const counts = app.counter.since(before)
            let total = 0
            for (const c of counts.values()) total += c.n
            console.log(`  SQL statements during the run (incl. the session's create and token): ${int(total)} = ${(total / r.ticks).toFixed(4)} per tick; ` +
              `order batches sent ${int(r.orders)}`)
            for (const line of statementLines(counts, r.ticks)) console.log(`    ${line}`)
          }
          if (profilePath !== undefined) printProfileSummary(profilePath, 30)
        }
      }
    }
    console.log(`\nsummary: ticks/s per round (rounds interleave the storage modes); durable ÷ memory of the same round`)
    for (const mode of runModes) {
      const memory = results.get(`${mode}\u0000memory`)
      for (const app of apps) {
        const rates = results.get(`${mode}\u0000${app.mode.label}`) ?? []
        const ratios = memory === undefined || app.mode.key === 'memory' ? '' : `  (${rates.map((v, i) => `${(100 * v / memory[i]).toFixed(0)} %`).join(', ')} of memory)`
        console.log(`  ${MODES[mode].label.padEnd(34)} ${app.mode.label.padEnd(12)} ${rates.map((v) => int(v)).join(', ')}${ratios}`)
      }
    }
  } finally {
    await worker.close()
    for (const app of apps) {
      await app.app.close()
      await app.storage?.close()
      await app.mode.drop()
    }
  }
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const summarise = argv.find((a) => a.startsWith('--summarise='))
  if (summarise !== undefined) {
    printProfileSummary(summarise.slice('--summarise='.length), 30)
    // --ticks=N: also the CPU split per tick of a run of N ticks.
    const ticks = argv.find((a) => a.startsWith('--ticks='))
    if (ticks !== undefined) printCpuSplit(summarise.slice('--summarise='.length), Number(ticks.slice('--ticks='.length)))
    return
  }
  const profile = argv.includes('--profile')
  const onlyArg = argv.find((a) => a.startsWith('--only='))
  const storages = storageArg(argv)
  const only = new Set(onlyArg !== undefined
    ? onlyArg.slice('--only='.length).split(',')
    : profile ? ['lockstep'] : storages !== undefined ? ['floor', 'lockstep', 'window'] : ['wsfloor', 'floor', 'lockstep', 'inprocess', 'window', 'stream', 'memory'])

  console.log(machineLine())
  if (storages !== undefined) {
    const roundsArg = argv.find((a) => a.startsWith('--rounds='))
    const rounds = roundsArg !== undefined ? Number(roundsArg.slice('--rounds='.length)) : 1
    console.log(`server (one app per storage mode) in pid ${process.pid}, strategy in a child process; ${SYMBOL} 1m ${START}..${END}; ${rounds} round(s)`)
    await storageComparison(storages, only, rounds, profile)
    return
  }
  console.log(`server in pid ${process.pid}, strategy in a child process; ${SYMBOL} 1m ${START}..${END}`)
  const users = benchUsers(5, 'e2e')
  const env = Object.fromEntries(argv.filter((a) => a.startsWith('--env=')).map((a) => {
    const [name, ...value] = a.slice('--env='.length).split('=')
    return [name, value.join('=')]
  }))
  if (Object.keys(env).length > 0) console.log(`server environment: ${Object.keys(env).join(', ')}`)
  const roundsArg = argv.find((a) => a.startsWith('--rounds='))
  const rounds = roundsArg !== undefined ? Number(roundsArg.slice('--rounds='.length)) : 1
  const { app, baseUrl, wsUrl } = await listenApp(users, env)
  const floorServer = only.has('wsfloor') ? await startFloorServer() : undefined
  const worker = new WorkerProcess(fileURLToPath(import.meta.url))
  const summary = new Map<Mode, Array<{ rate: number, floor: number | undefined, serverUsPerTick: number }>>()
  try {
    // Warm-up (JIT on both sides, demo daily walk cached): one month in lockstep, not reported.
    await worker.call<RunResult>('run', { baseUrl, wsUrl, key: users[0].key, mode: 'lockstep', start: START, end: '2023-01-31' } satisfies RunArgs)
    if (floorServer !== undefined) await worker.call<FloorResult>('floor', { wsUrl: floorServer.wsUrl, ticks: 20_000, window: 16 })
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) console.log(`\n── round ${round} of ${rounds}: ${machineLine().replace(/^.*load average/, 'load average')}`)
      if (only.has('floor')) await transportFloor(worker, 350, 50_000)
      let u = 1
      for (const mode of ['lockstep', 'window', 'stream'] as const) {
        if (!only.has(mode)) continue
        // The bare Fastify + ws floor of this mode, right before it (issue 13: each mode beside its floor).
        const floor = floorServer !== undefined && mode !== 'stream'
          ? await bareFloor(worker, floorServer.wsUrl, MODES[mode].max_pending_ticks)
          : undefined
        const inspector = profile ? await startProfiler() : undefined
        const cpu0 = process.cpuUsage()
        const r = await worker.call<RunResult>('run', { baseUrl, wsUrl, key: users[u++ % users.length].key, mode, start: START, end: END } satisfies RunArgs, RUN_TIMEOUT_MS + 30_000)
        const serverCpu = cpuSince(cpu0)
        printRun(MODES[mode].label, r, serverCpu)
        const rate = r.ticks / (r.wallMs / 1000)
        if (floor !== undefined) console.log(`  = ${(100 * rate / floor).toFixed(1)} % of the bare ws floor of this run (${int(floor)} ticks/s)`)
        summary.set(mode, [...(summary.get(mode) ?? []), { rate: r.completed ? rate : NaN, floor, serverUsPerTick: 1000 * serverCpu.totalMs / Math.max(1, r.ticks) }])
        if (inspector !== undefined) {
          const path = await stopProfiler(inspector, mode)
          printProfileSummary(path, 30)
          printCpuSplit(path, r.ticks)
        }
      }
    }
    if (only.has('inprocess')) {
      // The same strategy code in the server's own process: no cross-process wake-ups, one core for both.
      const r = await runStrategy({ baseUrl, wsUrl, key: users[0].key, mode: 'lockstep', start: START, end: END })
      printRun("(a') lockstep, strategy in the server's process (same event loop)", r, undefined)
    }
    if (summary.size > 0) {
      console.log('\nsummary: ticks/s per round, beside the bare ws floor measured just before it')
      for (const [mode, rows] of summary) {
        console.log(`  ${MODES[mode].label.padEnd(34)} ${rows.map((x) => `${int(x.rate)}${x.floor !== undefined ? ` (${(100 * x.rate / x.floor).toFixed(0)} % of ${int(x.floor)})` : ''}, ${x.serverUsPerTick.toFixed(1)} µs/tick`).join('; ')}`)
      }
    }
  } finally {
    await worker.close()
    await floorServer?.app.close()
    await app.close()
  }
  if (only.has('memory')) await memoryOfRunningSession()
}

if (isWorker()) {
  serveWorker({
    run: async (args) => await runStrategy(args as RunArgs),
    echo: async (args) => await echo(args as { port: number }),
    floor: async (args) => await runFloorClient(args as { wsUrl: string, ticks: number, window: number })
  })
} else {
  await main()
}
