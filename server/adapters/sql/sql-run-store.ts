// RunStore in SQL: a finished run's results, final account and orders as jsonb (money stays the API's
// decimal strings inside the JSON), the final equity as numeric for queries. A run belongs to its session:
// deleting the session deletes it (foreign key, ON DELETE CASCADE).
import type { AccountSnapshot, Order, SimulationResults } from '../../../schemas/simulation.js'
import type { RunStore, StoredRun } from '../../ports/run-store.js'
import { sqlState, type SqlClient } from './sql-client.js'

interface Row { state: StoredRun['state'], results: string | null, account: string, orders: string, finished_at: Date }

export class SqlRunStore implements RunStore {
  readonly #db: SqlClient

  constructor (db: SqlClient) {
    this.#db = db
  }

  async save (userId: string, sessionId: string, run: StoredRun): Promise<void> {
    try {
      await this.#db.query(
        `INSERT INTO run_results (user_id, session_id, state, final_equity, results, account, orders, finished_at)
        VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8)
        ON CONFLICT (user_id, session_id) DO UPDATE SET state = EXCLUDED.state, final_equity = EXCLUDED.final_equity,
          results = EXCLUDED.results, account = EXCLUDED.account, orders = EXCLUDED.orders, finished_at = EXCLUDED.finished_at`,
        [userId, sessionId, run.state, run.account.equity, run.results === null ? null : JSON.stringify(run.results),
          JSON.stringify(run.account), JSON.stringify(run.orders), new Date(run.finished_at).toISOString()])
    } catch (err) {
      // 23503: the session was deleted while its run was ending; there is nothing to keep.
      if (sqlState(err) !== '23503') throw err
    }
  }

  async get (userId: string, sessionId: string): Promise<StoredRun | undefined> {
    const rows = await this.#db.query<Row>(
      `SELECT state, results::text AS results, account::text AS account, orders::text AS orders, finished_at
      FROM run_results WHERE user_id = $1 AND session_id = $2`, [userId, sessionId])
    if (rows.length === 0) return undefined
    const row = rows[0]
    return {
      state: row.state,
      results: row.results === null ? null : JSON.parse(row.results) as SimulationResults,
      account: JSON.parse(row.account) as AccountSnapshot,
      orders: JSON.parse(row.orders) as Order[],
      finished_at: row.finished_at.getTime()
    }
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    await this.#db.query('DELETE FROM run_results WHERE user_id = $1 AND session_id = $2', [userId, sessionId])
  }
}
