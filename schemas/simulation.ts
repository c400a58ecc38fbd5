// Wire shapes of the simulation: orders, fills, account, ticks, results and the per-session fill settings.
// server/simulation (the pure engine) produces exactly these objects; REST and WebSocket validate against them.
import { Type, type Static, type TSchema, type TUnsafe, type TUnion, type TNull } from '@sinclair/typebox'
import { StringEnum, DecimalInput, Money, MoneyInput, SessionId, SymbolInput, Timestamp, DateString } from './common.js'
import type { Bar as BarT } from './market-data.js'
import type { ErrorCode as ErrorCodeT } from './errors.js'

/** Version of the fill rules in docs/fill-policy.md; named on every result so old runs stay explainable. */
export const FILL_POLICY_VERSION = '1.0.0'

/** A reference to a schema registered by `$id` (inlining it would register the `$id` twice with Ajv). */
function ref<T extends TSchema> (schema: T, options: Record<string, unknown> = {}): TUnsafe<Static<T>> {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, options))
}

function Nullable<T extends TSchema> (schema: T): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()])
}

// ── atoms ──────────────────────────────────────────────────────────────────────────────────────────

export const OrderSide = StringEnum(['buy', 'sell'], { $id: 'OrderSide' })
export type OrderSide = Static<typeof OrderSide>

export const OrderType = StringEnum(['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'],
  { $id: 'OrderType', description: 'trailing_stop: a stop that follows the best close by trail_price or trail_percent (docs/fill-policy.md §4)' }
)
export type OrderType = Static<typeof OrderType>

export const TimeInForce = StringEnum(['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'], {
  $id: 'TimeInForce',
  description: 'day: expires at the end of its trading day; gtc: until filled or cancelled; ioc: its first bar only; ' +
    'fok: entirely on its first bar or cancelled; opg: at the open of the next trading day\'s first bar only; ' +
    'cls: at the close of the trading day\'s last bar only (market and limit orders)'
})
export type TimeInForce = Static<typeof TimeInForce>

export const ExecutionMode = StringEnum(['atomic', 'best_effort'], {
  $id: 'ExecutionMode',
  description: 'atomic: one invalid order rejects the whole batch; best_effort: each order on its own'
})
export type ExecutionMode = Static<typeof ExecutionMode>

export const ORDER_STATES = ['accepted', 'partially_filled', 'filled', 'cancelled', 'expired', 'rejected', 'replaced'] as const
/** Working orders (can still fill); every other state is final. */
export const OPEN_ORDER_STATES: readonly OrderState[] = ['accepted', 'partially_filled']
export const OrderState = StringEnum(ORDER_STATES, { $id: 'OrderState' })
export type OrderState = Static<typeof OrderState>

/** Which rule of docs/fill-policy.md priced a fill. */
export const FillReason = StringEnum(['market_open', 'limit_open', 'limit_touch', 'stop_gap_open', 'stop_touch', 'stop_limit_open', 'stop_limit_stop', 'stop_limit_touch', 'market_close', 'limit_close'],
  { $id: 'FillReason' }
)
export type FillReason = Static<typeof FillReason>

export const AccountUpdateFrequency = StringEnum(['every_fill', 'every_tick', 'on_demand'],
  { $id: 'AccountUpdateFrequency' }
)
export type AccountUpdateFrequency = Static<typeof AccountUpdateFrequency>

export const MarketSession = StringEnum(['pre_market', 'regular', 'after_hours', 'closed'],
  { $id: 'MarketSession' }
)
export type MarketSession = Static<typeof MarketSession>

/** Client order id; bracket legs get `<id>-tp` / `<id>-sl`, hence the shorter limit. */
export const OrderId = Type.String({ minLength: 1, maxLength: 60, pattern: '^[A-Za-z0-9_.:-]+$' })

const Quantity = Type.Number({ exclusiveMinimum: 0, description: 'Shares/units; fractional allowed (8 decimals)' })

// ── settings ───────────────────────────────────────────────────────────────────────────────────────

