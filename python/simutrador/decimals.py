"""Exact numbers across the wire. Money arrives as decimal strings and JSON numbers are read as
:class:`~decimal.Decimal` (never float), so every amount the strategy sees is the one the server computed.
Going out, prices are sent as decimal strings and quantities as JSON numbers whose text is the exact
quantity; a float is refused, since it already lost the amount the user meant."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any, Callable, Union

DecimalLike = Union[Decimal, int, str]

_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")

#: ``json.loads`` as the SDK reads every frame: integers as int, every other number as an exact Decimal.
loads: Callable[[str], Any] = json.JSONDecoder(parse_float=Decimal).decode

# Wide enough for the exact binary value of any double.
_WIDE = Context(prec=1100)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A JSON number when a double carries it exactly (its shortest text is the Decimal), else the exact
        # decimal string (accepted wherever the server takes money).
        f = float(value)
        if value.is_finite() and Decimal(repr(f)) == value:
            return f
        return format(value, "f")
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Compact JSON as the SDK sends it (non-ASCII kept, as JSON.stringify does; Decimals exact)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def to_decimal(value: Any) -> Decimal:
    """A wire amount (decimal string, int or Decimal) as a Decimal; a float is refused."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError(f"expected a decimal amount, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        return Decimal(value.strip())
    raise TypeError(f"expected a decimal amount, got {value!r}")


def optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)


def money_arg(value: DecimalLike, name: str) -> str:
    """A price or amount the strategy passes, as the exact decimal string the server reads (8 decimals max)."""
    if isinstance(value, float):
        raise TypeError(f"{name}: pass a Decimal, an int or a decimal string, not a float ({value!r}); "
                        f"e.g. Decimal('{value}') — a float is not the exact amount")
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"{name}: expected a Decimal, an int or a decimal string, got {type(value).__name__}")
    try:
        d = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name}: '{value}' is not a decimal number") from None
    if not d.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    text = format(d, "f")
    if not _DECIMAL_TEXT.match(text) or len(text) > 32:
        raise ValueError(f"{name}: '{value}' is not a decimal number of at most 32 characters")
    return text


def quantity_arg(value: DecimalLike, name: str = "qty") -> int | float:
    """A quantity as the JSON number the schema wants, whose text is exactly the quantity given.

    Quantities go out as numbers (the server reads a number as the decimal it prints as). A fractional
    Decimal is sent as the float whose shortest text is that Decimal; one that has no such float (more
    than 15 significant digits) is refused rather than rounded."""
    text = money_arg(value, name)
    d = Decimal(text)
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    if Decimal(repr(f)) != d:
        raise ValueError(f"{name}: {text} has more digits than a quantity can carry exactly")
    return f


def js_to_fixed(value: Decimal | float | int, digits: int) -> str:
    """``Number.prototype.toFixed`` of the JSON number ``value``: the double it denotes, rounded half away
    from zero on its exact binary value, so the runner prints ratios exactly as the TypeScript CLI does."""
    f = float(value)
    if f == 0:
        f = 0.0  # -0 prints as "0.00"; a negative that rounds to zero keeps its sign ("-0.00"), as in JS
    q = Decimal(f).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP, context=_WIDE)
    return format(q, "f")
