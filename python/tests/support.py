"""What the SDK's tests share: the server they run against (SIMUTRADOR_TEST_URL and SIMUTRADOR_TEST_API_KEY,
set by test/integration/python-sdk.test.ts, which starts a listening server for them), a way to run a
strategy there, REST reads, and the control channel through which a test asks the tap side for what only it
can do (kill -9 a server process and restart it, read the server's log): a JSON line on stdout, the answer
as a JSON line on stdin."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import unittest
from decimal import Decimal
from typing import Any, Mapping, Optional

from simutrador import ReconnectPolicy, RunResult, SessionClient, Strategy, run_strategy
from simutrador.decimals import loads
from simutrador.rest import http_json

URL = os.environ.get("SIMUTRADOR_TEST_URL", "")
API_KEY = os.environ.get("SIMUTRADOR_TEST_API_KEY", "")
#: A free-plan user's key (its message bucket is the smallest), for the bucket-refusal tests.
FREE_API_KEY = os.environ.get("SIMUTRADOR_TEST_FREE_API_KEY", "")
CONTROL = os.environ.get("SIMUTRADOR_TEST_CONTROL") == "1"

#: One short daily session most order tests use: 21 trading days.
JANUARY = {"symbols": ["AAPL"], "start_date": "2023-01-03", "end_date": "2023-01-31", "timeframe": "1d"}
FAST_RECONNECT = ReconnectPolicy(base_delay=0.05, max_delay=0.3)


def needs_server(cls: type) -> type:
    return unittest.skipUnless(URL and API_KEY, "SIMUTRADOR_TEST_URL / SIMUTRADOR_TEST_API_KEY are not set")(cls)


async def run(strategy: Strategy, session: str | Mapping[str, Any] = JANUARY, *, url: str | list[str] | None = None,
              api_key: str | None = None, client: Optional[SessionClient] = None, **start: Any) -> RunResult:
    """Run ``strategy`` on a new session (or ``client``'s server) to its end."""
    own = client is None
    c = client or SessionClient(url or URL, api_key=api_key or API_KEY, reconnect=FAST_RECONNECT)
    try:
        if own:
            await c.connect()
        return await run_strategy(c, strategy, session, start=start)
    finally:
        if own:
            await c.close()


_tokens: dict[str, str] = {}


async def rest(path: str, *, url: str | None = None, raw: bool = False) -> Any:
    """GET ``path`` as the test user (JSON with Decimal numbers, or the body text with ``raw``). One token
    per server for the whole suite: the server allows 60 token exchanges per key and minute."""
    base = (url or URL).rstrip("/")
    if base not in _tokens:
        _tokens[base] = (await http_json("POST", f"{base}/auth/token", headers={"x-api-key": API_KEY}))["access_token"]
    return await http_json("GET", f"{base}{path}", headers={"authorization": f"Bearer {_tokens[base]}"}, raw=raw)


async def events_of(session_id: str, *, url: str | None = None) -> list[dict[str, Any]]:
    """Every event of a run's log (GET …/events, all pages)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await rest(f"/sessions/{session_id}/events?after_seq={after}&limit=1000", url=url)
        out.extend(page["events"])
        after += len(page["events"])
        if not page["has_more"]:
            return out


def comparable(text: str, session_id: str) -> str:
    """A results body with the run's own ids replaced, for comparing two runs byte for byte."""
    return text.replace(session_id, "SESSION").replace(session_id[-6:], "SID6")


_lock = threading.Lock()


def control(command: str, **args: Any) -> dict[str, Any]:
    """Ask the tap side; blocks until it answers (call it through asyncio.to_thread from a running loop)."""
    if not CONTROL:
        raise unittest.SkipTest("needs the tap side's control channel (SIMUTRADOR_TEST_CONTROL=1)")
    with _lock:
        sys.__stdout__.write(json.dumps({"control": command, **args}) + "\n")
        sys.__stdout__.flush()
        line = sys.stdin.readline()
    if not line:
        raise RuntimeError("the control channel closed")
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        raise AssertionError(f"control {command} failed: {answer.get('error')}")
    return answer


def async_test(fn: Any) -> Any:
    """Run an ``async def test_…`` in a fresh event loop."""
    def wrapper(self: unittest.TestCase) -> None:
        asyncio.run(asyncio.wait_for(fn(self), 120))
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def money(v: Any) -> Decimal:
    return Decimal(v) if not isinstance(v, Decimal) else v


__all__ = ["URL", "API_KEY", "JANUARY", "FAST_RECONNECT", "needs_server", "run", "rest", "events_of", "comparable", "control",
           "async_test", "money", "loads"]