/** Per-session fill settings; sessions embed this object as is. Amounts are numbers read as their shortest decimal. */
export const SimulationSettings = Type.Object(
  {
    commission_per_share: Type.Number({ minimum: 0, maximum: 100, default: 0.005 }),
    min_commission_per_order: Type.Number({ minimum: 0, maximum: 10000, default: 0 }),
    slippage_bps: Type.Number({ minimum: 0, maximum: 1000, default: 0, description: 'Applied to market orders, against the order' }),
    volume_participation: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Max share of a bar volume one symbol may fill; absent = no cap' })
    ),
    allow_short: Type.Boolean({ default: false }),
    fill_policy_version: Type.Literal(FILL_POLICY_VERSION, { default: FILL_POLICY_VERSION })
  },
  { $id: 'SimulationSettings', additionalProperties: false }
)
export type SimulationSettings = Static<typeof SimulationSettings>

// ── orders in ──────────────────────────────────────────────────────────────────────────────────────

export const TakeProfitRequest = Type.Object(
  { limit_price: MoneyInput },
  { $id: 'TakeProfitRequest', additionalProperties: false }
)
export type TakeProfitRequest = Static<typeof TakeProfitRequest>

export const StopLossRequest = Type.Object(
  { stop_price: MoneyInput, limit_price: Type.Optional(MoneyInput) },
  { $id: 'StopLossRequest', additionalProperties: false }
)
export type StopLossRequest = Static<typeof StopLossRequest>

/** One order as the strategy sends it. Exactly one of quantity/notional (checked by the engine: INVALID_ORDER). */
export const OrderRequest = Type.Object(
  {
    order_id: OrderId,
    symbol: SymbolInput,
    side: ref(OrderSide),
    type: ref(OrderType),
    quantity: Type.Optional(Quantity),
    notional: Type.Optional(MoneyInput),
    price: Type.Optional(MoneyInput),
    stop_price: Type.Optional(MoneyInput),
    trail_price: Type.Optional(DecimalInput({
      description: 'trailing_stop only: distance of the stop from the best close, in price units (exactly one of trail_price/trail_percent)',
      examples: [2.5]
    })),
    trail_percent: Type.Optional(DecimalInput({
      description: 'trailing_stop only: distance of the stop from the best close, in percent of it (0 < x < 100)',
      examples: [1.5]
    })),
    time_in_force: Type.Optional(ref(TimeInForce, { default: 'day' })),
    take_profit: Type.Optional(ref(TakeProfitRequest)),
    stop_loss: Type.Optional(ref(StopLossRequest))
  },
  { $id: 'OrderRequest', additionalProperties: false }
)
export type OrderRequest = Static<typeof OrderRequest>

export const OrderBatchData = Type.Object(
  {
    session_id: SessionId,
    batch_id: Type.String({ minLength: 1, maxLength: 64 }),
    orders: Type.Array(ref(OrderRequest), { minItems: 1, maxItems: 500 }),
    execution_mode: Type.Optional(ref(ExecutionMode, { default: 'best_effort' }))
  },
  { $id: 'OrderBatchData', additionalProperties: false }
)
export type OrderBatchData = Static<typeof OrderBatchData>

export const CancelOrderData = Type.Object(
  { session_id: SessionId, order_id: OrderId },
  { $id: 'CancelOrderData', additionalProperties: false }
)
export type CancelOrderData = Static<typeof CancelOrderData>

/**
 * Replace an open order (as Alpaca's PATCH /orders/{id}): the old order ends `replaced` and a new order with
 * `new_order_id` (default `<id>-r1`, `-r2` …) takes its place with the fields given here changed.
 */
const replaceFields = {
  quantity: Type.Optional(Quantity),
  price: Type.Optional(MoneyInput),
  stop_price: Type.Optional(MoneyInput),
  trail_price: Type.Optional(DecimalInput({ description: 'trailing_stop only' })),
  trail_percent: Type.Optional(DecimalInput({ description: 'trailing_stop only' })),
  time_in_force: Type.Optional(ref(TimeInForce)),
  new_order_id: Type.Optional(Type.String({ minLength: 1, maxLength: 60, pattern: '^[A-Za-z0-9_.:-]+$', description: 'Id of the replacing order; default the old id with -r1 (then -r2 …)' }))
}

