"""What a strategy is handed: bars, orders, order updates, fills, positions, the account, the session and
the run's results, read from the server's wire shapes (schemas/simulation.ts, schemas/sessions.ts) with the
same field names. Money and quantities are exact :class:`~decimal.Decimal`; ratios and percentages are the
JSON numbers the server sent (also Decimals: the exact text); times are timezone-aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Mapping, Optional

from .decimals import to_decimal

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit", "trailing_stop"]
TimeInForce = Literal["day", "gtc", "ioc", "fok", "opg", "cls"]
#: Server order states, plus the SDK's own for a refused cancel or replace (nautilus's
#: OrderCancelRejected / OrderModifyRejected): the order itself is unchanged.
OrderStatus = Literal["accepted", "partially_filled", "filled", "cancelled", "expired", "rejected", "replaced",
                      "cancel_rejected", "replace_rejected"]

ORDER_TYPES: tuple[str, ...] = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE: tuple[str, ...] = ("day", "gtc", "ioc", "fok", "opg", "cls")
OPEN_STATES = frozenset({"accepted", "partially_filled"})


def parse_time(text: str) -> datetime:
    """An ISO-8601 UTC wire timestamp (``2023-01-03T14:30:00.000Z``) as an aware datetime."""
    return datetime.fromisoformat(text)


def _opt_time(value: Any) -> Optional[datetime]:
    return None if value is None else parse_time(value)


def _opt_dec(value: Any) -> Optional[Decimal]:
    return None if value is None else to_decimal(value)


@dataclass(frozen=True, slots=True)
class Bar:
    """One symbol's bar of a step. ``timestamp`` is the bar's start, ``sim_time`` the instant it closed
    (when the strategy hears it); ``step`` is the tick's sequence number (1 … total ticks)."""

    symbol: str
    timestamp: datetime
    session_date: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    sim_time: datetime
    is_eod: bool
    step: int


@dataclass(frozen=True, slots=True)
class Bracket:
    """Take-profit and stop-loss legs for ``buy``/``sell(..., bracket=...)``: created when the parent fills,
    on the other side, one-cancels-other. ``stop_loss_limit`` makes the stop leg a stop-limit."""

    take_profit: Decimal | int | str
    stop_loss: Decimal | int | str
    stop_loss_limit: Decimal | int | str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """The server's view of an order (schemas/simulation.ts ``Order``). Times are simulation times."""

    order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    status: str
    filled_quantity: Decimal
    commission: Decimal
    stop_triggered: bool
    created_at: datetime
    updated_at: datetime
    quantity: Optional[Decimal] = None
    notional: Optional[Decimal] = None
    price: Optional[Decimal] = None
    stop_price: Optional[Decimal] = None
    take_profit_price: Optional[Decimal] = None
    stop_loss_price: Optional[Decimal] = None
    stop_loss_limit_price: Optional[Decimal] = None
    trail_price: Optional[Decimal] = None
    trail_percent: Optional[Decimal] = None
    hwm: Optional[Decimal] = None
    remaining_quantity: Optional[Decimal] = None
    avg_fill_price: Optional[Decimal] = None
    batch_id: Optional[str] = None
    parent_order_id: Optional[str] = None
    leg: Optional[str] = None
    replaces: Optional[str] = None
    replaced_by: Optional[str] = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Order:
        return Order(
            order_id=d["order_id"], symbol=d["symbol"], side=d["side"], type=d["type"], time_in_force=d["time_in_force"],
            status=d["status"], filled_quantity=to_decimal(d["filled_quantity"]), commission=to_decimal(d["commission"]),
            stop_triggered=bool(d["stop_triggered"]), created_at=parse_time(d["created_at"]), updated_at=parse_time(d["updated_at"]),
            quantity=_opt_dec(d.get("quantity")), notional=_opt_dec(d.get("notional")), price=_opt_dec(d.get("price")),
            stop_price=_opt_dec(d.get("stop_price")), take_profit_price=_opt_dec(d.get("take_profit_price")),
            stop_loss_price=_opt_dec(d.get("stop_loss_price")), stop_loss_limit_price=_opt_dec(d.get("stop_loss_limit_price")),
            trail_price=_opt_dec(d.get("trail_price")), trail_percent=_opt_dec(d.get("trail_percent")), hwm=_opt_dec(d.get("hwm")),
            remaining_quantity=_opt_dec(d.get("remaining_quantity")), avg_fill_price=_opt_dec(d.get("avg_fill_price")),
            batch_id=d.get("batch_id"), parent_order_id=d.get("parent_order_id"), leg=d.get("leg"),
            replaces=d.get("replaces"), replaced_by=d.get("replaced_by"),
        )


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A change of one order's state, as ``on_order`` hears it.

    ``status`` is the order's new state (accepted, partially_filled, filled, cancelled, expired, rejected,
    replaced), or ``cancel_rejected`` / ``replace_rejected`` when the server refused a cancel or replace
    (the order is unchanged). ``error_code`` and ``reason`` say why for rejections and refusals (and
    ``reason`` for cancellations and expiries). ``order`` is the server's view of the order; a rejected order
    never existed on the server, so its ``order`` is None and ``symbol``/``side``/``quantity`` come from the
    request."""

    order_id: str
    status: OrderStatus
    symbol: str
    side: Side
    quantity: Optional[Decimal]
    update_time: Optional[datetime] = None
    reason: Optional[str] = None
    error_code: Optional[str] = None
    order: Optional[Order] = None

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> OrderUpdate:
        order = Order.from_wire(d["order"])
        return OrderUpdate(order_id=d["order_id"], status=d["status"], symbol=order.symbol, side=order.side, quantity=order.quantity,
                           update_time=_opt_time(d.get("update_time")), reason=d.get("reason"), error_code=d.get("error_code"), order=order)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (``execution_report``); ``price``, ``quantity`` and ``time`` name the executed ones."""

    execution_id: str
    order_id: str
    symbol: str
    side: Side
    executed_quantity: Decimal
    executed_price: Decimal
    execution_time: datetime
    commission: Decimal
    slippage_bps: Decimal
    is_partial: bool
    remaining_quantity: Decimal
    fill_reason: str

    @property
    def price(self) -> Decimal:
        return self.executed_price

    @property
    def quantity(self) -> Decimal:
        return self.executed_quantity

    @property
    def time(self) -> datetime:
        return self.execution_time

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Fill:
        return Fill(execution_id=d["execution_id"], order_id=d["order_id"], symbol=d["symbol"], side=d["side"],
                    executed_quantity=to_decimal(d["executed_quantity"]), executed_price=to_decimal(d["executed_price"]),
                    execution_time=parse_time(d["execution_time"]), commission=to_decimal(d["commission"]),
                    slippage_bps=to_decimal(d["slippage_bps"]), is_partial=bool(d["is_partial"]),
                    remaining_quantity=to_decimal(d["remaining_quantity"]), fill_reason=d["fill_reason"])


