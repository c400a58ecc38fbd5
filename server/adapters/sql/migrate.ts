// Schema migrations: versioned SQL files (migrations/NNN_name.sql), applied at start in one transaction
// under an advisory lock, so two processes starting at once never race; `schema_version` records what
// was applied. A database whose schema is newer than this code knows is refused: running old code on it
// could misread or damage data written by the newer release.
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { StorageStartError } from '../../ports/storage.js'
import type { SqlClient } from './sql-client.js'

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))
const FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/
/** First key of SimuTrador's advisory locks (two-key form, so they never collide with other applications'). */
export const LOCK_NAMESPACE_MIGRATIONS = 0x53540001
export const LOCK_NAMESPACE_USERS = 0x53540002

/** The migration files, in order; their numbers must run 1, 2, 3… without gaps. */
export async function loadMigrations (dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  const migrations: Migration[] = []
  for (const file of files) {
    const m = FILE_RE.exec(file)
    if (m === null) throw new Error(`Migration file ${file} is not named NNN_name.sql`)
    const version = Number(m[1])
    if (version !== migrations.length + 1) throw new Error(`Migration ${file} should be number ${migrations.length + 1}`)
    migrations.push({ version, name: m[2], sql: await readFile(`${dir}${file}`, 'utf8') })
  }
  return migrations
}

export interface MigrationOutcome {
  /** Schema version found (0: an empty database). */
  readonly from: number
  /** Schema version now. */
  readonly to: number
}

/** Brings the schema (of the first schema on the search_path) up to the newest migration. */
export async function migrate (db: SqlClient, migrations?: readonly Migration[]): Promise<MigrationOutcome> {
  const known = migrations ?? await loadMigrations()
  const latest = known.length
  return await db.transaction(async (tx) => {
    // Keyed by schema, so that databases shared by schema (tests) migrate side by side.
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [LOCK_NAMESPACE_MIGRATIONS])
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_version (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const [{ version: from }] = await tx.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM schema_version')
    if (from > latest) {
      throw new StorageStartError(
        `The database schema is at version ${from}, but this SimuTrador knows versions up to ${latest}: ` +
        'a newer release has upgraded it. Run that release (or newer), or restore a backup taken before the upgrade.'
      )
    }
    for (const m of known) {
      if (m.version <= from) continue
      await tx.exec(m.sql)
      await tx.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [m.version, m.name])
    }
    return { from, to: Math.max(from, latest) }
  })
}
