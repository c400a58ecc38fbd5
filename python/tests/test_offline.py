"""What needs no server: the CLI's number formatting (as client/cli/output.ts prints), exact decimals in and
out, server URLs, and the order helpers' checks at the call site."""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from decimal import Decimal

from simutrador import Bar, Bracket, Strategy
from simutrador.credentials import normalise_server
from simutrador.decimals import dumps, js_to_fixed, loads, money_arg, quantity_arg
from simutrador.models import Session
from simutrador.output import format_money, progress_bar
from simutrador.strategy import StrategyContext, next_replace_id
from simutrador.urls import UrlRotation, parse_server_urls


class Formatting(unittest.TestCase):
    def test_money_is_rounded_half_even_on_the_digits(self) -> None:
        cases = {"100000": "100000.00", "12.345": "12.34", "12.355": "12.36", "12.3451": "12.35", "-0.001": "0.00",
                 "-274.005": "-274.00", "-274.015": "-274.02", "99999999.999999995": "100000000.00", "abc": "abc"}
        for wire, shown in cases.items():
            self.assertEqual(format_money(wire), shown, wire)

    def test_ratios_print_as_javascript_tofixed(self) -> None:
        # Number.prototype.toFixed rounds the double's exact value, ties away from zero: 0.125 → 0.13, 1.005 → 1.00.
        cases = [(Decimal("0.125"), 2, "0.13"), (Decimal("1.005"), 2, "1.00"), (Decimal("-0.001"), 2, "-0.00"), (Decimal("-0"), 2, "0.00"),
                 (Decimal("13.2999116821"), 3, "13.300"), (Decimal("2.5"), 0, "3"), (Decimal("-2.5"), 0, "-3"), (Decimal("66.66666666666667"), 2, "66.67")]
        for value, digits, shown in cases:
            self.assertEqual(js_to_fixed(value, digits), shown, f"{value} to {digits}")

    def test_progress_bar(self) -> None:
        self.assertEqual(progress_bar(0.4, 10), "[████░░░░░░]  40%")
        self.assertEqual(progress_bar(1, 4), "[████] 100%")
        self.assertEqual(progress_bar(float("nan"), 4), "[░░░░]   0%")
        self.assertEqual(progress_bar(0.125, 4), "[█░░░]  12%", "0.5 of a cell rounds up, as Math.round")


class Decimals(unittest.TestCase):
    def test_wire_numbers_are_decimals_and_integers_stay_int(self) -> None:
        frame = loads('{"close": 166.84, "volume": 45477838, "tiny": 1e-7}')
        self.assertEqual(frame["close"], Decimal("166.84"))
        self.assertIsInstance(frame["close"], Decimal)
        self.assertIsInstance(frame["volume"], int)
        self.assertEqual(frame["tiny"], Decimal("1E-7"))

    def test_money_arguments_refuse_floats(self) -> None:
        self.assertEqual(money_arg(Decimal("101.25"), "p"), "101.25")
        self.assertEqual(money_arg(101, "p"), "101")
        self.assertEqual(money_arg("0.10", "p"), "0.10")
        with self.assertRaisesRegex(TypeError, "not a float"):
            money_arg(101.25, "limit_price")  # type: ignore[arg-type]
        self.assertEqual(money_arg("1e2", "p"), "100", "exact, whatever its notation")
        for bad in ("NaN", "Infinity", "1,5", "", "1" * 40):
            with self.assertRaises(ValueError, msg=bad):
                money_arg(bad, "p")
        with self.assertRaises(TypeError):
            money_arg(True, "p")

    def test_decimals_in_requests_stay_exact(self) -> None:
        self.assertEqual(dumps({"a": Decimal("0.000001"), "b": Decimal("100000.12345678"), "c": Decimal("1.00000000000000000001")}),
                         '{"a":1e-06,"b":100000.12345678,"c":"1.00000000000000000001"}')

    def test_quantities_go_out_as_exact_json_numbers(self) -> None:
        self.assertEqual(quantity_arg(100), 100)
        self.assertEqual(quantity_arg(Decimal("100.000")), 100)
        self.assertEqual(repr(quantity_arg(Decimal("0.12345678"))), "0.12345678")
        with self.assertRaisesRegex(ValueError, "exactly"):
            quantity_arg(Decimal("1.0000000000000001"))


class Urls(unittest.TestCase):
    def test_http_and_ws_addresses_from_one_url(self) -> None:
        [u] = parse_server_urls("http://127.0.0.1:8003/some/path")
        self.assertEqual((u.http, u.ws), ("http://127.0.0.1:8003/", "ws://127.0.0.1:8003/ws/simulate"))
        [s] = parse_server_urls("wss://example.test")
        self.assertEqual((s.http, s.ws), ("https://example.test/", "wss://example.test/ws/simulate"))

    def test_a_bad_entry_is_named(self) -> None:
        with self.assertRaisesRegex(ValueError, r"url\[1\]: 'ftp://x'"):
            parse_server_urls(["http://a:1", "ftp://x"])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            parse_server_urls([])

    def test_rotation_is_round_robin(self) -> None:
        r = UrlRotation(["a", "b", "c"])
        self.assertEqual([r.advance(), r.advance(), r.advance(), r.reset()], ["b", "c", "a", "a"])

    def test_stored_login_key_matches_the_cli(self) -> None:
        self.assertEqual(normalise_server("HTTP://LocalHost:80/"), "http://localhost")
        self.assertEqual(normalise_server("http://127.0.0.1:8003"), "http://127.0.0.1:8003")


