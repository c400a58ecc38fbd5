// Memory per storage mode (issue 9: "heap per idle stored session stays ≤ 10 KB; a finished run holds no
// event log in memory"). In this process, the real app (buildApp, which opens the configured storage itself:
// `:memory:`, PGlite in a temporary state folder, PostgreSQL in a fresh schema), no HTTP:
//
// 1. Idle stored sessions: N sessions (default 10,000; 1,000 enterprise users, the typical body of
//    session-store.ts) created through app.sessions.create, 16 at a time; memory after GC before and after.
//    In the SQL modes the sessions live in the database, so the heap should not grow with them. PGlite's
//    database runs in this process as WebAssembly: its memory is an ArrayBuffer (external / arrayBuffers and
//    RSS), not V8 heap, so all four figures are printed.
// 2. A finished run: an in-process lockstep strategy (SMA 10/30 on AAPL 1m 2023, ≈ 97,000 steps,
//    include_bars, orders through app.simulation.submitOrders) held at step 50,000 (memory while running),
//    then run to completion (memory once finished, and what the run's in-memory log still holds), then the
//    session deleted. Memory mode keeps a finished run's log for EVENT_LOG_RETENTION_HOURS within
//    EVENT_LOG_USER_BYTES (the event log is the record there); the SQL modes release it at the end.
//
// Run: node --expose-gc --import tsx scripts/bench/storage-memory.ts [--storage=memory,pglite,postgres] [--sessions=10000] [--rounds=2]
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import type { EventSink } from '../../server/simulation/runner.js'
import type { SessionUser } from '../../server/sessions/session-manager.js'
import { Sma, benchConfig, benchStorages, benchUsers, gcFunction, int, machineLine, mb, memoryAfterGc, ms, sleep, storageArg, type BenchStorage, type MemorySample } from './lib.js'

const gc = gcFunction()

const delta = (a: MemorySample, b: MemorySample): string =>
  `heapUsed ${mb(b.heapUsed - a.heapUsed)}, external ${mb(b.external - a.external)} (array buffers ${mb(b.arrayBuffers - a.arrayBuffers)}), RSS ${mb(b.rss - a.rss)}`

const perSession = (a: MemorySample, b: MemorySample, n: number): string => {
  const kb = (x: number): string => `${(x / 1024 / n).toFixed(2)} KB`
  return `heapUsed ${kb(b.heapUsed - a.heapUsed)}, external ${kb(b.external - a.external)}, RSS ${kb(b.rss - a.rss)}`
}

function user (i: number): SessionUser { return { user_id: `mem${String(i).padStart(4, '0')}`, plan: 'enterprise' } }

/** The typical body of session-store.ts: three stocks, a year of daily bars, a little metadata. */
function typicalBody (i: number): { symbols: string[], start_date: string, end_date: string, initial_capital: number, metadata: Record<string, unknown> } {
  return { symbols: ['aapl', 'msft', 'spy'], start_date: '2023-01-03', end_date: '2023-12-29', initial_capital: 100000, metadata: { strategy: 'sma-cross', fast: 10, slow: 50, run: i } }
}

async function idleSessions (app: FastifyInstance, label: string, n: number): Promise<void> {
  // Warm-up (JIT, validation cache, the SQL statements' first plans), counted in the baseline.
  for (let i = 0; i < 200; i++) await app.sessions.create(user(1000 + (i % 100)), typicalBody(i))
  const before = memoryAfterGc(gc)
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) {
      const i = next++
      await app.sessions.create(user(i % 1000), typicalBody(i))
    }
  }))
  const createMs = performance.now() - t0
  const after = memoryAfterGc(gc)
  const stored = Object.values(await app.sessions.countByState()).reduce((a, b) => a + (b ?? 0), 0)
  console.log(`  ${label}: ${int(n)} idle sessions created in ${ms(createMs, 0)} (${int(n / (createMs / 1000))}/s, 16 in flight); ${int(stored)} stored`)
  console.log(`    after vs before (after GC): ${delta(before, after)}`)
  console.log(`    per session: ${perSession(before, after, n)}`)
  console.log(`    absolute after: heapUsed ${mb(after.heapUsed)}, external ${mb(after.external)}, RSS ${mb(after.rss)}`)
}

