// Benchmark of session storage: heap per stored idle session at 10,000 and 100,000 sessions, create
// latency through the SessionManager, and listing latency for one user with 1,000 sessions (memory store);
// then creates per second through the SessionManager on each storage mode: memory, PGlite, PostgreSQL.
// Targets (issue): ≤ 10 KB per idle session, 100,000 sessions in one process, create p99 ≤ 5 ms.
// Run: node --expose-gc --import tsx scripts/bench/session-store.ts [--stores-only]
import { performance } from 'node:perf_hooks'
import type { PlanLimits } from '../../schemas/common.js'
import type { CreateSessionBody } from '../../schemas/sessions.js'
import { MemorySessionStore } from '../../server/adapters/memory/memory-session-store.js'
import { SessionManager, type SessionMarketData, type SessionUser } from '../../server/sessions/session-manager.js'
import { openStorage } from '../../server/adapters/open-storage.js'
import { loadConfig } from '../../server/config.js'
import { benchStorages } from './lib.js'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('Run with --expose-gc: node --expose-gc --import tsx scripts/bench/session-store.ts')
  process.exit(1)
}

/** Market data that answers instantly, so the figures are the manager's and the store's own cost. */
const marketData: SessionMarketData = {
  validateSessionRequest: (req) => ({ symbols: req.symbols.map((s) => s.toUpperCase()), estimated_ticks: 252 })
}

const UNLIMITED: PlanLimits = {
  concurrent_sessions: 1e9,
  sessions_per_hour: 1e9,
  symbols_per_session: 500,
  orders_per_minute: 1e9,
  ws_connections: 1e9,
  requests_per_minute: 1e9,
  bar_events_per_session: 1e12,
  ws_messages_per_second: 1e9,
  ws_message_burst: 1e9,
  ws_requests_in_flight: 1e9
}

function newManager (): { manager: SessionManager, store: MemorySessionStore } {
  const store = new MemorySessionStore()
  return { store, manager: new SessionManager({ store, marketData, limitsFor: () => UNLIMITED }) }
}

/** A typical request: three stocks, a year of daily bars, a little client metadata. */
function typicalBody (i: number): CreateSessionBody {
  return {
    symbols: ['aapl', 'msft', 'spy'],
    start_date: '2023-01-03',
    end_date: '2023-12-29',
    initial_capital: 100000,
    metadata: { strategy: 'sma-cross', fast: 10, slow: 50, run: i }
  }
}

/** A heavy one: 50 symbols and ~1 KB of metadata. */
function heavyBody (i: number): CreateSessionBody {
  return {
    symbols: Array.from({ length: 50 }, (_, k) => `sym${k}`),
    start_date: '2020-01-02',
    end_date: '2023-12-29',
    metadata: { run: i, notes: 'x'.repeat(1000) }
  }
}

function user (i: number): SessionUser {
  return { user_id: `user_${String(i).padStart(6, '0')}`, plan: 'enterprise' }
}

