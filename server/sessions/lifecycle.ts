// The session lifecycle as data: which state may follow which. Every state change in the manager goes
// through assertTransition, so an illegal move is always INVALID_STATE and never a partial update.
import type { SessionState } from '../../schemas/sessions.js'
import { AppError } from '../app-error.js'

/**
 * initializing → ready → running ⇄ paused → completed; any non-terminal state → error.
 * completed and error are terminal: a finished run's results are final, and a failed one is restarted
 * by creating a new session. No state may follow itself (starting a running session is a client bug
 * worth reporting). ready → completed is absent: a never-started session is deleted, not completed.
 */
export const TRANSITIONS: Readonly<Record<SessionState, readonly SessionState[]>> = Object.freeze({
  initializing: Object.freeze(['ready', 'error'] as const),
  ready: Object.freeze(['running', 'error'] as const),
  running: Object.freeze(['paused', 'completed', 'error'] as const),
  paused: Object.freeze(['running', 'completed', 'error'] as const),
  completed: Object.freeze([] as const),
  error: Object.freeze([] as const)
})

/** States that hold one of the plan's concurrent-session slots (but see holdsSlot: one kind of pause gives it up). */
export const ACTIVE_STATES: ReadonlySet<SessionState> = new Set<SessionState>(['initializing', 'ready', 'running', 'paused'])

export function isActive (state: SessionState): boolean {
  return ACTIVE_STATES.has(state)
}

/**
 * Whether a session holds one of its plan's concurrent-session slots: every active state, except a run that
 * paused itself because no strategy drove it (pause_reason no_strategy). An abandoned run must not block the
 * next one; resuming it takes a slot again (SESSION_LIMIT_EXCEEDED when none is free).
 */
export function holdsSlot (state: SessionState, pauseReason: string | null | undefined): boolean {
  return isActive(state) && !(state === 'paused' && pauseReason === 'no_strategy')
}

export function canTransition (from: SessionState, to: SessionState): boolean {
  return TRANSITIONS[from].includes(to)
}

export function assertTransition (from: SessionState, to: SessionState): void {
  if (!canTransition(from, to)) {
    throw new AppError('INVALID_STATE', `Session cannot move from ${from} to ${to}`, {
      from,
      to,
      allowed: [...TRANSITIONS[from]]
    })
  }
}
