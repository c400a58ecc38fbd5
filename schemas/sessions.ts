// Session wire shapes (ARCHITECTURE.md §3–4): the resource, its REST bodies/queries and the WebSocket
// payloads of the session message family. server/sessions/session-manager.ts speaks exactly these types.
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum, DateString, Money, MoneyInput, SessionId, SymbolInput, Timestamp } from './common.js'
import type { Timeframe } from './market-data.js'

/**
 * Defaults of a new session, applied by the manager as well as by Ajv (`useDefaults`), because the
 * WebSocket path validates with TypeCompiler, which does not fill defaults.
 *
 * - commission_per_share 0.005 and min_commission_per_order 0: Interactive Brokers' fixed per-share
 *   rate without its $1 minimum, so a default run is not commission-free (Alpaca's and backtrader's 0 would
 *   flatter small-order strategies) yet matches what users quote.
 * - slippage_bps 5: backtrader and Alpaca paper default to no slippage, which overstates results on every
 *   market order; 5 bps is a conservative figure for liquid US equities. Set 0 for frictionless fills.
 * - allow_short false: like a cash account; shorting is opt-in.
 */
export const SESSION_DEFAULTS = {
  timeframe: '1d',
  initial_capital: '100000',
  commission_per_share: '0.005',
  min_commission_per_order: '0',
  slippage_bps: 5,
  allow_short: false
} as const satisfies {
  timeframe: Timeframe
  initial_capital: string
  commission_per_share: string
  min_commission_per_order: string
  slippage_bps: number
  allow_short: boolean
}

export const SessionState = StringEnum(['initializing', 'ready', 'running', 'paused', 'completed', 'error'],
  { $id: 'SessionState', description: 'Lifecycle state; transitions are listed in server/sessions/lifecycle.ts' }
)
export type SessionState = Static<typeof SessionState>

const SessionStateRef = Type.Unsafe<SessionState>(Type.Ref('SessionState'))
const TimeframeRef = Type.Unsafe<Timeframe>(Type.Ref('Timeframe'))

/** Free-form client data attached to a session (a JSON object, capped in serialised size by the manager). */
const Metadata = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Client-defined JSON object, at most 16 KiB serialised (configurable)'
})

const slippageOptions = { minimum: 0, maximum: 1000, description: 'Slippage in basis points of price' }
const SlippageBps = Type.Number(slippageOptions)

/** MoneyInput with a default; the default is the decimal string so Ajv fills an exact value. */
function moneyInputDefaulting (value: string) {
  return Type.Union(MoneyInput.anyOf, { description: MoneyInput.description, default: value })
}
const VolumeParticipation = Type.Number({
  exclusiveMinimum: 0,
  maximum: 1,
  description: 'Largest fraction of a bar\'s volume one order may fill; unset = no volume cap'
})

export const Session = Type.Object(
  {
    session_id: SessionId,
    symbols: Type.Array(Type.String(), { description: 'Canonical symbols, in request order' }),
    start_date: DateString,
    end_date: DateString,
    timeframe: TimeframeRef,
    initial_capital: Money,
    commission_per_share: Money,
    min_commission_per_order: Money,
    slippage_bps: SlippageBps,
    allow_short: Type.Boolean(),
    volume_participation: Type.Optional(VolumeParticipation),
    fill_policy_version: Type.String({ description: 'Version of the fill rules the session is simulated with' }),
    state: SessionStateRef,
    created_at: Timestamp,
    updated_at: Timestamp,
    expires_at: Type.Union([Timestamp, Type.Null()], {
      description: 'When the idle session will be deleted (last activity + TTL); null while running'
    }),
    metadata: Metadata,
    estimated_ticks: Type.Integer({ minimum: 0 }),
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    error_message: Type.Optional(Type.String({ description: 'Present when state is error' })),
    pause_reason: Type.Optional(StringEnum(['user', 'disconnect', 'server_restart', 'no_strategy'], {
      description: 'Present when state is paused: paused by the user, by the strategy connection dropping, by a server ' +
        'restart (the run is rebuilt from its input log when resumed: resume_session, or POST …/resume for a headless run), ' +
        'or by itself when no strategy drove its flow-controlled run for UNATTENDED_RUN_PAUSE_SECONDS (no_strategy: the ' +
        'session gives its concurrent-session slot up until it is resumed)'
    }))
  },
  {
    $id: 'Session',
    additionalProperties: false,
    examples: [{
      session_id: 'sess_3kT9xQ2mVb7Lw1Rz',
      symbols: ['AAPL', 'MSFT'],
      start_date: '2023-01-03',
      end_date: '2023-06-30',
      timeframe: '1d',
      initial_capital: '100000.00',
      commission_per_share: '0.005',
      min_commission_per_order: '0.00',
      slippage_bps: 5,
      allow_short: false,
      fill_policy_version: '1.0.0',
      state: 'ready',
      created_at: '2026-11-25T15:06:37.403Z',
      updated_at: '2026-11-25T15:06:37.403Z',
      expires_at: '2026-11-25T16:06:37.403Z',
      metadata: { strategy: 'sma-crossover' },
      estimated_ticks: 124,
      progress: 0
    }]
  }
)
export type Session = Static<typeof Session>

