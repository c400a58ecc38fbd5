// In-process RunStore. It keeps the objects it is given, not copies: a finished run's results are already
// held by the service in this mode, so a copy would only double their memory (the port forbids changing
// them after save).
import type { RunStore, StoredRun } from '../../ports/run-store.js'

const scoped = (userId: string, sessionId: string): string => `${userId}\u0000${sessionId}`

export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, StoredRun>()

  async save (userId: string, sessionId: string, run: StoredRun): Promise<void> {
    this.#runs.set(scoped(userId, sessionId), run)
  }

  async get (userId: string, sessionId: string): Promise<StoredRun | undefined> {
    return this.#runs.get(scoped(userId, sessionId))
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    this.#runs.delete(scoped(userId, sessionId))
  }

  /** Keys (as the memory journal scopes them) of runs that finished before `before` (and at or after `since`). */
  finishedKeysBefore (before: number, since = Number.NEGATIVE_INFINITY): string[] {
    const keys: string[] = []
    for (const [key, run] of this.#runs) if (run.finished_at < before && run.finished_at >= since) keys.push(key)
    return keys
  }
}