@dataclass(frozen=True, slots=True)
class Position:
    """A holding (negative ``quantity`` for a short). ``position()`` of a symbol not held is all zeros."""

    symbol: str
    quantity: Decimal
    avg_cost: Decimal
    last_price: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal

    @staticmethod
    def flat(symbol: str) -> Position:
        zero = Decimal(0)
        return Position(symbol, zero, zero, zero, zero, zero)

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Position:
        return Position(symbol=d["symbol"], quantity=to_decimal(d["quantity"]), avg_cost=to_decimal(d["avg_cost"]),
                        last_price=to_decimal(d["last_price"]), market_value=to_decimal(d["market_value"]),
                        unrealized_pnl=to_decimal(d["unrealized_pnl"]))


@dataclass(frozen=True, slots=True)
class Account:
    """The latest account snapshot (after every fill by default; see ``account_update_frequency``)."""

    sim_time: datetime
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    day_pnl: Decimal
    realized_pnl: Decimal
    total_commission: Decimal
    positions: dict[str, Position]
    open_orders: int

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Account:
        return Account(sim_time=parse_time(d["sim_time"]), cash=to_decimal(d["cash"]), equity=to_decimal(d["equity"]),
                       buying_power=to_decimal(d["buying_power"]), day_pnl=to_decimal(d["day_pnl"]),
                       realized_pnl=to_decimal(d["realized_pnl"]), total_commission=to_decimal(d["total_commission"]),
                       positions={p["symbol"]: Position.from_wire(p) for p in d["positions"]}, open_orders=int(d["open_orders"]))


@dataclass(frozen=True, slots=True)
class Session:
    """A session (schemas/sessions.ts ``Session``); ``raw`` is the wire object as received."""

    session_id: str
    symbols: list[str]
    start_date: str
    end_date: str
    timeframe: str
    initial_capital: Decimal
    state: str
    estimated_ticks: int
    progress: Decimal
    error_message: Optional[str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Session:
        return Session(session_id=d["session_id"], symbols=list(d["symbols"]), start_date=d["start_date"], end_date=d["end_date"],
                       timeframe=d["timeframe"], initial_capital=to_decimal(d["initial_capital"]), state=d["state"],
                       estimated_ticks=int(d["estimated_ticks"]), progress=Decimal(d["progress"]),
                       error_message=d.get("error_message"), raw=dict(d))


@dataclass(frozen=True, slots=True)
class Results:
    """The run's metrics as ``simulation_complete`` carries them (``on_end``). Money is exact; the ratios
    are the server's numbers (None where undefined, e.g. no losing trade for the profit factor)."""

    session_id: str
    reason: str
    fill_policy_version: str
    initial_capital: Decimal
    final_equity: Decimal
    total_return_pct: Decimal
    cagr_pct: Optional[Decimal]
    total_trades: int
    winning_trades: int
    losing_trades: int
    win_rate: Optional[Decimal]
    profit_factor: Optional[Decimal]
    gross_profit: Decimal
    gross_loss: Decimal
    realized_pnl: Decimal
    total_commission: Decimal
    max_drawdown_pct: Decimal
    sharpe_ratio: Optional[Decimal]
    sortino_ratio: Optional[Decimal]
    calmar_ratio: Optional[Decimal]
    bars_processed: int
    trading_days: int

    @staticmethod
    def from_wire(d: Mapping[str, Any]) -> Results:
        def num(k: str) -> Optional[Decimal]:
            v = d.get(k)
            return None if v is None else Decimal(v)
        return Results(session_id=d["session_id"], reason=d["reason"], fill_policy_version=d["fill_policy_version"],
                       initial_capital=to_decimal(d["initial_capital"]), final_equity=to_decimal(d["final_equity"]),
                       total_return_pct=Decimal(d["total_return_pct"]), cagr_pct=num("cagr_pct"),
                       total_trades=int(d["total_trades"]), winning_trades=int(d["winning_trades"]), losing_trades=int(d["losing_trades"]),
                       win_rate=num("win_rate"), profit_factor=num("profit_factor"), gross_profit=to_decimal(d["gross_profit"]),
                       gross_loss=to_decimal(d["gross_loss"]), realized_pnl=to_decimal(d["realized_pnl"]),
                       total_commission=to_decimal(d["total_commission"]), max_drawdown_pct=Decimal(d["max_drawdown_pct"]),
                       sharpe_ratio=num("sharpe_ratio"), sortino_ratio=num("sortino_ratio"), calmar_ratio=num("calmar_ratio"),
                       bars_processed=int(d["bars_processed"]), trading_days=int(d["trading_days"]))
