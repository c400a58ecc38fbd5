// A flow-controlled run steps only when its strategy acknowledges ticks, so one that no strategy drives (started
// over REST and never attached, or resumed over REST with nobody there) would stay `running` forever, holding
// its session and a concurrent-session slot. The runner arms this watch each time it starts or resumes without
// a strategy connection; if none is attached when it fires, the run pauses itself (pause_reason no_strategy).

/** UNATTENDED_RUN_PAUSE_SECONDS' default: five minutes without a strategy. */
export const DEFAULT_UNATTENDED_PAUSE_MS = 5 * 60_000

export class UnattendedWatch {
  readonly #delayMs: number
  readonly #onFire: () => void
  #timer: NodeJS.Timeout | undefined

  /** `delayMs` ≤ 0 never fires (the watch is off). */
  constructor (delayMs: number, onFire: () => void) {
    this.#delayMs = delayMs
    this.#onFire = onFire
  }

  /** (Re)starts the countdown; the caller's `onFire` decides, when it fires, whether a strategy is there. */
  arm (): void {
    if (this.#delayMs <= 0) return
    this.clear()
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#onFire() }, this.#delayMs)
    // A watch never keeps the process alive (a server closing, a test ending).
    this.#timer.unref()
  }

  clear (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
