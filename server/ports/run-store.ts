// Storage port of finished runs: what GET …/results, …/account and …/orders answer once a run has ended,
// so they answer the same after a restart. Written when a run completes, is cancelled or fails; a run is
// rebuilt, not saved, while it is live (a later increment), so only finished runs are here.
import type { AccountSnapshot, Order, SimulationResults } from '../../schemas/simulation.js'

export interface StoredRun {
  /** completed (finished or cancelled) or error. */
  readonly state: 'completed' | 'error'
  /** Metrics, equity curve and trades; null unless completed. */
  readonly results: SimulationResults | null
  /** The account at the end of the run. */
  readonly account: AccountSnapshot
  /** Every order of the run with its fills, as GET …/orders lists them. */
  readonly orders: Order[]
  /** Epoch ms. */
  readonly finished_at: number
}

export interface RunStore {
  /**
   * Stores (or replaces) the session's finished run. Resolves without storing when the session no longer
   * exists (deleted while the run was ending). Callers must not change the objects afterwards.
   */
  save (userId: string, sessionId: string, run: StoredRun): Promise<void>
  get (userId: string, sessionId: string): Promise<StoredRun | undefined>
  delete (userId: string, sessionId: string): Promise<void>
}
