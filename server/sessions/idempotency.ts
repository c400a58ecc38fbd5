// Idempotency keys for session creation (the Idempotency-Key header, or its WebSocket equivalent):
// a retried create returns the original response instead of creating a second session.
//
// Choices (Stripe's model):
// - Keys are scoped per user and kept 24 h after the response was recorded.
// - The request is identified by the canonical JSON of the normalised body (defaults applied, money as
//   exact decimals, object keys sorted), so REST and WebSocket, or `100000` and `"100000.00"`, agree.
// - Same key, same body → the recorded response again, marked replayed, even if the session has since
//   been deleted or has changed: the response is a record of what the original request returned.
// - Same key, different body → IDEMPOTENCY_CONFLICT (HTTP 422, as the IETF idempotency-key draft asks), also while
//   the first request still runs: the payload is wrong whatever the timing.
// - Only successes are recorded: a failed create leaves the key unused, so the client may retry it.
// - Concurrent requests with the same key and body share one execution: in this process the later ones
//   wait for the first and get its outcome (its session, or its error); another process finds the key
//   claimed in the IdempotencyStore and waits for the recorded response (or for the claim to lapse).
// Records live in the IdempotencyStore port (memory, or SQL so that they survive a restart).
import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { AppError } from '../app-error.js'
import { MemoryIdempotencyStore } from '../adapters/memory/memory-idempotency-store.js'
import type { IdempotencyStore } from '../ports/idempotency-store.js'

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/** A claim whose holder neither completed nor released it (the process died) lapses after this. */
export const IDEMPOTENCY_CLAIM_MS = 60_000
/** How often a request waits to look again at a key another process is executing. */
const CLAIM_POLL_MS = 25
const KEY_RE = /^[\x21-\x7e]{1,255}$/

interface InFlight<T> {
  readonly fingerprint: string
  readonly pending: Promise<IdempotentResult<T>>
}

export interface IdempotentResult<T> {
  readonly value: T
  readonly replayed: boolean
}

export interface IdempotencyCacheOptions {
  now: () => number
  ttlMs?: number
  /** Where records live (default: in this process). */
  store?: IdempotencyStore
  /** Lease of a claim (default IDEMPOTENCY_CLAIM_MS). */
  claimMs?: number
  /** Where a failure to record a response goes (the request itself succeeded). */
  onRecordError?: (err: unknown) => void
}

export function assertIdempotencyKey (key: string): void {
  if (!KEY_RE.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'Idempotency key must be 1–255 printable ASCII characters without spaces', {
      field: 'idempotency_key'
    })
  }
}

export class IdempotencyCache<T> {
  readonly #now: () => number
  readonly #ttlMs: number
  readonly #claimMs: number
  readonly #store: IdempotencyStore
  readonly #onRecordError: (err: unknown) => void
  readonly #inFlight = new Map<string, InFlight<T>>()

