// Idempotency keys for session creation (the Idempotency-Key header, or its WebSocket equivalent):
// a retried create returns the original response instead of creating a second session.
//
// Choices (Stripe's model):
// - Keys are scoped per user and kept 24 h after the response was recorded.
// - The request is identified by the canonical JSON of the normalised body (defaults applied, money as
//   exact decimals, object keys sorted), so REST and WebSocket, or `100000` and `"100000.00"`, agree.
// - Same key, same body → the recorded response again, marked replayed, even if the session has since
//   been deleted or has changed: the response is a record of what the original request returned.
// - Same key, different body → IDEMPOTENCY_CONFLICT.
// - Only successes are recorded: a failed create leaves the key unused, so the client may retry it.
// - Concurrent requests with the same key and body share one execution: the later ones wait for the
//   first and get its outcome (its session, or its error).
// Entries live in this process; a multi-process deployment needs a shared store behind the same calls.
import { AppError } from '../app-error.js'

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
const KEY_RE = /^[\x21-\x7e]{1,255}$/

interface Recorded {
  readonly fingerprint: string
  /** JSON of the response, so every replay hands out a fresh copy of exactly what was returned. */
  readonly response: string
  readonly expires_at: number
}

interface InFlight<T> {
  readonly fingerprint: string
  readonly pending: Promise<T>
}

export interface IdempotentResult<T> {
  readonly value: T
  readonly replayed: boolean
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
  readonly #recorded = new Map<string, Recorded>()
  readonly #inFlight = new Map<string, InFlight<T>>()

  constructor (options: { now: () => number, ttlMs?: number }) {
    this.#now = options.now
    this.#ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS
  }

  /** Runs `execute` at most once per (user, key) within the TTL; see the module comment for the rules. */
  async run (userId: string, key: string, fingerprint: string, execute: () => Promise<T>): Promise<IdempotentResult<T>> {
    assertIdempotencyKey(key)
    // NUL cannot occur in a key (printable ASCII only), so the scoped key is unambiguous.
    const scoped = `${userId}\u0000${key}`

    const recorded = this.#recorded.get(scoped)
    if (recorded !== undefined && recorded.expires_at <= this.#now()) this.#recorded.delete(scoped)
    else if (recorded !== undefined) {
      this.#assertSameRequest(recorded.fingerprint, fingerprint, key)
      return { value: JSON.parse(recorded.response) as T, replayed: true }
    }

    const inFlight = this.#inFlight.get(scoped)
    if (inFlight !== undefined) {
      this.#assertSameRequest(inFlight.fingerprint, fingerprint, key)
      const value = await inFlight.pending
      return { value: structuredClone(value), replayed: true }
    }

    const pending = execute()
    this.#inFlight.set(scoped, { fingerprint, pending })
    try {
      const value = await pending
      this.#recorded.set(scoped, { fingerprint, response: JSON.stringify(value), expires_at: this.#now() + this.#ttlMs })
      return { value, replayed: false }
    } finally {
      this.#inFlight.delete(scoped)
    }
  }

  /** Forgets recorded responses older than the TTL; returns how many went. */
  prune (): number {
    const now = this.#now()
    let removed = 0
    for (const [k, entry] of this.#recorded) {
      if (entry.expires_at <= now) {
        this.#recorded.delete(k)
        removed++
      }
    }
    return removed
  }

  get size (): number {
    return this.#recorded.size
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
