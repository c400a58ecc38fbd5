"""Orders over a real server: every order type and time in force, priced by the fill rules of
docs/fill-policy.md from the bars the strategy itself saw; a rejected order, a cancel and a replace heard by
``on_order``; a bracket's legs; and the account exact to the last digit."""

from __future__ import annotations

import unittest
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Callable

from simutrador import Bar, Bracket, Fill, OrderUpdate, Strategy

from .support import JANUARY, async_test, needs_server, rest, run

BPS = Decimal(5)  # the session default slippage
E8 = Decimal("1e-8")


class Scripted(Strategy):
    """Does ``script[step](self, bar)`` on the bar of that step and records what it hears."""

    def __init__(self, script: dict[int, Callable[["Scripted", Bar], Any]]) -> None:
        self.script = script
        self.seen: dict[int, Bar] = {}
        self.updates: list[OrderUpdate] = []
        self.fills: list[Fill] = []
        self.ids: dict[str, str] = {}
        self.heard_at: dict[str, int] = {}

    def on_bar(self, bar: Bar) -> None:
        self.seen[bar.step] = bar
        action = self.script.get(bar.step)
        if action is not None:
            action(self, bar)

    def on_order(self, update: OrderUpdate) -> None:
        self.updates.append(update)
        self.heard_at.setdefault(f"{update.order_id}:{update.status}", max(self.seen) if self.seen else 0)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def statuses(self, name: str) -> list[str]:
        return [u.status for u in self.updates if u.order_id == self.ids[name]]

    def fill(self, name: str) -> Fill:
        [f] = [f for f in self.fills if f.order_id == self.ids[name]]
        return f

    def place(self, name: str, side: str, qty: Any = 10, **kw: Any) -> None:
        self.ids[name] = (self.buy if side == "buy" else self.sell)("AAPL", qty, **kw)


def slipped(price: Decimal, side: str) -> Decimal:
    factor = Decimal(1) + BPS / 10000 if side == "buy" else Decimal(1) - BPS / 10000
    return (price * factor).quantize(E8, rounding=ROUND_HALF_EVEN)


