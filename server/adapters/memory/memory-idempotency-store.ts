// In-process IdempotencyStore: one map entry per (user, key). Each method does its work without yielding,
// which makes claim an atomic insert-if-absent.
import type { ClaimOutcome, IdempotencyClaim, IdempotencyRecord, IdempotencyStore } from '../../ports/idempotency-store.js'

interface Entry extends IdempotencyRecord {
  readonly token: string
}

// NUL cannot occur in a key (printable ASCII only) nor in a user id, so the scoped key is unambiguous.
const scoped = (userId: string, key: string): string => `${userId}\u0000${key}`

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>()

  async claim (userId: string, key: string, claim: IdempotencyClaim, now: number): Promise<ClaimOutcome> {
    const k = scoped(userId, key)
    const existing = this.#entries.get(k)
    if (existing !== undefined && existing.expires_at > now) {
      return { claimed: false, existing: { fingerprint: existing.fingerprint, response: existing.response, expires_at: existing.expires_at } }
    }
    this.#entries.set(k, { fingerprint: claim.fingerprint, response: null, expires_at: claim.lease_until, token: claim.token })
    return { claimed: true }
  }

  async complete (userId: string, key: string, token: string, response: string, expiresAt: number): Promise<boolean> {
    const k = scoped(userId, key)
    const entry = this.#entries.get(k)
    if (entry?.token !== token) return false
    this.#entries.set(k, { ...entry, response, expires_at: expiresAt })
    return true
  }

  async release (userId: string, key: string, token: string): Promise<void> {
    const k = scoped(userId, key)
    const entry = this.#entries.get(k)
    if (entry?.token === token && entry.response === null) this.#entries.delete(k)
  }

  async get (userId: string, key: string, now: number): Promise<IdempotencyRecord | undefined> {
    const entry = this.#entries.get(scoped(userId, key))
    if (entry === undefined || entry.expires_at <= now) return undefined
    return { fingerprint: entry.fingerprint, response: entry.response, expires_at: entry.expires_at }
  }

  async prune (now: number): Promise<number> {
    let removed = 0
    for (const [k, entry] of this.#entries) {
      if (entry.expires_at <= now) {
        this.#entries.delete(k)
        removed++
      }
    }
    return removed
  }

  async size (): Promise<number> {
    return this.#entries.size
  }
}
