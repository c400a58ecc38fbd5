// Tick frames rendered from templates are byte for byte what JSON.stringify makes of the tick object, for every
// step of runs with several symbols (symbol sets), minute and daily bars, bars on and off, odd numbers and
// symbols that need escaping or would reorder the keys; and stepInto + tickJson give the events of step().
import t, { type Test } from 'tap'
import { emptySeries, type BarSeries } from '../../../server/market-data/bar-series.js'
import { CLOSING_STEP, NO_STEP, type EngineEvent } from '../../../server/simulation/engine.js'
import { jsonNumber } from '../../../server/simulation/tick-frames.js'
import { dailySeries, engineFor, flat, minuteSeries, submit, order } from './bars.js'

/** Every step's tickJson against JSON.stringify(tickData), and stepInto's events against step()'s. */
function compare (t: Test, name: string, make: () => ReturnType<typeof engineFor>, trade = false): void {
  const a = make()
  const b = make()
  let steps = 0
  for (;;) {
    if (trade && a.stepsDone === 2) {
      submit(a, [order({ order_id: 'o1', symbol: 'AAA', quantity: 5 })])
      submit(b, [order({ order_id: 'o1', symbol: 'AAA', quantity: 5 })])
    }
    const viaStep = a.step()
    const events: EngineEvent[] = []
    const k = b.stepInto(events)
    if (viaStep === null) { t.equal(k, NO_STEP, `${name}: both over`); break }
    if (k >= 0) {
      const json = b.tickJson(k)
      t.equal(json, JSON.stringify(b.tickData(k)), `${name}: step ${k} renders as JSON.stringify does`)
      events.push({ type: 'tick', data: JSON.parse(json) })
      steps++
    } else {
      t.equal(k, CLOSING_STEP)
    }
    t.equal(JSON.stringify(events), JSON.stringify(viaStep), `${name}: step ${k}: same events as step()`)
  }
  t.ok(steps > 0, `${name}: ${steps} ticks`)
}

const odd = (symbol: string): BarSeries => {
  const s = emptySeries(symbol, '1d', 4)
  const values = [0.1 + 0.2, 1e21, 5e-7, -0, Number.NaN, Number.POSITIVE_INFINITY, 123456789.123456, 1 / 3]
  for (let i = 0; i < 4; i++) {
    s.time[i] = Date.UTC(2023, 0, 2 + i, 14, 30)
    s.day[i] = 20230102 + i
    s.open[i] = values[i]; s.high[i] = values[i + 1]; s.low[i] = values[(i + 2) % 8]; s.close[i] = values[(i + 3) % 8]; s.volume[i] = values[(i + 4) % 8]
  }
  return s
}

t.test('tick JSON from templates equals JSON.stringify of the tick', async (t) => {
  const days = [[flat(10), flat(11), flat(12)], [flat(13), flat(12.5)], [flat(12.25), flat(12.125), flat(11)]]
  compare(t, 'one symbol, minute bars, with bars', () => engineFor(minuteSeries('AAA', days), { includeBars: true }))
  compare(t, 'one symbol, minute bars, without bars', () => engineFor(minuteSeries('AAA', days), { includeBars: false }))
  compare(t, 'with a fill', () => engineFor(minuteSeries('AAA', days), { includeBars: true }), true)
  compare(t, 'market sessions from a calendar', () => engineFor(minuteSeries('AAA', days), { includeBars: true, marketSessionAt: (i, ms) => (ms / 60_000) % 2 === 0 ? 'regular' : i === 0 ? 'pre_market' : 'after_hours' }))
  // Symbols trading on different days make several symbol sets.
  compare(t, 'symbols with gaps (symbol sets), daily', () => engineFor([
    dailySeries('AAA', [flat(1), flat(2), flat(3), flat(4)]),
    dailySeries('BRK.B', [flat(5), flat(6)], '2023-01-03'),
    dailySeries('EUR/USD', [flat(1.0712), flat(1.0713), flat(1.0714), flat(1.0715), flat(1.07)], '2023-01-01')
  ], { includeBars: true }), true)
  compare(t, 'odd numbers (NaN, Infinity, -0, exponents)', () => engineFor(odd('AAA'), { includeBars: true }))
  compare(t, 'symbols that need escaping', () => engineFor([dailySeries('A"B\\C', [flat(1), flat(2)]), dailySeries('é\u2028', [flat(3), flat(4)])], { includeBars: true }))
  compare(t, 'a numeric symbol (JSON.stringify puts it first)', () => engineFor([dailySeries('ZZZ', [flat(1), flat(2)]), dailySeries('7203', [flat(3), flat(4)])], { includeBars: true }))
})

t.test('numbers print exactly as JSON.stringify prints them', async (t) => {
  let state = 12345
  const rnd = (): number => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state / 2 ** 32 }
  const values: number[] = [0, -0, 1, -1, 0.1, 0.2, 0.1 + 0.2, 1 / 3, 1e-6, 1e-7, 5e-7, 0.000001, 0.0000015, 999_999_999.999999, 1e9, -1e9, 1e21, 1.5e300,
    Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 166.91, 1.0712, 123.456789, 45_477_838]
  for (let i = 0; i < 200_000; i++) {
    const decimals = i % 9
    const mag = 10 ** (i % 11)
    const raw = (rnd() - 0.2) * mag
    // Prices with a few decimals (as bars have them), parsed from their text like a CSV or a scaled integer.
    values.push(Number(raw.toFixed(decimals)), Math.round(raw * 10 ** decimals) / 10 ** decimals, raw)
  }
  const wrong = values.filter((v) => jsonNumber(v) !== JSON.stringify(v))
  t.same(wrong.slice(0, 10).map((v) => [v, jsonNumber(v), JSON.stringify(v)]), [], `all ${values.length} numbers alike`)
})
