"""Terminal output of the runner, written to match the TypeScript CLI character for character
(client/cli/output.ts and the results table of client/cli/commands/session-run.ts): money at exactly 2
decimals rounded half-even on the wire string's digits, ratios and percentages as JavaScript's ``toFixed``
prints the server's numbers, aligned ``label  value`` lines, and the same progress bar."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Mapping, Optional

from .decimals import js_to_fixed

_DECIMAL = re.compile(r"^(-)?(\d+)(?:\.(\d*))?$")


def format_money(value: Any) -> str:
    """A wire money string as cash and P&L are read in tables: 2 decimals, half-even, never via a float."""
    text = str(value).strip()
    m = _DECIMAL.match(text)
    if m is None:
        return str(value)
    q = Decimal(f"{m.group(2)}.{m.group(3) or '0'}").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    sign = "-" if m.group(1) == "-" and q != 0 else ""
    return f"{sign}{q}"


def format_fields(fields: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in fields)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in fields)


def progress_bar(fraction: float, width: int = 20) -> str:
    """``[██████░░░░░░░░░░░░░░]  30%`` for a fraction 0..1."""
    f = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    filled = math.floor(f * width + 0.5)  # Math.round: halves up
    return f"[{'█' * filled}{'░' * (width - filled)}] {(str(math.floor(f * 100)) + '%').rjust(4)}"


def _pct(v: Optional[Any]) -> str:
    return "n/a" if v is None else f"{js_to_fixed(v, 2)}%"


def _num(v: Optional[Any]) -> str:
    return "n/a" if v is None else js_to_fixed(v, 3)


def results_fields(session: Mapping[str, Any], results: Mapping[str, Any], ticks: Optional[int] = None) -> list[tuple[str, str]]:
    """The table ``simutrador simulate run`` prints (session and results as the server's JSON)."""
    m = results["metrics"]
    win_rate = m.get("win_rate")
    fields: list[tuple[str, str]] = [
        ("Session", f"{session['session_id']} ({', '.join(session['symbols'])}, {session['start_date']} → {session['end_date']}, {session['timeframe']})"),
    ]
    if not results["completed"]:
        fields.append(("Status", f"not finished ({session['state']}): metrics up to the last replayed bar"))
    fields += [
        ("Ticks", str(m["bars_processed"] if ticks is None else ticks)),
        ("Initial capital", format_money(m["initial_capital"])),
        ("Final equity", format_money(m["final_equity"])),
        ("Total return", _pct(m.get("total_return_pct"))),
        ("CAGR", _pct(m.get("cagr_pct"))),
        ("Max drawdown", _pct(m.get("max_drawdown_pct"))),
        ("Sharpe", _num(m.get("sharpe_ratio"))),
        ("Sortino", _num(m.get("sortino_ratio"))),
        ("Calmar", _num(m.get("calmar_ratio"))),
        ("Trades", f"{m['total_trades']} closed ({m['winning_trades']} won, win rate {_pct(None if win_rate is None else float(win_rate) * 100)})"
                   + (f", {m['open_trades']} open at the end" if m.get("open_trades", 0) > 0 else "")),
        ("Profit factor", _num(m.get("profit_factor"))),
        ("Realized P&L", format_money(m["realized_pnl"])),
        ("Commission", format_money(m["total_commission"])),
        ("Fill policy", str(results["fill_policy_version"])),
    ]
    return fields


def rejection_lines(orders: list[Mapping[str, Any]], verbose: bool) -> list[str]:
    """``Rejected orders: 3 (INSUFFICIENT_BUYING_POWER 2, INVALID_SYMBOL 1)``, most frequent first, as the
    TypeScript CLI prints it (client/cli/rejections.ts); with ``verbose`` one line per refused order."""
    if not orders:
        return []
    by_code: dict[str, int] = {}
    for o in orders:
        code = str(o.get("error_code") or "UNKNOWN")
        by_code[code] = by_code.get(code, 0) + 1
    counts = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"Rejected orders: {len(orders)} ({', '.join(f'{code} {n}' for code, n in counts)})"]
    if verbose:
        for o in orders:
            size = str(o["quantity"]) if o.get("quantity") is not None else f"${o['notional']}" if o.get("notional") is not None else "?"
            lines.append(f"  {o['order_id']} {o['side']} {size} {o['symbol']} {o['type']} at {o['created_at']}: "
                         f"{o.get('error_code') or 'UNKNOWN'}: {o.get('reason') or ''}")
    return lines
