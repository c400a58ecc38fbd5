"""SimuTrador's Python strategy SDK: write a :class:`Strategy`, run it against a SimuTrador server over
the WebSocket protocol (lockstep, exact decimals, resume after a dropped connection), read the results.
Run one with ``python -m simutrador run strategy.py --symbols AAPL --start 2023-01-03 --end 2023-12-29``;
the API reference is docs/python-sdk.md."""

__version__ = "0.1.0"

from .client import ReconnectPolicy, SessionClient
from .errors import (AuthError, ClientClosedError, ConnectionLostError, OrderError, RequestTimeoutError, ServerError,
                     SimutradorError, StrategyError)
from .models import Account, Bar, Bracket, Fill, Order, OrderUpdate, Position, Results, Session
from .runner import RunResult, run_strategy
from .strategy import Strategy

__all__ = [
    "Account", "AuthError", "Bar", "Bracket", "ClientClosedError", "ConnectionLostError", "Fill", "Order", "OrderError",
    "OrderUpdate", "Position", "ReconnectPolicy", "RequestTimeoutError", "Results", "RunResult", "ServerError", "Session",
    "SessionClient", "SimutradorError", "Strategy", "StrategyError", "run_strategy", "__version__",
]
