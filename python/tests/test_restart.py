"""A kill -9 of the server mid-run: the tap side runs a server process on a state folder (embedded
PostgreSQL) with a fixed JWT secret and keys, kills it with SIGKILL when the strategy asks (right after the
strategy placed an order, so its batch never reached the server) and restarts it on the same port. The SDK reconnects,
resumes, and the run ends with the uninterrupted run's results and fills, byte for byte."""

from __future__ import annotations

import asyncio
import unittest

from simutrador import Bar

from .support import API_KEY, CONTROL, async_test, comparable, control, events_of, rest, run
from .test_protocol import Recorder

YEAR = {"symbols": ["AAPL"], "start_date": "2023-01-03", "end_date": "2023-12-29", "timeframe": "1d"}


class KillsTheServer(Recorder):
    def __init__(self, at: tuple[int, ...]) -> None:
        super().__init__(every=7)
        self.at = list(at)
        self.killed: list[int] = []

    async def on_bar(self, bar: Bar) -> None:  # type: ignore[override]
        super().on_bar(bar)
        if self.at and bar.step == self.at[0]:
            self.at.pop(0)
            self.killed.append(bar.step)
            await asyncio.to_thread(control, "kill")


@unittest.skipUnless(CONTROL and API_KEY, "needs the tap side's server process (SIMUTRADOR_TEST_CONTROL=1)")
class KillNine(unittest.TestCase):
    @async_test
    async def test_the_run_resumes_after_kill_9_and_equals_the_uninterrupted_one(self) -> None:
        url = (await asyncio.to_thread(control, "server_process"))["url"]
        baseline = Recorder(every=7)
        base = await run(baseline, YEAR, url=url)
        # Step 98 places an order (98 = 7 × 14) and the server dies before its batch went out.
        killed = KillsTheServer((98,))
        after = await run(killed, YEAR, url=url)
        self.assertEqual(killed.killed, [98])
        self.assertEqual(killed.steps, list(range(1, after.ticks + 1)), "every bar handled once")
        self.assertEqual([(f.order_id.split("-")[-1], f.executed_price, f.execution_time) for f in killed.fills],
                         [(f.order_id.split("-")[-1], f.executed_price, f.execution_time) for f in baseline.fills], "the same fills")
        a = comparable(await rest(f"/sessions/{base.session.session_id}/results", url=url, raw=True), base.session.session_id)
        b = comparable(await rest(f"/sessions/{after.session.session_id}/results", url=url, raw=True), after.session.session_id)
        self.assertEqual(b, a, "the results, byte for byte")
        fills = [e["data"] for e in await events_of(after.session.session_id, url=url) if e["type"] == "execution_report"]
        self.assertEqual(len(fills), len(killed.fills), "the server's log holds each fill once")


if __name__ == "__main__":
    unittest.main()
