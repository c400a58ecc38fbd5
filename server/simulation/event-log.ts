// A run's event log: every server event of a run, numbered 1, 2, 3 … and kept as the exact frame that was
// sent, so resume_session and GET /sessions/{id}/events replay each missed event once, byte for byte.
// Bounded: it keeps the newest frames within a byte budget (a ring; the oldest are dropped), and a
// finished run may release it entirely. Asking for a dropped event is EVENTS_EXPIRED (410), never a gap.
import { AppError } from '../app-error.js'

/** Default budget of one run's log (config.eventLogMaxBytesPerRun overrides it). */
export const DEFAULT_LOG_MAX_BYTES = 32 << 20

export class EventLog {
  #frames: string[] = []
  /** Step number of each tick event (0 for other events), to restore flow control after a reconnect. */
  #tickSteps: number[] = []
  /** Index in the arrays of the oldest kept frame (dropping is O(1); the arrays are compacted now and then). */
  #head = 0
  /** Events dropped so far: sequence ids 1..#dropped are gone. */
  #dropped = 0
  #bytes = 0
  #released = false
  readonly #maxBytes: number

  constructor (maxBytes = DEFAULT_LOG_MAX_BYTES) {
    this.#maxBytes = maxBytes
  }

  get lastSequenceId (): number { return this.#dropped + this.#frames.length - this.#head }
  /** The id the next appended event gets (its frame must carry it). */
  get nextSequenceId (): number { return this.lastSequenceId + 1 }
  /** The oldest sequence id still readable (lastSequenceId + 1 when none is). */
  get firstAvailableSequenceId (): number { return this.#dropped + 1 }
  get released (): boolean { return this.#released }

  /** Appends the frame of event `nextSequenceId`, dropping the oldest frames past the byte budget. */
  append (tickStep: number, frame: string): void {
    if (this.#released) { this.#dropped++; return }
    this.#frames.push(frame)
    this.#tickSteps.push(tickStep)
    // Characters, not UTF-8 bytes: frames are ASCII JSON in practice, and counting bytes would cost a scan.
    this.#bytes += frame.length
    while (this.#bytes > this.#maxBytes && this.#frames.length - this.#head > 1) this.#dropOldest()
  }

  /**
   * Frames with sequence id > `after`: at most `limit` of them and at most `maxChars` characters (but at
   * least one when any is left). EVENTS_EXPIRED when `after` is older than the oldest kept event.
   */
  framesAfter (after: number, limit = Number.POSITIVE_INFINITY, maxChars = Number.POSITIVE_INFINITY): string[] {
    const last = this.lastSequenceId
    if (after >= last) return []
    if (after < this.#dropped) {
      throw new AppError('EVENTS_EXPIRED', `Events after ${after} are no longer kept; the oldest available is ${this.firstAvailableSequenceId}`, {
        after_sequence_id: after,
        first_available_sequence_id: this.firstAvailableSequenceId,
        last_sequence_id: last
      })
    }
    const from = this.#head + (after - this.#dropped)
    const end = Math.min(this.#frames.length, limit === Number.POSITIVE_INFINITY ? this.#frames.length : from + limit)
    if (maxChars === Number.POSITIVE_INFINITY) return this.#frames.slice(from, end)
    let chars = 0
    let i = from
    for (; i < end; i++) {
      chars += this.#frames[i].length
      if (chars > maxChars && i > from) break
    }
    return this.#frames.slice(from, i)
  }

  /** The highest tick step number among kept events up to `through` (0 if none). */
  lastTickStepThrough (through: number): number {
    const upto = Math.min(through, this.lastSequenceId) - this.#dropped
    for (let i = this.#head + upto - 1; i >= this.#head; i--) {
      if (this.#tickSteps[i] > 0) return this.#tickSteps[i]
    }
    return 0
  }

  /** Forget every frame (a finished run past its retention); sequence numbering continues. */
  release (): void {
    this.#dropped = this.lastSequenceId
    this.#frames = []
    this.#tickSteps = []
    this.#head = 0
    this.#bytes = 0
    this.#released = true
  }

  /**
   * Approximate bytes held by the frames: V8 keeps a string whose characters are all Latin-1 in one byte
   * per character, and JSON frames of ASCII symbols are; other text costs two.
   */
  get approximateBytes (): number { return this.#bytes }

  #dropOldest (): void {
    this.#bytes -= this.#frames[this.#head].length
    this.#frames[this.#head] = ''
    this.#head++
    this.#dropped++
    // Compact once the dead prefix is large and at least half the array, so dropping stays amortised O(1).
    if (this.#head >= 4096 && this.#head * 2 >= this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head)
      this.#tickSteps = this.#tickSteps.slice(this.#head)
      this.#head = 0
    }
  }
}
