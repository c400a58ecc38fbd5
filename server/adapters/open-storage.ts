// Opens the storage of the configured mode: memory adapters (`:memory:`), embedded PostgreSQL (PGlite) in
// the state folder, or a PostgreSQL server (DATABASE_URL). Both SQL modes run the same migrations and
// the same stores. Start-up problems are StorageStartError with a message fit for the console.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { StorageConfig } from '../config.js'
import { redactDatabaseUrl } from '../config.js'
import { StorageStartError, type Storage } from '../ports/storage.js'
import { MemoryIdempotencyStore } from './memory/memory-idempotency-store.js'
import { MemoryRunStore } from './memory/memory-run-store.js'
import { MemoryEventStore, MemoryInputLog } from './memory/memory-run-journal.js'
import { MemorySessionStore } from './memory/memory-session-store.js'
import { migrate } from './sql/migrate.js'
import { isUnavailable, openPostgres } from './sql/pg-client.js'
import { openPglite } from './sql/pglite-client.js'
import type { SqlClient } from './sql/sql-client.js'
import { SqlIdempotencyStore } from './sql/sql-idempotency-store.js'
import { SqlRunStore } from './sql/sql-run-store.js'
import { SqlEventStore, SqlInputLog } from './sql/sql-run-journal.js'
import { SqlSessionStore } from './sql/sql-session-store.js'
import { lockStateDir } from './state-dir-lock.js'

export interface StorageLog {
  warn: (obj: object, msg: string) => void
}

/** `journal`: also keep live runs' inputs and events (in-process restart tests); `:memory:` mode does not. */
export function memoryStorage (options: { journal?: boolean } = {}): Storage {
  const runs = new MemoryRunStore()
  return {
    sessions: new MemorySessionStore(),
    idempotency: new MemoryIdempotencyStore(),
    runs,
    ...(options.journal === true ? { journal: { inputs: new MemoryInputLog(runs), events: new MemoryEventStore(runs) } } : {}),
    close: async () => {}
  }
}

/** The SQL stores over an open client whose schema is current; `close` closes the client. */
export function sqlStorage (db: SqlClient, onClose: () => Promise<void> = async () => { await db.close() }): Storage {
  return {
    sessions: new SqlSessionStore(db),
    idempotency: new SqlIdempotencyStore(db),
    runs: new SqlRunStore(db),
    journal: { inputs: new SqlInputLog(db), events: new SqlEventStore(db) },
    close: onClose
  }
}

export async function openStorage (config: StorageConfig, log: StorageLog): Promise<Storage> {
  switch (config.mode) {
    case 'memory': return memoryStorage()
    case 'embedded': return await openEmbedded(config.dir)
    case 'postgres': return await openServer(config.url, log)
  }
}

async function openEmbedded (dir: string): Promise<Storage> {
  await mkdir(dir, { recursive: true })
  const unlock = await lockStateDir(dir)
  let db: SqlClient
  try {
    db = await openPglite(join(dir, 'pgdata'))
  } catch (err) {
    await unlock()
    throw new StorageStartError(`Could not open the embedded database in ${dir}: ${err instanceof Error ? err.message : String(err)}`)
  }
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    await unlock()
    throw err
  }
  return sqlStorage(db, async () => {
    await db.close()
    await unlock()
  })
}

async function openServer (url: string, log: StorageLog): Promise<Storage> {
  const db = openPostgres(url, {
    onConnectionError: (err) => { log.warn({ err: err.message }, 'PostgreSQL connection lost; requests answer 503 STORE_UNAVAILABLE until it is back') }
  })
  try {
    await migrate(db)
  } catch (err) {
    await db.close()
    if (isUnavailable(err)) {
      const cause = (err as { cause?: unknown }).cause ?? err
      throw new StorageStartError(`Cannot reach PostgreSQL at ${redactDatabaseUrl(url)}: ${cause instanceof Error ? cause.message : String(cause)}`)
    }
    throw err
  }
  return sqlStorage(db)
}
