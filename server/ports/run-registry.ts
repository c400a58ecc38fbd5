// Ports of run ownership across instances (issue 10). A live run is owned by one instance, which holds a
// LEASE on it with a fencing token (`<instance id>|<random>`): the token is checked atomically by every
// append to the run's event stream, so an instance that lost its lease (a zombie: stopped, partitioned)
// cannot write. COMMANDS reach the owner from any instance (request/reply). A FOLLOWER reads a run's event
// stream from any instance, for watchers. Adapters: server/adapters/redis (Redis leases, streams, pub/sub).

/** A run across instances: the session it belongs to. */
export interface RunRef {
  readonly userId: string
  readonly sessionId: string
}

/** Who holds a lease: its token and how long it has left. */
export interface LeaseHolder {
  readonly token: string
  readonly ttlMs: number
}

/** What re-taking a lapsed lease found (see RunLeases.reacquire). */
export type ReacquireOutcome = 'kept' | 'acquired' | 'held' | 'moved'

export interface RunLeases {
  /** Takes the lease when nobody holds it (true), for `ttlMs`. */
  acquire: (run: RunRef, token: string, ttlMs: number) => Promise<boolean>
  /** Extends the leases still held with these tokens, in one round trip; per run, whether it still was. */
  renew: (runs: ReadonlyArray<{ run: RunRef, token: string }>, ttlMs: number) => Promise<boolean[]>
  /** Gives the lease up if `token` still holds it. */
  release: (run: RunRef, token: string) => Promise<boolean>
  /** Hands a held lease straight to `next` (a handover leaves no moment without an owner). */
  transfer: (run: RunRef, token: string, next: string, ttlMs: number) => Promise<boolean>
  holder: (run: RunRef) => Promise<LeaseHolder | undefined>
  /**
   * Takes back a lease that lapsed (its renewals failed while the bus was down, or the process stalled):
   * 'kept' when `token` still holds it, 'acquired' when nobody held it and the run's event stream still
   * ends where the caller left it (between `appendedThrough`, what it knows it stored, and `triedThrough`,
   * what it tried to: an append whose answer was lost may have gone through), 'held' when someone else
   * holds it, 'moved' when the stream changed (someone else wrote, or the stream was lost).
   */
  reacquire: (run: RunRef, token: string, ttlMs: number, appendedThrough: number, triedThrough?: number) => Promise<ReacquireOutcome>
}

/** Raised by a fenced append that may not write: the lease is not the caller's, or the stream moved on. */
export class FencedAppendError extends Error {
  override name = 'FencedAppendError'
  constructor (readonly reason: 'fenced' | 'gap', message: string) { super(message) }
}

/** A fenced append: the token that must hold the run's lease, and (last batch of a run) the stream's TTL. */
export interface AppendFence {
  readonly token: string
  /** The run has finished: its stream expires after this long (0 deletes nothing and sets no expiry). */
  readonly finalTtlMs?: number
}

/** A command for the owner of a run, with the user it is on behalf of (checked by the sender). */
export interface RunCommand {
  readonly op: string
  readonly user: { readonly user_id: string, readonly plan: string }
  readonly session_id: string
  readonly args?: Record<string, unknown>
}

/** What an owner answers: a value, or an error body (error_code, message, details). */
export type RunReply =
  | { readonly ok: true, readonly value: unknown }
  | { readonly ok: false, readonly error: { readonly error_code: string, readonly message: string, readonly details?: Record<string, unknown> } }

/** Why a command got no answer. */
export class NoAnswerError extends Error {
  override name = 'NoAnswerError'
  /** 'absent': nobody listens for that instance (it is gone); 'timeout': no reply in time; 'bus': the bus is down. */
  constructor (readonly reason: 'absent' | 'timeout' | 'bus', message: string) { super(message) }
}

export interface RunCommands {
  /** Serves this instance's commands (one handler per instance). */
  serve: (handler: (command: RunCommand) => Promise<RunReply>) => void
  /** Sends a command to `instanceId` and resolves its reply; NoAnswerError when none comes. */
  call: (instanceId: string, command: RunCommand, timeoutMs: number) => Promise<RunReply>
  close: () => Promise<void>
}

/** Reads runs' event streams as they grow, for watchers on an instance that does not own the run. */
export interface EventFollower {
  /** The last sequence id stored for the run (0 when none). */
  lastSeq: (run: RunRef) => Promise<number>
  /**
   * Calls `onFrames` with the frames after `afterSeq`, in order, as they are appended, until the returned
   * function is called. Frames of one run reach every follower on this instance in the same order.
   */
  follow: (run: RunRef, afterSeq: number, onFrames: (frames: readonly string[], lastSeq: number) => void) => () => void
  close: () => Promise<void>
}

/** The instance part of a lease token. */
export function tokenInstance (token: string): string {
  const bar = token.lastIndexOf('|')
  return bar < 0 ? token : token.slice(0, bar)
}
