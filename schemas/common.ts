// Shared wire atoms: dates, timestamps, exact money, ids. Every resource schema builds on these.
import { Kind, Type, TypeRegistry, type SchemaOptions, type Static, type TNumber, type TString, type TUnion, type TUnsafe } from '@sinclair/typebox'

/**
 * A string enumeration as JSON Schema `{type: 'string', enum: [...]}`, so OpenAPI (and Swagger UI) shows the
 * allowed values and a wrong value fails once with "must be one of …", not once per `const` of an anyOf.
 * Its own TypeBox kind, registered below, lets TypeCompiler (the WebSocket validators) check it too.
 */
export function StringEnum<const T extends readonly string[]> (values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: 'StringEnum', type: 'string', enum: [...values] })
}
TypeRegistry.Set<{ enum: readonly string[] }>('StringEnum', (schema, value) => typeof value === 'string' && schema.enum.includes(value))

/** Calendar date `YYYY-MM-DD`. Pattern (not `format`) so Ajv and TypeCompiler agree without format plugins. */
export const DateString = Type.String({
  pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$',
  description: 'Calendar date, YYYY-MM-DD',
  examples: ['2023-01-03']
})
export type DateString = Static<typeof DateString>

/** ISO-8601 UTC timestamp as produced by `Date.prototype.toISOString`. */
export const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$',
  description: 'ISO-8601 UTC timestamp',
  examples: ['2023-01-03T14:30:00.000Z']
})
export type Timestamp = Static<typeof Timestamp>

/** Exact decimal amount on output, always a string (`"100000.00"`), never a float. */
export const Money = Type.String({
  pattern: '^-?\\d+(\\.\\d+)?$',
  description: 'Exact decimal amount as a string',
  examples: ['100000.00']
})
export type Money = Static<typeof Money>

/** Money on input: a JSON number or a decimal string; parsed exactly by server/money.ts. */
/** A decimal input: a JSON number or a decimal string (read exactly, server/money.ts). */
export function DecimalInput (options: SchemaOptions): TUnion<[TNumber, TString]> {
  return Type.Union([Type.Number(), Type.String({ pattern: '^-?\\d+(\\.\\d+)?$', maxLength: 32 })], options)
}

export const MoneyInput = DecimalInput({ description: 'Decimal amount: number or decimal string', examples: [100000, '100000.00'] })
export type MoneyInput = Static<typeof MoneyInput>

export const SessionId = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  description: 'Session id: `sess_<random>` or a client-chosen id unique per user',
  examples: ['sess_3kT9xQ2mVb7Lw1Rz']
})
export type SessionId = Static<typeof SessionId>

/** A market symbol as the user typed it (normalised by the market-data service). */
export const SymbolInput = Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9:/._-]+$' })
export type SymbolInput = Static<typeof SymbolInput>

export const RequestId = Type.String({ minLength: 1, maxLength: 128 })

export const Plan = StringEnum(['free', 'professional', 'enterprise'], {
  $id: 'Plan',
  description: 'Subscription plan that sets the limits'
})
export type Plan = Static<typeof Plan>

export const PlanLimits = Type.Object(
  {
    concurrent_sessions: Type.Integer(),
    sessions_per_hour: Type.Integer(),
    symbols_per_session: Type.Integer(),
    orders_per_minute: Type.Integer(),
    ws_connections: Type.Integer(),
    requests_per_minute: Type.Integer(),
    bar_events_per_session: Type.Integer({ description: 'Ticks × symbols one session may replay (checked at create)' }),
    ws_messages_per_second: Type.Integer({ description: 'Sustained WebSocket message tokens per second per user, shared by the user\'s connections; a message costs 1 (ping) to 300 (start_simulation) tokens by type (tick_ack and order_batch that a run accepts are not charged)' }),
    ws_message_burst: Type.Integer({ description: 'WebSocket message token bucket size per user' }),
    ws_requests_in_flight: Type.Integer({ description: 'Messages a connection may have received and not yet answered; past it the server stops reading' })
  },
  { $id: 'PlanLimits', additionalProperties: false }
)
export type PlanLimits = Static<typeof PlanLimits>
