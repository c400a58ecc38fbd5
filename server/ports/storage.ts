// Everything the services keep durably, as one bundle of ports opened at start and closed at shutdown
// (server/adapters/open-storage.ts picks the adapters for the configured mode).
import type { IdempotencyStore } from './idempotency-store.js'
import type { RunStore } from './run-store.js'
import type { SessionStore } from './session-store.js'

export interface Storage {
  readonly sessions: SessionStore
  readonly idempotency: IdempotencyStore
  readonly runs: RunStore
  close (): Promise<void>
}

/** Storage could not be opened (unreachable database, schema newer than this code, state folder in use). */
export class StorageStartError extends Error {
  override name = 'StorageStartError'
}
