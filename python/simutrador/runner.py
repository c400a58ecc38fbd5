"""Runs a :class:`~simutrador.strategy.Strategy` against a session over a :class:`SessionClient`, with the
guarantees of the TypeScript SDK's client/strategy-runner.ts: it starts the simulation, hands every bar,
order update and fill to the strategy in order, sends what the strategy did (orders, cancels, replaces)
before acknowledging the tick (lockstep by default, or a window of unacknowledged ticks), and resumes after
a reconnect (to another instance too) without losing or repeating an event or an order: every event is
handled once by its sequence id, and a tick whose commands may not have reached the server is retaken
with the same ids instead of calling the strategy twice. When the strategy's own code raises, the server
is told (``strategy_error``, with the traceback) so the run ends in state ``error``, and a
:class:`StrategyError` carrying the original exception is raised."""

from __future__ import annotations

import asyncio
import inspect
import json
import traceback
import weakref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping, Optional

from .client import SessionClient, bucket_retry_after
from .events import Event
from .errors import ServerError, SimutradorError, StrategyError, client_error, server_error
from .models import Account, Bar, Fill, Order, OrderUpdate, Results, Session, parse_time
from .strategy import Strategy, StrategyContext

STRATEGY_ERROR_MESSAGE_MAX = 4096
STRATEGY_ERROR_STACK_MAX = 16384
STRATEGY_ERROR_REPLY_S = 5.0
# A resume refused for a passing reason (database or bus down, run moving between instances) is retried
# on the same connection up to this many times, backing off 0.25 s → 4 s.
RESUME_RETRIES = 10

ProgressCallback = Callable[[int, int, str], None]

_running: "weakref.WeakKeyDictionary[SessionClient, str]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class RunResult:
    session: Session
    results: Results
    ticks: int
    orders_sent: int


