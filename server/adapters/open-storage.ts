// Opens the storage of the configured mode. For now: the memory adapters of every port.
import type { Storage } from '../ports/storage.js'
import { MemoryIdempotencyStore } from './memory/memory-idempotency-store.js'
import { MemoryRunStore } from './memory/memory-run-store.js'
import { MemorySessionStore } from './memory/memory-session-store.js'

export function memoryStorage (): Storage {
  return {
    sessions: new MemorySessionStore(),
    idempotency: new MemoryIdempotencyStore(),
    runs: new MemoryRunStore(),
    close: async () => {}
  }
}