def _bar(symbol: str, close: str, step: int) -> Bar:
    t = datetime(2023, 1, 3, tzinfo=timezone.utc)
    c = Decimal(close)
    return Bar(symbol, t, "2023-01-03", c, c, c, c, Decimal(1), t, True, step)


class Helpers(unittest.TestCase):
    def setUp(self) -> None:
        self.s = Strategy()
        session = Session("sess_abcdef123456", ["AAPL"], "2023-01-03", "2023-01-31", "1d", Decimal(100000), "ready", 20, Decimal(0), None, {})
        self.ctx = StrategyContext(session, 3, "123456")
        self.s._simutrador = self.ctx

    def test_orders_are_queued_in_call_order_with_generated_ids(self) -> None:
        a = self.s.buy("AAPL", 10, type="limit", limit_price=Decimal("150.5"), time_in_force="gtc")
        self.s.cancel("x-1")
        b = self.s.sell("AAPL", Decimal("2.5"), type="trailing_stop", trail_percent="1.5",
                        bracket=None)
        c = self.s.buy("AAPL", 1, bracket=Bracket(take_profit=200, stop_loss="140", stop_loss_limit=Decimal("139.5")))
        self.assertEqual([a, b, c], ["123456-0-1", "123456-0-2", "123456-0-3"])
        kinds = [k for k, _ in self.ctx.take_commands()]
        self.assertEqual(kinds, ["order", "cancel", "order", "order"])
        # At the next step the count starts again, and an order given its own id still takes its number.
        self.ctx.step = 7
        own = self.s.buy("AAPL", 1, order_id="mine")
        d = self.s.buy("AAPL", 1)
        self.assertEqual([own, d], ["mine", "123456-7-2"])
        self.ctx.take_commands()
        self.assertEqual(self.ctx.requested[a], {"order_id": a, "symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "gtc", "quantity": 10, "price": "150.5"})
        self.assertEqual(self.ctx.requested[c]["take_profit"], {"limit_price": "200"})
        self.assertEqual(self.ctx.requested[c]["stop_loss"], {"stop_price": "140", "limit_price": "139.5"})
        self.assertEqual(self.ctx.take_commands(), [])

    def test_bad_arguments_fail_at_the_call(self) -> None:
        with self.assertRaisesRegex(ValueError, "type"):
            self.s.buy("AAPL", 1, type="iceberg")
        with self.assertRaisesRegex(ValueError, "time_in_force"):
            self.s.buy("AAPL", 1, time_in_force="gtd")
        with self.assertRaisesRegex(ValueError, "positive"):
            self.s.sell("AAPL", 0)
        with self.assertRaisesRegex(TypeError, "float"):
            self.s.buy("AAPL", 1, type="limit", limit_price=150.5)  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, "symbol"):
            self.s.buy("AA PL", 1)
        with self.assertRaisesRegex(ValueError, "order_id"):
            self.s.buy("AAPL", 1, order_id="no spaces")
        self.assertEqual(self.ctx.take_commands(), [], "nothing queued by a refused call")

    def test_replace_names_the_new_order_as_the_server_will(self) -> None:
        self.assertEqual(next_replace_id("ord-1"), "ord-1-r1")
        self.assertEqual(next_replace_id("ord-1-r1"), "ord-1-r2")
        self.assertEqual(self.s.replace("ord-1-r9", limit_price="10"), "ord-1-r10")
        [(kind, (old, changes))] = self.ctx.take_commands()
        self.assertEqual((kind, old, changes), ("replace", "ord-1-r9", {"price": "10", "new_order_id": "ord-1-r10"}))

    def test_history_keeps_the_last_history_size_bars(self) -> None:
        for i, close in enumerate(["1", "2", "3", "4"]):
            self.ctx.record(_bar("AAPL", close, i + 1))
        self.assertEqual(self.s.closes("AAPL", 3), [Decimal(2), Decimal(3), Decimal(4)])
        self.assertEqual(self.s.closes("AAPL", 1), [Decimal(4)])
        self.assertEqual(self.s.closes("MSFT", 2), [])
        with self.assertRaisesRegex(ValueError, "history_size"):
            self.s.closes("AAPL", 4)
        self.assertEqual(self.s.position("AAPL").quantity, 0)

    def test_helpers_outside_a_run_say_so(self) -> None:
        with self.assertRaisesRegex(RuntimeError, "once the strategy runs"):
            Strategy().buy("AAPL", 1)


if __name__ == "__main__":
    unittest.main()