export const ReplaceOrderData = Type.Object(
  { session_id: SessionId, order_id: OrderId, ...replaceFields },
  {
    $id: 'ReplaceOrderData',
    additionalProperties: false,
    examples: [{ session_id: 'sess_3kT9xQ2mVb7Lw1Rz', order_id: 'ord-1', price: '129.50', quantity: 20 }]
  }
)
export type ReplaceOrderData = Static<typeof ReplaceOrderData>

/** REST body of PATCH /sessions/{id}/orders/{order_id}: the replace message without the ids (they are in the path). */
export const ReplaceOrderBody = Type.Object(replaceFields, {
  $id: 'ReplaceOrderBody',
  additionalProperties: false,
  examples: [{ price: '129.50', quantity: 20 }]
})
export type ReplaceOrderBody = Static<typeof ReplaceOrderBody>

export const RejectedOrder = Type.Object(
  {
    order_id: Type.String(),
    error_code: Type.Unsafe<ErrorCodeT>(Type.Ref('ErrorCode')),
    reason: Type.String()
  },
  { $id: 'RejectedOrder', additionalProperties: false }
)
export type RejectedOrder = Static<typeof RejectedOrder>

/** What an accepted order would cost if it filled at the last close (market, or limit marketable there). */
export const EstimatedFill = Type.Object(
  { order_id: Type.String(), estimated_price: Money, estimated_quantity: Type.Number() },
  { $id: 'EstimatedFill', additionalProperties: false }
)
export type EstimatedFill = Static<typeof EstimatedFill>

export const BatchAck = Type.Object(
  {
    session_id: SessionId,
    batch_id: Type.String(),
    accepted_orders: Type.Array(Type.String()),
    rejected_orders: Type.Array(ref(RejectedOrder)),
    estimated_fills: Type.Array(ref(EstimatedFill))
  },
  {
    $id: 'BatchAck',
    additionalProperties: false,
    examples: [{
      session_id: 'sess_3kT9xQ2mVb7Lw1Rz',
      batch_id: 'batch-1',
      accepted_orders: ['ord-1'],
      rejected_orders: [],
      estimated_fills: [{ order_id: 'ord-1', estimated_price: '130.28', estimated_quantity: 10 }]
    }]
  }
)
export type BatchAck = Static<typeof BatchAck>

// ── orders out ─────────────────────────────────────────────────────────────────────────────────────

/** The server's view of an order. Times are simulation times. */
export const Order = Type.Object(
  {
    order_id: Type.String(),
    symbol: Type.String(),
    side: ref(OrderSide),
    type: ref(OrderType),
    time_in_force: ref(TimeInForce),
    quantity: Type.Optional(Type.Number({ description: 'Absent for a notional order until its first fill' })),
    notional: Type.Optional(Money),
    price: Type.Optional(Money),
    stop_price: Type.Optional(Money),
    take_profit_price: Type.Optional(Money),
    stop_loss_price: Type.Optional(Money),
    stop_loss_limit_price: Type.Optional(Money),
    trail_price: Type.Optional(Money),
    trail_percent: Type.Optional(Type.String({ description: 'Percent, exact decimal' })),
    hwm: Type.Optional(Money),
    status: ref(OrderState),
    filled_quantity: Type.Number(),
    remaining_quantity: Type.Optional(Type.Number()),
    avg_fill_price: Type.Optional(Money),
    commission: Money,
    stop_triggered: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
    batch_id: Type.Optional(Type.String()),
    parent_order_id: Type.Optional(Type.String()),
    leg: Type.Optional(StringEnum(['take_profit', 'stop_loss'])),
    replaces: Type.Optional(Type.String({ description: 'The order this one replaced' })),
    replaced_by: Type.Optional(Type.String({ description: 'The order that replaced this one (status replaced)' })),
    error_code: Type.Optional(Type.Unsafe<ErrorCodeT>(Type.Ref('ErrorCode'))),
    reason: Type.Optional(Type.String({ description: 'Status rejected: why the order was refused, in words' }))
  },
  {
    $id: 'Order',
    additionalProperties: false,
    examples: [{
      order_id: 'ord-1',
      symbol: 'AAPL',
      side: 'buy',
      type: 'market',
      time_in_force: 'day',
      quantity: 10,
      status: 'filled',
      filled_quantity: 10,
      remaining_quantity: 0,
      avg_fill_price: '130.35',
      commission: '0.05',
      stop_triggered: false,
      created_at: '2023-01-03T21:00:00.000Z',
      updated_at: '2023-01-04T14:30:00.000Z',
      batch_id: 'batch-1'
    }]
  }
)
export type Order = Static<typeof Order>

