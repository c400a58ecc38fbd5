// Storage ports of live runs (issue 9, "runs are rebuilt, not saved"). The engine is deterministic, so a run
// is its session, its bars and its INPUT LOG: every input that can change what the run emits, stored before
// it takes effect, with the step at which it applied. Ticks and acks are not inputs (the step of each input
// makes a replay independent of ack timing), so logging adds no round trip per tick. The EVENT STORE is the
// run's event log as the record: frames appended in batches, read in pages; a rebuilt run's regenerated
// events are checked against it (REPLAY_DIVERGED when they differ). Both belong to the session: deleting it
// deletes them.
import type { AppendFence } from './run-registry.js'

/** What a logged input is (see SimulationService for each payload). */
export type InputKind = 'start' | 'orders' | 'cancel' | 'replace' | 'pause' | 'resume' | 'stop' | 'strategy_error'

export interface LoggedInput {
  /** 1, 2, 3 … per run, in the order the inputs applied. */
  readonly seq: number
  /** Steps (ticks) the run had taken when the input applied. */
  readonly step: number
  readonly kind: InputKind
  /** JSON-compatible. */
  readonly payload: unknown
}

export interface InputLog {
  /**
   * Stores one input durably (resolves once it is). A duplicate (session, seq) rejects with InputTakenError:
   * someone else logged that input (with several instances, the run moved on elsewhere).
   */
  append (userId: string, sessionId: string, input: LoggedInput): Promise<void>
  /** Every input of the run, by seq. */
  list (userId: string, sessionId: string): Promise<LoggedInput[]>
  /** The highest logged seq (0 when none). */
  lastSeq (userId: string, sessionId: string): Promise<number>
  delete (userId: string, sessionId: string): Promise<void>
  /**
   * Deletes the logs of runs stored as finished (RunStore) before `before`, and at or after `since` when
   * given (the sweep's previous cutoff, so that a sweep reads only the runs that became old since); resolves
   * how many runs had one.
   */
  deleteFinishedBefore (before: number, since?: number): Promise<number>
}

/** InputLog.append: an input with this seq is logged already. */
export class InputTakenError extends Error {
  constructor (sessionId: string, seq: number) {
    super(`input ${seq} of ${sessionId} is already logged`)
    this.name = 'InputTakenError'
  }
}

/** One event of a run: its sequence id and the exact frame that was sent. */
export interface StoredFrame {
  readonly seq: number
  readonly frame: string
}

export interface EventStore {
  /**
   * Appends frames (consecutive seqs, after those stored); resolves once they are durable. A store shared by
   * several instances needs `fence` (the run's lease token) and refuses a caller that lost the lease
   * (FencedAppendError, ports/run-registry.ts).
   */
  append (userId: string, sessionId: string, frames: readonly StoredFrame[], fence?: AppendFence): Promise<void>
  /**
   * Frames with seq > `afterSeq`, in order: at most `limit`, and at most `maxChars` characters (but at least
   * one when any is left).
   */
  read (userId: string, sessionId: string, afterSeq: number, limit: number, maxChars: number): Promise<string[]>
  /** The highest stored seq (0 when none). */
  lastSeq (userId: string, sessionId: string): Promise<number>
  delete (userId: string, sessionId: string): Promise<void>
  /**
   * Deletes the logs of runs stored as finished (RunStore) before `before`, and at or after `since` when
   * given (the sweep's previous cutoff, so that a sweep reads only the runs that became old since); resolves
   * how many runs had one.
   */
  deleteFinishedBefore (before: number, since?: number): Promise<number>
}
