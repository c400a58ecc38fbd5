"""The protocol guarantees over a real server: lockstep and window flow control, several server URLs, typed
exceptions with the server's error_code, a dropped connection resumed with every event handled exactly
once (and a run equal to an uninterrupted one), and a strategy exception ending the run in state ``error``
with its traceback sent; the ``python -m simutrador run`` runner as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from simutrador import AuthError, Bar, ConnectionLostError, Fill, OrderUpdate, ServerError, SessionClient, Strategy, StrategyError

from .support import API_KEY, CONTROL, FREE_API_KEY, FAST_RECONNECT, URL, async_test, comparable, control, events_of, needs_server, rest, run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MINUTES = {"symbols": ["MSFT"], "start_date": "2023-03-01", "end_date": "2023-03-02", "timeframe": "1m"}


class Recorder(Strategy):
    """Buys on every ``every``-th bar and sells it on the next one; records steps, fills and updates."""

    def __init__(self, every: int = 7) -> None:
        self.every = every
        self.steps: list[int] = []
        self.placed: dict[str, int] = {}
        self.fills: list[Fill] = []
        self.updates: list[OrderUpdate] = []
        self.seen: dict[int, Bar] = {}
        self.holding = False

    def on_bar(self, bar: Bar) -> None:
        self.steps.append(bar.step)
        self.seen[bar.step] = bar
        if bar.step % self.every == 0:
            oid = self.sell(bar.symbol, 3) if self.holding else self.buy(bar.symbol, 3)
            self.holding = not self.holding
            self.placed[oid] = bar.step

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order(self, update: OrderUpdate) -> None:
        self.updates.append(update)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@needs_server
class FlowControl(unittest.TestCase):
    @async_test
    async def test_lockstep_every_order_fills_on_the_very_next_bar(self) -> None:
        s = Recorder(every=5)
        r = await run(s, MINUTES)
        self.assertEqual(s.steps, list(range(1, r.ticks + 1)), "every step once, in order")
        self.assertGreater(len(s.fills), 100)
        for f in s.fills:
            placed = s.placed[f.order_id]
            self.assertEqual(f.execution_time, s.seen[placed + 1].timestamp, "the server waited for the orders sent before the ack")

    @async_test
    async def test_a_window_of_unacknowledged_ticks(self) -> None:
        seen: dict[str, Any] = {}

        class Window(Recorder):
            def on_start(self) -> None:
                seen["start"] = True

        client = SessionClient(URL, api_key=API_KEY)
        await client.connect()
        frames = client.events()
        try:
            s = Window(every=10)
            r = await run(s, MINUTES, client=client, max_pending_ticks=8)
        finally:
            await client.close()
        started = [e async for e in frames if e["type"] == "simulation_started"]
        self.assertEqual((started[0]["data"]["max_pending_ticks"], started[0]["data"]["flow_control"]), (8, True))
        self.assertEqual(s.steps, list(range(1, r.ticks + 1)))
        self.assertTrue(seen["start"])
        for f in s.fills:
            self.assertGreater(f.execution_time, s.seen[s.placed[f.order_id]].timestamp, "never on a bar that had started before the order")


@needs_server
class Connections(unittest.TestCase):
    @async_test
    async def test_several_urls_the_first_that_answers(self) -> None:
        dead = dead_url()
        async with SessionClient([dead, URL], api_key=API_KEY) as client:
            self.assertEqual(client.url, URL)
            session = await client.get_session((await client.create_session({"symbols": ["AAPL"], "start_date": "2023-01-03", "end_date": "2023-01-05"}))["session_id"])
            self.assertEqual(session["state"], "ready")
        with self.assertRaises(ConnectionLostError) as caught:
            await SessionClient([dead, dead_url()], api_key=API_KEY, request_timeout=3).connect()
        self.assertEqual(caught.exception.error_code, "CONNECTION_FAILED")
        self.assertEqual(len(caught.exception.details["attempts"]), 2, "each URL tried is named")

    @async_test
    async def test_typed_errors_carry_the_server_error_code(self) -> None:
        with self.assertRaises(AuthError) as bad_key:
            await SessionClient(URL, api_key="not_a_key_0000000000000").connect()
        self.assertEqual(bad_key.exception.error_code, "INVALID_API_KEY")
        self.assertFalse(bad_key.exception.retriable)
        with self.assertRaises(ServerError) as symbol:
            await run(Strategy(), {"symbols": ["AAPLX"], "start_date": "2023-01-03", "end_date": "2023-01-05"})
        self.assertEqual(symbol.exception.error_code, "INVALID_SYMBOL")
        self.assertEqual(symbol.exception.details["suggestions"], {"AAPLX": ["AAPL"]})
        with self.assertRaises(ServerError) as missing:
            await run(Strategy(), "no_such_session_0001")
        self.assertEqual(missing.exception.error_code, "SESSION_NOT_FOUND")

    @unittest.skipUnless(FREE_API_KEY, "SIMUTRADOR_TEST_FREE_API_KEY is not set")
    @async_test
    async def test_a_request_the_message_bucket_refused_is_sent_again(self) -> None:
        # A free user (burst 400): twenty list_sessions at 30 tokens each are more than one burst holds, so
        # some are refused unread (RATE_LIMIT_EXCEEDED, ws_messages_per_second) and must be sent again.
        client = SessionClient(URL, api_key=FREE_API_KEY)
        await client.connect()
        try:
            lists = await asyncio.gather(*(client.request("list_sessions", {}, "session_list") for _ in range(20)), return_exceptions=True)
        finally:
            await client.close()
        self.assertEqual([type(r).__name__ for r in lists if not isinstance(r, dict)], [], "every request was answered")


class DropsAt(Recorder):
    """Drops its own connection (the transport aborted, as a network failure would) at the given steps,
    once with an order just placed (its batch is then retaken) and once without."""

    def __init__(self, client: Optional[SessionClient], at: tuple[int, ...]) -> None:
        super().__init__(every=7)
        self.client = client
        self.at = list(at)

    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        if self.client is not None and self.at and bar.step == self.at[0]:
            self.at.pop(0)
            conn = self.client._ws
            assert conn is not None
            conn.abort()


@needs_server
class Resume(unittest.TestCase):
    @async_test
    async def test_a_dropped_connection_resumes_with_every_event_once(self) -> None:
        baseline = DropsAt(None, ())
        base = await run(baseline, MINUTES)
        client = SessionClient(URL, api_key=API_KEY, reconnect=FAST_RECONNECT)
        await client.connect()
        dropping = DropsAt(client, (35, 140, 500))
        try:
            resumed = await run(dropping, MINUTES, client=client)
        finally:
            await client.close()
        self.assertEqual(dropping.at, [], "every drop happened")
        self.assertEqual(client.connection_count, 4, "three reconnects")
        self.assertEqual(dropping.steps, list(range(1, resumed.ticks + 1)), "each bar handled exactly once")
        self.assertEqual([f.execution_id for f in dropping.fills], [f.execution_id for f in baseline.fills], "each fill heard once")
        self.assertEqual(len(set(f.execution_id for f in dropping.fills)), len(dropping.fills))
        self.assertEqual([(u.order_id.split("-")[-1], u.status) for u in dropping.updates], [(u.order_id.split("-")[-1], u.status) for u in baseline.updates])
        a = comparable(await rest(f"/sessions/{base.session.session_id}/results", raw=True), base.session.session_id)
        b = comparable(await rest(f"/sessions/{resumed.session.session_id}/results", raw=True), resumed.session.session_id)
        self.assertEqual(b, a, "the same results, byte for byte")
        logged = [e for e in await events_of(resumed.session.session_id) if e["type"] == "execution_report"]
        self.assertEqual([e["data"]["execution_id"] for e in logged], [f.execution_id for f in dropping.fills])


class LosesAnAck(SessionClient):
    """A connection that dies after the server applied an order batch and before its batch_ack arrived:
    the ack is swallowed, and the connection aborted when the batch's first order_update comes in."""

    armed = False
    dead: object = None

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if self.dead is not None and self.dead is self._ws:
            return  # nothing more is heard on a dead connection
        if self.armed and frame["type"] == "batch_ack":
            self.armed = False
            self.dead = "next"
            return
        if self.dead == "next" and frame["type"] == "order_update":
            self.dead = self._ws
            assert self._ws is not None
            self._ws.abort()
            return
        super()._on_frame(frame)