export const OrderUpdate = Type.Object(
  {
    order_id: Type.String(),
    status: ref(OrderState),
    update_time: Timestamp,
    reason: Type.Optional(Type.String()),
    error_code: Type.Optional(Type.Unsafe<ErrorCodeT>(Type.Ref('ErrorCode'))),
    order: ref(Order)
  },
  { $id: 'OrderUpdate', additionalProperties: false }
)
export type OrderUpdate = Static<typeof OrderUpdate>

export const ExecutionReport = Type.Object(
  {
    execution_id: Type.String(),
    order_id: Type.String(),
    symbol: Type.String(),
    side: ref(OrderSide),
    executed_quantity: Type.Number(),
    executed_price: Money,
    execution_time: Timestamp,
    commission: Money,
    slippage_bps: Type.Number({ description: 'Effective slippage against the bar open (0 for limit/stop prices)' }),
    is_partial: Type.Boolean(),
    remaining_quantity: Type.Number(),
    fill_reason: ref(FillReason)
  },
  {
    $id: 'ExecutionReport',
    additionalProperties: false,
    examples: [{
      execution_id: 'exec-1',
      order_id: 'ord-1',
      symbol: 'AAPL',
      side: 'buy',
      executed_quantity: 10,
      executed_price: '166.00',
      execution_time: '2023-01-04T14:30:00.000Z',
      commission: '0.05',
      slippage_bps: 5,
      is_partial: false,
      remaining_quantity: 0,
      fill_reason: 'market_open'
    }]
  }
)
export type ExecutionReport = Static<typeof ExecutionReport>

// ── account ────────────────────────────────────────────────────────────────────────────────────────

export const Position = Type.Object(
  {
    symbol: Type.String(),
    quantity: Type.Number({ description: 'Negative for a short' }),
    avg_cost: Money,
    last_price: Money,
    market_value: Money,
    unrealized_pnl: Money
  },
  {
    $id: 'Position',
    additionalProperties: false,
    examples: [{ symbol: 'AAPL', quantity: 10, avg_cost: '130.355', last_price: '126.36', market_value: '1263.60', unrealized_pnl: '-39.95' }]
  }
)
export type Position = Static<typeof Position>

export const AccountSnapshot = Type.Object(
  {
    sim_time: Timestamp,
    cash: Money,
    equity: Money,
    buying_power: Money,
    day_pnl: Money,
    realized_pnl: Money,
    total_commission: Money,
    positions: Type.Array(ref(Position)),
    open_orders: Type.Integer({ minimum: 0, description: 'Number of working orders' })
  },
  {
    $id: 'AccountSnapshot',
    additionalProperties: false,
    examples: [{
      sim_time: '2023-01-04T21:00:00.000Z',
      cash: '98696.40',
      equity: '99960.00',
      buying_power: '98696.40',
      day_pnl: '-39.95',
      realized_pnl: '0.00',
      total_commission: '0.05',
      positions: [{ symbol: 'AAPL', quantity: 10, avg_cost: '130.355', last_price: '126.36', market_value: '1263.60', unrealized_pnl: '-39.95' }],
      open_orders: 0
    }]
  }
)
export type AccountSnapshot = Static<typeof AccountSnapshot>