function heapUsed (): number {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function fmtMs (ms: number): string {
  return `${ms.toFixed(3)} ms`
}

async function memoryPerSession (count: number, bodyFor: (i: number) => CreateSessionBody, perUser = 100): Promise<void> {
  const before = heapUsed()
  const { manager, store } = newManager()
  for (let i = 0; i < count; i++) await manager.create(user(Math.floor(i / perUser)), bodyFor(i))
  const after = heapUsed()
  const size = await store.size()
  const bytes = (after - before) / size
  console.log(`  ${size.toLocaleString('en-US').padStart(7)} sessions (${bodyFor.name}): ${(bytes / 1024).toFixed(2)} KB per session, ${((after - before) / 1048576).toFixed(1)} MB heap in total`)
  // Keep everything reachable until measured.
  if (size !== count) throw new Error('not all sessions were stored')
  manager.stop()
}

async function createLatency (count: number): Promise<void> {
  const { manager } = newManager()
  for (let i = 0; i < 1000; i++) await manager.create(user(i % 100), typicalBody(i)) // warm-up (JIT)
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    const u = user(1000 + (i % 1000))
    const b = typicalBody(i)
    const t0 = performance.now()
    await manager.create(u, b)
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  console.log(`  create (${count.toLocaleString('en-US')} calls, idempotency off): p50 ${fmtMs(percentile(samples, 50))}, p99 ${fmtMs(percentile(samples, 99))}, max ${fmtMs(samples.at(-1) as number)}`)

  const keyed: number[] = []
  for (let i = 0; i < count; i++) {
    const u = user(5000 + (i % 1000))
    const b = typicalBody(i)
    const t0 = performance.now()
    await manager.create(u, b, { idempotencyKey: `key-${i}` })
    keyed.push(performance.now() - t0)
  }
  keyed.sort((a, b) => a - b)
  console.log(`  create (${count.toLocaleString('en-US')} calls, with Idempotency-Key): p50 ${fmtMs(percentile(keyed, 50))}, p99 ${fmtMs(percentile(keyed, 99))}`)
}

async function listLatency (): Promise<void> {
  const { manager } = newManager()
  const owner = user(0)
  for (let i = 0; i < 1000; i++) {
    const { session } = await manager.create(owner, typicalBody(i))
    if (i % 100 === 0) await manager.transition(owner, session.session_id, 'running')
  }
  // Other users' sessions must not slow this user's listing.
  for (let i = 0; i < 20_000; i++) await manager.create(user(1 + (i % 200)), typicalBody(i))

  async function measure (label: string, run: () => Promise<unknown>, iterations = 1000): Promise<void> {
    for (let i = 0; i < 100; i++) await run()
    const samples: number[] = []
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now()
      await run()
      samples.push(performance.now() - t0)
    }
    samples.sort((a, b) => a - b)
    console.log(`  ${label}: p50 ${fmtMs(percentile(samples, 50))}, p99 ${fmtMs(percentile(samples, 99))}`)
  }

  await measure('list first page (limit 20)', () => manager.list(owner, { limit: 20 }))
  await measure('list first page (limit 100)', () => manager.list(owner, { limit: 100 }))
  await measure('list state=running (10 of 1,000 match: full scan)', () => manager.list(owner, { state: 'running', limit: 20 }))
  await measure('walk all 1,000 in pages of 100', async () => {
    let cursor: string | undefined
    do {
      const page = await manager.list(owner, { limit: 100, ...(cursor === undefined ? {} : { cursor }) })
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
  }, 200)
}

async function sweepCost (): Promise<void> {
  const { manager } = newManager()
  for (let i = 0; i < 100_000; i++) await manager.create(user(Math.floor(i / 100)), typicalBody(i))
  const t0 = performance.now()
  const removed = await manager.cleanupExpired()
  console.log(`  sweep over 100,000 sessions, none due: ${fmtMs(performance.now() - t0)} (removed ${removed})`)
}

/** Creates through the SessionManager on each storage mode: one at a time (latency), then 32 in flight (throughput). */
async function createsPerStorage (): Promise<void> {
  const quiet = { warn: () => {} }
  for (const mode of await benchStorages()) {
    const t0 = performance.now()
    const storage = await openStorage(loadConfig(mode.env).storage, quiet)
    const opened = performance.now() - t0
    const manager = new SessionManager({ store: storage.sessions, idempotency: storage.idempotency, marketData, limitsFor: () => UNLIMITED })
    try {
      for (let i = 0; i < 300; i++) await manager.create(user(i % 100), typicalBody(i)) // warm-up
      const samples: number[] = []
      const sequential = 2000
      const s0 = performance.now()
      for (let i = 0; i < sequential; i++) {
        const t1 = performance.now()
        await manager.create(user(100 + (i % 100)), typicalBody(i))
        samples.push(performance.now() - t1)
      }
      const seqMs = performance.now() - s0
      samples.sort((a, b) => a - b)
      const concurrent = 4000
      let next = 0
      const c0 = performance.now()
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (next < concurrent) {
          const i = next++
          await manager.create(user(200 + (i % 100)), typicalBody(i))
        }
      }))
      const conMs = performance.now() - c0
      const keyed: number[] = []
      for (let i = 0; i < 1000; i++) {
        const t1 = performance.now()
        await manager.create(user(300 + (i % 100)), typicalBody(i), { idempotencyKey: `bench-${i}` })
        keyed.push(performance.now() - t1)
      }
      keyed.sort((a, b) => a - b)
      console.log(`  ${mode.label.padEnd(10)} open ${fmtMs(opened)}; one at a time: ${Math.round(sequential / (seqMs / 1000)).toLocaleString('en-US')} creates/s, ` +
        `p50 ${fmtMs(percentile(samples, 50))}, p99 ${fmtMs(percentile(samples, 99))}; 32 in flight: ${Math.round(concurrent / (conMs / 1000)).toLocaleString('en-US')} creates/s; ` +
        `with Idempotency-Key p50 ${fmtMs(percentile(keyed, 50))}, p99 ${fmtMs(percentile(keyed, 99))}`)
    } finally {
      manager.stop()
      await storage.close()
      await mode.drop()
    }
  }
}

console.log(`Node ${process.version}, ${process.arch}`)
if (!process.argv.includes('--stores-only')) {
  console.log('Memory per stored idle session (heap delta after GC / count):')
  await memoryPerSession(10_000, typicalBody)
  await memoryPerSession(100_000, typicalBody)
  await memoryPerSession(10_000, heavyBody)
  console.log('Create latency through SessionManager (in-process, instant market data):')
  await createLatency(10_000)
  console.log('List latency, one user with 1,000 sessions among 21,000:')
  await listLatency()
  console.log('Expiry sweep:')
  await sweepCost()
}
console.log('Creates through SessionManager per storage mode (in-process, instant market data, 100 users):')
await createsPerStorage()
