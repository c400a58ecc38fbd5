// WebSocket envelope and the gateway's own messages (ARCHITECTURE.md §4). Feature message payloads live
// beside their REST twins (sessions.ts, simulation.ts) and are registered with the dispatcher by type.
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum, Timestamp, RequestId } from './common.js'
import type { ErrorCode as ErrorCodeT } from './errors.js'
import type { Plan as PlanT, PlanLimits as PlanLimitsT } from './common.js'

/** Every inbound frame: `{type, data, request_id?, timestamp?}`. `data` is validated per type afterwards. */
export const ClientEnvelope = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z_]+$' }),
    data: Type.Optional(Type.Unknown()),
    request_id: Type.Optional(RequestId),
    timestamp: Type.Optional(Type.String({ maxLength: 64 }))
  },
  { $id: 'WsClientEnvelope', additionalProperties: false }
)
export type ClientEnvelope = Static<typeof ClientEnvelope>

/** Every outbound frame. `sequence_id` is set on events of a session (its event-log position). */
export const ServerEnvelope = Type.Object(
  {
    type: Type.String(),
    data: Type.Unknown(),
    request_id: Type.Optional(RequestId),
    timestamp: Timestamp,
    sequence_id: Type.Optional(Type.Integer({ minimum: 1 }))
  },
  { $id: 'WsServerEnvelope', additionalProperties: false }
)
export type ServerEnvelope = Static<typeof ServerEnvelope>

export const ConnectionReadyData = Type.Object(
  {
    user_id: Type.String(),
    plan: Type.Unsafe<PlanT>(Type.Ref('Plan')),
    server_time: Timestamp,
    connection_expires_at: Timestamp,
    idle_timeout_sec: Type.Integer(),
    limits: Type.Unsafe<PlanLimitsT>(Type.Ref('PlanLimits')),
    supported_features: Type.Array(Type.String()),
    max_payload_bytes: Type.Integer()
  },
  { $id: 'ConnectionReadyData', additionalProperties: false }
)
export type ConnectionReadyData = Static<typeof ConnectionReadyData>

export const PingData = Type.Object(
  { client_time: Type.Optional(Type.String({ maxLength: 64 })) },
  { $id: 'PingData', additionalProperties: false }
)
export type PingData = Static<typeof PingData>

export const PongData = Type.Object(
  { server_time: Timestamp, client_time: Type.Optional(Type.String()) },
  { $id: 'PongData', additionalProperties: false }
)
export type PongData = Static<typeof PongData>

export const WsErrorData = Type.Object(
  {
    error_code: Type.Unsafe<ErrorCodeT>(Type.Ref('ErrorCode')),
    message: Type.String(),
    error_type: StringEnum(['protocol', 'validation', 'auth', 'rate_limit', 'domain', 'internal']),
    severity: StringEnum(['warning', 'error', 'fatal']),
    recoverable: Type.Boolean(),
    retry_after_ms: Type.Optional(Type.Integer()),
    failed_request_id: Type.Optional(Type.String()),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    context: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
  },
  { $id: 'WsErrorData', additionalProperties: false }
)
export type WsErrorData = Static<typeof WsErrorData>

/** `session_error`: a failed session operation, same body as the REST error. */
export const SessionErrorData = Type.Object(
  {
    error_code: Type.Unsafe<ErrorCodeT>(Type.Ref('ErrorCode')),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
  },
  { $id: 'SessionErrorData', additionalProperties: false }
)
export type SessionErrorData = Static<typeof SessionErrorData>

export const ConnectionWarningData = Type.Object(
  {
    reason: StringEnum(['token_expiring', 'idle', 'slow_consumer']),
    message: Type.String(),
    closes_at: Type.Optional(Timestamp)
  },
  { $id: 'ConnectionWarningData', additionalProperties: false }
)
export type ConnectionWarningData = Static<typeof ConnectionWarningData>

export const ConnectionClosingData = Type.Object(
  {
    reason: StringEnum(['server_shutdown', 'token_expired', 'idle_timeout', 'connection_limit', 'rate_limit']),
    message: Type.String(),
    close_code: Type.Integer()
  },
  { $id: 'ConnectionClosingData', additionalProperties: false }
)
export type ConnectionClosingData = Static<typeof ConnectionClosingData>

export const WsQuery = Type.Object(
  { token: Type.Optional(Type.String({ maxLength: 4096 })) },
  { $id: 'WsQuery', additionalProperties: false }
)

export const wsGatewaySchemas = [ClientEnvelope, ServerEnvelope, ConnectionReadyData, PingData, PongData, WsErrorData, SessionErrorData, ConnectionWarningData, ConnectionClosingData, WsQuery]