// ── results ────────────────────────────────────────────────────────────────────────────────────────

/**
 * A round trip from flat to flat. A position still open at the end is listed too, marked at the last close
 * (`open_at_end: true`, its P&L unrealized); it counts in `open_trades` and in no win/loss statistic.
 */
export const TradeRecord = Type.Object(
  {
    trade_id: Type.Integer({ minimum: 1 }),
    symbol: Type.String(),
    direction: StringEnum(['long', 'short']),
    quantity: Type.Number({ description: 'Total quantity entered' }),
    entry_time: Timestamp,
    exit_time: Timestamp,
    avg_entry_price: Money,
    avg_exit_price: Money,
    gross_pnl: Money,
    commission: Money,
    net_pnl: Money,
    return_pct: Type.Number({ description: 'net_pnl / entry value × 100' }),
    open_at_end: Type.Boolean({ description: 'Still open at the end: exit = the last close, P&L unrealized; counted in open_trades, not in total/winning/losing' })
  },
  {
    $id: 'TradeRecord',
    additionalProperties: false,
    examples: [{
      trade_id: 1,
      symbol: 'AAPL',
      direction: 'long',
      quantity: 100,
      entry_time: '2023-02-21T14:30:00.000Z',
      exit_time: '2023-03-16T13:30:00.000Z',
      avg_entry_price: '164.772345',
      avg_exit_price: '146.196865',
      gross_pnl: '-1857.55',
      commission: '1.00',
      net_pnl: '-1858.55',
      return_pct: -11.28,
      open_at_end: false
    }]
  }
)
export type TradeRecord = Static<typeof TradeRecord>

/** Equity at the close of one trading day. */
export const EquityPoint = Type.Object(
  {
    date: DateString,
    sim_time: Timestamp,
    equity: Money,
    cash: Money,
    drawdown_pct: Type.Number({ minimum: 0 })
  },
  {
    $id: 'EquityPoint',
    additionalProperties: false,
    examples: [{ date: '2023-03-16', sim_time: '2023-03-16T21:00:00.000Z', equity: '98141.45', cash: '98141.45', drawdown_pct: 2.22 }]
  }
)
export type EquityPoint = Static<typeof EquityPoint>

const metricsProperties = {
  initial_capital: Money,
  final_equity: Money,
  total_return_pct: Type.Number(),
  cagr_pct: Nullable(Type.Number()),
  total_trades: Type.Integer({ minimum: 0, description: 'Closed round trips (flat to flat); a position still open at the end is in open_trades instead' }),
  open_trades: Type.Integer({ minimum: 0, description: 'Positions still open at the end: listed in trades with open_at_end, counted in no other trade statistic' }),
  winning_trades: Type.Integer({ minimum: 0, description: 'Closed trades with net P&L ≥ 0' }),
  losing_trades: Type.Integer({ minimum: 0, description: 'Closed trades with net P&L < 0' }),
  win_rate: Nullable(Type.Number({ description: 'winning / total (closed trades), 0..1; null without a closed trade' })),
  profit_factor: Nullable(Type.Number({ description: 'gross wins / |gross losses| of closed trades; null without losing trades' })),
  gross_profit: Money,
  gross_loss: Money,
  realized_pnl: Money,
  total_commission: Money,
  max_drawdown_pct: Type.Number({ minimum: 0 }),
  sharpe_ratio: Nullable(Type.Number()),
  sortino_ratio: Nullable(Type.Number()),
  calmar_ratio: Nullable(Type.Number()),
  rejected_orders: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'Orders refused (status rejected), at submission or when they came to fill; absent in results stored before it was counted'
  })),
  bars_processed: Type.Integer({ minimum: 0, description: 'Timeline steps replayed' }),
  trading_days: Type.Integer({ minimum: 0 })
}

