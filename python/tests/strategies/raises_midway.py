"""A strategy whose own code raises at step 150 (for the runner's strategy-error test)."""

from simutrador import Bar, Strategy


class RaisesMidway(Strategy):
    def on_bar(self, bar: Bar) -> None:
        if bar.step == 150:
            self.look_up(bar)

    def look_up(self, bar: Bar) -> None:
        prices: dict[str, object] = {}
        print(prices[f"no price at step {bar.step}"])
