// Server PostgreSQL through a node-postgres pool. Connection failures never crash the process: the pool's
// and every checked-out client's `error` events are handled (a dropped idle connection is discarded, a
// broken one is destroyed on release), and statements that fail because the database cannot be reached
// reject with STORE_UNAVAILABLE (503). New connections are made on demand, so once the database is back
// the next statement works again.
import pg from 'pg'
import { AppError } from '../../app-error.js'
import { sqlState, type SqlClient, type SqlQueryable } from './sql-client.js'

export interface PostgresOptions {
  /** Where connection errors are reported (they are survivable; the next statement reconnects). */
  onConnectionError: (err: Error) => void
  /** Pool size (default 10). */
  max?: number
  /** Gives up connecting after this (default 5000 ms): the request answers 503 instead of hanging. */
  connectTimeoutMs?: number
  /** A statement without an answer after this fails (default 30000 ms). */
  queryTimeoutMs?: number
  /**
   * A statement waiting this long for a lock fails with STORE_UNAVAILABLE (default 5000 ms), and a
   * transaction left open this long is ended by the server (default 5000 ms): a stalled process (SIGSTOP,
   * a long GC pause) holding a row lock never holds up the other instances for longer.
   */
  lockTimeoutMs?: number
}

/** Node socket errors and node-postgres' own connection messages: the database is not reachable. */
const NETWORK_MESSAGE = /connection|terminated|timeout|not queryable|ECONN|socket/i

/** Whether `err` says the database cannot be reached now (as opposed to a statement being wrong). */
export function isUnavailable (err: unknown): boolean {
  if (err instanceof AppError) return err.error_code === 'STORE_UNAVAILABLE'
  const state = sqlState(err)
  // 08: connection exception; 53: insufficient resources (too many connections); 57P01–03: shutting down;
  // 55P03: a lock not granted within lock_timeout (another process holds it); 25P03: this connection's
  // transaction was ended by idle_in_transaction_session_timeout.
  if (state !== undefined) return state.startsWith('08') || state.startsWith('53') || /^57P0[1-3]$/.test(state) || state === '55P03' || state === '25P03'
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return true
  return err instanceof Error && NETWORK_MESSAGE.test(err.message)
}

export function storeUnavailable (cause: unknown): AppError {
  const err = new AppError('STORE_UNAVAILABLE', 'The database is unavailable; retry shortly')
  ;(err as { cause?: unknown }).cause = cause
  return err
}

function translate (err: unknown): unknown {
  return isUnavailable(err) ? storeUnavailable(err) : err
}

export function openPostgres (url: string, options: PostgresOptions): SqlClient {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    query_timeout: options.queryTimeoutMs ?? 30_000,
    lock_timeout: options.lockTimeoutMs ?? 5000,
    idle_in_transaction_session_timeout: options.lockTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'simutrador'
  })
  // An idle pooled connection that drops emits here; the pool has already discarded it.
  pool.on('error', (err) => { options.onConnectionError(err) })

  /** A checked-out connection whose errors are handled; `done` returns it (or destroys it if it broke). */
  async function checkOut (): Promise<{ tx: SqlQueryable, broken: () => boolean, done: () => void }> {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (err) {
      throw translate(err)
    }
    let broken = false
    const onError = (err: Error): void => { broken = true; options.onConnectionError(err) }
    client.on('error', onError)
    const run = async <T>(work: () => Promise<T>): Promise<T> => {
      try {
        return await work()
      } catch (err) {
        if (isUnavailable(err)) broken = true
        throw translate(err)
      }
    }
    return {
      broken: () => broken,
      tx: {
        query: async <R extends object>(text: string, params: readonly unknown[] = []) =>
          await run(async () => (await client.query<R>(text, params as unknown[])).rows),
        exec: async (script: string) => { await run(async () => await client.query(script)) }
      },
      done: () => {
        client.off('error', onError)
        client.release(broken)
      }
    }
  }

  return {
    async query<R extends object> (text: string, params: readonly unknown[] = []) {
      const c = await checkOut()
      try { return await c.tx.query<R>(text, params) } finally { c.done() }
    },
    async exec (script: string) {
      const c = await checkOut()
      try { await c.tx.exec(script) } finally { c.done() }
    },
    async transaction<T> (work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
      const c = await checkOut()
      try {
        await c.tx.query('BEGIN')
        const result = await work(c.tx)
        await c.tx.query('COMMIT')
        return result
      } catch (err) {
        if (!c.broken()) await c.tx.query('ROLLBACK').catch(() => undefined)
        throw err
      } finally {
        c.done()
      }
    },
    async close () {
      await pool.end()
    }
  }
}
