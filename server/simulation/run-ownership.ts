// The leases this instance holds on live runs (ports/run-registry.ts), kept alive by ONE renewal timer for
// all of them (every leaseMs/3, one pipelined round trip), and a LOCAL DEADLINE per run: the time the last
// successful renewal was sent, plus the lease, minus a margin. Past it the owner may no longer step, send or
// write, without asking Redis: a process that was stopped (SIGSTOP, a long GC, a VM pause) or cut off from
// Redis finds out from its own monotonic clock that its lease may be gone. The margin covers clock-rate
// differences and one slice of stepping.
//
// A renewal that finds the lease gone tries to take it back (RunLeases.reacquire): that succeeds only when
// nobody else holds it and nobody appended to the run's stream since (the bus was down, or the process
// stalled, and nobody took over meanwhile). Otherwise the run is lost: the hook drops it at once.
import { randomBytes } from 'node:crypto'
import type { RunLeases, RunRef } from '../ports/run-registry.js'

export interface OwnershipHooks {
  /** The lease is someone else's now (or the stream moved on): drop the run, without writing anything. */
  lost: (key: string, why: string) => void
  /** The lease was renewed or taken back: a run held at its deadline may step again. */
  renewed: (key: string) => void
  /** What this instance stored of the run's stream, and the most it tried to store (for a take-back). */
  appended: (key: string) => { through: number, tried: number }
  /** After a take-back: whether the run's inputs are still those this instance logged (nobody else's). */
  unchanged: (key: string) => Promise<boolean>
  onError: (err: unknown) => void
}

export interface RunOwnershipOptions {
  leases: RunLeases
  instanceId: string
  leaseMs: number
  hooks: OwnershipHooks
}

interface Held {
  readonly ref: RunRef
  readonly token: string
  /** performance.now() past which this instance must not act on the run. */
  deadline: number
  /** A take-back is being tried (the renewal loop skips the run meanwhile). */
  retaking: boolean
}

export class RunOwnership {
  readonly instanceId: string
  readonly leaseMs: number
  readonly #leases: RunLeases
  readonly #hooks: OwnershipHooks
  readonly #held = new Map<string, Held>()
  readonly #margin: number
  readonly #timer: NodeJS.Timeout
  #renewing = false

  constructor (opts: RunOwnershipOptions) {
    this.instanceId = opts.instanceId
    this.leaseMs = opts.leaseMs
    this.#leases = opts.leases
    this.#hooks = opts.hooks
    this.#margin = Math.max(20, Math.floor(opts.leaseMs / 10))
    this.#timer = setInterval(() => { this.renewNow().catch(opts.hooks.onError) }, Math.max(50, Math.floor(opts.leaseMs / 3)))
    this.#timer.unref()
  }

  get leases (): RunLeases { return this.#leases }
  get size (): number { return this.#held.size }

  /** A new fencing token naming this instance. */
  newToken (): string { return `${this.instanceId}|${randomBytes(8).toString('hex')}` }

  /** Takes the lease of a run nobody holds; resolves whether it did (and from then on keeps it alive). */
  async acquire (key: string, ref: RunRef, token = this.newToken()): Promise<boolean> {
    const sent = performance.now()
    if (!await this.#leases.acquire(ref, token, this.leaseMs)) return false
    this.adopt(key, ref, token, sent)
    return true
  }

  /** Keeps alive a lease taken with `token` (acquired, or handed over to it) at `sent` (performance.now()). */
  adopt (key: string, ref: RunRef, token: string, sent: number): void {
    this.#held.set(key, { ref, token, deadline: sent + this.leaseMs - this.#margin, retaking: false })
  }

  /** Whether this instance may act on the run now (it holds the lease and its local deadline is ahead). */
  valid (key: string): boolean {
    const h = this.#held.get(key)
    return h !== undefined && performance.now() < h.deadline
  }

  holds (key: string): boolean { return this.#held.has(key) }
  token (key: string): string | undefined { return this.#held.get(key)?.token }
  /** Whether `token` is one of this instance's current leases. */
  isMine (token: string): boolean {
    for (const h of this.#held.values()) if (h.token === token) return true
    return false
  }

  /** Stops keeping the lease alive (it lapses by itself); the run is not this instance's any more. */
  forget (key: string): void { this.#held.delete(key) }

  /** Gives the lease up (best effort: if Redis is down it lapses by itself). */
  async release (key: string): Promise<void> {
    const h = this.#held.get(key)
    if (h === undefined) return
    this.#held.delete(key)
    await this.#leases.release(h.ref, h.token)
  }

  /** Hands the lease to `next` (a handover); resolves whether it was still this instance's to hand. */
  async transfer (key: string, next: string): Promise<boolean> {
    const h = this.#held.get(key)
    if (h === undefined) return false
    this.#held.delete(key)
    return await this.#leases.transfer(h.ref, h.token, next, this.leaseMs)
  }

  /** One renewal round for every held lease (the timer's work; tests call it to skip the wait). */
  async renewNow (): Promise<void> {
    if (this.#renewing) return
    const batch = [...this.#held].filter(([, h]) => !h.retaking)
    if (batch.length === 0) return
    this.#renewing = true
    const sent = performance.now()
    let kept: boolean[]
    try {
      kept = await this.#leases.renew(batch.map(([, h]) => ({ run: h.ref, token: h.token })), this.leaseMs)
    } catch {
      // The bus is down: each run keeps its deadline and stops there (the next round tries again).
      return
    } finally {
      this.#renewing = false
    }
    for (const [i, [key, h]] of batch.entries()) {
      if (this.#held.get(key) !== h) continue
      if (kept[i]) {
        h.deadline = sent + this.leaseMs - this.#margin
        this.#hooks.renewed(key)
      } else {
        h.retaking = true
        this.#retake(key, h).catch(this.#hooks.onError)
      }
    }
  }

  /** The lease lapsed: take it back if nobody else moved the run, else the run is lost. */
  async #retake (key: string, h: Held): Promise<void> {
    const sent = performance.now()
    let outcome
    try {
      const appended = this.#hooks.appended(key)
      outcome = await this.#leases.reacquire(h.ref, h.token, this.leaseMs, appended.through, appended.tried)
    } catch {
      h.retaking = false
      return
    }
    if (this.#held.get(key) !== h) return
    if (outcome === 'acquired' && !await this.#hooks.unchanged(key).catch(() => false)) {
      await this.#leases.release(h.ref, h.token).catch(() => undefined)
      outcome = 'moved' as const
    }
    if (this.#held.get(key) !== h) return
    h.retaking = false
    if (outcome === 'kept' || outcome === 'acquired') {
      h.deadline = sent + this.leaseMs - this.#margin
      this.#hooks.renewed(key)
      return
    }
    this.#held.delete(key)
    this.#hooks.lost(key, outcome === 'held' ? 'another instance holds its lease' : 'its event stream moved on without this instance')
  }

  /** Stops renewing (the leases lapse unless released first). */
  stop (): void {
    clearInterval(this.#timer)
    this.#held.clear()
  }
}