@needs_server
class OrderTypes(unittest.TestCase):
    @async_test
    async def test_every_order_type_fills_by_the_fill_rules(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            s.place("market", "buy", 10)
            s.place("limit_far", "buy", 1, type="limit", limit_price=bar.close / 2)
            s.place("limit_high", "buy", 1, type="limit", limit_price=(bar.close * 2).quantize(Decimal("0.01")))
            s.place("stop_low", "buy", 1, type="stop", stop_price=(bar.close / 2).quantize(Decimal("0.01")))
            s.place("stop_limit", "buy", 1, type="stop_limit", stop_price=(bar.close / 2).quantize(Decimal("0.01")), limit_price=(bar.close * 2).quantize(Decimal("0.01")))

        def step3(s: Scripted, bar: Bar) -> None:
            s.place("trail", "sell", 5, type="trailing_stop", trail_percent=Decimal("1.5"), time_in_force="gtc")

        s = Scripted({1: step1, 3: step3})
        r = await run(s)
        b2 = s.seen[2]
        self.assertEqual(r.ticks, 20)
        # market: the next open, 5 bps against the buyer, capped at the high
        m = s.fill("market")
        self.assertEqual((m.price, m.fill_reason, m.quantity), (min(slipped(b2.open, "buy"), b2.high), "market_open", 10))
        self.assertEqual(m.execution_time, b2.timestamp, "tried on the bar after the one it was placed on")
        # limit above the open: the open; far below the low: no fill, and a day order expires that day
        self.assertEqual((s.fill("limit_high").price, s.fill("limit_high").fill_reason), (b2.open, "limit_open"))
        self.assertEqual(s.statuses("limit_far"), ["accepted", "expired"])
        # stop below the open: a gap, filled at the open; stop-limit triggered at the open, limit above it
        self.assertEqual((s.fill("stop_low").price, s.fill("stop_low").fill_reason), (b2.open, "stop_gap_open"))
        self.assertEqual((s.fill("stop_limit").price, s.fill("stop_limit").fill_reason), (b2.open, "stop_limit_open"))
        # trailing stop: its stop follows the best close by 1.5 % and sells when touched (or gapped through)
        t = [u for u in s.updates if u.order_id == s.ids["trail"]]
        self.assertEqual(t[0].status, "accepted")
        assert t[0].order is not None
        self.assertEqual(t[0].order.trail_percent, Decimal("1.5"))
        self.assertEqual(t[0].order.hwm, s.seen[3].close, "placed after a close: hwm = that close")
        self.assertEqual(t[0].order.stop_price, (s.seen[3].close * Decimal("0.985")).quantize(E8, rounding=ROUND_HALF_EVEN))
        fills = [f for f in s.fills if f.order_id == s.ids["trail"]]
        if fills:
            self.assertIn(fills[0].fill_reason, ("stop_touch", "stop_gap_open"))
        else:
            self.assertEqual(t[-1].status, "cancelled", "still working at the end: cancelled when the simulation ends")


@needs_server
class TimeInForce(unittest.TestCase):
    @async_test
    async def test_day_gtc_ioc_fok_opg_cls(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            far = (bar.close / 2).quantize(Decimal("0.01"))
            s.place("day", "buy", 1, type="limit", limit_price=far, time_in_force="day")
            s.place("gtc", "buy", 1, type="limit", limit_price=far, time_in_force="gtc")
            s.place("ioc", "buy", 1, type="limit", limit_price=far, time_in_force="ioc")
            s.place("fok", "buy", 1, type="limit", limit_price=far, time_in_force="fok")
            s.place("fok_fill", "buy", 3, time_in_force="fok")
            s.place("opg", "buy", 2, time_in_force="opg")
            s.place("cls", "buy", 4, time_in_force="cls")

        def step5(s: Scripted, bar: Bar) -> None:
            self.assertIn(s.ids["gtc"], s.open_orders, "a gtc order is still working days later")
            self.assertNotIn(s.ids["day"], s.open_orders)
            s.cancel(s.ids["gtc"])

        s = Scripted({1: step1, 5: step5})
        await run(s)
        b2 = s.seen[2]
        self.assertEqual(s.statuses("day"), ["accepted", "expired"])
        self.assertEqual(s.heard_at[f"{s.ids['day']}:expired"], 1, "expired at the close of its first day, before tick 2")
        self.assertEqual(s.statuses("gtc"), ["accepted", "cancelled"])
        self.assertEqual(s.statuses("ioc"), ["accepted", "cancelled"])
        self.assertEqual(s.statuses("fok"), ["accepted", "cancelled"])
        fok = [u for u in s.updates if u.order_id == s.ids["fok"]][-1]
        self.assertRegex(fok.reason or "", "fok")
        self.assertEqual(s.statuses("fok_fill"), ["accepted", "filled"])
        opg = s.fill("opg")
        self.assertEqual((opg.price, opg.fill_reason, opg.execution_time), (min(slipped(b2.open, "buy"), b2.high), "market_open", b2.timestamp))
        cls = s.fill("cls")
        self.assertEqual((cls.price, cls.fill_reason), (min(slipped(b2.close, "buy"), b2.high), "market_close"))


@needs_server
class OrderLifecycle(unittest.TestCase):
    @async_test
    async def test_a_rejected_order_is_heard_with_its_error_code_and_reason(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            s.place("short", "sell", 10)
            s.place("too_big", "buy", 1_000_000)
            s.place("fine", "buy", 1)

        s = Scripted({1: step1})
        r = await run(s)
        short = [u for u in s.updates if u.order_id == s.ids["short"]]
        self.assertEqual(len(short), 1, "heard once")
        self.assertEqual((short[0].status, short[0].error_code, short[0].symbol, short[0].side, short[0].quantity),
                         ("rejected", "INVALID_ORDER", "AAPL", "sell", Decimal(10)))
        self.assertRegex(short[0].reason or "", "short selling")
        self.assertIsNone(short[0].order, "the server never had it")
        big = [u for u in s.updates if u.order_id == s.ids["too_big"]]
        self.assertEqual([(u.status, u.error_code) for u in big], [("rejected", "INSUFFICIENT_BUYING_POWER")])
        self.assertEqual(s.heard_at[f"{s.ids['short']}:rejected"], 1, "heard before the next bar")
        self.assertEqual(s.statuses("fine"), ["accepted", "filled"], "the rest of the batch stands")
        self.assertEqual(r.orders_sent, 3)

    @async_test
    async def test_replace_and_cancel(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            far = (bar.close / 2).quantize(Decimal("0.01"))
            s.place("moved", "buy", 5, type="limit", limit_price=far, time_in_force="gtc")
            s.place("dropped", "buy", 5, type="limit", limit_price=far, time_in_force="gtc")
            s.place("filled", "buy", 1)

        def step2(s: Scripted, bar: Bar) -> None:
            s.ids["moved_new"] = s.replace(s.ids["moved"], limit_price=(bar.close * 2).quantize(Decimal("0.01")), qty=6)
            s.cancel(s.ids["dropped"])
            s.cancel(s.ids["filled"])  # already filled at bar 2's open: the server refuses

        s = Scripted({1: step1, 2: step2})
        await run(s)
        self.assertEqual(s.ids["moved_new"], f"{s.ids['moved']}-r1")
        self.assertEqual(s.statuses("moved"), ["accepted", "replaced"])
        new = [u for u in s.updates if u.order_id == s.ids["moved_new"]]
        self.assertEqual([u.status for u in new], ["accepted", "filled"])
        assert new[0].order is not None
        self.assertEqual((new[0].order.replaces, new[0].order.quantity), (s.ids["moved"], 6))
        self.assertEqual(s.fill("moved_new").price, s.seen[3].open, "the new limit is tried from the next bar")
        self.assertEqual(s.statuses("dropped"), ["accepted", "cancelled"])
        self.assertEqual(s.heard_at[f"{s.ids['dropped']}:cancelled"], 2, "cancelled before the next bar")
        refused = [u for u in s.updates if u.order_id == s.ids["filled"] and u.status == "cancel_rejected"]
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0].error_code, "INVALID_STATE")
        self.assertRegex(refused[0].reason or "", "filled")

    @async_test
    async def test_a_bracket_opens_its_two_legs_when_the_parent_fills(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            s.place("parent", "buy", 10, bracket=Bracket(take_profit=(bar.close * Decimal("1.5")).quantize(Decimal("0.01")),
                                                          stop_loss=(bar.close * Decimal("0.5")).quantize(Decimal("0.01"))))

        s = Scripted({1: step1})
        await run(s)
        legs = {u.order.leg: u for u in s.updates if u.order is not None and u.order.parent_order_id == s.ids["parent"] and u.status == "accepted"}
        self.assertEqual(sorted(legs), ["stop_loss", "take_profit"])
        self.assertEqual(legs["take_profit"].order_id, f"{s.ids['parent']}-tp")
        self.assertEqual(legs["stop_loss"].side, "sell")


class PlacesAtStart(Scripted):
    def on_start(self) -> None:
        self.place("big", "buy", 120, time_in_force="gtc")  # a day order would expire after its first bar


@needs_server
class PartialFills(unittest.TestCase):
    @async_test
    async def test_a_volume_cap_fills_in_parts_and_on_order_hears_each(self) -> None:
        s = PlacesAtStart({})
        # AAPL trades 45-110 M shares a day in the demo data: 1e-6 of that is 45-110 shares per bar.
        await run(s, {**JANUARY, "volume_participation": Decimal("0.000001")})
        self.assertEqual(s.statuses("big")[0], "accepted")
        self.assertIn("partially_filled", s.statuses("big"))
        self.assertEqual(s.statuses("big")[-1], "filled")
        parts = [f for f in s.fills if f.order_id == s.ids["big"]]
        self.assertGreater(len(parts), 1)
        self.assertEqual(sum(f.quantity for f in parts), 120)
        self.assertTrue(all(f.is_partial for f in parts[:-1]) and not parts[-1].is_partial)
        self.assertEqual(parts[0].execution_time, s.seen[2].timestamp, "placed in on_start: sent with tick 1, tried from bar 2")


@needs_server
class ExactDecimals(unittest.TestCase):
    @async_test
    async def test_the_account_is_exact_and_agrees_with_the_fills(self) -> None:
        def step1(s: Scripted, bar: Bar) -> None:
            s.place("a", "buy", Decimal("3.5"))
            s.place("b", "buy", 7, type="limit", limit_price=bar.close + Decimal("0.01"))

        def step6(s: Scripted, bar: Bar) -> None:
            s.place("c", "sell", Decimal("2.25"))

        s = Scripted({1: step1, 6: step6})
        r = await run(s)
        for f in s.fills:
            for v in (f.price, f.quantity, f.commission):
                self.assertIsInstance(v, Decimal)
        cash = r.session.initial_capital
        for f in s.fills:
            value = (f.quantity * f.price).quantize(E8, rounding=ROUND_HALF_EVEN)
            cash += (value if f.side == "sell" else -value) - f.commission
        account = s.account
        assert account is not None
        self.assertEqual(account.cash, cash, "cash = initial − Σ buys + Σ sells − commissions, to the last digit")
        wire = await rest(f"/sessions/{r.session.session_id}/account")
        self.assertEqual(Decimal(wire["cash"]), account.cash)
        self.assertEqual(str(account.cash), wire["cash"], "the very string the server sent")
        self.assertEqual(s.position("AAPL").quantity, Decimal("8.25"))
        self.assertEqual(str(r.results.total_commission), wire["total_commission"])


if __name__ == "__main__":
    unittest.main()
