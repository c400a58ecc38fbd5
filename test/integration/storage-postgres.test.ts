// The storage contract on the machine's PostgreSQL, in a schema of its own, plus what a server adds:
// two processes migrating one database at once, and a concurrent guarded insert from two pools.
import t from 'tap'
import { sqlStorage } from '../../server/adapters/open-storage.js'
import { loadMigrations, migrate } from '../../server/adapters/sql/migrate.js'
import { openPostgres } from '../../server/adapters/sql/pg-client.js'
import { SqlEventStore, SqlInputLog } from '../../server/adapters/sql/sql-run-journal.js'
import type { SqlClient } from '../../server/adapters/sql/sql-client.js'
import { SqlSessionStore } from '../../server/adapters/sql/sql-session-store.js'
import { storeContract } from '../fixtures/store-contract.js'
import { freshSchema, requirePostgres } from '../fixtures/postgres.js'
import { migrationCases, TRUNCATE_ALL } from '../fixtures/sql-storage.js'
import { OPEN_GUARD, T0, record } from '../unit/sessions/session-records.js'

const connectionErrors: Error[] = []
const open = (url: string): ReturnType<typeof openPostgres> => openPostgres(url, { onConnectionError: (err) => { connectionErrors.push(err) } })

if (await requirePostgres(t)) {
  const { url } = await freshSchema(t)
  const db = open(url)
  t.teardown(async () => { await db.close() })

  await t.test('two processes migrating one empty schema at once apply each migration once', async (t) => {
    const other = open(url)
    t.teardown(async () => { await other.close() })
    const latest = (await loadMigrations()).length
    const outcomes = await Promise.all([migrate(db), migrate(other)])
    t.same(outcomes.map((o) => o.to), [latest, latest])
    t.same(outcomes.map((o) => o.from).sort(), [0, latest], 'the second waited for the first and found it done')
    t.same(await db.query('SELECT count(*)::int AS n FROM schema_version'), [{ n: latest }])
  })

  const storage = sqlStorage(db, async () => {})
  storeContract(t, async () => {
    await db.exec(TRUNCATE_ALL)
    return storage
  })

  migrationCases(t, db)

  t.test('guarded inserts from two pools (two processes) still stop at the limit', async (t) => {
    await db.exec(TRUNCATE_ALL)
    const other = open(url)
    t.teardown(async () => { await other.close() })
    const stores = [new SqlSessionStore(db), new SqlSessionStore(other)]
    const guard = { ...OPEN_GUARD, max_active: 5 }
    const outcomes = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
      await stores[i % 2].insert(record({ session_id: `p${i}`, created_at: T0 + i }), guard)))
    t.equal(outcomes.filter((o) => o.ok).length, 5)
    t.equal(await stores[0].countActive('user_alice'), 5)
  })

  t.test('schema 3: a schema-2 database is upgraded, and the retention sweeps read through their indexes', async (t) => {
    const fresh = open((await freshSchema(t)).url)
    t.teardown(async () => { await fresh.close() })
    const migrations = await loadMigrations()
    t.same(await migrate(fresh, migrations.slice(0, 2)), { from: 0, to: 2 }, 'the previous release\'s schema')
    t.same(await migrate(fresh), { from: 2, to: migrations.length }, 'brought to the newest schema at start')
    t.same((await fresh.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ('sessions_finished_by_updated', 'run_results_by_finished') ORDER BY 1")).map((r) => r.indexname),
    ['run_results_by_finished', 'sessions_finished_by_updated'])

    // A month of sessions as the sweeps leave them: 40,000 finished over the last 30 days (the older ones
    // were swept), 4,000 live; event and input logs only for runs of the last day.
    await fresh.exec(`
      INSERT INTO sessions (user_id, session_id, symbols, start_date, end_date, timeframe, initial_capital, commission_per_share,
        min_commission_per_order, slippage_bps, allow_short, fill_policy_version, state, created_at, updated_at, expires_at, metadata,
        estimated_ticks, progress)
      SELECT 'u' || (i % 500), 's' || i, ARRAY['AAPL'], '2023-01-03', '2023-12-29', '1d', 100000, 0.005, 1, 0, false, '1',
        CASE WHEN i % 11 = 0 THEN 'ready' WHEN i % 11 = 1 THEN 'error' ELSE 'completed' END,
        now() - (i % 43200) * interval '1 minute', now() - (i % 43200) * interval '1 minute' + interval '5 minutes',
        CASE WHEN i % 11 = 0 THEN now() + interval '1 day' END, '{}', 250, 1
      FROM generate_series(1, 44000) i;
      INSERT INTO run_results (user_id, session_id, state, final_equity, results, account, orders, finished_at)
        SELECT user_id, session_id, state, 100000, '{}', '{}', '[]', updated_at FROM sessions WHERE state IN ('completed', 'error');
      INSERT INTO run_event_batches (user_id, session_id, first_seq, last_seq, frames)
        SELECT r.user_id, r.session_id, 1, 20, '{}' FROM run_results r WHERE r.finished_at > now() - interval '25 hours';
      INSERT INTO run_inputs (user_id, session_id, seq, step, kind, payload)
        SELECT r.user_id, r.session_id, 1, 0, 'start', '{}' FROM run_results r WHERE r.finished_at > now() - interval '25 hours';
      ANALYZE`)

    // The statements the stores run, recorded, then explained with the same parameters.
    const seen: Array<{ text: string, params: readonly unknown[] }> = []
    const recording: SqlClient = {
      query: async (text, params = []) => { seen.push({ text, params }); return await fresh.query(text, params) },
      exec: async (script) => { await fresh.exec(script) },
      transaction: async (work) => await fresh.transaction(work),
      close: async () => {}
    }
    const now = Date.now()
    const DAY = 86_400_000
    await new SqlSessionStore(recording).listFinishedBefore(now - 30 * DAY + 3_600_000)
    const before = now - DAY
    const since = before - 3_660_000
    t.ok(await new SqlEventStore(recording).deleteFinishedBefore(before, since) > 0, 'the event-log sweep found runs to clear')
    t.ok(await new SqlInputLog(recording).deleteFinishedBefore(before, since) > 0, 'so did the input-log sweep')
    t.equal(seen.length, 3)
    const plan = async (text: string, params: readonly unknown[]): Promise<string[]> => {
      const [row] = await fresh.query<{ plan: string }>(`EXPLAIN (FORMAT JSON) ${text}`, params).then((rows) => rows.map((r) => ({ plan: JSON.stringify(r) })))
      const nodes: string[] = []
      const walk = (n: any): void => {
        if (typeof n !== 'object' || n === null) return
        if (typeof n['Node Type'] === 'string') nodes.push([n['Node Type'], n['Relation Name'], n['Index Name']].filter((x) => x !== undefined).join(' '))
        for (const v of Object.values(n)) walk(v)
      }
      walk(JSON.parse(row.plan))
      return nodes
    }
    const [sweepSessions, sweepEvents, sweepInputs] = await Promise.all(seen.map(async (q) => await plan(q.text, q.params)))
    t.match(sweepSessions.join('; '), /Index Scan sessions sessions_finished_by_updated/, `the session sweep: ${sweepSessions.join('; ')}`)
    for (const [what, nodes] of [['event', sweepEvents], ['input', sweepInputs]] as const) {
      t.match(nodes.join('; '), /Index Scan run_results run_results_by_finished/, `the ${what}-log sweep finds old runs by index: ${nodes.join('; ')}`)
    }
    for (const nodes of [sweepSessions, sweepEvents, sweepInputs]) {
      // (The logs hold only the last day's runs: the planner may read a small one whole.)
      t.notOk(nodes.some((n) => /^Seq Scan (sessions|run_results)$/.test(n)), `sessions and run_results (a month of history) are not read whole: ${nodes.join('; ')}`)
    }
  })

  t.test('schema 4: the frames stored one row each by schema 3 are read the same after the upgrade', async (t) => {
    const fresh = open((await freshSchema(t)).url)
    t.teardown(async () => { await fresh.close() })
    const migrations = await loadMigrations()
    t.same(await migrate(fresh, migrations.slice(0, 3)), { from: 0, to: 3 })
    await new SqlSessionStore(fresh).insert(record({ session_id: 'sess_4' }), OPEN_GUARD)
    await fresh.query(`INSERT INTO run_events (user_id, session_id, seq, frame) SELECT 'user_alice', 'sess_4', g, '{"n":' || g || '}' FROM generate_series(1, 5) g`)
    t.same(await migrate(fresh), { from: 3, to: migrations.length })
    const events = new SqlEventStore(fresh)
    t.equal(await events.lastSeq('user_alice', 'sess_4'), 5)
    t.same(await events.read('user_alice', 'sess_4', 1, 3, 1 << 20), ['{"n":2}', '{"n":3}', '{"n":4}'])
    await events.append('user_alice', 'sess_4', [{ seq: 6, frame: '{"n":6}' }, { seq: 7, frame: '{"n":7}' }])
    t.same(await events.read('user_alice', 'sess_4', 4, 100, 1 << 20), ['{"n":5}', '{"n":6}', '{"n":7}'], 'appends go on after the converted frames')
    t.same(await fresh.query("SELECT to_regclass('run_events') IS NULL AS gone"), [{ gone: true }], 'the old table is dropped')
  })

  t.test('no connection error was reported while the database was up', async (t) => {
    t.same(connectionErrors, [])
  })
}