class ArmsAt(Recorder):
    def __init__(self, client: Optional[LosesAnAck], at: int) -> None:
        super().__init__(every=7)
        self.client = client
        self.at = at

    def on_bar(self, bar: Bar) -> None:
        super().on_bar(bar)
        if self.client is not None and bar.step == self.at:
            self.client.armed = True


@needs_server
class ResumeAfterApply(unittest.TestCase):
    @async_test
    async def test_a_batch_the_server_applied_before_the_drop_is_not_applied_or_heard_twice(self) -> None:
        baseline = ArmsAt(None, 0)
        base = await run(baseline, MINUTES)
        client = LosesAnAck(URL, api_key=API_KEY, reconnect=FAST_RECONNECT)
        await client.connect()
        s = ArmsAt(client, 70)
        try:
            r = await run(s, MINUTES, client=client)
        finally:
            await client.close()
        self.assertEqual(client.connection_count, 2, "the connection did drop once")
        self.assertEqual(s.steps, list(range(1, r.ticks + 1)))
        self.assertNotIn("rejected", [u.status for u in s.updates], "the repeat's 'already used' refusal is not an event")
        self.assertEqual([(u.order_id.split("-")[-1], u.status) for u in s.updates], [(u.order_id.split("-")[-1], u.status) for u in baseline.updates])
        a = comparable(await rest(f"/sessions/{base.session.session_id}/results", raw=True), base.session.session_id)
        b = comparable(await rest(f"/sessions/{r.session.session_id}/results", raw=True), r.session.session_id)
        self.assertEqual(b, a)


