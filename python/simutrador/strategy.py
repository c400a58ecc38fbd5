"""The strategy API: subclass :class:`Strategy`, override the callbacks you need (``on_start``,
``on_bar``, ``on_order``, ``on_fill``, ``on_end``; plain methods or ``async def``), and trade with the
helpers (``buy``, ``sell``, ``cancel``, ``replace``, ``position``, ``account``, ``closes``).

The model is nautilus_trader's (``on_start`` / ``on_bar`` / ``on_order_*`` / ``on_end``: one callback per
event kind, orders placed from any of them), not backtrader's single ``next()`` + ``notify_order``: the
server sends one bar per symbol and separate order and fill events, so a callback per event needs no
bookkeeping in between. What is backtrader's is the timing: an order placed while handling step *t* is
first tried on bar *t+1* (market orders at its open), and ``on_order`` / ``on_fill`` of bar *t+1* come
before ``on_bar`` of *t+1*. Orders, cancels and replaces are sent when the callback returns, in the order
they were made, before the tick is acknowledged; their outcome comes back through ``on_order``."""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Any, Awaitable, Mapping, Optional, Union

from .decimals import DecimalLike, money_arg, quantity_arg
from .models import (ORDER_TYPES, TIME_IN_FORCE, Account, Bar, Bracket, Fill, Order, OrderUpdate, Position,
                     Results, Session)

CallbackResult = Union[None, Awaitable[None]]

_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")
_SYMBOL = re.compile(r"^[A-Za-z0-9:/._-]{1,32}$")


def next_replace_id(order_id: str) -> str:
    """The id the server gives a replacing order: ``<id>-r1``, then ``-r2`` … along a chain."""
    m = re.match(r"^(.*)-r(\d+)$", order_id)
    return f"{order_id}-r1" if m is None else f"{m.group(1)}-r{int(m.group(2)) + 1}"


class StrategyContext:
    """What a running strategy's helpers work on: owned by the runner, one per run."""

    def __init__(self, session: Session, history_size: int, order_prefix: str) -> None:
        self.session = session
        self.account: Optional[Account] = None
        self.open_orders: dict[str, Order] = {}
        self.now: Optional[datetime] = None
        self.history_size = history_size
        self._bars: dict[str, deque[Bar]] = {}
        self._commands: list[tuple[str, Any]] = []
        self._order_prefix = order_prefix
        #: The step of the tick being handled (0 before the first): default order ids are made of it.
        self.step = 0
        self._order_step = 0
        self._order_seq = 0
        # What each order sent asked for, so a rejection can say which symbol, side and quantity it was.
        self.requested: dict[str, dict[str, Any]] = {}
        #: Set when the run is over: the account, positions and history stay readable, orders are refused.
        self.ended = False

    def record(self, bar: Bar) -> None:
        q = self._bars.get(bar.symbol)
        if q is None:
            q = self._bars[bar.symbol] = deque(maxlen=self.history_size)
        q.append(bar)

    def bars(self, symbol: str, n: int) -> list[Bar]:
        if n < 1 or n > self.history_size:
            raise ValueError(f"n must be 1..{self.history_size} (the strategy's history_size), got {n}")
        q = self._bars.get(symbol)
        if not q:
            return []
        return list(q)[-n:]

    def order_index(self) -> int:
        """The 1-based number of the order placed now among those placed at this step, ids given or not."""
        if self.step != self._order_step:
            self._order_step, self._order_seq = self.step, 0
        self._order_seq += 1
        return self._order_seq

    def new_order_id(self, index: int) -> str:
        """The TypeScript SDK's default id, `<last 6 of the session id>-<step>-<n>`: the same strategy
        sends the same ids from either SDK, and a strategy re-attached in a new process never repeats one."""
        return f"{self._order_prefix}-{self.step}-{index}"

    def queue(self, kind: str, payload: Any) -> None:
        if self.ended:
            raise RuntimeError("the run has ended: orders, cancels and replaces are no longer sent")
        self._commands.append((kind, payload))

    def take_commands(self) -> list[tuple[str, Any]]:
        out, self._commands = self._commands, []
        return out


