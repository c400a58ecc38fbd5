// Plan limits (ARCHITECTURE.md §5). One table read by the session manager, rate limiting, /me and the WebSocket gateway.
import type { Plan, PlanLimits } from '../schemas/common.js'

export const DEFAULT_PLAN_LIMITS: Readonly<Record<Plan, Readonly<PlanLimits>>> = {
  free: { concurrent_sessions: 1, sessions_per_hour: 5, symbols_per_session: 5, orders_per_minute: 100, ws_connections: 1, requests_per_minute: 120 },
  professional: { concurrent_sessions: 10, sessions_per_hour: 50, symbols_per_session: 50, orders_per_minute: 1000, ws_connections: 10, requests_per_minute: 1200 },
  enterprise: { concurrent_sessions: 100, sessions_per_hour: 500, symbols_per_session: 500, orders_per_minute: 10000, ws_connections: 100, requests_per_minute: 12000 }
}

export type PlanTable = Readonly<Record<Plan, Readonly<PlanLimits>>>

/** Limits of a plan; `overrides` (from config) replace individual numbers. */
export function limitsFor (plan: Plan, table: PlanTable = DEFAULT_PLAN_LIMITS): PlanLimits {
  return { ...table[plan] }
}

/** Session-level constants of the contract (ARCHITECTURE.md §5). */
export const MIN_INITIAL_CAPITAL = '1000'
export const MAX_INITIAL_CAPITAL = '10000000'
export const DEFAULT_SESSION_TTL_MINUTES = 60
