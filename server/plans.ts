// Plan limits (ARCHITECTURE.md §5). One table read by the session manager, rate limiting, /me and the WebSocket gateway.
import type { Plan, PlanLimits } from '../schemas/common.js'

export const DEFAULT_PLAN_LIMITS: Readonly<Record<Plan, Readonly<PlanLimits>>> = {
  free: { concurrent_sessions: 1, sessions_per_hour: 5, symbols_per_session: 5, orders_per_minute: 100, ws_connections: 1, requests_per_minute: 120, bar_events_per_session: 1_000_000, ws_messages_per_second: 200, ws_message_burst: 400, ws_requests_in_flight: 32 },
  professional: { concurrent_sessions: 10, sessions_per_hour: 50, symbols_per_session: 50, orders_per_minute: 1000, ws_connections: 10, requests_per_minute: 1200, bar_events_per_session: 5_000_000, ws_messages_per_second: 1000, ws_message_burst: 2000, ws_requests_in_flight: 64 },
  enterprise: { concurrent_sessions: 100, sessions_per_hour: 500, symbols_per_session: 500, orders_per_minute: 10000, ws_connections: 100, requests_per_minute: 12000, bar_events_per_session: 20_000_000, ws_messages_per_second: 5000, ws_message_burst: 10000, ws_requests_in_flight: 128 }
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
