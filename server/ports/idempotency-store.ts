// Storage port of idempotency keys: per (user, key), the fingerprint of the request and the JSON of its
// response, kept until an expiry. A key is claimed before its request runs (an insert-if-absent), so two
// processes given the same key run the request once; IdempotencyCache (server/sessions/idempotency.ts)
// holds the rules and shares one execution between concurrent callers of the same process.

export interface IdempotencyRecord {
  /** Identity of the request (a hash of its canonical JSON). */
  readonly fingerprint: string
  /** JSON text of the recorded response; null while the request that claimed the key is still running. */
  readonly response: string | null
  /** Epoch ms: a recorded response is kept until then; an unfinished claim lapses then. */
  readonly expires_at: number
}

export interface IdempotencyClaim {
  readonly fingerprint: string
  /** Chosen by the claimant, unique per claim: only its holder may complete or release it. */
  readonly token: string
  /** Epoch ms when the claim lapses if it has been neither completed nor released (its holder died). */
  readonly lease_until: number
}

export type ClaimOutcome =
  | { readonly claimed: true }
  /** Someone holds the key: a recorded response, or a claim still running (response null). */
  | { readonly claimed: false, readonly existing: IdempotencyRecord }

export interface IdempotencyStore {
  /**
   * Insert-if-absent, atomically: claims (user, key) unless a record or claim that has not expired at `now`
   * holds it. An expired one is replaced by the new claim.
   */
  claim (userId: string, key: string, claim: IdempotencyClaim, now: number): Promise<ClaimOutcome>
  /** Records the response of the claim `token`, kept until `expiresAt`; false if that claim is no longer held. */
  complete (userId: string, key: string, token: string, response: string, expiresAt: number): Promise<boolean>
  /** Gives up the claim `token` (its request failed: only successes are recorded, so the key may be used again). */
  release (userId: string, key: string, token: string): Promise<void>
  /** The record or claim holding (user, key) at `now`, if any. */
  get (userId: string, key: string, now: number): Promise<IdempotencyRecord | undefined>
  /** Deletes records and claims expired at `now`; resolves how many went. */
  prune (now: number): Promise<number>
  size (): Promise<number>
}
