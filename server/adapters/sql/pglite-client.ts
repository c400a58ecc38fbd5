// Embedded PostgreSQL: PGlite (PostgreSQL compiled to WASM) on disk in the state folder, one per process.
// Its single connection serialises statements; a transaction holds it until it ends.
import type { PGlite, Transaction } from '@electric-sql/pglite'
import type { SqlClient, SqlQueryable } from './sql-client.js'

function queryable (db: PGlite | Transaction): SqlQueryable {
  return {
    query: async <R extends object>(text: string, params: readonly unknown[] = []) => (await db.query<R>(text, params as unknown[])).rows,
    exec: async (script: string) => { await db.exec(script) }
  }
}

/** Opens (creating it on first use, which takes a few seconds) the database in `dataDir`. */
export async function openPglite (dataDir: string): Promise<SqlClient> {
  // Loaded on demand: the WASM engine costs memory and start time that the other modes never pay.
  const { PGlite } = await import('@electric-sql/pglite')
  const db = await PGlite.create(dataDir)
  return {
    ...queryable(db),
    transaction: async <T>(work: (tx: SqlQueryable) => Promise<T>) => await db.transaction(async (tx) => await work(queryable(tx))),
    close: async () => { await db.close() }
  }
}
