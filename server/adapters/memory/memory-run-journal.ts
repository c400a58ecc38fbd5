// In-process InputLog and EventStore: unit tests, and an in-process "restart" (two apps over one storage).
// The `:memory:` mode does not use them: there, a run's in-memory event log is the record, as before.
import type { MemoryRunStore } from './memory-run-store.js'
import { InputTakenError, type EventStore, type InputLog, type LoggedInput, type StoredFrame } from '../../ports/run-journal.js'

const scoped = (userId: string, sessionId: string): string => `${userId}\u0000${sessionId}`

/** What both logs share: one list per run, deleted with its session or once its run finished long enough ago. */
abstract class PerRunLists<T> {
  protected readonly runs = new Map<string, T[]>()
  readonly #finished: MemoryRunStore | undefined

  /** `finished`: the run store whose finished runs deleteFinishedBefore goes by (none: it deletes nothing). */
  constructor (finished?: MemoryRunStore) { this.#finished = finished }

  async deleteFinishedBefore (before: number, since?: number): Promise<number> {
    let n = 0
    for (const key of this.#finished?.finishedKeysBefore(before, since) ?? []) if (this.runs.delete(key)) n++
    return n
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    this.runs.delete(scoped(userId, sessionId))
  }
}

export class MemoryInputLog extends PerRunLists<LoggedInput> implements InputLog {
  async append (userId: string, sessionId: string, input: LoggedInput): Promise<void> {
    const key = scoped(userId, sessionId)
    const list = this.runs.get(key) ?? []
    if (list.some((i) => i.seq === input.seq)) throw new InputTakenError(sessionId, input.seq)
    list.push({ ...input, payload: JSON.parse(JSON.stringify(input.payload ?? null)) as unknown })
    list.sort((a, b) => a.seq - b.seq)
    this.runs.set(key, list)
  }

  async list (userId: string, sessionId: string): Promise<LoggedInput[]> {
    return [...(this.runs.get(scoped(userId, sessionId)) ?? [])]
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    return this.runs.get(scoped(userId, sessionId))?.at(-1)?.seq ?? 0
  }
}

export class MemoryEventStore extends PerRunLists<string> implements EventStore {
  async append (userId: string, sessionId: string, frames: readonly StoredFrame[]): Promise<void> {
    const key = scoped(userId, sessionId)
    const list = this.runs.get(key) ?? []
    for (const f of frames) {
      if (f.seq !== list.length + 1) throw new Error(`event ${f.seq} of ${sessionId} does not follow ${list.length}`)
      list.push(f.frame)
    }
    this.runs.set(key, list)
  }

  async read (userId: string, sessionId: string, afterSeq: number, limit: number, maxChars: number): Promise<string[]> {
    const list = this.runs.get(scoped(userId, sessionId)) ?? []
    return trimToChars(list.slice(Math.max(0, afterSeq), Math.max(0, afterSeq) + limit), maxChars)
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    return this.runs.get(scoped(userId, sessionId))?.length ?? 0
  }

  /** Tests: replace one stored frame (a tampered store). */
  tamper (userId: string, sessionId: string, seq: number, frame: string): void {
    const list = this.runs.get(scoped(userId, sessionId))
    if (list !== undefined && seq >= 1 && seq <= list.length) list[seq - 1] = frame
  }
}

/** The leading frames within `maxChars` characters (at least one). */
export function trimToChars (frames: string[], maxChars: number): string[] {
  let chars = 0
  for (let i = 0; i < frames.length; i++) {
    chars += frames[i].length
    if (chars > maxChars && i > 0) return frames.slice(0, i)
  }
  return frames
}