  constructor (options: IdempotencyCacheOptions) {
    this.#now = options.now
    this.#ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS
    this.#claimMs = options.claimMs ?? IDEMPOTENCY_CLAIM_MS
    this.#store = options.store ?? new MemoryIdempotencyStore()
    this.#onRecordError = options.onRecordError ?? ((err) => {
      process.emitWarning(`Idempotency record not written: ${err instanceof Error ? err.message : String(err)}`)
    })
  }

  /** Runs `execute` at most once per (user, key) within the TTL; see the module comment for the rules. */
  async run (userId: string, key: string, fingerprint: string, execute: () => Promise<T>): Promise<IdempotentResult<T>> {
    assertIdempotencyKey(key)
    // Fingerprints are canonical JSON of up to ~16 KB of metadata: the store keeps a fixed-size hash.
    const hashed = createHash('sha256').update(fingerprint).digest('base64url')
    // NUL cannot occur in a key (printable ASCII only), so the scoped key is unambiguous.
    const scoped = `${userId}\u0000${key}`

    const inFlight = this.#inFlight.get(scoped)
    if (inFlight !== undefined) {
      this.#assertSameRequest(inFlight.fingerprint, hashed, key)
      const { value } = await inFlight.pending
      return { value: structuredClone(value), replayed: true }
    }

    const pending = this.#runOnce(userId, key, hashed, execute)
    this.#inFlight.set(scoped, { fingerprint: hashed, pending })
    try {
      return await pending
    } finally {
      this.#inFlight.delete(scoped)
    }
  }

  /** Forgets records older than the TTL (and lapsed claims); resolves how many went. */
  async prune (): Promise<number> {
    return await this.#store.prune(this.#now())
  }

  /** Records and claims held, expired ones not yet pruned included. */
  async size (): Promise<number> {
    return await this.#store.size()
  }

  async #runOnce (userId: string, key: string, fingerprint: string, execute: () => Promise<T>): Promise<IdempotentResult<T>> {
    const token = randomUUID()
    for (;;) {
      const now = this.#now()
      const outcome = await this.#store.claim(userId, key, { fingerprint, token, lease_until: now + this.#claimMs }, now)
      if (outcome.claimed) break
      this.#assertSameRequest(outcome.existing.fingerprint, fingerprint, key)
      if (outcome.existing.response !== null) return { value: JSON.parse(outcome.existing.response) as T, replayed: true }
      // Another process is running this very request: wait for its response, its failure (the key is
      // released) or the lapse of its claim, then look again.
      await sleep(CLAIM_POLL_MS)
    }

    let value: T
    try {
      value = await execute()
    } catch (err) {
      await this.#store.release(userId, key, token).catch(this.#onRecordError)
      throw err
    }
    // The session exists now: a failure to record the response must not turn the create into an error.
    try {
      await this.#store.complete(userId, key, token, JSON.stringify(value), this.#now() + this.#ttlMs)
    } catch (err) {
      this.#onRecordError(err)
    }
    return { value, replayed: false }
  }

  #assertSameRequest (recorded: string, incoming: string, key: string): void {
    if (recorded !== incoming) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'This idempotency key was already used with a different request body', {
        idempotency_key: key
      })
    }
  }
}

/**
 * JSON with object keys sorted at every depth, so equal values always serialise to equal text. Iterative
 * (an explicit stack, not recursion), so a deeply nested value from any transport cannot overflow the call
 * stack; a cycle is a TypeError, as with JSON.stringify. Otherwise it matches JSON.stringify: `toJSON` is
 * honoured, undefined/function/symbol properties are dropped and become null in arrays.
 */
export function canonicalJson (value: unknown): string {
  interface Frame { readonly node: object, readonly keys: string[] | null, index: number, written: number }
  const parts: string[] = []
  const stack: Frame[] = []
  const onPath = new Set<object>()

  /** Writes a leaf, or opens a container (its contents follow from the loop); false if `v` is omitted. */
  const enter = (input: unknown): boolean => {
    const v = withToJson(input)
    if (v === null || typeof v !== 'object') {
      const text = JSON.stringify(v) as string | undefined
      if (text === undefined) return false
      parts.push(text)
      return true
    }
    if (onPath.has(v)) throw new TypeError('Converting circular structure to JSON')
    onPath.add(v)
    const isArray = Array.isArray(v)
    parts.push(isArray ? '[' : '{')
    stack.push({ node: v, keys: isArray ? null : Object.keys(v).sort(), index: 0, written: 0 })
    return true
  }

  if (!enter(value)) return undefined as unknown as string
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]
    if (frame.keys === null) {
      const items = frame.node as unknown[]
      if (frame.index >= items.length) {
        parts.push(']')
        stack.pop()
        onPath.delete(frame.node)
        continue
      }
      if (frame.index > 0) parts.push(',')
      if (!enter(items[frame.index++])) parts.push('null')
    } else {
      if (frame.index >= frame.keys.length) {
        parts.push('}')
        stack.pop()
        onPath.delete(frame.node)
        continue
      }
      const key = frame.keys[frame.index++]
      const mark = parts.length
      parts.push(frame.written > 0 ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`)
      if (enter((frame.node as Record<string, unknown>)[key])) frame.written++
      else parts.length = mark
    }
  }
  return parts.join('')
}

function withToJson (value: unknown): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return (value as { toJSON: () => unknown }).toJSON()
  }
  return value
}
