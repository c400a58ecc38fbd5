// SMA 10/30 crossover on closes, long-only, 100 shares: buy when the 10-bar average crosses above the
// 30-bar average, sell when it crosses below. Run it with
//   npx simutrador simulate run examples/sma-crossover.ts --symbols AAPL --start 2023-01-03 --end 2023-12-29
// A strategy module exports `createStrategy()` returning a Strategy (client/strategy-runner.ts).
import type { Strategy, StrategyOrder } from '../client/strategy-runner.js'

export const FAST = 10
export const SLOW = 30
export const SHARES = 100

/** Rolling sum over the last `n` values: O(1) per bar. */
class RollingMean {
  readonly #values: number[] = []
  #sum = 0
  constructor (readonly n: number) {}
  push (v: number): void {
    this.#values.push(v)
    this.#sum += v
    if (this.#values.length > this.n) this.#sum -= this.#values.shift() ?? 0
  }

  get ready (): boolean { return this.#values.length >= this.n }
  get value (): number { return this.#sum / this.#values.length }
}

export function createStrategy (): Strategy {
  const state = new Map<string, { fast: RollingMean, slow: RollingMean, above: boolean | undefined, long: boolean }>()
  return {
    onTick (tick) {
      const orders: StrategyOrder[] = []
      for (const [symbol, bar] of Object.entries(tick.bars ?? {})) {
        let s = state.get(symbol)
        if (s === undefined) { s = { fast: new RollingMean(FAST), slow: new RollingMean(SLOW), above: undefined, long: false }; state.set(symbol, s) }
        s.fast.push(bar.close)
        s.slow.push(bar.close)
        if (!s.slow.ready) continue
        const above = s.fast.value > s.slow.value
        if (s.above !== undefined && above !== s.above) {
          if (above && !s.long) { orders.push({ symbol, side: 'buy', type: 'market', quantity: SHARES, time_in_force: 'day' }); s.long = true }
          if (!above && s.long) { orders.push({ symbol, side: 'sell', type: 'market', quantity: SHARES, time_in_force: 'day' }); s.long = false }
        }
        s.above = above
      }
      return orders
    }
  }
}
