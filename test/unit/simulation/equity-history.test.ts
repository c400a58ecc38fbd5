// The thinning behind GET …/equity: bounded, ordered, and keeping the extremes and the deepest drawdown of
// every bucket, so a trough never disappears; drawdowns measured as the results measure max drawdown.
import t from 'tap'
import { drawdownSeries, stepEquityHistory, thinnedIndices } from '../../../server/simulation/equity-history.js'
import { maxDrawdownPct } from '../../../server/simulation/metrics.js'

/** A year of minute marks: a slow rise, a sharp one-minute crash at 60 %, a recovery. */
function minuteYear (): Float64Array {
  const n = 97_000
  const v = new Float64Array(n)
  for (let i = 0; i < n; i++) v[i] = 100_000 + i * 0.2 + Math.sin(i / 50) * 300
  v[Math.floor(n * 0.6)] = 70_000
  return v
}

t.test('at most maxPoints indices, in order, first and last kept', async (t) => {
  const v = minuteYear()
  const dd = drawdownSeries(100_000, v)
  for (const max of [8, 50, 2000]) {
    const idx = thinnedIndices(0, v.length, max, v, dd)
    t.ok(idx.length <= max, `${idx.length} ≤ ${max}`)
    t.equal(idx[0], 0)
    t.equal(idx.at(-1), v.length - 1)
    t.ok(idx.every((k, i) => i === 0 || k > idx[i - 1]), 'strictly increasing')
  }
})

t.test('the crash and the highest point survive any thinning', async (t) => {
  const v = minuteYear()
  const dd = drawdownSeries(100_000, v)
  const crash = Math.floor(v.length * 0.6)
  const top = v.indexOf(Math.max(...v))
  for (const max of [8, 50, 2000]) {
    const idx = thinnedIndices(0, v.length, max, v, dd)
    t.ok(idx.includes(crash), `the crash is kept with ${max} points`)
    t.ok(idx.includes(top), `the top is kept with ${max} points`)
  }
})

t.test('a short curve is returned whole', async (t) => {
  const v = Float64Array.from([100, 99, 101])
  t.same(thinnedIndices(0, 3, 8, v, drawdownSeries(100, v)), [0, 1, 2])
  t.same(thinnedIndices(1, 3, 8, v, drawdownSeries(100, v)), [1, 2])
  t.same(thinnedIndices(3, 3, 8, v, drawdownSeries(100, v)), [])
})

t.test('drawdowns are measured from the running peak, the initial capital first, as max drawdown is', async (t) => {
  const v = Float64Array.from([100, 90, 120, 60, 130])
  t.same([...drawdownSeries(100, v)], [0, 10, 0, 50, 0])
  t.same([...drawdownSeries(200, v)].map((x) => Number(x.toFixed(10))), [50, 55, 40, 70, 35])
  const year = minuteYear()
  t.equal(Math.max(...drawdownSeries(100_000, year)), maxDrawdownPct(100_000, year))
})

t.test('the history: money to the cent, steps 1-based, after_step keeps the whole run\'s peak', async (t) => {
  const values = Float64Array.from([100_000, 100_500.123, 99_000.5, 99_500])
  const track = { sessionId: 's1', initialCapital: 100_000, values, totalSteps: 10, closeMs: (k: number) => Date.UTC(2023, 0, 3 + k, 21), iso: (ms: number) => new Date(ms).toISOString() }
  const h = stepEquityHistory(track, { maxPoints: 2000, afterStep: 0 })
  t.match(h, { source: 'steps', steps_done: 4, total_steps: 10, initial_capital: '100000.00', decimated: false })
  t.same(h.points.map((p) => [p.step, p.equity]), [[1, '100000.00'], [2, '100500.12'], [3, '99000.50'], [4, '99500.00']])
  t.equal(h.points[0].sim_time, '2023-01-03T21:00:00.000Z')
  const later = stepEquityHistory(track, { maxPoints: 2000, afterStep: 2 })
  t.same(later.points.map((p) => p.step), [3, 4])
  t.equal(later.points[0].drawdown_pct, h.points[2].drawdown_pct, 'from the peak at step 2, not from step 3')
  t.equal(later.max_drawdown_pct, h.max_drawdown_pct)
})