export const CreateSessionBody = Type.Object(
  {
    symbols: Type.Array(SymbolInput, { minItems: 1, maxItems: 500 }),
    start_date: DateString,
    end_date: DateString,
    timeframe: Type.Optional(Type.Unsafe<Timeframe>(Type.Ref('Timeframe', { default: SESSION_DEFAULTS.timeframe }))),
    initial_capital: Type.Optional(moneyInputDefaulting(SESSION_DEFAULTS.initial_capital)),
    commission_per_share: Type.Optional(moneyInputDefaulting(SESSION_DEFAULTS.commission_per_share)),
    min_commission_per_order: Type.Optional(moneyInputDefaulting(SESSION_DEFAULTS.min_commission_per_order)),
    slippage_bps: Type.Optional(Type.Number({ ...slippageOptions, default: SESSION_DEFAULTS.slippage_bps })),
    allow_short: Type.Optional(Type.Boolean({ default: SESSION_DEFAULTS.allow_short })),
    volume_participation: Type.Optional(VolumeParticipation),
    metadata: Type.Optional(Metadata),
    session_id: Type.Optional(
      Type.String({ pattern: SessionId.pattern, description: 'Client-chosen id, unique among the caller\'s sessions' })
    )
  },
  {
    $id: 'CreateSessionBody',
    additionalProperties: false,
    // What Swagger UI's "Try it out" sends: a demo-data session that is accepted as it stands.
    examples: [{
      symbols: ['AAPL', 'MSFT'],
      start_date: '2023-01-03',
      end_date: '2023-06-30',
      timeframe: '1d',
      initial_capital: '100000',
      commission_per_share: '0.005',
      slippage_bps: 5,
      metadata: { strategy: 'sma-crossover' }
    }]
  }
)
export type CreateSessionBody = Static<typeof CreateSessionBody>

/**
 * `data` of the WebSocket create_session: the REST body plus the idempotency key REST sends as the
 * `Idempotency-Key` header, so a client retrying after a dropped connection cannot create two sessions.
 */
export const CreateSessionData = Type.Composite([
  CreateSessionBody,
  Type.Object({ idempotency_key: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) })
], { $id: 'CreateSessionData', additionalProperties: false })
export type CreateSessionData = Static<typeof CreateSessionData>

/**
 * PATCH body. `metadata` replaces the whole object (no merge: a merge would need null-means-delete rules).
 * Every PATCH, even `{}`, refreshes the idle expiry, so `{}` is a keep-alive.
 */
export const UpdateSessionBody = Type.Object(
  { metadata: Type.Optional(Metadata) },
  { $id: 'UpdateSessionBody', additionalProperties: false, examples: [{ metadata: { strategy: 'sma-crossover', note: 'SMA 10/30 on closes' } }] }
)
export type UpdateSessionBody = Static<typeof UpdateSessionBody>

const listQueryProperties = {
  state: Type.Optional(SessionStateRef),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Opaque; from next_cursor' }))
}

export const ListSessionsQuery = Type.Object(listQueryProperties, {
  $id: 'ListSessionsQuery',
  additionalProperties: false
})
export type ListSessionsQuery = Static<typeof ListSessionsQuery>

export const SessionList = Type.Object(
  {
    sessions: Type.Array(Type.Unsafe<Session>(Type.Ref('Session'))),
    next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' })
  },
  { $id: 'SessionList', additionalProperties: false, description: 'Newest first (created_at desc, then session_id desc)' }
)
export type SessionList = Static<typeof SessionList>

export const SessionIdParams = Type.Object({ id: SessionId }, { $id: 'SessionIdParams', additionalProperties: false })
export type SessionIdParams = Static<typeof SessionIdParams>

// WebSocket payloads (`data` of get_session, delete_session, list_sessions, session_deleted).
// create_session's data is CreateSessionBody; its replies are Session.

export const GetSessionData = Type.Object({ session_id: SessionId }, { $id: 'GetSessionData', additionalProperties: false })
export type GetSessionData = Static<typeof GetSessionData>

export const DeleteSessionData = Type.Object(
  { session_id: SessionId },
  { $id: 'DeleteSessionData', additionalProperties: false }
)
export type DeleteSessionData = Static<typeof DeleteSessionData>

export const ListSessionsData = Type.Object(listQueryProperties, {
  $id: 'ListSessionsData',
  additionalProperties: false
})
export type ListSessionsData = Static<typeof ListSessionsData>

export const SessionDeleted = Type.Object(
  { session_id: SessionId, deleted: Type.Literal(true) },
  { $id: 'SessionDeleted', additionalProperties: false }
)
export type SessionDeleted = Static<typeof SessionDeleted>

/** The `usage` part of GET /me. */
export const SessionUsage = Type.Object(
  {
    active_sessions: Type.Integer({ minimum: 0, description: 'Sessions holding one of the plan\'s concurrent-session slots: initializing, ready, running or paused (but not paused for no_strategy)' }),
    sessions_created_last_hour: Type.Integer({ minimum: 0, description: 'Creations in the rolling last hour (deleted ones included)' })
  },
  { $id: 'SessionUsage', additionalProperties: false }
)
export type SessionUsage = Static<typeof SessionUsage>

/** Every $id'd schema of this file, for `app.addSchema` and TypeCompiler references (Timeframe lives in market-data). */
export const sessionSchemas = [
  SessionState,
  Session,
  CreateSessionBody,
  CreateSessionData,
  UpdateSessionBody,
  ListSessionsQuery,
  SessionList,
  SessionIdParams,
  GetSessionData,
  DeleteSessionData,
  ListSessionsData,
  SessionDeleted,
  SessionUsage
]