class Raises(Strategy):
    def on_bar(self, bar: Bar) -> None:
        if bar.step == 5:
            self.explode(bar)

    def explode(self, bar: Bar) -> None:
        _ = bar.close / Decimal(0)


@needs_server
class StrategyExceptions(unittest.TestCase):
    @async_test
    async def test_the_run_ends_in_error_with_the_traceback_sent(self) -> None:
        with self.assertRaises(StrategyError) as caught:
            await run(Raises())
        err = caught.exception
        self.assertIsInstance(err.original, ArithmeticError)
        self.assertIs(err.__cause__, err.original)
        self.assertEqual(err.error_code, "STRATEGY_ERROR")
        self.assertIn("in explode", err.traceback_text)
        self.assertIn("test_protocol.py", err.traceback_text)
        session_id = err.details["session_id"]
        session = await rest(f"/sessions/{session_id}")
        self.assertEqual(session["state"], "error", "the run is over, not paused")
        self.assertEqual(session["error_message"], err.message)
        self.assertRegex(err.message, r"^(decimal\.)?(DivisionByZero|InvalidOperation)")
        self.assertLess(session["progress"], 0.5)
        if CONTROL:
            # The server keeps the traceback in its log only: the tap side reads it there.
            logged = await asyncio.to_thread(control, "strategy_log", session_id=session_id)
            self.assertIn("Traceback (most recent call last)", logged["stack"])
            self.assertIn("in explode", logged["stack"])

    @async_test
    async def test_an_exception_whose_message_holds_nul_still_ends_the_run_in_error(self) -> None:
        with self.assertRaises(StrategyError) as caught:
            await run(RaisesNul())
        session = await rest(f"/sessions/{caught.exception.details['session_id']}")
        self.assertEqual(session["state"], "error", "the server took the report: NUL was sent as U+FFFD")
        self.assertEqual(session["error_message"], "ValueError: bad\ufffdbyte")


