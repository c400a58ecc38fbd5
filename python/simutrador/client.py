"""SessionClient: the SDK over the WebSocket ``/ws/simulate``, as the TypeScript SDK's
client/session-client.ts. It turns an API key into tokens (renewed before they expire), correlates replies
by ``request_id`` with a per-request timeout, raises typed exceptions carrying the server's ``error_code``,
keeps the connection alive with pings and reconnects with exponential backoff and full jitter when it drops.
Given several URLs (instances of one service) the first connect takes the first that answers and every
reconnect moves on to the next. Server frames (and the client's own ``connected`` / ``disconnected`` /
``reconnecting`` events) come out of :meth:`SessionClient.events` in arrival order.

The connection itself (transport.py) is websockets' Sans-I/O protocol, the same in websockets 10.4
(Debian's python3-websockets) and later releases, driven by an asyncio Protocol: frames are dispatched in
the transport's callback instead of through two tasks per message."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Literal, Mapping, Optional, Sequence
from urllib.parse import quote

from websockets.exceptions import InvalidURI

from .decimals import dumps, loads
from .errors import SimutradorError, client_error, server_error
from .events import BACKLOG_HIGH, Event, EventStream
from .rest import TokenCache
from .transport import HandshakeRefused, WsConnection
from .urls import ServerUrl, UrlRotation, parse_server_urls

log = logging.getLogger("simutrador")

CLOSE_TOKEN_EXPIRED = 4001
CLOSE_NORMAL = 1000
#: Largest frame accepted (state_sync pages are about 1 MiB; websockets' own default, 1 MiB, is too small).
MAX_FRAME_BYTES = 32 * 2**20

ConnectionState = Literal["idle", "connecting", "open", "reconnecting", "closed"]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """The n-th attempt of an outage waits a random time in [0, min(max_delay, base_delay·2ⁿ⁻¹)] seconds."""

    base_delay: float = 0.25
    max_delay: float = 10.0
    max_attempts: Optional[int] = None


def bucket_retry_after(err: Mapping[str, Any]) -> Optional[float]:
    """Seconds to wait before sending again a message the server's message bucket refused unread, or None
    when ``err`` is not such a refusal (another RATE_LIMIT_EXCEEDED, e.g. orders_per_minute, is an answer)."""
    details = err.get("details")
    if err.get("error_code") != "RATE_LIMIT_EXCEEDED" or not isinstance(details, dict) or details.get("limit_name") != "ws_messages_per_second":
        return None
    ms = err.get("retry_after_ms")
    return float(ms) / 1000 if isinstance(ms, (int, float, Decimal)) and ms > 0 else 0.001


@dataclass(slots=True)
class _Pending:
    request_id: str
    type: str
    data: Any
    reply_type: str
    idempotent: bool
    future: asyncio.Future[Any]
    sent: bool = False


class _ConnectFailure(Exception):
    def __init__(self, error: SimutradorError, status: Optional[int]) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


class SessionClient:
    """One WebSocket connection to SimuTrador (and its replacements after drops)."""

    def __init__(self, url: str | Sequence[str], *, api_key: str | None = None, access_token: str | None = None,
                 request_timeout: float = 10.0, reconnect: ReconnectPolicy | None = ReconnectPolicy(),
                 ping_interval: float | None = None, token_refresh_margin: float = 30.0) -> None:
        self._urls: UrlRotation[ServerUrl] = UrlRotation(parse_server_urls(url, "url"))
        self._tokens = TokenCache(api_key, access_token, token_refresh_margin)
        self.request_timeout = request_timeout
        self._reconnect = reconnect
        self._ping_interval = ping_interval
        self._id_prefix = secrets.token_hex(4)
        self._next_id = 1
        self._state: ConnectionState = "idle"
        self._ws: Optional[WsConnection] = None
        self._loop: Any = None
        self._paused = False
        self._ready: Optional[dict[str, Any]] = None
        self._last_inbound = 0.0
        self._pending: dict[str, _Pending] = {}
        self._sinks: set[EventStream] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wake: Optional[asyncio.Event] = None
        self._connect_lock = asyncio.Lock()
        #: Connections made so far (the first and every reconnect).
        self.connection_count = 0
        # Until when (loop time) the server's message bucket asked us to send nothing (bucket_refused).
        self._bucket_until = 0.0
        self._bucket_timer: Optional[asyncio.TimerHandle] = None

    # ── public ────────────────────────────────────────────────────────────────────────────────────────

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def connection_info(self) -> Optional[dict[str, Any]]:
        """The server's greeting of the current connection (user, plan, limits, expiry)."""
        return self._ready

    @property
    def url(self) -> str:
        """The server URL (as given) of the current connection, or of the attempt in progress."""
        return self._urls.current.url

    @property
    def http_url(self) -> str:
        """The HTTP base of the current server (``http://host:port/``)."""
        return self._urls.current.http

    async def token(self) -> str:
        """A valid access token for REST calls to the current server."""
        return await self._tokens.get(self._urls.current.http, self.request_timeout)

    async def __aenter__(self) -> SessionClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> dict[str, Any]:
        """Open the connection (token, upgrade, ``connection_ready``); idempotent while open."""
        async with self._connect_lock:
            if self._state == "closed":
                raise client_error("CLIENT_CLOSED", "The client was closed")
            if self._state == "open" and self._ready is not None:
                return self._ready
            self._state = "connecting"
            try:
                ready = await self._open_first()
            except _ConnectFailure as failure:
                if self._state == "connecting":
                    self._state = "idle"
                raise failure.error from None
            except BaseException:
                if self._state == "connecting":
                    self._state = "idle"
                raise
            if self._state != "connecting":
                await self._drop_socket()
                raise client_error("CLIENT_CLOSED", "The client was closed while connecting")
            self._connected(ready, reconnected=False)
            return ready

    async def request(self, type: str, data: Any, reply_type: str, *, timeout: float | None = None,
                      idempotent: bool = False, wait_for_connection: bool = True) -> Any:
        """Send ``type`` with ``data`` and return the ``data`` of the reply of ``reply_type`` that echoes its
        request_id; raise the server's error, REQUEST_TIMEOUT, or CONNECTION_LOST (a non-idempotent request
        whose connection dropped before the reply may or may not have been applied). While reconnecting,
        the request waits (its timeout running) and is sent once the connection is back; with
        ``wait_for_connection=False`` it fails with CONNECTION_LOST instead (a run's orders must not reach a
        new connection before the run was resumed there)."""
        if self._state == "closed":
            raise client_error("CLIENT_CLOSED", "The client was closed")
        if self._state == "idle":
            raise client_error("NOT_CONNECTED", "Call connect() before sending requests")
        request_id = f"{self._id_prefix}-{self._next_id}"
        self._next_id += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        wait = self.request_timeout if timeout is None else timeout
        pending = _Pending(request_id, type, data, reply_type, idempotent, future)
        self._pending[request_id] = pending
        if self._paused:
            self._resume_reading()

        def expire() -> None:
            if not future.done():
                future.set_exception(client_error("REQUEST_TIMEOUT", f"No reply to '{type}' within {wait:g} s", request_id=request_id))
        timer = loop.call_later(wait, expire)
        try:
            if self._state == "open":
                await self._send_pending(pending)
            if not pending.sent and not wait_for_connection:
                raise client_error("CONNECTION_LOST", f"No open connection to send '{type}' on", request_id=request_id)
            return await future
        finally:
            timer.cancel()
            self._pending.pop(request_id, None)

    async def send(self, type: str, data: Any) -> bool:
        """Send a message that has no reply (an acknowledgement) on the current connection; False when there
        is none (nothing is queued: a late acknowledgement is worse than none)."""
        return self._send_text(dumps({"type": type, "data": data}))

    def send_raw(self, text: str) -> bool:
        """``send`` of a message already serialised as JSON text (the runner's per-tick acknowledgement)."""
        return self._send_text(text)

    def events(self) -> EventStream:
        """Every event from now on: server frames ``{type, data, request_id?, sequence_id?, timestamp}`` and
        the client's ``connected`` / ``disconnected`` / ``reconnecting``."""
        stream = EventStream(self._sinks.discard, self._drained)
        if self._state == "closed":
            stream.end()
        else:
            self._sinks.add(stream)
        return stream

    async def close(self) -> None:
        """Close for good: no reconnect; pending requests fail with CLIENT_CLOSED; event streams end."""
        if self._state == "closed":
            return
        self._state = "closed"
        if self._wake is not None:
            self._wake.set()
        self._fail_pending(lambda p: True, lambda p: client_error("CLIENT_CLOSED", "The client was closed", request_id=p.request_id))
        await self._drop_socket()
        for task in list(self._tasks):
            task.cancel()
        self._emit("disconnected", {"code": CLOSE_NORMAL, "reason": "client closed", "will_reconnect": False, "url": self.url})
        for sink in list(self._sinks):
            sink.end()

    # ── session helpers ───────────────────────────────────────────────────────────────────────────────

    async def create_session(self, params: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Create a session (state ``ready``). The idempotency key makes it safe to re-send after a drop."""
        body = {**params, "idempotency_key": idempotency_key or str(uuid.uuid4())}
        return await self.request("create_session", body, "session_created", idempotent=True)  # type: ignore[no-any-return]

    async def get_session(self, session_id: str) -> dict[str, Any]:
        return await self.request("get_session", {"session_id": session_id}, "session_info", idempotent=True)  # type: ignore[no-any-return]

    async def delete_session(self, session_id: str) -> dict[str, Any]:
        return await self.request("delete_session", {"session_id": session_id}, "session_deleted")  # type: ignore[no-any-return]

    # ── connection ────────────────────────────────────────────────────────────────────────────────────

    async def _open_first(self) -> dict[str, Any]:
        """Each URL in order until one answers; a refusal every instance would repeat (a bad key) ends it."""
        failures: list[tuple[str, _ConnectFailure]] = []
        n = len(self._urls.entries)
        for i in range(n):
            target = self._urls.reset() if i == 0 else self._urls.advance()
            try:
                return await self._open_renewing()
            except _ConnectFailure as failure:
                if not failure.error.retriable or self._state != "connecting" or n == 1:
                    raise
                failures.append((target.url, failure))
        last = failures[-1][1]
        summary = "; ".join(f"{u}: {f.error.error_code}: {f.error.message}" for u, f in failures)
        # The last failure's own type (ConnectionLostError, ServerError…), naming every attempt.
        err = type(last.error)(last.error.error_code, f"None of the {n} server URLs answered ({summary})",
                               details={**last.error.details, "attempts": [{"url": u, "error_code": f.error.error_code, "message": f.error.message} for u, f in failures]},
                               source=last.error.source, retriable=last.error.retriable)
        raise _ConnectFailure(err, last.status)

    async def _open_renewing(self) -> dict[str, Any]:
        try:
            return await self._open()
        except _ConnectFailure as failure:
            if failure.status != 401 or self._tokens.api_key is None:
                raise
            self._tokens.invalidate()
            return await self._open()

    async def _open(self) -> dict[str, Any]:
        """One attempt at the current URL: token, upgrade, ``connection_ready``."""
        target = self._urls.current
        try:
            token = await self._tokens.get(target.http, self.request_timeout)
        except SimutradorError as err:
            status = err.http_status
            # A refused key is refused again; no answer or a 5xx may answer later, and another instance now.
            retriable = err.source == "client" or err.error_code == "RATE_LIMIT_EXCEEDED" or (isinstance(status, int) and status >= 500)
            err.retriable = retriable
            if err.source == "client":
                err.message = f"Cannot get a token from {target.http}: {err.message}"
            raise _ConnectFailure(err, status) from err
        conn = WsConnection(f"{target.ws}?token={quote(token, safe='')}", MAX_FRAME_BYTES)
        try:
            await conn.open(self.request_timeout)
        except HandshakeRefused as err:
            raise self._refused(err, target) from err
        except (OSError, asyncio.TimeoutError, InvalidURI) as err:
            raise _ConnectFailure(client_error("CONNECTION_FAILED", f"Cannot connect to {target.ws}: {err or type(err).__name__}"), None) from err
        ready = await self._greeting(conn)
        self._attach(conn)
        self._ready = ready
        return ready

    async def _greeting(self, conn: WsConnection) -> dict[str, Any]:
        """Wait for ``connection_ready``, the server's first frame; frames after it stay queued in the connection."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[dict[str, Any]] = loop.create_future()
        closed: asyncio.Future[tuple[int, str]] = loop.create_future()
        early = conn.early

        def look(text: str) -> None:
            early.append(text)
            if arrived.done():
                return
            try:
                frame = loads(text)
            except ValueError:
                return
            if isinstance(frame, dict) and frame.get("type") == "connection_ready":
                early.clear()
                arrived.set_result(frame["data"])
        for text in list(early):
            early.remove(text)
            look(text)
        def gone(code: int, reason: str) -> None:
            if not closed.done():
                closed.set_result((code, reason))
        conn.on_text = look
        conn.on_close = gone
        try:
            waits: list[asyncio.Future[Any]] = [arrived, closed]
            done, _ = await asyncio.wait(waits, timeout=self.request_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            conn.on_text = early.append
        if arrived in done:
            return arrived.result()
        conn.abort()
        if closed in done:
            code, reason = closed.result()
            raise _ConnectFailure(client_error("CONNECTION_FAILED", f"Connection closed before connection_ready ({code} {reason})"), None)
        raise _ConnectFailure(client_error("CONNECTION_FAILED", f"No connection_ready within {self.request_timeout:g} s"), None)

    def _refused(self, err: HandshakeRefused, target: ServerUrl) -> _ConnectFailure:
        """The upgrade was refused with an HTTP status and an error body ({error_code, message, details})."""
        status = err.status
        body: Any = None
        if err.body:
            try:
                body = loads(err.body.decode("utf-8", errors="replace"))
            except ValueError:
                body = None
        if isinstance(body, dict) and isinstance(body.get("error_code"), str):
            error: SimutradorError = server_error(body, source="http")
        elif status is None:
            return _ConnectFailure(client_error("CONNECTION_FAILED", f"Cannot connect to {target.ws}: {err}"), None)
        else:
            error = server_error({"error_code": "CONNECTION_FAILED", "message": f"Upgrade refused with HTTP {status}"}, source="http")
        error.http_status = status
        error.retriable = status != 401 or self._tokens.api_key is not None
        return _ConnectFailure(error, status)

    def _attach(self, conn: WsConnection) -> None:
        self._ws = conn
        self._paused = False
        self._loop = loop = asyncio.get_running_loop()
        self._last_inbound = loop.time()
        early = list(conn.early)
        conn.early.clear()
        conn.on_text = self._on_text
        conn.on_close = lambda code, reason: self._on_closed(conn, code, reason)
        for text in early:
            self._on_text(text)

    def _connected(self, ready: dict[str, Any], *, reconnected: bool) -> None:
        self._state = "open"
        self.connection_count += 1
        self._start_ping(ready)
        for p in list(self._pending.values()):
            if not p.sent:
                self._spawn(self._send_pending(p))
        self._emit("connected", {"reconnected": reconnected, "ready": ready, "url": self.url})

    def _on_text(self, text: str) -> None:
        """Every inbound message, in the connection's own callback: parsed once and dispatched."""
        self._last_inbound = self._loop.time()
        try:
            frame = loads(text)
        except ValueError:
            return
        if isinstance(frame, dict) and isinstance(frame.get("type"), str):
            try:
                self._on_frame(frame)
            except Exception:  # a bug here must not take the connection down with it
                log.exception("simutrador: handling a %s frame failed", frame.get("type"))

    def _on_frame(self, frame: Event) -> None:
        request_id = frame.get("request_id")
        if request_id is not None:
            pending = self._pending.get(request_id)
            if pending is not None and not pending.future.done():
                kind = frame["type"]
                if kind == pending.reply_type:
                    pending.future.set_result(frame.get("data"))
                    self._bucket_answered()
                elif kind == "error" and self._send_again_later(pending, frame.get("data") or {}):
                    pass  # refused unread by the server's message bucket: sent again when it says
                elif kind in ("session_error", "error"):
                    pending.future.set_exception(server_error(frame.get("data") or {}, source=kind, request_id=request_id))
        for sink in self._sinks:
            sink.push(frame)
            if sink.backlog > BACKLOG_HIGH and not self._pending and self._ws is not None:
                self._paused = True
                self._ws.pause_reading()

    def _drained(self) -> None:
        if self._paused:
            self._resume_reading()

    def _resume_reading(self) -> None:
        self._paused = False
        if self._ws is not None:
            self._ws.resume_reading()

    def _on_closed(self, ws: WsConnection, code: int, reason: str) -> None:
        if self._ws is not ws:
            return
        self._ws = None
        if self._state == "closed":
            return
        will_reconnect = self._reconnect is not None
        self._fail_pending(
            lambda p: p.sent and (not p.idempotent or not will_reconnect),
            lambda p: client_error("CONNECTION_LOST", f"Connection lost ({code}) before the reply to '{p.type}'; it may or may not have been applied",
                                   request_id=p.request_id, details={"close_code": code}),
        )
        for p in self._pending.values():
            p.sent = False
        if code == CLOSE_TOKEN_EXPIRED:
            self._tokens.invalidate()
        self._emit("disconnected", {"code": code, "reason": reason, "will_reconnect": will_reconnect, "url": self.url})
        if not will_reconnect:
            self._state = "closed"
            self._fail_pending(lambda p: True, lambda p: client_error("CONNECTION_LOST", f"Connection lost ({code})", request_id=p.request_id))
            for sink in list(self._sinks):
                sink.end()
            return
        self._state = "reconnecting"
        self._spawn(self._reconnect_loop(code))

    async def _reconnect_loop(self, close_code: int) -> None:
        policy = self._reconnect
        assert policy is not None
        last_error: Optional[SimutradorError] = None
        attempt = 0
        while self._state == "reconnecting":
            attempt += 1
            if policy.max_attempts is not None and attempt > policy.max_attempts:
                self._give_up(last_error or client_error("CONNECTION_LOST", "Reconnect attempts exhausted"))
                return
            # An expired token: at once, to the same (alive) instance. Any other drop may mean the instance
            # died: each attempt goes to the next URL.
            renewal = attempt == 1 and close_code == CLOSE_TOKEN_EXPIRED
            target = self._urls.current if renewal else self._urls.advance()
            delay = 0.0 if renewal else random.random() * min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
            self._emit("reconnecting", {"attempt": attempt, "delay_ms": round(delay * 1000), "url": target.url,
                                        **({"last_error": f"{last_error.error_code}: {last_error.message}"} if last_error else {})})
            self._wake = asyncio.Event()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
            self._wake = None
            if self._state != "reconnecting":
                return
            try:
                ready = await self._open()
            except _ConnectFailure as failure:
                last_error = failure.error
                if failure.status == 401:
                    self._tokens.invalidate()
                if not failure.error.retriable:
                    self._give_up(failure.error)
                    return
                continue
            if self._state != "reconnecting":
                await self._drop_socket()
                return
            self._connected(ready, reconnected=True)
            return

    def _give_up(self, err: SimutradorError) -> None:
        self._state = "closed"
        self._fail_pending(lambda p: True, lambda p: SimutradorError(err.error_code, f"Could not reconnect: {err.message}", details=err.details,
                                                                      request_id=p.request_id, retriable=False))
        self._emit("disconnected", {"code": 0, "reason": f"gave up reconnecting: {err.error_code}: {err.message}", "will_reconnect": False, "url": self.url})
        for sink in list(self._sinks):
            sink.end()

    def _start_ping(self, ready: Mapping[str, Any]) -> None:
        # Any inbound message resets the server's idle timer; three pings per idle window survive one loss.
        interval = self._ping_interval or max(1.0, float(ready.get("idle_timeout_sec", 300)) / 3)
        ws = self._ws
        self._spawn(self._ping_loop(ws, interval))

    async def _ping_loop(self, ws: Optional[WsConnection], interval: float) -> None:
        loop = asyncio.get_running_loop()
        while self._ws is ws and ws is not None:
            await asyncio.sleep(interval)
            if self._ws is not ws:
                return
            # No frame (not even a pong) for two intervals plus a timeout: the link is dead without a close.
            if loop.time() - self._last_inbound > 2 * interval + self.request_timeout:
                ws.abort()
                return
            self._send_text(dumps({"type": "ping", "data": {}}))

    # ── frames ────────────────────────────────────────────────────────────────────────────────────────

    def _send_text(self, text: str) -> bool:
        conn = self._ws
        if conn is None or self._state != "open":
            return False
        return conn.send_text(text)

    async def _send_pending(self, p: _Pending) -> None:
        if p.sent or p.future.done() or self._bucket_holding():
            return
        p.sent = self._send_text(dumps({"type": p.type, "data": p.data, "request_id": p.request_id}))

    # The server's message bucket refuses a message before reading it (RATE_LIMIT_EXCEEDED with
    # details.limit_name "ws_messages_per_second"), so it is always safe to send it again once
    # retry_after_ms has passed: then one request, and the rest once it is answered, as the TypeScript SDK
    # does (client/rate-limit-retry.ts) — sending them all at once would be refused again, and enough
    # refusals close the connection (1008).

    def _send_again_later(self, p: _Pending, err: dict[str, Any]) -> bool:
        wait = bucket_retry_after(err)
        if wait is None:
            return False
        p.sent = False
        self.bucket_refused(wait)
        return True

    def bucket_refused(self, wait: float) -> None:
        """Hold every request for ``wait`` seconds, then send one that waits."""
        self._bucket_until = max(self._bucket_until, self._loop.time() + wait)
        if self._bucket_timer is None:
            self._bucket_timer = self._loop.call_at(self._bucket_until, self._bucket_resume)

    def _bucket_holding(self) -> bool:
        return self._bucket_until > 0 and self._loop.time() < self._bucket_until

    def _bucket_resume(self) -> None:
        self._bucket_timer = None
        if self._bucket_holding():
            self._bucket_timer = self._loop.call_at(self._bucket_until, self._bucket_resume)
            return
        self._send_waiting(1)

    def _bucket_answered(self) -> None:
        if self._bucket_until and not self._bucket_holding():
            self._bucket_until = 0.0
            self._send_waiting(None)

    def _send_waiting(self, limit: Optional[int]) -> None:
        n = 0
        for p in list(self._pending.values()):
            if limit is not None and n >= limit:
                return
            if not p.sent and not p.future.done() and self._state == "open":
                p.sent = self._send_text(dumps({"type": p.type, "data": p.data, "request_id": p.request_id}))
                n += 1

    def _fail_pending(self, which: Callable[[_Pending], bool], error: Callable[[_Pending], SimutradorError]) -> None:
        for p in list(self._pending.values()):
            if which(p) and not p.future.done():
                p.future.set_exception(error(p))

    def _emit(self, type: str, data: dict[str, Any]) -> None:
        for sink in list(self._sinks):
            sink.push({"type": type, "data": data})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_socket(self) -> None:
        conn, self._ws = self._ws, None
        if conn is None:
            return
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def gone(code: int, reason: str) -> None:
            if not closed.done():
                closed.set_result(None)
        conn.on_close = gone
        conn.close(CLOSE_NORMAL, "client closed")
        try:
            await asyncio.wait_for(closed, 1.5)
        except asyncio.TimeoutError:
            conn.abort()

