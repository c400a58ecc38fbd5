"""The stream of a client's events (server frames and the client's own connected / disconnected /
reconnecting), in arrival order, buffered while its consumer is busy. The client stops reading its
connection when the buffer passes BACKLOG_HIGH and reads again below BACKLOG_LOW, so a slow strategy holds
the server back through TCP instead of growing memory."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

Event = dict[str, Any]

BACKLOG_HIGH = 4096
BACKLOG_LOW = 512


class EventStream:
    """Every event from its creation on, buffered while the consumer is busy; ends when the client closes."""

    _END: Any = object()

    def __init__(self, on_close: Callable[[EventStream], None], on_drained: Callable[[], None]) -> None:
        self._on_close = on_close
        self._on_drained = on_drained
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._done = False
        self._waiting = False
        #: Called with each event while the consumer waits on an empty queue; returns None when it handled
        #: the event there and then, else what to queue instead (the strategy runner's lockstep fast path).
        self.direct: Optional[Callable[[Event], Optional[Event]]] = None

    def push(self, event: Event) -> None:
        if self._waiting and self.direct is not None and self._queue.empty():
            item = self.direct(event)
            if item is None:
                return
            event = item
        self._queue.put_nowait(event)

    @property
    def backlog(self) -> int:
        """Events waiting for the consumer."""
        return self._queue.qsize()

    def end(self) -> None:
        self._queue.put_nowait(self._END)

    def close(self) -> None:
        self._done = True
        self._on_close(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._done:
            raise StopAsyncIteration
        self._waiting = True
        try:
            item = await self._queue.get()
        finally:
            self._waiting = False
        if self._queue.qsize() < BACKLOG_LOW:
            self._on_drained()
        if item is self._END:
            self.close()
            raise StopAsyncIteration
        return item  # type: ignore[no-any-return]
