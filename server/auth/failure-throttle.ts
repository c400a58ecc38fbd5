// Counts failed API-key attempts per client address in a fixed window, so a client guessing keys is told 429
// while successful exchanges from the same address (200 valid keys behind one NAT) are never slowed down.
import { AppError } from '../app-error.js'

/** What the token exchange needs: count a failure, or refuse it while the address has used its allowance. */
export interface FailureCounter {
  /** Throws RATE_LIMIT_EXCEEDED while `key` has used up its failures in the window; otherwise counts one. */
  failed (key: string): Promise<void>
}

export function tooManyFailures (retryAfterSeconds: number): AppError {
  return new AppError('RATE_LIMIT_EXCEEDED', `Too many failed authentication attempts, retry in ${retryAfterSeconds} s`, {
    retry_after_seconds: retryAfterSeconds
  })
}

export class FailureThrottle implements FailureCounter {
  readonly #windows = new Map<string, { count: number, resetAt: number }>()
  readonly #max: number
  readonly #windowMs: number
  readonly #now: () => number

  constructor (opts: { maxFailures: number, windowMs: number, now?: () => number }) {
    this.#max = opts.maxFailures
    this.#windowMs = opts.windowMs
    this.#now = opts.now ?? Date.now
  }

  /** Throws RATE_LIMIT_EXCEEDED while `key` has used up its failures in the current window. */
  check (key: string): void {
    const w = this.#windows.get(key)
    const now = this.#now()
    if (w === undefined) return
    if (w.resetAt <= now) { this.#windows.delete(key); return }
    if (w.count >= this.#max) {
      throw tooManyFailures(Math.max(1, Math.ceil((w.resetAt - now) / 1000)))
    }
  }

  async failed (key: string): Promise<void> {
    this.check(key)
    this.recordFailure(key)
  }

  recordFailure (key: string): void {
    const now = this.#now()
    const w = this.#windows.get(key)
    if (w === undefined || w.resetAt <= now) {
      this.#windows.set(key, { count: 1, resetAt: now + this.#windowMs })
      if (this.#windows.size > 10_000) this.#prune(now)
    } else {
      w.count++
    }
  }

  #prune (now: number): void {
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k)
  }
}