class Strategy:
    """Base class of a strategy. Override the callbacks; use the helpers from any of them."""

    #: Bars kept per symbol for ``closes()`` / ``bars()``.
    history_size: int = 500

    _simutrador: Optional[StrategyContext] = None

    # ── callbacks ─────────────────────────────────────────────────────────────────────────────────────

    def on_start(self) -> CallbackResult:
        """Before the first bar (the session exists; no order can fill yet)."""

    def on_bar(self, bar: Bar) -> CallbackResult:
        """Each symbol's bar of a step, in the tick's symbol order, once its bar has closed."""

    def on_order(self, update: OrderUpdate) -> CallbackResult:
        """An order was accepted, partially filled, filled, cancelled, expired, replaced or rejected (with
        ``error_code`` and ``reason``), or a cancel/replace was refused (``cancel_rejected`` /
        ``replace_rejected``)."""

    def on_fill(self, fill: Fill) -> CallbackResult:
        """An execution (before the order's ``on_order`` update that follows it)."""

    def on_end(self, results: Results) -> CallbackResult:
        """The run finished; ``results`` are the server's metrics."""

    # ── helpers ───────────────────────────────────────────────────────────────────────────────────────

    @property
    def ctx(self) -> StrategyContext:
        ctx = self._simutrador
        if ctx is None:
            raise RuntimeError("this helper works only once the strategy runs (from its callbacks, or after its run)")
        return ctx

    @property
    def session(self) -> Session:
        return self.ctx.session

    @property
    def account(self) -> Optional[Account]:
        """The latest account snapshot (None before the first one)."""
        return self.ctx.account

    @property
    def now(self) -> Optional[datetime]:
        """The simulation time: the close of the step being handled."""
        return self.ctx.now

    @property
    def open_orders(self) -> Mapping[str, Order]:
        """Working orders (accepted or partially filled) by id, as the server last reported them."""
        return self.ctx.open_orders

    def position(self, symbol: str) -> Position:
        """The position in ``symbol`` (quantity 0 when flat), from the latest account snapshot."""
        account = self.ctx.account
        if account is not None:
            p = account.positions.get(symbol)
            if p is not None:
                return p
        return Position.flat(symbol)

    def closes(self, symbol: str, n: int) -> list[Decimal]:
        """The last ``n`` closes of ``symbol``, oldest first (fewer at the start of the run)."""
        return [b.close for b in self.ctx.bars(symbol, n)]

    def bars(self, symbol: str, n: int) -> list[Bar]:
        """The last ``n`` bars of ``symbol``, oldest first (fewer at the start of the run)."""
        return self.ctx.bars(symbol, n)

    def buy(self, symbol: str, qty: DecimalLike | None = None, *, type: str = "market", limit_price: DecimalLike | None = None,
            stop_price: DecimalLike | None = None, trail_percent: DecimalLike | None = None, trail_price: DecimalLike | None = None,
            time_in_force: str = "day", bracket: Bracket | Mapping[str, DecimalLike] | None = None,
            notional: DecimalLike | None = None, order_id: str | None = None) -> str:
        """Place a buy order; returns its order id. Sent when the callback returns; tried from the next bar."""
        return self._order("buy", symbol, qty, type, limit_price, stop_price, trail_percent, trail_price, time_in_force, bracket, notional, order_id)

    def sell(self, symbol: str, qty: DecimalLike | None = None, *, type: str = "market", limit_price: DecimalLike | None = None,
             stop_price: DecimalLike | None = None, trail_percent: DecimalLike | None = None, trail_price: DecimalLike | None = None,
             time_in_force: str = "day", bracket: Bracket | Mapping[str, DecimalLike] | None = None,
             notional: DecimalLike | None = None, order_id: str | None = None) -> str:
        """Place a sell order; returns its order id. Sent when the callback returns; tried from the next bar."""
        return self._order("sell", symbol, qty, type, limit_price, stop_price, trail_percent, trail_price, time_in_force, bracket, notional, order_id)

    def cancel(self, order_id: str) -> None:
        """Cancel a working order (sent when the callback returns). ``on_order`` hears ``cancelled``, or
        ``cancel_rejected`` with the server's error_code (e.g. the order had already filled)."""
        _check_id(order_id, "order_id")
        self.ctx.queue("cancel", order_id)

    def replace(self, order_id: str, *, qty: DecimalLike | None = None, limit_price: DecimalLike | None = None,
                stop_price: DecimalLike | None = None, trail_price: DecimalLike | None = None, trail_percent: DecimalLike | None = None,
                time_in_force: str | None = None, new_order_id: str | None = None) -> str:
        """Replace a working order that has nothing filled (as Alpaca's replace): the old one ends
        ``replaced`` and a new one (returned id, default ``<id>-r1``) takes its place with these changes."""
        _check_id(order_id, "order_id")
        changes: dict[str, Any] = {}
        if qty is not None:
            changes["quantity"] = _positive_quantity(qty)
        for name, wire, value in (("limit_price", "price", limit_price), ("stop_price", "stop_price", stop_price),
                                  ("trail_price", "trail_price", trail_price), ("trail_percent", "trail_percent", trail_percent)):
            if value is not None:
                changes[wire] = money_arg(value, name)
        if time_in_force is not None:
            changes["time_in_force"] = _choice(time_in_force, TIME_IN_FORCE, "time_in_force")
        new_id = new_order_id if new_order_id is not None else next_replace_id(order_id)
        _check_id(new_id, "new_order_id")
        changes["new_order_id"] = new_id
        self.ctx.queue("replace", (order_id, changes))
        return new_id

    def _order(self, side: str, symbol: str, qty: DecimalLike | None, type: str, limit_price: DecimalLike | None,
               stop_price: DecimalLike | None, trail_percent: DecimalLike | None, trail_price: DecimalLike | None,
               time_in_force: str, bracket: Bracket | Mapping[str, DecimalLike] | None, notional: DecimalLike | None,
               order_id: str | None) -> str:
        ctx = self.ctx
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise ValueError(f"symbol: {symbol!r} is not a symbol (1-32 of A-Z a-z 0-9 : / . _ -)")
        order: dict[str, Any] = {"order_id": "", "symbol": symbol, "side": side, "type": _choice(type, ORDER_TYPES, "type"),
                                 "time_in_force": _choice(time_in_force, TIME_IN_FORCE, "time_in_force")}
        if qty is not None:
            order["quantity"] = _positive_quantity(qty)
        if notional is not None:
            order["notional"] = money_arg(notional, "notional")
        for name, wire, value in (("limit_price", "price", limit_price), ("stop_price", "stop_price", stop_price),
                                  ("trail_price", "trail_price", trail_price), ("trail_percent", "trail_percent", trail_percent)):
            if value is not None:
                order[wire] = money_arg(value, name)
        if bracket is not None:
            b = bracket if isinstance(bracket, Bracket) else Bracket(**dict(bracket))
            order["take_profit"] = {"limit_price": money_arg(b.take_profit, "bracket.take_profit")}
            order["stop_loss"] = {"stop_price": money_arg(b.stop_loss, "bracket.stop_loss"),
                                  **({"limit_price": money_arg(b.stop_loss_limit, "bracket.stop_loss_limit")} if b.stop_loss_limit is not None else {})}
        index = ctx.order_index()
        oid = order_id if order_id is not None else ctx.new_order_id(index)
        _check_id(oid, "order_id")
        order["order_id"] = oid
        ctx.requested[oid] = order
        ctx.queue("order", order)
        return oid


def _check_id(value: str, name: str) -> None:
    if not isinstance(value, str) or not _ORDER_ID.match(value):
        raise ValueError(f"{name}: {value!r} must be 1-60 of A-Z a-z 0-9 _ . : -")


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} must be one of {', '.join(allowed)}")
    return value


def _positive_quantity(qty: DecimalLike) -> int | float:
    q = quantity_arg(qty, "qty")
    if q <= 0:
        raise ValueError(f"qty: must be positive, got {qty}")
    return q
