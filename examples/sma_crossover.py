"""SMA 10/30 crossover on closes, long-only, 100 shares: buy when the 10-bar average crosses above the
30-bar average, sell when it crosses below. The same strategy as examples/sma-crossover.ts, decision for
decision (test/integration/python-sdk.test.ts checks that both give byte-identical results). Run it with

    python3 -m simutrador run examples/sma_crossover.py --symbols AAPL --start 2023-01-03 --end 2023-12-29

(from the repository, with PYTHONPATH=python, or after ``pip install ./python``), or through the CLI:

    npx simutrador simulate run examples/sma_crossover.py --symbols AAPL --start 2023-01-03 --end 2023-12-29
"""

from __future__ import annotations

from collections import deque

from simutrador import Bar, Strategy

FAST = 10
SLOW = 30
SHARES = 100


class RollingMean:
    """Rolling sum over the last ``n`` values: O(1) per bar.

    The averages are floats summed in the TypeScript example's order, so both examples make the same
    decision on every bar (a signal, not money: orders and the account stay exact Decimals)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: deque[float] = deque()
        self.sum = 0.0

    def push(self, v: float) -> None:
        self.values.append(v)
        self.sum += v
        if len(self.values) > self.n:
            self.sum -= self.values.popleft()

    @property
    def ready(self) -> bool:
        return len(self.values) >= self.n

    @property
    def value(self) -> float:
        return self.sum / len(self.values)


class SmaCrossover(Strategy):
    def on_start(self) -> None:
        self.fast: dict[str, RollingMean] = {}
        self.slow: dict[str, RollingMean] = {}
        self.above: dict[str, bool] = {}
        self.long: dict[str, bool] = {}

    def on_bar(self, bar: Bar) -> None:
        s = bar.symbol
        if s not in self.fast:
            self.fast[s], self.slow[s], self.long[s] = RollingMean(FAST), RollingMean(SLOW), False
        close = float(bar.close)
        self.fast[s].push(close)
        self.slow[s].push(close)
        if not self.slow[s].ready:
            return
        above = self.fast[s].value > self.slow[s].value
        if s in self.above and above != self.above[s]:
            if above and not self.long[s]:
                self.buy(s, SHARES)
                self.long[s] = True
            if not above and self.long[s]:
                self.sell(s, SHARES)
                self.long[s] = False
        self.above[s] = above
