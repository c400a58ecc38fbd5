// SessionEvents within one process (no REDIS_URL): publishing calls this process's listeners at once, in
// subscription order, each with its own copy of the event. The Redis adapter delivers its own instance's
// events through this one too, so both behave the same locally.
import type { SessionEvent, SessionEvents, SessionListener } from '../../ports/session-events.js'

export class LocalSessionEvents implements SessionEvents {
  readonly #listeners = new Set<SessionListener>()
  readonly #onListenerError: (err: unknown, event: SessionEvent) => void

  /** `onListenerError`: where a throwing listener's error goes (default: a process warning); others still run. */
  constructor (onListenerError?: (err: unknown, event: SessionEvent) => void) {
    this.#onListenerError = onListenerError ?? ((err) => {
      process.emitWarning(`Session event listener failed: ${err instanceof Error ? err.message : String(err)}`)
    })
  }

  publish (event: SessionEvent): void {
    for (const listener of [...this.#listeners]) {
      // A listener mutating its event must not affect the next one.
      const copy = structuredClone(event)
      try {
        listener(copy)
      } catch (err) {
        this.#onListenerError(err, copy)
      }
    }
  }

  subscribe (listener: SessionListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  async ready (): Promise<void> {}

  async close (): Promise<void> {
    this.#listeners.clear()
  }
}
