"""The server URLs a client may use: one, or several instances of one service (they share the database,
Redis and the JWT secret, so a token from one is good on all). Each is checked up front and turned into its
HTTP base (token exchange, REST) and WebSocket endpoint; :class:`UrlRotation` picks the next one to try
(the first connect walks the list in order, every reconnect moves on to the next, round robin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar
from urllib.parse import urlsplit

WS_PATH = "/ws/simulate"
_HTTP_OF = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_WS_OF = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


@dataclass(frozen=True, slots=True)
class ServerUrl:
    url: str  # as given (what errors name)
    http: str  # e.g. http://127.0.0.1:8003/
    ws: str  # e.g. ws://127.0.0.1:8003/ws/simulate


def parse_server_urls(value: str | Sequence[str], name: str = "url") -> list[ServerUrl]:
    """Check one URL or a non-empty list of them; a ValueError names the bad entry."""
    entries = [value] if isinstance(value, str) else list(value)
    if not entries:
        raise ValueError(f"{name}: expected a server URL or a non-empty list of them")
    out: list[ServerUrl] = []
    for i, raw in enumerate(entries):
        where = name if isinstance(value, str) else f"{name}[{i}]"
        if not isinstance(raw, str):
            raise ValueError(f"{where}: expected a string, got {type(raw).__name__}")
        parts = urlsplit(raw.strip())
        scheme = parts.scheme.lower()
        if scheme not in _HTTP_OF or not parts.netloc:
            raise ValueError(f"{where}: '{raw}' must be an http://, https://, ws:// or wss:// URL (e.g. http://127.0.0.1:8003)")
        # Paths resolve from the host's root, as in the TypeScript SDK: '/auth/token' and '/ws/simulate'.
        out.append(ServerUrl(url=raw, http=f"{_HTTP_OF[scheme]}://{parts.netloc}/", ws=f"{_WS_OF[scheme]}://{parts.netloc}{WS_PATH}"))
    return out


T = TypeVar("T")


class UrlRotation(Generic[T]):
    """Which entry the next attempt uses."""

    def __init__(self, entries: Sequence[T]) -> None:
        if not entries:
            raise ValueError("UrlRotation needs at least one entry")
        self.entries: tuple[T, ...] = tuple(entries)
        self._index = 0

    @property
    def current(self) -> T:
        return self.entries[self._index]

    def reset(self) -> T:
        self._index = 0
        return self.current

    def advance(self) -> T:
        self._index = (self._index + 1) % len(self.entries)
        return self.current