async function finishedRun (app: FastifyInstance, label: string): Promise<void> {
  const u: SessionUser = { user_id: 'memrun', plan: 'enterprise' }
  const HOLD = 50_000
  const before = memoryAfterGc(gc)
  const { session } = await app.sessions.create(u, { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-12-29', timeframe: '1m' })
  const id = session.session_id
  const sma = new Sma()
  let limit = HOLD
  let held: number | undefined
  let orders = 0
  let failure: unknown
  // Lockstep: each tick is handled (an order batch when the averages cross) and acknowledged in order.
  let chain: Promise<void> = Promise.resolve()
  const handle = async (step: number, close: number | undefined): Promise<void> => {
    const side = close !== undefined ? sma.onClose(close) : undefined
    if (side !== undefined) {
      const n = ++orders
      await app.simulation.submitOrders(u, { session_id: id, batch_id: `b${n}`, orders: [{ order_id: `o${n}`, symbol: 'AAPL', side, type: 'market', quantity: 100, time_in_force: 'day' }] })
    }
    if (step >= limit && side === undefined) { held = step; return }
    await app.simulation.ack(u, id, sink.id, step, 'ready')
  }
  const sink: EventSink = {
    id: 1_000_000_002,
    open: true,
    backlogBytes: () => 0,
    send (frame) {
      if (!frame.startsWith('{"type":"tick"')) return
      const t = JSON.parse(frame) as { data: { sequence_id: number, bars?: Record<string, { close: number }> } }
      chain = chain.then(async () => { await handle(t.data.sequence_id, t.data.bars?.AAPL?.close) }).catch((err: unknown) => { failure = err })
    }
  }
  const t0 = performance.now()
  await app.simulation.start(u, id, { flow_control: true, max_pending_ticks: 1, include_bars: true }, sink)
  while (held === undefined && failure === undefined) await sleep(20)
  if (failure !== undefined) throw failure
  const heldAt = held as number
  const running = memoryAfterGc(gc)
  const runningLog = await app.simulation.logStats(u, id)
  console.log(`  ${label}: finished-run memory (AAPL 1m 2023, ${int(session.estimated_ticks)} steps, lockstep SMA 10/30 in this process)`)
  console.log(`    held at step ${int(heldAt)} after ${ms(performance.now() - t0, 0)} (${int(orders)} orders): vs before create: ${delta(before, running)}; ` +
    `in-memory log ${int(runningLog.last_sequence_id - runningLog.first_available_sequence_id + 1)} events, ${mb(runningLog.approximate_bytes)}`)
  limit = Number.POSITIVE_INFINITY
  held = undefined
  await app.simulation.ack(u, id, sink.id, heldAt, 'ready')
  for (;;) {
    if (failure !== undefined) throw failure
    const s = await app.sessions.get(u, id)
    if (s.state === 'completed' || s.state === 'error') break
    await sleep(50)
  }
  const runMs = performance.now() - t0
  await sleep(200) // the last event batch and the run's results reach the store
  const finished = memoryAfterGc(gc)
  const log = await app.simulation.logStats(u, id)
  const results = await app.simulation.results(u, id)
  console.log(`    completed in ${ms(runMs, 0)}: ${int(orders)} orders, final equity ${results.metrics.final_equity}, ${int(log.last_sequence_id)} events`)
  console.log(`    finished vs before create: ${delta(before, finished)}; in-memory log ${int(Math.max(0, log.last_sequence_id - log.first_available_sequence_id + 1))} events, ${mb(log.approximate_bytes)}`)
  await app.sessions.delete(u, id)
  await sleep(100)
  const deleted = memoryAfterGc(gc)
  console.log(`    after deleting the session vs before create: ${delta(before, deleted)}`)
}

async function measure (mode: BenchStorage, sessions: number): Promise<void> {
  const t0 = performance.now()
  // The app opens the configured storage itself, as `npm start` does.
  const app = await buildApp(benchConfig(benchUsers(1, 'mem'), mode.env), { logger: false })
  await app.ready()
  console.log(`${mode.label}: app ready in ${ms(performance.now() - t0, 0)} — ${machineLine().replace(/^.*load average/, 'load average')}`)
  try {
    await finishedRun(app, mode.label)
    await idleSessions(app, mode.label, sessions)
  } finally {
    await app.close()
  }
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const num = (name: string, dflt: number): number => {
    const a = argv.find((x) => x.startsWith(`--${name}=`))
    return a === undefined ? dflt : Number(a.slice(name.length + 3))
  }
  const keys = storageArg(argv) ?? ['memory', 'pglite', 'postgres']
  const rounds = num('rounds', 2)
  const sessions = num('sessions', 10_000)
  console.log(machineLine())
  for (let r = 0; r < rounds; r++) {
    const order = keys.map((_, i) => keys[(i + r) % keys.length])
    console.log(`── round ${r + 1}`)
    for (const mode of await benchStorages(order)) {
      try {
        await measure(mode, sessions)
      } finally {
        await mode.drop()
      }
    }
  }
}

await main()
