// Everything the services keep durably, as one bundle of ports opened at start and closed at shutdown
// (server/adapters/open-storage.ts picks the adapters for the configured mode).
import type { IdempotencyStore } from './idempotency-store.js'
import type { RunStore } from './run-store.js'
import type { EventStore, InputLog } from './run-journal.js'
import type { SessionStore } from './session-store.js'

export interface Storage {
  readonly sessions: SessionStore
  readonly idempotency: IdempotencyStore
  readonly runs: RunStore
  /**
   * Live runs' input logs and event logs (runs survive a restart). Absent in `:memory:` mode, where a run's
   * in-memory event log is the record and nothing outlives the process.
   */
  readonly journal?: { readonly inputs: InputLog, readonly events: EventStore }
  close (): Promise<void>
}

/** Storage could not be opened (unreachable database, schema newer than this code, state folder in use). */
export class StorageStartError extends Error {
  override name = 'StorageStartError'
}