class RaisesNul(Strategy):
    def on_bar(self, bar: Bar) -> None:
        if bar.step == 2:
            raise ValueError("bad\x00byte")


def runner(*args: str, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simutrador", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "python"), "SIMUTRADOR_URL": URL, "SIMUTRADOR_API_KEY": API_KEY, **(env or {})})


@needs_server
class Runner(unittest.TestCase):
    def test_the_runner_prints_the_results_table(self) -> None:
        r = runner("run", "examples/sma_crossover.py", "--symbols", "AAPL", "--start", "2023-01-03", "--end", "2023-12-29")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "")
        self.assertRegex(lines[1], r"^Session          sess_\w+ \(AAPL, 2023-01-03 → 2023-12-29, 1d\)$")
        self.assertEqual(lines[2], "Ticks            250")
        self.assertEqual([line.split("  ")[0] for line in lines[3:]],
                         ["Initial capital", "Final equity", "Total return", "CAGR", "Max drawdown", "Sharpe", "Sortino", "Calmar", "Trades",
                          "Profit factor", "Realized P&L", "Commission", "Fill policy"])
        self.assertIn("100%  250/250 ticks", r.stderr, "progress on stderr (one line per tenth without a terminal)")

    def test_a_strategy_that_raises_exits_1_with_its_traceback(self) -> None:
        r = runner("run", str(HERE / "strategies" / "raises_midway.py"), "--symbols", "AAPL", "--start", "2023-01-03", "--end", "2023-12-29")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"(?m)^STRATEGY_ERROR: strategy .*raises_midway\.py threw: KeyError: 'no price at step 150'$")
        self.assertIn("Traceback (most recent call last):", r.stderr)
        self.assertRegex(r.stderr, r'raises_midway\.py", line \d+, in look_up')
        self.assertEqual(r.stdout, "")

    def test_usage_errors_exit_2(self) -> None:
        self.assertEqual(runner("run", "examples/sma_crossover.py").returncode, 2, "no session")
        missing = runner("run", "nope.py", "--symbols", "AAPL", "--start", "2023-01-03", "--end", "2023-01-05")
        self.assertEqual((missing.returncode, missing.stderr), (2, "error: strategy file nope.py does not exist\n"))
        none = runner("run", str(HERE / "support.py"), "--symbols", "AAPL", "--start", "2023-01-03", "--end", "2023-01-05")
        self.assertEqual(none.returncode, 2)
        self.assertIn("must define a simutrador.Strategy subclass", none.stderr)

    def test_the_login_stored_by_the_cli_is_used_without_a_key(self) -> None:
        with tempfile.TemporaryDirectory() as config:
            Path(config, "credentials.json").write_text(json.dumps({"servers": {URL.rstrip("/"): {"api_key": API_KEY, "access_token": "x",
                                                                                                     "expires_at": "2000-01-01T00:00:00.000Z"}}}))
            args = ("run", "examples/sma_crossover.py", "--symbols", "MSFT", "--start", "2023-03-01", "--end", "2023-03-03")
            r = runner(*args, env={"SIMUTRADOR_API_KEY": "", "SIMUTRADOR_CONFIG_DIR": config})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?m)^Ticks +3$")
        anonymous = runner(*args, env={"SIMUTRADOR_API_KEY": "", "SIMUTRADOR_CONFIG_DIR": str(HERE / "no-such-config")})
        self.assertEqual(anonymous.returncode, 1)
        self.assertIn("UNAUTHORIZED: Not logged in to", anonymous.stderr)

    def test_server_errors_exit_1_with_their_code(self) -> None:
        r = runner("run", "examples/sma_crossover.py", "--symbols", "AAPLX", "--start", "2023-01-03", "--end", "2023-01-05", "--json")
        self.assertEqual(r.returncode, 1)
        self.assertIn('"error_code": "INVALID_SYMBOL"', r.stdout)


if __name__ == "__main__":
    unittest.main()
