// Wire shapes for running a session (ARCHITECTURE.md §4, issue 5 §2 and §7): control messages, their
// replies, the event log and resume. Order, fill, account and result shapes live in simulation.ts.
import { Type, type Static } from '@sinclair/typebox'
import { SessionId, StringEnum, Timestamp } from './common.js'
import type { AccountSnapshot as AccountSnapshotT, Order as OrderT, Position as PositionT } from './simulation.js'
import { ORDER_STATES, OrderBatchData, StartSimulationData } from './simulation.js'
import type { SessionState as SessionStateT } from './sessions.js'

/** `data` of pause_simulation, resume_simulation, query_account, subscribe_session, unsubscribe_session. */
export const SessionRefData = Type.Object({ session_id: SessionId }, { $id: 'SessionRefData', additionalProperties: false })
export type SessionRefData = Static<typeof SessionRefData>

/** REST body of POST /sessions/{id}/start: the WebSocket's start options without the id (it is in the path). */
export const StartSimulationBody = Type.Omit(StartSimulationData, ['session_id'], {
  $id: 'StartSimulationBody',
  additionalProperties: false,
  // Headless: from Swagger UI there is no WebSocket to acknowledge ticks, so the example runs at full speed.
  examples: [{ flow_control: false, account_update_frequency: 'every_fill', include_bars: false }]
})
export type StartSimulationBody = Static<typeof StartSimulationBody>

/** REST body of POST /sessions/{id}/orders: an order batch without the id (it is in the path). */
export const SubmitOrdersBody = Type.Omit(OrderBatchData, ['session_id'], {
  $id: 'SubmitOrdersBody',
  additionalProperties: false,
  examples: [{
    batch_id: 'batch-1',
    orders: [{ order_id: 'ord-1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10, time_in_force: 'day' }],
    execution_mode: 'best_effort'
  }]
})
export type SubmitOrdersBody = Static<typeof SubmitOrdersBody>

export const OrderIdParams = Type.Object(
  { id: SessionId, order_id: Type.String({ minLength: 1, maxLength: 60, pattern: '^[A-Za-z0-9_.:-]+$' }) },
  { $id: 'OrderIdParams', additionalProperties: false }
)

export const OrderList = Type.Object(
  { orders: Type.Array(Type.Unsafe<OrderT>(Type.Ref('Order'))) },
  { $id: 'OrderList', additionalProperties: false }
)
export type OrderList = Static<typeof OrderList>

/**
 * `status` of GET /sessions/{id}/orders, as Alpaca's: `open` (accepted or partially filled), `closed` (filled,
 * cancelled, expired or rejected), `all`, or one exact order state.
 */
export const ORDER_STATUS_FILTERS = ['all', 'open', 'closed', ...ORDER_STATES] as const
export type OrderStatusFilter = (typeof ORDER_STATUS_FILTERS)[number]

export const ListOrdersQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(ORDER_STATUS_FILTERS, {
      default: 'all',
      description: 'open: accepted or partially_filled; closed: filled, cancelled, expired or rejected; all; or one order state'
    }))
  },
  { $id: 'ListOrdersQuery', additionalProperties: false }
)
export type ListOrdersQuery = Static<typeof ListOrdersQuery>

/** GET /sessions/{id}/positions: the open positions of the run's account (as in its account snapshot). */
export const PositionList = Type.Object(
  {
    session_id: SessionId,
    sim_time: Timestamp,
    positions: Type.Array(Type.Unsafe<PositionT>(Type.Ref('Position')))
  },
  {
    $id: 'PositionList',
    additionalProperties: false,
    examples: [{
      session_id: 'sess_3kT9xQ2mVb7Lw1Rz',
      sim_time: '2023-01-04T21:00:00.000Z',
      positions: [{ symbol: 'AAPL', quantity: 10, avg_cost: '130.355', last_price: '126.36', market_value: '1263.60', unrealized_pnl: '-39.95' }]
    }]
  }
)
export type PositionList = Static<typeof PositionList>

export const SimulationStartedData = Type.Object(
  {
    session_id: SessionId,
    total_ticks: Type.Integer({ minimum: 0 }),
    flow_control: Type.Boolean(),
    max_pending_ticks: Type.Integer({ minimum: 1 }),
    account_update_frequency: Type.String(),
    include_bars: Type.Boolean(),
    fill_policy_version: Type.String(),
    symbols: Type.Array(Type.String()),
    initial_capital: Type.String()
  },
  { $id: 'SimulationStartedData', additionalProperties: false }
)
export type SimulationStartedData = Static<typeof SimulationStartedData>

