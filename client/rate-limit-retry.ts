// What the SDK does with a refusal by the server's WebSocket message bucket (RATE_LIMIT_EXCEEDED with
// `details.limit_name: "ws_messages_per_second"`): the server refuses such a message before handling it, so it is
// always safe to send it again, once `retry_after_ms` has passed. Other RATE_LIMIT_EXCEEDED (a run's
// orders_per_minute) are answers, not refusals to read, and are left to the caller.
import type { ServerMessageMap } from './messages.js'

type WsError = ServerMessageMap['error']

/** The wait before sending a refused message again, or undefined when `err` is not a refusal by the message bucket. */
export function bucketRetryAfterMs (err: WsError): number | undefined {
  if (err.error_code !== 'RATE_LIMIT_EXCEEDED' || err.details?.limit_name !== 'ws_messages_per_second') return undefined
  return typeof err.retry_after_ms === 'number' && err.retry_after_ms > 0 ? err.retry_after_ms : 1
}

/**
 * A client's pause after such a refusal: nothing more is sent until `retry_after_ms` has passed, then one request
 * (which finds whether the bucket has refilled), and the rest once it is answered. Sending every waiting request
 * again at once would have them refused again, and enough refusals close the connection (1008).
 */
export class BucketPause {
  #until = 0
  #timer: NodeJS.Timeout | undefined
  /** Sends up to `max` requests that are not on the wire yet (the client's own queue). */
  readonly #sendWaiting: (max: number) => void

  constructor (sendWaiting: (max: number) => void) {
    this.#sendWaiting = sendWaiting
  }

  /** True while nothing may be sent (a resume is scheduled). */
  get holding (): boolean {
    if (Date.now() >= this.#until) return false
    this.#schedule()
    return true
  }

  /** A request was refused by the bucket: hold for `waitMs`, then send one waiting request. */
  refused (waitMs: number): void {
    this.#until = Math.max(this.#until, Date.now() + waitMs)
    this.#schedule()
  }

  /** A request was answered: the bucket took it, so the others waiting may go. */
  answered (): void {
    if (!this.holding) this.#sendWaiting(Number.POSITIVE_INFINITY)
  }

  #schedule (): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.holding) return
      this.#sendWaiting(1)
    }, Math.max(0, this.#until - Date.now()))
    this.#timer.unref()
  }
}
