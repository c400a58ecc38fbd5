// IdempotencyStore in SQL: the claim is one INSERT … ON CONFLICT that takes the key only when it is free or
// what holds it has expired, so two processes given the same key never both run the request.
import type { ClaimOutcome, IdempotencyClaim, IdempotencyRecord, IdempotencyStore } from '../../ports/idempotency-store.js'
import type { SqlClient } from './sql-client.js'

interface Row { fingerprint: string, response: string | null, expires_at: Date }

const iso = (ms: number): string => new Date(ms).toISOString()
const toRecord = (row: Row): IdempotencyRecord => ({ fingerprint: row.fingerprint, response: row.response, expires_at: row.expires_at.getTime() })

export class SqlIdempotencyStore implements IdempotencyStore {
  readonly #db: SqlClient

  constructor (db: SqlClient) {
    this.#db = db
  }

  async claim (userId: string, key: string, claim: IdempotencyClaim, now: number): Promise<ClaimOutcome> {
    // A holder that disappears between the two statements (released, pruned) is simply tried again.
    for (;;) {
      const taken = await this.#db.query(
        `INSERT INTO idempotency (user_id, key, fingerprint, claim_token, response, expires_at)
        VALUES ($1, $2, $3, $4, NULL, $5)
        ON CONFLICT (user_id, key) DO UPDATE
          SET fingerprint = EXCLUDED.fingerprint, claim_token = EXCLUDED.claim_token, response = NULL, expires_at = EXCLUDED.expires_at
          WHERE idempotency.expires_at <= $6
        RETURNING 1`,
        [userId, key, claim.fingerprint, claim.token, iso(claim.lease_until), iso(now)])
      if (taken.length === 1) return { claimed: true }
      const existing = await this.get(userId, key, now)
      if (existing !== undefined) return { claimed: false, existing }
    }
  }

  async complete (userId: string, key: string, token: string, response: string, expiresAt: number): Promise<boolean> {
    const rows = await this.#db.query(
      'UPDATE idempotency SET response = $4::jsonb, expires_at = $5 WHERE user_id = $1 AND key = $2 AND claim_token = $3 RETURNING 1',
      [userId, key, token, response, iso(expiresAt)])
    return rows.length === 1
  }

  async release (userId: string, key: string, token: string): Promise<void> {
    await this.#db.query(
      'DELETE FROM idempotency WHERE user_id = $1 AND key = $2 AND claim_token = $3 AND response IS NULL', [userId, key, token])
  }

  async get (userId: string, key: string, now: number): Promise<IdempotencyRecord | undefined> {
    const rows = await this.#db.query<Row>(
      'SELECT fingerprint, response::text AS response, expires_at FROM idempotency WHERE user_id = $1 AND key = $2 AND expires_at > $3',
      [userId, key, iso(now)])
    return rows.length === 0 ? undefined : toRecord(rows[0])
  }

  async prune (now: number): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>(
      'WITH gone AS (DELETE FROM idempotency WHERE expires_at <= $1 RETURNING 1) SELECT count(*)::int AS n FROM gone', [iso(now)])
    return row.n
  }

  async size (): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>('SELECT count(*)::int AS n FROM idempotency')
    return row.n
  }
}
