// The token bucket that paces a user's WebSocket messages (docs/limits-websocket.md): `burst` tokens, refilled
// continuously at `perSecond`. One bucket per user on this instance, shared by all of that user's connections,
// so opening more sockets buys no more of the server; a message takes as many tokens as its type costs
// (message-costs.ts), so a flood of expensive messages is cut off as soon as a flood of pings.
export class MessageBucket {
  readonly perSecond: number
  readonly burst: number
  readonly #perMs: number
  #tokens: number
  #refilledAt: number

  constructor (perSecond: number, burst: number, now = Date.now()) {
    this.perSecond = perSecond
    this.burst = burst
    this.#perMs = perSecond / 1000
    this.#tokens = burst
    this.#refilledAt = now
  }

  /** Takes `n` tokens if the bucket holds them; false (nothing taken) otherwise. */
  take (n: number, now: number): boolean {
    this.#refill(now)
    if (this.#tokens < n) return false
    this.#tokens -= n
    return true
  }

  /** Gives `n` tokens back (a message that moved a run: WsHandlerContext.refund), up to the burst. */
  refund (n: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + n)
  }

  /** Milliseconds until `n` tokens are there (at least 1). */
  retryAfterMs (n: number, now: number): number {
    this.#refill(now)
    return Math.max(1, Math.ceil((n - this.#tokens) / this.#perMs))
  }

  /** True once the bucket is full again (nothing is owed: it can be forgotten). */
  full (now: number): boolean {
    this.#refill(now)
    return this.#tokens >= this.burst
  }

  #refill (now: number): void {
    const elapsed = now - this.#refilledAt
    if (elapsed <= 0) return
    this.#refilledAt = now
    const filled = this.#tokens + elapsed * this.#perMs
    this.#tokens = filled > this.burst ? this.burst : filled
  }
}

/**
 * This instance's buckets by user. A bucket outlives its user's last connection until it is full again, so
 * closing and reopening a socket does not refill it.
 */
export class UserBuckets {
  readonly #byUser = new Map<string, { bucket: MessageBucket, connections: number }>()

  /** The user's bucket (created full at the plan's numbers), counted as held by one more connection. */
  acquire (userId: string, perSecond: number, burst: number): MessageBucket {
    const now = Date.now()
    let entry = this.#byUser.get(userId)
    // A plan change (a new token) takes effect with a fresh bucket.
    if (entry === undefined || entry.bucket.perSecond !== perSecond || entry.bucket.burst !== burst) {
      entry = { bucket: new MessageBucket(perSecond, burst, now), connections: 0 }
      this.#byUser.set(userId, entry)
    }
    entry.connections++
    this.#prune(now)
    return entry.bucket
  }

  /** One connection of the user closed. */
  release (userId: string, bucket: MessageBucket): void {
    const entry = this.#byUser.get(userId)
    if (entry === undefined || entry.bucket !== bucket) return
    entry.connections = Math.max(0, entry.connections - 1)
    this.#prune(Date.now())
  }

  get size (): number { return this.#byUser.size }

  /** Forgets the buckets of users with no connection once they are full (memory stays bounded by users seen). */
  #prune (now: number): void {
    for (const [userId, entry] of this.#byUser) {
      if (entry.connections === 0 && entry.bucket.full(now)) this.#byUser.delete(userId)
    }
  }
}
