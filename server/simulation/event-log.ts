// A session's event log: every server event of a run, numbered 1, 2, 3 … and kept as the exact frame that
// was sent, so resume_session and GET /sessions/{id}/events replay each missed event once, byte for byte.
export class EventLog {
  readonly #frames: string[] = []
  readonly #types: string[] = []
  /** Step number of each tick event (0 for other events), to restore flow control after a reconnect. */
  readonly #tickSteps: number[] = []

  get lastSequenceId (): number { return this.#frames.length }
  /** The id the next appended event gets (its frame must carry it). */
  get nextSequenceId (): number { return this.#frames.length + 1 }

  /** Appends the frame of event `nextSequenceId`. */
  append (type: string, tickStep: number, frame: string): void {
    this.#frames.push(frame)
    this.#types.push(type)
    this.#tickSteps.push(tickStep)
  }

  /** Frames with sequence id > `after`, at most `limit`. */
  framesAfter (after: number, limit = Number.POSITIVE_INFINITY): string[] {
    const from = Math.max(0, Math.min(after, this.#frames.length))
    return this.#frames.slice(from, limit === Number.POSITIVE_INFINITY ? undefined : from + limit)
  }

  /** The highest tick step number among events 1..`through`. */
  lastTickStepThrough (through: number): number {
    for (let i = Math.min(through, this.#frames.length) - 1; i >= 0; i--) {
      if (this.#tickSteps[i] > 0) return this.#tickSteps[i]
    }
    return 0
  }

  /**
   * Approximate bytes held by the frames, for the memory benchmark: V8 keeps a string whose characters are
   * all Latin-1 in one byte per character, and JSON frames of ASCII symbols are; other text costs two.
   */
  get approximateBytes (): number {
    let n = 0
    for (const f of this.#frames) n += f.length
    return n
  }
}
