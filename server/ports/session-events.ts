// Session events (created, updated, state changed, deleted, expired) delivered to every instance of the
// service. The SessionManager emits them where the change happened; this port hands each one to the listeners
// of every instance exactly once, the origin included: the WebSocket gateway pushes session_updated /
// session_deleted to the owner's connections wherever they are, and the simulation service stops a deleted
// or expired session's run on whichever instance holds it.
// Adapters: server/adapters/memory/local-session-events.ts (one process, no Redis) and
// server/adapters/redis/session-events.ts (pub/sub across instances).
import type { Session, SessionState } from '../../schemas/sessions.js'

export type SessionEventKind = 'created' | 'updated' | 'state_changed' | 'deleted' | 'expired'

export interface SessionEvent {
  readonly kind: SessionEventKind
  readonly user_id: string
  /** The session after the change; for deleted/expired, as it was when removed. */
  readonly session: Session
  /** Only on state_changed. */
  readonly previous_state?: SessionState
}

export type SessionListener = (event: SessionEvent) => void

export interface SessionEvents {
  /**
   * Delivers `event` (a change of one of `event.user_id`'s sessions, committed in the store) to this
   * instance's listeners now, and to every other instance's once. Never throws and never waits: the change
   * is already committed, so a delivery that cannot be made is lost (and logged), never an error of the
   * request that made the change.
   */
  publish: (event: SessionEvent) => void
  /** Listens to events from every instance; returns the unsubscribe function. */
  subscribe: (listener: SessionListener) => () => void
  /** Resolves once events from other instances are being received (at once without a shared bus). */
  ready: () => Promise<void>
  close: () => Promise<void>
}
