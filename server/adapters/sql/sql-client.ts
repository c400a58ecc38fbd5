// The tiny query interface the SQL stores are written against. Both engines satisfy it: embedded PGlite
// (pglite-client.ts) and a node-postgres pool (pg-client.ts), so one set of statements, migrations and
// stores serves both. Statements use $n parameters only; rows come back as plain objects.

export interface SqlQueryable {
  /** One parameterised statement. Select int8/numeric as ::int, ::float8 or ::text: the drivers differ on them. */
  query: <R extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]) => Promise<R[]>
  /** A script of several statements without parameters (migrations). */
  exec: (script: string) => Promise<void>
}

export interface SqlClient extends SqlQueryable {
  /** Runs `work` in one transaction (committed if it resolves, rolled back if it throws); use only `tx` inside. */
  transaction: <T>(work: (tx: SqlQueryable) => Promise<T>) => Promise<T>
  close: () => Promise<void>
}

/**
 * The SQLSTATE of a database error, if it is one (both drivers put it in `code`). No SQLSTATE class starts
 * with E, while Node's socket errors (EPIPE, EPERM…) do and may also be five letters.
 */
export function sqlState (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : undefined
}