/** simulation_paused / simulation_resumed. */
export const SimulationStateData = Type.Object(
  {
    session_id: SessionId,
    state: Type.Unsafe<SessionStateT>(Type.Ref('SessionState')),
    ticks_sent: Type.Integer({ minimum: 0 }),
    total_ticks: Type.Integer({ minimum: 0 }),
    reason: Type.Optional(Type.String())
  },
  { $id: 'SimulationStateData', additionalProperties: false, examples: [{ session_id: 'sess_3kT9xQ2mVb7Lw1Rz', state: 'running', ticks_sent: 0, total_ticks: 124 }] }
)
export type SimulationStateData = Static<typeof SimulationStateData>

/** A server event as kept in a session's event log (and replayed by state_sync / GET …/events). */
export const SessionEvent = Type.Object(
  {
    type: Type.String(),
    data: Type.Unknown(),
    request_id: Type.Optional(Type.String()),
    timestamp: Timestamp,
    sequence_id: Type.Integer({ minimum: 1 })
  },
  { $id: 'SessionEvent', additionalProperties: false }
)
export type SessionEvent = Static<typeof SessionEvent>

export const EventsQuery = Type.Object(
  {
    after_seq: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1000, description: 'At most 1,000; a page also stops at about 1 MiB' }))
  },
  { $id: 'EventsQuery', additionalProperties: false }
)
export type EventsQuery = Static<typeof EventsQuery>

export const EventPage = Type.Object(
  {
    session_id: SessionId,
    events: Type.Array(Type.Unsafe<SessionEvent>(Type.Ref('SessionEvent'))),
    last_sequence_id: Type.Integer({ minimum: 0, description: 'Highest sequence id in the log' }),
    has_more: Type.Boolean()
  },
  { $id: 'EventPage', additionalProperties: false }
)
export type EventPage = Static<typeof EventPage>

export const ResumeSessionData = Type.Object(
  {
    session_id: SessionId,
    last_processed_sequence_id: Type.Optional(Type.Integer({
      minimum: 0,
      description: 'Envelope sequence_id of the last event the client handled. Omitted: a new strategy process attaches ' +
        'at the end of the log (nothing is replayed; every tick sent so far counts as acknowledged)'
    }))
  },
  { $id: 'ResumeSessionData', additionalProperties: false }
)
export type ResumeSessionData = Static<typeof ResumeSessionData>

/**
 * Reply to resume_session: the account now and the first page (at most 1,000 events, about 1 MiB) of the
 * events after the client's last one. With `has_more` the rest follow right after as the original event
 * frames (each once, in order, before any new event), then the connection drives the run.
 */
export const StateSyncData = Type.Object(
  {
    session_id: SessionId,
    state: Type.Unsafe<SessionStateT>(Type.Ref('SessionState')),
    account: Type.Unsafe<AccountSnapshotT>(Type.Ref('AccountSnapshot')),
    missed_events: Type.Array(Type.Unsafe<SessionEvent>(Type.Ref('SessionEvent'))),
    last_sequence_id: Type.Integer({ minimum: 0, description: 'Highest sequence id in the log when the sync began' }),
    has_more: Type.Boolean({ description: 'More missed events follow as their original frames' })
  },
  { $id: 'StateSyncData', additionalProperties: false }
)
export type StateSyncData = Static<typeof StateSyncData>

/** `strategy_error`: the strategy's code threw; the run ends in state error with this message. */
export const StrategyErrorData = Type.Object(
  {
    session_id: SessionId,
    message: Type.String({ minLength: 1, maxLength: 4096 }),
    stack: Type.Optional(Type.String({ maxLength: 16384 }))
  },
  { $id: 'StrategyErrorData', additionalProperties: false }
)
export type StrategyErrorData = Static<typeof StrategyErrorData>

export const SubscriptionData = Type.Object(
  { session_id: SessionId, subscribed: Type.Boolean(), last_sequence_id: Type.Integer({ minimum: 0 }) },
  { $id: 'SubscriptionData', additionalProperties: false }
)
export type SubscriptionData = Static<typeof SubscriptionData>

export const simulationControlSchemas = [
  SessionRefData,
  StartSimulationBody,
  SubmitOrdersBody,
  OrderIdParams,
  OrderList,
  ListOrdersQuery,
  PositionList,
  SimulationStartedData,
  SimulationStateData,
  SessionEvent,
  EventsQuery,
  EventPage,
  ResumeSessionData,
  StateSyncData,
  StrategyErrorData,
  SubscriptionData
]
