// The storage contract on embedded PostgreSQL (PGlite in a temporary folder, opened once for the file: an
// open costs seconds), and migrations: applied once, idempotent, a newer schema refused.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sqlStorage } from '../../server/adapters/open-storage.js'
import { loadMigrations, migrate } from '../../server/adapters/sql/migrate.js'
import { openPglite } from '../../server/adapters/sql/pglite-client.js'
import { storeContract } from '../fixtures/store-contract.js'
import { migrationCases, TRUNCATE_ALL } from '../fixtures/sql-storage.js'

const dir = await mkdtemp(join(tmpdir(), 'st-pglite-'))
const db = await openPglite(join(dir, 'pgdata'))
t.teardown(async () => {
  await db.close()
  await rm(dir, { recursive: true, force: true })
})

t.same(await migrate(db), { from: 0, to: (await loadMigrations()).length }, 'an empty database is migrated to the newest schema')
const storage = sqlStorage(db, async () => {})

storeContract(t, async () => {
  await db.exec(TRUNCATE_ALL)
  return storage
})

migrationCases(t, db)
