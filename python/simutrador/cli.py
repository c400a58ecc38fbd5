"""``python -m simutrador run STRATEGY.py --symbols … --start … --end …``: loads the strategy, creates the
session (or uses --session), runs it over the WebSocket SDK with a progress bar on a terminal, and prints the
results table of ``simutrador simulate run`` (from GET /sessions/{id}/results). ``simutrador simulate run
strategy.py`` (the TypeScript CLI) starts this same runner. Exit codes as the CLI's: 0 ok, 1 the operation
or the strategy failed (its traceback printed), 2 usage, 130 interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, Optional, Sequence, TextIO

from . import __version__
from .client import SessionClient
from .credentials import normalise_server, stored_api_key
from .decimals import loads
from .errors import SimutradorError, StrategyError
from .loader import UsageError, load_strategy
from .output import format_fields, progress_bar, rejection_lines, results_fields
from .rest import http_json
from .runner import run_strategy

DEFAULT_SERVER = "http://127.0.0.1:8003"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n(run with --help for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m simutrador", description="Run a Python strategy against a SimuTrador server")
    parser.add_argument("--version", action="version", version=f"simutrador {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = commands.add_parser("run", help="run STRATEGY_FILE to the end of a new or existing session",
                              description="Run STRATEGY_FILE (a .py file defining a simutrador.Strategy subclass) to the end of a session.",
                              epilog="Example:\n  python -m simutrador run examples/sma_crossover.py --symbols AAPL --start 2023-01-03 --end 2023-12-29",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("strategy_file")
    run.add_argument("--symbols", help="comma-separated symbols, e.g. AAPL,MSFT")
    run.add_argument("--start", help="first day, YYYY-MM-DD")
    run.add_argument("--end", help="last day, YYYY-MM-DD")
    run.add_argument("--timeframe", choices=["1d", "1h", "1m"], help="bar size (default 1d)")
    run.add_argument("--capital", help="initial capital (default 100000)")
    run.add_argument("--commission", help="commission per share (default 0.005)")
    run.add_argument("--slippage-bps", help="slippage in basis points (default 5)")
    run.add_argument("--allow-short", action="store_true", default=None, help="allow short selling")
    run.add_argument("--body", help="the whole session as a CreateSessionBody JSON object (flags override it)")
    run.add_argument("--session", help="run an existing ready session instead of creating one")
    run.add_argument("--window", type=int, default=1, help="ticks the server may send ahead of your acks (1 = lockstep)")
    run.add_argument("--no-flow-control", dest="flow_control", action="store_false", help="stream as fast as the socket drains (no acks)")
    run.add_argument("--account-updates", choices=["every_fill", "every_tick", "on_demand"], default="every_fill")
    run.add_argument("--url", action="append", help="server base URL; repeat for several instances of one service "
                     f"(env SIMUTRADOR_URL, comma-separated; default {DEFAULT_SERVER})")
    run.add_argument("--api-key", help="API key (env SIMUTRADOR_API_KEY; default: the login stored by `simutrador auth login`)")
    run.add_argument("--verbose", action="store_true", help="after the results, list every rejected order with its reason (the count by error code is always printed)")
    run.add_argument("--json", action="store_true", help="machine-readable output (errors too, as {error_code, message, details})")
    return parser


def _servers(flags: Optional[Sequence[str]]) -> list[str]:
    raw = list(flags or []) or [s.strip() for s in os.environ.get("SIMUTRADOR_URL", "").split(",") if s.strip()] or [DEFAULT_SERVER]
    out: list[str] = []
    for url in raw:
        if not url.lower().startswith(("http://", "https://")):
            raise UsageError(f"--url: '{url}' must be an http:// or https:// URL", "Example: --url http://127.0.0.1:8003")
        norm = normalise_server(url)
        if norm not in out:
            out.append(norm)
    return out


def _number(text: str, flag: str) -> int | float:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{flag}: '{text}' is not a number") from None
    return int(d) if d == d.to_integral_value() else float(d)


def session_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.body is not None:
        try:
            body = json.loads(args.body)
        except ValueError as err:
            raise UsageError(f"--body: not JSON ({err})") from None
        if not isinstance(body, dict):
            raise UsageError("--body: expected a JSON object")
    if args.symbols is not None:
        body["symbols"] = [s.strip() for s in args.symbols.split(",") if s.strip()]
    for flag, key in (("start", "start_date"), ("end", "end_date"), ("timeframe", "timeframe"), ("capital", "initial_capital"),
                      ("commission", "commission_per_share")):
        if getattr(args, flag) is not None:
            body[key] = getattr(args, flag)
    if args.slippage_bps is not None:
        body["slippage_bps"] = _number(args.slippage_bps, "--slippage-bps")
    if args.allow_short:
        body["allow_short"] = True
    missing = [f for f, k in (("--symbols", "symbols"), ("--start", "start_date"), ("--end", "end_date")) if k not in body]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (or pass --session)")
    return body


class _Progress:
    """The CLI's progress line: rewritten in place on a terminal, one line per tenth otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.decile = -1

    def __call__(self, ticks: int, total: int, session_id: str) -> None:
        if not self.enabled:
            return
        f = 1.0 if total == 0 else ticks / total
        line = f"{session_id}  {progress_bar(f, 30)}  {ticks}/{total} ticks"
        if self.tty:
            self.stream.write(f"\r{line}")
            self.stream.flush()
        elif int(f * 10) > self.decile:
            self.decile = int(f * 10)
            self.stream.write(f"{line}\n")

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _plain(value: Any) -> Any:
    """JSON as the TypeScript CLI prints it: Decimal numbers back to JSON numbers."""
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