export const PerformanceMetrics = Type.Object(metricsProperties, {
  $id: 'PerformanceMetrics',
  additionalProperties: false,
  examples: [{
    initial_capital: '100000.00',
    final_equity: '104218.37',
    total_return_pct: 4.22,
    cagr_pct: 8.87,
    total_trades: 6,
    open_trades: 1,
    winning_trades: 4,
    losing_trades: 2,
    win_rate: 0.6667,
    profit_factor: 2.41,
    gross_profit: '7196.20',
    gross_loss: '-2986.03',
    realized_pnl: '4210.17',
    total_commission: '6.00',
    max_drawdown_pct: 3.18,
    sharpe_ratio: 1.12,
    sortino_ratio: 1.64,
    calmar_ratio: 2.79,
    rejected_orders: 0,
    bars_processed: 124,
    trading_days: 124
  }]
})
export type PerformanceMetrics = Static<typeof PerformanceMetrics>

export const SimulationResults = Type.Object(
  {
    session_id: SessionId,
    fill_policy_version: Type.String(),
    completed: Type.Boolean({ description: 'false while the replay is still running or when it was stopped early' }),
    metrics: ref(PerformanceMetrics),
    equity_curve: Type.Array(ref(EquityPoint)),
    trades: Type.Array(ref(TradeRecord))
  },
  { $id: 'SimulationResults', additionalProperties: false }
)
export type SimulationResults = Static<typeof SimulationResults>

export const SimulationCompleteData = Type.Object(
  {
    session_id: SessionId,
    reason: StringEnum(['finished', 'stopped']),
    fill_policy_version: Type.String(),
    ...metricsProperties
  },
  { $id: 'SimulationCompleteData', additionalProperties: false }
)
export type SimulationCompleteData = Static<typeof SimulationCompleteData>

// ── simulation loop ────────────────────────────────────────────────────────────────────────────────

export const StartSimulationData = Type.Object(
  {
    session_id: SessionId,
    flow_control: Type.Optional(Type.Boolean({ default: true })),
    max_pending_ticks: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
    account_update_frequency: Type.Optional(ref(AccountUpdateFrequency, { default: 'every_fill' })),
    include_bars: Type.Optional(Type.Boolean({ default: true }))
  },
  { $id: 'StartSimulationData', additionalProperties: false }
)
export type StartSimulationData = Static<typeof StartSimulationData>

export const TickAckData = Type.Object(
  {
    session_id: SessionId,
    sequence_id: Type.Integer({ minimum: 1 }),
    processing_status: StringEnum(['ready', 'processing', 'need_time'])
  },
  { $id: 'TickAckData', additionalProperties: false }
)
export type TickAckData = Static<typeof TickAckData>

/** One timeline step, sent when its bars close. `sequence_id` is the 1-based step number that tick_ack echoes. */
export const TickData = Type.Object(
  {
    session_id: SessionId,
    sequence_id: Type.Integer({ minimum: 1 }),
    sim_time: Timestamp,
    market_session: ref(MarketSession),
    symbols_trading: Type.Array(Type.String()),
    bars: Type.Optional(Type.Record(Type.String(), Type.Unsafe<BarT>(Type.Ref('Bar')))),
    is_eod: Type.Boolean()
  },
  { $id: 'TickData', additionalProperties: false }
)
export type TickData = Static<typeof TickData>

/** Every `$id`'d schema of this file, for `app.addSchema` (they reference `Bar` and `ErrorCode`, registered elsewhere). */
export const simulationSchemas = [
  OrderSide,
  OrderType,
  TimeInForce,
  ExecutionMode,
  OrderState,
  FillReason,
  AccountUpdateFrequency,
  MarketSession,
  SimulationSettings,
  TakeProfitRequest,
  StopLossRequest,
  OrderRequest,
  OrderBatchData,
  CancelOrderData,
  ReplaceOrderData,
  ReplaceOrderBody,
  RejectedOrder,
  EstimatedFill,
  BatchAck,
  Order,
  OrderUpdate,
  ExecutionReport,
  Position,
  AccountSnapshot,
  TradeRecord,
  EquityPoint,
  PerformanceMetrics,
  SimulationResults,
  SimulationCompleteData,
  StartSimulationData,
  TickAckData,
  TickData
]