class _StrategyRaised(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _call(fn: Callable[..., Any], *args: Any) -> None:
    """One strategy callback (plain or async); what it raises comes out as _StrategyRaised."""
    try:
        r = fn(*args)
        if r is not None and inspect.isawaitable(r):
            await r
    except Exception as err:  # KeyboardInterrupt and the like are not the strategy's failures
        raise _StrategyRaised(err) from err


def _call_now(fn: Callable[..., Any], *args: Any) -> None:
    """A plain (not async) strategy callback, called where no await is possible (see _Run._handle_now)."""
    try:
        r = fn(*args)
    except Exception as err:
        raise _StrategyRaised(err) from err
    if r is not None and inspect.isawaitable(r):
        if inspect.iscoroutine(r):
            r.close()
        wrong = TypeError(f"{getattr(fn, '__name__', 'a callback')} returned an awaitable but is not declared `async def`")
        raise _StrategyRaised(wrong) from None


# Items the runner queues for itself behind the server's events (their types start with an underscore).
_CONTINUE = "_simutrador_continue"
_FAILED = "_simutrador_failed"


async def run_strategy(client: SessionClient, strategy: Strategy, session: str | Mapping[str, Any], *,
                       start: Mapping[str, Any] | None = None, on_progress: ProgressCallback | None = None,
                       progress_every: int = 250) -> RunResult:
    """Run ``strategy`` to the end of ``session`` (an id of a ready session, or a CreateSessionBody) and
    return the session, the results (``simulation_complete``), the ticks handled and the orders sent.
    ``start`` holds start_simulation options (``max_pending_ticks``, ``flow_control``,
    ``account_update_frequency``, ``include_bars``); lockstep is the default."""
    busy = _running.get(client)
    if busy is not None:
        raise client_error("RUN_IN_PROGRESS", f"This client is already running a strategy ({busy}); use one SessionClient per concurrent run",
                           details={"running": busy})
    _running[client] = session if isinstance(session, str) else "a new session"
    try:
        return await _Run(client, strategy, start or {}, on_progress, max(1, progress_every)).run(session)
    finally:
        _running.pop(client, None)


@dataclass(slots=True)
class _Retake:
    sequence_id: int
    commands: list[tuple[str, Any]]


class _Run:
    def __init__(self, client: SessionClient, strategy: Strategy, start: Mapping[str, Any],
                 on_progress: ProgressCallback | None, every: int) -> None:
        self.client = client
        self.strategy = strategy
        self.start = dict(start)
        self.on_progress = on_progress
        self.every = every
        self.last_seq = 0
        self.ticks = 0
        self.total = 0
        self.orders_sent = 0
        self.flow_control = True
        self.retake: Optional[_Retake] = None
        self.awaiting_resume = False
        # Rejections and refusals of a retaken tick's commands wait until the events the server had logged
        # before the resume (state_sync's last_sequence_id) are handled: when the first copy had reached the
        # server, its order updates are among them and the repeat's refusal ("already used") is dropped.
        self.deferred: list[OrderUpdate] = []
        self.deferred_until = 0
        self.rejected: set[str] = set()
        kind = type(strategy)
        self.wants_fill = kind.on_fill is not Strategy.on_fill
        self.wants_order = kind.on_order is not Strategy.on_order
        # Plain callbacks can run inside the connection's callback, without a task switch per event.
        self.now_ok = not any(inspect.iscoroutinefunction(getattr(kind, m)) for m in ("on_bar", "on_fill", "on_order"))
        self.failed = False
        self.session_id = ""
        self.ack_prefix = ""
        #: The step of the last tick_ack sent (sent again when the message bucket refuses it).
        self.last_ack: Optional[int] = None
        self.ctx: StrategyContext

    async def run(self, spec: str | Mapping[str, Any]) -> RunResult:
        client = self.client
        wire = await (client.get_session(spec) if isinstance(spec, str) else client.create_session(spec))
        session = Session.from_wire(wire)
        self.session_id = sid = session.session_id
        # Every tick is acknowledged: the frame is built from a template instead of serialised each time.
        self.ack_prefix = '{"type":"tick_ack","data":{"session_id":' + json.dumps(sid) + ',"sequence_id":'
        self.total = session.estimated_ticks
        self.ctx = StrategyContext(session, max(1, int(self.strategy.history_size)), sid[-6:])
        self.strategy._simutrador = self.ctx
        events = client.events()
        try:
            await _call(self.strategy.on_start)
            started = await client.request("start_simulation", {"session_id": sid, **self.start}, "simulation_started", timeout=60)
            self.total = int(started["total_ticks"])
            self.flow_control = bool(started["flow_control"])
            if self.now_ok:
                events.direct = self._handle_now
            async for event in events:
                kind = event["type"]
                if kind == _CONTINUE:
                    await self._tick_tail(*event["data"])
                    continue
                if kind == _FAILED:
                    raise event["data"]
                if kind == "connected":
                    if event["data"]["reconnected"]:
                        done = await self._resume()
                        if done is not None:
                            return await self._finish(done)
                    continue
                if self.awaiting_resume:
                    continue
                # The only messages without a request_id sent here are tick_acks: one the server's message
                # bucket refused unread is sent again when it says (an ack repeats harmlessly).
                if kind == "error" and event.get("request_id") is None and self._ack_refused(event.get("data") or {}):
                    continue
                # Errors answering a request fail that request; one without a request_id ends the run.
                if (kind == "session_error" or kind == "error") and event.get("request_id") is None:
                    raise server_error(event.get("data") or {}, source=kind)
                done = await self._handle(event)
                if done is not None:
                    return await self._finish(done)
            raise client_error("CLIENT_CLOSED", "The client closed before the simulation completed")
        except _StrategyRaised as raised:
            raise await self._strategy_failed(raised.error) from raised.error
        finally:
            events.close()
            self.ctx.ended = True

    # ── events ────────────────────────────────────────────────────────────────────────────────────────

    async def _handle(self, event: Event) -> Optional[dict[str, Any]]:
        """Handle one event once (by its sequence id); the simulation_complete data when the run is over."""
        seq = event.get("sequence_id")
        before = self.last_seq
        if seq is not None:
            if seq <= before:
                return None
            self.last_seq = seq
        done = await self._dispatch(event, seq, before)
        if self.deferred and self.last_seq >= self.deferred_until:
            await self._release_deferred()
        return done

    async def _dispatch(self, event: Event, seq: Optional[int], before: int) -> Optional[dict[str, Any]]:
        kind = event["type"]
        data = event["data"]
        if kind == "tick":
            if data["session_id"] == self.session_id:
                await self._tick(data, seq, before)
        elif kind == "execution_report":
            if self.wants_fill:
                await _call(self.strategy.on_fill, Fill.from_wire(data))
        elif kind == "order_update":
            await self._order_update(data)
        elif kind == "account_snapshot":
            self.ctx.account = Account.from_wire(data)
        elif kind == "simulation_complete" and data["session_id"] == self.session_id:
            await self._release_deferred()
            return data  # type: ignore[no-any-return]
        return None

    async def _tick(self, tick: dict[str, Any], seq: Optional[int], before: int) -> None:
        step = int(tick["sequence_id"])
        self.ticks = step
        connection = self.client.connection_count
        retaking = self.retake is not None and self.retake.sequence_id == seq
        if retaking:
            assert self.retake is not None
            commands, self.retake = self.retake.commands, None
        else:
            on_bar = self.strategy.on_bar
            for bar in self._bars(tick, step):
                await _call(on_bar, bar)
            commands = self.ctx.take_commands()
        await self._tick_tail(commands, step, seq, before, connection, retaking)

    async def _tick_tail(self, commands: list[tuple[str, Any]], step: int, seq: Optional[int], before: int,
                         connection: int, retaking: bool = False) -> None:
        """What the strategy did while handling the tick goes out, then the acknowledgement."""
        client = self.client
        if commands:
            # Dropped (and maybe reconnected) while the strategy ran: send nothing before the resume.
            if seq is not None and (client.connection_count != connection or client.state != "open"):
                self._take_back(seq, before, commands)
                return
            left = await self._send_commands(commands, step, retaking)
            if left is not None:
                if seq is None or client.state == "closed":
                    raise client_error("CONNECTION_LOST", "The connection dropped before the commands of a replayed tick were acknowledged")
                self._take_back(seq, before, left)
                return
        self._acked(step)

    def _ack_refused(self, err: dict[str, Any]) -> bool:
        wait = bucket_retry_after(err)
        if wait is None:
            return False
        step = self.last_ack
        if step is not None:
            asyncio.get_running_loop().call_later(wait, lambda: self.client.send_raw(f"{self.ack_prefix}{step}{_ACK_SUFFIX}"))
        return True

    def _acked(self, step: int) -> None:
        if self.flow_control:
            self.last_ack = step
            self.client.send_raw(f"{self.ack_prefix}{step}{_ACK_SUFFIX}")
        if self.on_progress is not None and (step % self.every == 0 or step == self.total):
            self.on_progress(step, self.total, self.session_id)

    def _bars(self, tick: dict[str, Any], step: int) -> list[Bar]:
        """The tick's bars, recorded in the history before any strategy callback sees one of them."""
        bars = tick.get("bars")
        sim_time = parse_time(tick["sim_time"])
        ctx = self.ctx
        ctx.now = sim_time
        ctx.step = step
        if not bars:
            return []
        is_eod = bool(tick["is_eod"])
        made = []
        for symbol, b in bars.items():
            bar = Bar(symbol, parse_time(b["timestamp"]), b["session_date"], _dec(b["open"]), _dec(b["high"]), _dec(b["low"]),
                      _dec(b["close"]), _dec(b["volume"]), sim_time, is_eod, step)
            ctx.record(bar)
            made.append(bar)
        return made

    def _handle_now(self, event: Event) -> Optional[Event]:
        """Handle a run event in the connection's own callback when that needs no await, the lockstep common
        case: a tick whose plain ``on_bar`` placed nothing is acknowledged at once, without the task switch
        of the queue. Returns None when done, else what to queue for the async loop (the event itself, or
        the rest of its work): only called while that loop waits on an empty queue, so order is kept."""
        if self.awaiting_resume or self.retake is not None or self.deferred or self.failed:
            return event
        kind = event["type"]
        seq = event.get("sequence_id")
        if seq is None or kind not in ("tick", "execution_report", "order_update", "account_snapshot"):
            return event
        if seq <= self.last_seq:
            return None  # already handled
        data = event["data"]
        if kind == "tick" and data["session_id"] != self.session_id:
            return event
        before, self.last_seq = self.last_seq, seq
        try:
            if kind == "tick":
                step = int(data["sequence_id"])
                self.ticks = step
                for bar in self._bars(data, step):
                    _call_now(self.strategy.on_bar, bar)
                commands = self.ctx.take_commands()
                if commands:
                    return {"type": _CONTINUE, "data": (commands, step, seq, before, self.client.connection_count)}
                self._acked(step)
            elif kind == "execution_report":
                if self.wants_fill:
                    _call_now(self.strategy.on_fill, Fill.from_wire(data))
            elif kind == "order_update":
                update = self._order_update_seen(data)
                if update is not None and self.wants_order:
                    _call_now(self.strategy.on_order, update)
            else:
                self.ctx.account = Account.from_wire(data)
        except Exception as err:  # the strategy's (_StrategyRaised) or the SDK's: the async loop raises it
            self.failed = True
            return {"type": _FAILED, "data": err}
        return None

    def _take_back(self, seq: int, before: int, commands: list[tuple[str, Any]]) -> None:
        """Resume from just before this tick; when the server sends it again, the same commands go out."""
        self.retake = _Retake(seq, commands)
        self.last_seq = before
        self.awaiting_resume = True

    async def _order_update(self, data: dict[str, Any]) -> None:
        update = self._order_update_seen(data)
        if update is not None and self.wants_order:
            await _call(self.strategy.on_order, update)

    def _order_update_seen(self, data: dict[str, Any]) -> Optional[OrderUpdate]:
        """Track the order; the update to hand to on_order, or None when it was already heard."""
        update = OrderUpdate.from_wire(data)
        order_id = update.order_id
        order = update.order
        if order is not None and order.is_open:
            self.ctx.open_orders[order_id] = order
        else:
            self.ctx.open_orders.pop(order_id, None)
        if self.deferred:
            # The server has this order (or saw this cancel/replace): the retaken repeat's refusal is moot.
            self.deferred = [d for d in self.deferred if d.order_id != order_id]
        if update.status == "rejected":
            if order_id in self.rejected:
                return None  # already heard from batch_ack
            self.rejected.add(order_id)
        return update

    async def _release_deferred(self) -> None:
        pending, self.deferred = self.deferred, []
        for update in pending:
            if update.status == "rejected":
                self.rejected.add(update.order_id)
            if self.wants_order:
                await _call(self.strategy.on_order, update)

    # ── commands ──────────────────────────────────────────────────────────────────────────────────────

    async def _send_commands(self, commands: list[tuple[str, Any]], step: int, retaking: bool) -> Optional[list[tuple[str, Any]]]:
        """Send the commands in order (consecutive orders as one batch); None when all were answered, else
        those whose answer did not arrive (the connection dropped)."""
        i = 0
        batch_n = 0
        while i < len(commands):
            kind, payload = commands[i]
            if kind == "order":
                j = i
                while j < len(commands) and commands[j][0] == "order" and j - i < 500:
                    j += 1
                orders = [c[1] for c in commands[i:j]]
                batch_n += 1
                batch_id = f"b{step}" if batch_n == 1 else f"b{step}-{batch_n}"
                if not await self._send_batch(batch_id, orders, retaking):
                    return commands[i:]
                i = j
                continue
            if not await self._send_control(kind, payload, retaking):
                return commands[i:]
            i += 1
        return None

    async def _send_batch(self, batch_id: str, orders: list[dict[str, Any]], retaking: bool) -> bool:
        try:
            ack = await self.client.request("order_batch", {"session_id": self.session_id, "batch_id": batch_id, "orders": orders}, "batch_ack",
                                            wait_for_connection=False)
        except ServerError as err:
            # The whole batch was refused (the run has just completed, the plan's orders_per_minute…): each
            # of its orders is rejected, with the server's code and message; nothing changed.
            ack = {"rejected_orders": [{"order_id": o["order_id"], "error_code": err.error_code, "reason": err.message} for o in orders]}
        except SimutradorError as err:
            if err.error_code == "CONNECTION_LOST" and self.client.state != "closed":
                return False
            raise
        if not retaking:
            self.orders_sent += len(orders)
        for r in ack.get("rejected_orders", []):
            order_id = r["order_id"]
            asked = self.ctx.requested.get(order_id, {})
            qty = asked.get("quantity")
            update = OrderUpdate(order_id=order_id, status="rejected", symbol=asked.get("symbol", ""), side=asked.get("side", "buy"),
                                 quantity=None if qty is None else Decimal(str(qty)), update_time=self.ctx.now,
                                 reason=r.get("reason"), error_code=r.get("error_code"))
            await self._refused(update, retaking)
        for o in orders:
            self.ctx.requested.pop(o["order_id"], None)
        return True

    async def _send_control(self, kind: str, payload: Any, retaking: bool) -> bool:
        sid = self.session_id
        if kind == "cancel":
            order_id, data, refused = payload, {"session_id": sid, "order_id": payload}, "cancel_rejected"
        else:
            order_id, changes = payload
            data, refused = {"session_id": sid, "order_id": order_id, **changes}, "replace_rejected"
        try:
            await self.client.request(f"{kind}_order", data, "order_update", wait_for_connection=False)
        except ServerError as err:
            known: Optional[Order] = self.ctx.open_orders.get(order_id)
            await self._refused(OrderUpdate(order_id=order_id, status=refused, symbol=known.symbol if known else "",  # type: ignore[arg-type]
                                            side=known.side if known else "buy", quantity=known.quantity if known else None,
                                            update_time=self.ctx.now, reason=err.message, error_code=err.error_code, order=known), retaking)
        except SimutradorError as err:
            if err.error_code == "CONNECTION_LOST" and self.client.state != "closed":
                return False
            raise
        return True

    async def _refused(self, update: OrderUpdate, retaking: bool) -> None:
        if retaking:
            self.deferred.append(update)
            return
        if update.status == "rejected":
            self.rejected.add(update.order_id)
        if self.wants_order:
            await _call(self.strategy.on_order, update)

    # ── resume and end ────────────────────────────────────────────────────────────────────────────────

    async def _resume(self) -> Optional[dict[str, Any]]:
        """Take the stream back after a reconnect; handle what was missed, each event once."""
        self.awaiting_resume = False
        sync: Any = None
        for attempt in range(RESUME_RETRIES + 1):
            try:
                sync = await self.client.request("resume_session", {"session_id": self.session_id, "last_processed_sequence_id": self.last_seq},
                                                 "state_sync", timeout=60)
                break
            except SimutradorError as err:
                # This connection dropped too: the next one resumes.
                if err.error_code == "CONNECTION_LOST" and self.client.state != "closed":
                    self.awaiting_resume = True
                    return None
                if not err.retriable or attempt >= RESUME_RETRIES or self.client.state == "closed":
                    raise
                await asyncio.sleep(min(4.0, 0.25 * 2 ** attempt))
        self.ctx.account = Account.from_wire(sync["account"])
        self.deferred_until = int(sync["last_sequence_id"])
        for missed in sync["missed_events"]:
            done = await self._handle(missed)
            if done is not None:
                return done
            if self.awaiting_resume:
                break
        return None

    async def _finish(self, complete: dict[str, Any]) -> RunResult:
        results = Results.from_wire(complete)
        await _call(self.strategy.on_end, results)
        if self.on_progress is not None:
            self.on_progress(self.ticks, self.total, self.session_id)
        session = Session.from_wire(await self.client.get_session(self.session_id))
        return RunResult(session=session, results=results, ticks=self.ticks, orders_sent=self.orders_sent)

    async def _strategy_failed(self, error: Exception) -> StrategyError:
        """Tell the server (best effort, bounded): the run ends in state error with the message."""
        # The server refuses NUL in any string (PostgreSQL cannot store it): it becomes U+FFFD, as in the TS SDK.
        text = str(error).replace("\x00", "\ufffd")
        message = (f"{type(error).__name__}: {text}" if text else type(error).__name__)[:STRATEGY_ERROR_MESSAGE_MAX]
        stack = "".join(traceback.format_exception(error)).replace("\x00", "\ufffd")
        # The end of a Python traceback is its point: keep the last frames and the exception line.
        sent = stack[-STRATEGY_ERROR_STACK_MAX:]
        try:
            await self.client.request("strategy_error", {"session_id": self.session_id, "message": message, "stack": sent},
                                      "session_info", timeout=STRATEGY_ERROR_REPLY_S)
        except SimutradorError:
            pass  # the server may be gone or the run over; the strategy's error is what the caller must see
        return StrategyError(message, error, stack, session_id=self.session_id)


_ACK_SUFFIX = ',"processing_status":"ready"}}'


def _dec(v: Any) -> Decimal:
    return v if type(v) is Decimal else Decimal(v)