async def run_command(args: argparse.Namespace) -> int:
    servers = _servers(args.url)
    if not 1 <= args.window <= 1000:
        raise UsageError(f"--window: '{args.window}' must be an integer 1..1000")
    session: str | dict[str, Any] = args.session if args.session is not None else session_body(args)
    strategy = load_strategy(args.strategy_file)
    api_key = args.api_key or os.environ.get("SIMUTRADOR_API_KEY") or stored_api_key(servers)
    if not api_key:
        raise SimutradorError("UNAUTHORIZED", f"Not logged in to {servers[0] if len(servers) == 1 else 'any of ' + ', '.join(servers)}",
                              details={"hint": "run `simutrador auth login` or set SIMUTRADOR_API_KEY"})
    client = SessionClient(servers, api_key=api_key)
    progress = _Progress(sys.stderr, not args.json)
    try:
        await client.connect()
        start = {"flow_control": args.flow_control, "max_pending_ticks": args.window, "account_update_frequency": args.account_updates,
                 "include_bars": True}
        run = await run_strategy(client, strategy, session, start=start, progress_every=100, on_progress=progress)
        progress.end()
        sid = run.session.session_id
        auth = {"authorization": f"Bearer {await client.token()}"}
        text = await http_json("GET", f"{client.http_url}sessions/{sid}/results", headers=auth, raw=True)
        rejected = (await http_json("GET", f"{client.http_url}sessions/{sid}/orders?status=rejected", headers=auth))["orders"]
        if args.json:
            out = {"session": run.session.raw, "results": json.loads(text), "rejected_orders": rejected}
            sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False, default=_plain) + "\n")
        else:
            sys.stdout.write("\n" + format_fields(results_fields(run.session.raw, loads(text), run.ticks)) + "\n")
            for line in rejection_lines(rejected, args.verbose):
                sys.stdout.write(line + "\n")
        return EXIT_OK
    finally:
        await client.close()


def _details(details: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    suggestions = details.get("suggestions")
    if isinstance(suggestions, dict):
        for symbol, options in suggestions.items():
            names = [o for o in options if isinstance(o, str)] if isinstance(options, list) else []
            lines.append(f"  {symbol}: did you mean {', '.join(names)}?" if names else f"  {symbol}: no similar symbol")
    for key, value in details.items():
        if key in ("suggestions", "errors"):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value, default=_plain) if isinstance(value, dict) else str(value)
        lines.append(f"  {key}: {text}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    # The table and the bar are UTF-8 whatever the locale, as the TypeScript CLI writes them.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(run_command(args))
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted\n")
        return EXIT_INTERRUPTED
    except UsageError as err:
        sys.stderr.write(f"error: {err}\n" + (f"{err.hint}\n" if err.hint else ""))
        return EXIT_USAGE
    except StrategyError as err:
        message = f"strategy {args.strategy_file} threw: {err.message}"
        if args.json:
            body = {"error_code": "STRATEGY_ERROR", "message": message, "details": {"strategy": args.strategy_file, "stack": err.traceback_text}}
            sys.stdout.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        else:
            sys.stderr.write(f"STRATEGY_ERROR: {message}\n{err.traceback_text}")
        return EXIT_FAILURE
    except SimutradorError as err:
        if args.json:
            sys.stdout.write(json.dumps(err.to_json(), indent=2, ensure_ascii=False, default=_plain) + "\n")
        else:
            sys.stderr.write("\n".join([f"{err.error_code}: {err.message}", *_details(err.details)]) + "\n")
        return EXIT_FAILURE
