// The storage contract on the machine's PostgreSQL, in a schema of its own, plus what a server adds:
// two processes migrating one database at once, and a concurrent guarded insert from two pools.
import t from 'tap'
import { sqlStorage } from '../../server/adapters/open-storage.js'
import { loadMigrations, migrate } from '../../server/adapters/sql/migrate.js'
import { openPostgres } from '../../server/adapters/sql/pg-client.js'
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

  t.test('no connection error was reported while the database was up', async (t) => {
    t.same(connectionErrors, [])
  })
}
