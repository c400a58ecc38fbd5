"""One WebSocket connection: websockets' Sans-I/O client protocol (the opening handshake, ping replies, the
closing handshake) driven by an asyncio Protocol, so each frame is handed to the client in the transport's
own callback. websockets' asyncio connections read frames in a task of their own and hand them to ``recv()``
through another: two task switches per message, which in lockstep is most of a tick's time
(docs/benchmarks.md, "Python SDK"). Once the connection is open and the protocol has consumed every byte it
was given, data frames (the hot path: a tick in, an acknowledgement out) are read and written here, a few
lines of RFC 6455 without the generator-based parser; control frames still go through the protocol, one
whole frame at a time, so its close and ping handling stay its own. The Sans-I/O layer is websockets ≥ 10's
(``ClientConnection`` in 10.x, ``ClientProtocol`` from 11 on, same methods); where its reader's buffer
cannot be seen, every frame simply stays on the protocol."""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, Callable, Optional

import websockets.client as _ws_client
from websockets.frames import Close, Opcode
from websockets.uri import parse_uri

_ClientProtocol: Any = getattr(_ws_client, "ClientProtocol", None) or getattr(_ws_client, "ClientConnection")


class HandshakeRefused(Exception):
    """The server answered the upgrade with an HTTP status other than 101 (body kept for its error code)."""

    def __init__(self, status: Optional[int], body: bytes, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.body = body


# Bytes read per system call into the connection's own buffer. A plain Protocol gets a fresh bytes object
# per read, which asyncio allocates at 256 KiB: above malloc's mmap threshold, so every tick cost an mmap,
# an mremap and a munmap on top of the recv.
READ_CHUNK = 65536


class WsConnection(asyncio.BufferedProtocol):
    """A client connection; ``on_text`` gets every text message, ``on_close(code, reason)`` the end, once."""

    def __init__(self, url: str, max_size: int) -> None:
        self._wsuri = parse_uri(url)
        self._proto = _ClientProtocol(self._wsuri, max_size=max_size)
        self._transport: Optional[asyncio.Transport] = None
        self._handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._open = False
        self._fragments: list[bytes] = []
        self._paused = False
        self._closed = False
        self._max_size = max_size
        self._read_view = memoryview(bytearray(READ_CHUNK))
        # Data frames parsed here once the protocol sits between frames (see the module's docstring).
        self._fast = False
        self._buf = bytearray()
        self._close_timer: Optional[asyncio.TimerHandle] = None
        self.early: list[str] = []
        self.on_text: Callable[[str], None] = self.early.append
        self.on_close: Callable[[int, str], None] = lambda code, reason: None
        self.close_code = 1006
        self.close_reason = ""

    # ── opening ──────────────────────────────────────────────────────────────────────────────────────

    async def open(self, timeout: float) -> None:
        """TCP (TLS for wss), then the upgrade; raises OSError, asyncio.TimeoutError or HandshakeRefused."""
        loop = asyncio.get_running_loop()
        ctx = ssl.create_default_context() if self._wsuri.secure else None

        async def go() -> None:
            await loop.create_connection(lambda: self, self._wsuri.host, self._wsuri.port, ssl=ctx)
            await self._handshake
        try:
            await asyncio.wait_for(go(), timeout)
        except BaseException:
            self.abort()
            raise

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._proto.send_request(self._proto.connect())
        self._flush()

    # ── receiving ────────────────────────────────────────────────────────────────────────────────────

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self._fast:
            self._parse(data)
        else:
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        """Bytes through websockets' Sans-I/O protocol: the handshake, control frames, and everything until
        the protocol has consumed all it was given."""
        proto = self._proto
        proto.receive_data(data)
        events = proto.events_received()
        self._flush()
        for event in events:
            if not self._open:
                self._on_response(event)
                continue
            opcode = event.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.CONT:
                self._text(event.data, event.fin)
            elif opcode is Opcode.CLOSE:
                close = Close.parse(event.data)
                self.close_code, self.close_reason = close.code, close.reason
        if proto.close_expected():
            self._closing()
        elif self._open and not self._fragments:
            buffer = getattr(getattr(proto, "reader", None), "buffer", None)
            self._fast = isinstance(buffer, bytearray) and len(buffer) == 0

    def _parse(self, data: bytes) -> None:
        """Frames of an open connection: data frames handled here, control frames fed to the protocol."""
        buf = self._buf
        if buf:
            buf += data
            view: bytes | bytearray = buf
        else:
            view = data
        pos, end = 0, len(view)
        while end - pos >= 2:
            b0, b1 = view[pos], view[pos + 1]
            n, head = b1 & 0x7F, 2
            if n == 126:
                if end - pos < 4:
                    break
                n, head = int.from_bytes(view[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, head = int.from_bytes(view[pos + 2:pos + 10], "big"), 10
            if b1 & 0x80 or b0 & 0x70 or n > self._max_size:
                # A masked server frame, reserved bits (no extension was negotiated) or too large: the protocol
                # closes the connection with the right code.
                self._fast = False
                self._buf = bytearray()
                self._feed(bytes(view[pos:]))
                return
            if end - pos < head + n:
                break
            opcode = b0 & 0x0F
            payload = view[pos + head:pos + head + n]
            if opcode <= 2:
                self._text(bytes(payload), bool(b0 & 0x80))
                pos += head + n
            else:
                frame = bytes(view[pos:pos + head + n])
                pos += head + n
                self._fast = False
                self._feed(frame)
                if not self._fast:
                    # The protocol is closing (or holds bytes): the rest goes through it too.
                    self._buf = bytearray()
                    if pos < end:
                        self._feed(bytes(view[pos:]))
                    return
        if view is buf:
            del buf[:pos]
        elif pos < end:
            self._buf = bytearray(view[pos:])

    def _text(self, data: bytes, fin: bool) -> None:
        if fin and not self._fragments:
            self.on_text(data.decode("utf-8"))
            return
        self._fragments.append(data)
        if fin:
            text, self._fragments = b"".join(self._fragments).decode("utf-8"), []
            self.on_text(text)

    def _closing(self) -> None:
        self._fast = False
        if self._close_timer is None and self._transport is not None:
            # We answered (or sent) a close: the server closes TCP next; do it ourselves if it does not.
            self._close_timer = asyncio.get_running_loop().call_later(1.0, self.abort)

    def _on_response(self, response: Any) -> None:
        exc = getattr(self._proto, "handshake_exc", None)
        if exc is not None:
            status = getattr(response, "status_code", None)
            body = getattr(response, "body", None) or b""
            if not self._handshake.done():
                self._handshake.set_exception(HandshakeRefused(status, body, f"{exc}"))
            self.abort()
            return
        self._open = True
        if not self._handshake.done():
            self._handshake.set_result(None)

    def eof_received(self) -> Optional[bool]:
        self._proto.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
        if not self._handshake.done():
            self._handshake.set_exception(ConnectionError(f"connection closed during the upgrade ({exc or 'EOF'})"))
        if not self._closed:
            self._closed = True
            self.on_close(self.close_code, self.close_reason)

    # ── sending ──────────────────────────────────────────────────────────────────────────────────────

    @property
    def is_open(self) -> bool:
        return self._open and not self._closed and self._transport is not None and not self._transport.is_closing()

    def send_text(self, text: str) -> bool:
        if not self.is_open:
            return False
        payload = text.encode("utf-8")
        if not self._fast:
            try:
                self._proto.send_text(payload)
            except Exception:  # InvalidState: a close frame went out or came in meanwhile
                return False
            self._flush()
            return True
        assert self._transport is not None
        self._transport.write(_client_frame(0x81, payload))
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (the server then closes TCP; abort after 1 s if it does not)."""
        if self._transport is None or self._closed:
            return
        self._fast = False
        try:
            self._proto.send_close(code, reason)
        except Exception:
            self.abort()
            return
        self._flush()
        if self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(1.0, self.abort)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def pause_reading(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def _flush(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        for chunk in self._proto.data_to_send():
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()


_keys = bytearray()


def _mask_key() -> bytes:
    """4 bytes from the OS's random source, read 4 KiB at a time (one getrandom per 1,024 frames, not per frame)."""
    global _keys
    if len(_keys) < 4:
        _keys = bytearray(os.urandom(4096))
    key = bytes(_keys[-4:])
    del _keys[-4:]
    return key


def _client_frame(first: int, payload: bytes) -> bytes:
    """A final client frame (RFC 6455 §5.2): FIN and opcode in ``first``, the payload masked with a random key."""
    n = len(payload)
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = bytes((first, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0xFF)) + n.to_bytes(8, "big")
    key = _mask_key()
    masked = (int.from_bytes(payload, "little") ^ int.from_bytes((key * (n // 4 + 1))[:n], "little")).to_bytes(n, "little")
    return head + key + masked
