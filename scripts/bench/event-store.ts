// The event store's cost per frame (issue 9: what a durable run pays to store its events), on PGlite and on
// PostgreSQL, in this process: 30,000 tick frames of ~400 bytes (the size e2e-ticks.ts sends) appended in
// batches of 100 and 512, then 4,096 of them read back (one page of a rebuild). Two layouts:
//   store    — the real SqlEventStore: one row per batch (first_seq, last_seq, the frames joined by newlines;
//              schema 4)
//   per-row  — what schemas 2 and 3 stored: one row per frame, the batch as two arrays (unnest of bigint[],
//              text[]), in a scratch table of that shape
// CPU is this process's (for PGlite that is the database too; for PostgreSQL only the client side). Figures only.
//
// Run: npx tsx scripts/bench/event-store.ts [--storage=pglite,postgres] [--rounds=2]
import { performance } from 'node:perf_hooks'
import { migrate } from '../../server/adapters/sql/migrate.js'
import { openPostgres } from '../../server/adapters/sql/pg-client.js'
import { openPglite } from '../../server/adapters/sql/pglite-client.js'
import type { SqlClient } from '../../server/adapters/sql/sql-client.js'
import { SqlEventStore } from '../../server/adapters/sql/sql-run-journal.js'
import { join } from 'node:path'
import { benchStorages, machineLine, ms, storageArg, type BenchStorage } from './lib.js'

const FRAMES = 30_000
const READ = 4096

function frame (seq: number): string {
  return `{"type":"tick","data":{"session_id":"sess_abcdef0123456789","sequence_id":${seq},"timestamp":"2023-03-01T15:31:00.000Z",` +
    '"bars":{"AAPL":{"open":"151.23","high":"151.40","low":"151.10","close":"151.33","volume":12345,"timestamp":"2023-03-01T15:31:00.000Z",' +
    `"session_date":"2023-03-01"}},"market_session":"regular","is_eod":false,"progress":0.123},"timestamp":"2026-11-27T17:31:00.123Z","sequence_id":${seq}}`
}

async function open (mode: BenchStorage): Promise<SqlClient> {
  const db = mode.env.DATABASE_URL !== undefined
    ? openPostgres(mode.env.DATABASE_URL, { onConnectionError: (err) => { console.log(`PostgreSQL: ${err.message}`) } })
    : await openPglite(join(mode.env.SIMUTRADOR_STATE_DIR, 'pgdata'))
  await migrate(db)
  await db.exec(`CREATE TABLE bench_event_rows (
    user_id text COLLATE "C" NOT NULL, session_id text COLLATE "C" NOT NULL, seq bigint NOT NULL, frame text NOT NULL,
    PRIMARY KEY (user_id, session_id, seq))`)
  // The event tables reference a session.
  await db.query(`INSERT INTO sessions (user_id, session_id, symbols, start_date, end_date, timeframe, initial_capital, commission_per_share,
    min_commission_per_order, slippage_bps, allow_short, fill_policy_version, state, created_at, updated_at, metadata, estimated_ticks, progress)
    VALUES ('u', 's', '{AAPL}', '2023-01-03', '2023-07-14', '1m', 100000, 0, 0, 0, false, '1.0.0', 'running', now(), now(), '{}', ${FRAMES}, 0)`)
  return db
}

type Layout = 'store' | 'per-row'

async function measure (db: SqlClient, layout: Layout, batch: number): Promise<string> {
  const store = new SqlEventStore(db)
  await db.query('DELETE FROM run_event_batches')
  await db.query('DELETE FROM bench_event_rows')
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let worst = 0
  for (let first = 1; first <= FRAMES; first += batch) {
    const frames = Array.from({ length: Math.min(batch, FRAMES - first + 1) }, (_, i) => ({ seq: first + i, frame: frame(first + i) }))
    const q0 = performance.now()
    if (layout === 'store') {
      await store.append('u', 's', frames)
    } else {
      await db.query('INSERT INTO bench_event_rows (user_id, session_id, seq, frame) SELECT $1, $2, s, f FROM unnest($3::bigint[], $4::text[]) AS u (s, f)',
        ['u', 's', frames.map((f) => f.seq), frames.map((f) => f.frame)])
    }
    worst = Math.max(worst, performance.now() - q0)
  }
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const r0 = process.cpuUsage()
  let read: number
  if (layout === 'per-row') {
    const rows = await db.query<{ frame: string }>('SELECT frame FROM bench_event_rows WHERE user_id = $1 AND session_id = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      ['u', 's', 10_000, READ])
    read = rows.length
  } else {
    read = (await store.read('u', 's', 10_000, READ, Number.POSITIVE_INFINITY)).length
  }
  const rcpu = process.cpuUsage(r0)
  return `${layout.padEnd(9)} batches of ${String(batch).padStart(3)}: CPU ${((cpu.user + cpu.system) / FRAMES).toFixed(1).padStart(5)} µs per frame, ` +
    `wall ${ms(wall, 0).padStart(8)} (slowest statement ${ms(worst, 0)}); reading ${read} frames: CPU ${ms((rcpu.user + rcpu.system) / 1000, 1)}`
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const keys = storageArg(argv, ['pglite', 'postgres']) ?? ['pglite', 'postgres']
  const roundsArg = argv.find((a) => a.startsWith('--rounds='))
  const rounds = roundsArg !== undefined ? Number(roundsArg.slice('--rounds='.length)) : 2
  console.log(machineLine())
  console.log(`${FRAMES.toLocaleString('en-US')} frames of ${frame(12345).length} characters per layout and batch size; CPU of this process`)
  for (let r = 0; r < rounds; r++) {
    for (const mode of await benchStorages(keys.map((_, i) => keys[(i + r) % keys.length]).filter((k) => k !== 'memory'))) {
      const db = await open(mode)
      console.log(`[round ${r + 1}] ${mode.label} — ${machineLine().replace(/^.*load average/, 'load average')}`)
      try {
        for (const batch of [100, 512]) {
          for (const layout of ['store', 'per-row'] as const) console.log(`  ${await measure(db, layout, batch)}`)
        }
      } finally {
        await db.close()
        await mode.drop()
      }
    }
  }
}

await main()
