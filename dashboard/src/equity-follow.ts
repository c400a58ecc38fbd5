// Keeps the session page's curve and account current from the server while a run goes: the whole curve first
// (GET …/equity, thinned there), then, at most once a second while ticks arrive, only the newer steps
// (after_step) and the account as the server marks it. One request of each kind in flight at a time.
import type { Schemas } from '../../generated-client/index.js'
import type { SignedIn } from './auth.js'
import { MAX_FOLLOWED_POINTS, type EquityPanel } from './equity-panel.js'

type Account = Schemas['AccountSnapshot']

const FOLLOW_EVERY_MS = 1000

export interface FollowHooks {
  onAccount: (a: Account) => void
  /** A request that could not reach the server or was refused (the page says so). */
  onError: (what: string, message: string) => void
}

export class EquityFollower {
  #inFlight = false
  #lastAt = 0
  #again: ReturnType<typeof setTimeout> | undefined
  #stopped = false

  constructor (readonly me: SignedIn, readonly id: string, readonly panel: EquityPanel, readonly hooks: FollowHooks) {}

  /** The whole curve again (first view, after a reconnect, a finished run). */
  async refresh (): Promise<void> { await this.#fetch(true) }

  /** A tick arrived: follow up within a second (never more often). */
  poke (): void {
    if (this.#stopped || this.#again !== undefined) return
    const wait = Math.max(0, this.#lastAt + FOLLOW_EVERY_MS - Date.now())
    this.#again = setTimeout(() => { this.#again = undefined; void this.#fetch(false) }, wait)
  }

  stop (): void {
    this.#stopped = true
    clearTimeout(this.#again)
  }

  async #fetch (whole: boolean): Promise<void> {
    if (this.#stopped) return
    if (this.#inFlight) { if (!whole) this.poke(); return }
    this.#inFlight = true
    this.#lastAt = Date.now()
    const full = whole || !this.panel.followable || this.panel.pointCount > MAX_FOLLOWED_POINTS
    const path = { path: { id: this.id } }
    try {
      const [curve, account] = await Promise.all([
        this.me.client.GET('/sessions/{id}/equity', { params: { ...path, query: full ? {} : { after_step: this.panel.stepsDone } } }),
        this.me.client.GET('/sessions/{id}/account', { params: path })
      ])
      if (this.#stopped) return
      if (curve.data !== undefined) {
        if (full) this.panel.replace(curve.data)
        else this.panel.append(curve.data)
      } else if (curve.error?.error_code !== 'INVALID_STATE') {
        this.hooks.onError('load the equity curve', curve.error?.message ?? 'unknown error')
      }
      if (account.data !== undefined) this.hooks.onAccount(account.data)
    } catch {
      if (!this.#stopped) this.hooks.onError('load the equity curve', 'the server did not answer')
    } finally {
      this.#inFlight = false
    }
  }
}
