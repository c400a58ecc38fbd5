// The WebSocket message vocabulary of the SDK: which payload type each client→server and server→client
// message type carries. Every value is a schema's Static type from schemas/, so the SDK cannot drift from
// the server. The maps are interfaces on purpose: the simulation work extends them (start_simulation, tick…)
// by adding entries here or by declaration merging, and `request`/`on`/`events` pick the new types up.
import type { CreateSessionData, DeleteSessionData, GetSessionData, ListSessionsData, Session, SessionDeleted, SessionList } from '../schemas/sessions.js'
import type { AccountSnapshot, BatchAck, CancelOrderData, ExecutionReport, ReplaceOrderData, OrderBatchData, OrderUpdate, SimulationCompleteData, StartSimulationData, TickAckData, TickData } from '../schemas/simulation.js'
import type { ResumeSessionData, SessionRefData, SimulationStartedData, SimulationStateData, StateSyncData, StrategyErrorData, SubscriptionData } from '../schemas/simulation-control.js'
import type {
  ConnectionClosingData,
  ConnectionReadyData,
  ConnectionWarningData,
  PingData,
  PongData,
  ServerEnvelope,
  SessionErrorData,
  WsErrorData
} from '../schemas/ws-messages.js'

/** Payload (`data`) of each message type the client sends. */
export interface ClientMessageMap {
  create_session: CreateSessionData
  get_session: GetSessionData
  list_sessions: ListSessionsData
  delete_session: DeleteSessionData
  ping: PingData
  start_simulation: StartSimulationData
  tick_ack: TickAckData
  order_batch: OrderBatchData
  cancel_order: CancelOrderData
  /** Replace a working order; the reply is the new order's order_update (the old one ends `replaced`). */
  replace_order: ReplaceOrderData
  pause_simulation: SessionRefData
  resume_simulation: SessionRefData
  query_account: SessionRefData
  resume_session: ResumeSessionData
  subscribe_session: SessionRefData
  unsubscribe_session: SessionRefData
  /** The strategy's code threw: the server ends the run in state `error`; the reply is `session_info`. */
  strategy_error: StrategyErrorData
}

/** Payload (`data`) of each message type the server sends. */
export interface ServerMessageMap {
  connection_ready: ConnectionReadyData
  connection_warning: ConnectionWarningData
  connection_closing: ConnectionClosingData
  pong: PongData
  session_created: Session
  session_info: Session
  /** Pushed (no request_id) when one of your sessions is created, updated or changes state. */
  session_updated: Session
  session_list: SessionList
  session_deleted: SessionDeleted
  session_error: SessionErrorData
  error: WsErrorData
  simulation_started: SimulationStartedData
  tick: TickData
  batch_ack: BatchAck
  order_update: OrderUpdate
  execution_report: ExecutionReport
  account_snapshot: AccountSnapshot
  simulation_paused: SimulationStateData
  simulation_resumed: SimulationStateData
  simulation_complete: SimulationCompleteData
  state_sync: StateSyncData
  subscription: SubscriptionData
}

/**
 * Server message types whose payload is one whole Session: the SDK's session cache stores these on
 * arrival, whether they answer a request or are pushed. Add a type here when the server starts pushing one.
 */
export const SESSION_PAYLOAD_TYPES = ['session_created', 'session_info', 'session_updated'] as const satisfies ReadonlyArray<keyof ServerMessageMap>

/** One server frame of a known type: the envelope (ServerEnvelope) with its `data` typed by `type`. */
export type ServerFrame<K extends keyof ServerMessageMap = keyof ServerMessageMap> = {
  [T in K]: Omit<ServerEnvelope, 'type' | 'data'> & { type: T, data: ServerMessageMap[T] }
}[K]

/** The frame the client sends (ClientEnvelope with `data` typed by `type`). */
export interface ClientFrame<K extends keyof ClientMessageMap> {
  type: K
  data: ClientMessageMap[K]
  request_id?: string
  timestamp?: string
}
