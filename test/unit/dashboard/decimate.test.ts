// Display-only decimation keeps a long series drawable (a year of minute points) without losing its extremes,
// and monthly returns come from month-end equity.
import t from 'tap'
import { decimate, monthlyReturns } from '../../../dashboard/src/decimate.js'

t.test('short series are returned whole (a copy)', async (t) => {
  const pts = [{ time: 1, value: 1 }, { time: 2, value: 2 }]
  const out = decimate(pts, 10)
  t.same(out, pts)
  t.not(out, pts)
})

t.test('a year of minute points shrinks to the budget and keeps first, last, minimum and maximum', async (t) => {
  const n = 98_000
  const pts = Array.from({ length: n }, (_, i) => ({ time: i, value: 100_000 + Math.sin(i / 500) * 1000 + (i % 7) }))
  pts[12_345].value = 50_000
  pts[77_777].value = 200_000
  const started = performance.now()
  const out = decimate(pts, 4000)
  t.ok(performance.now() - started < 500, 'fast enough for the page')
  t.ok(out.length <= 4000, `${out.length} points`)
  t.equal(out[0], pts[0])
  t.equal(out[out.length - 1], pts[n - 1])
  t.ok(out.includes(pts[12_345]), 'the trough survives')
  t.ok(out.includes(pts[77_777]), 'the peak survives')
  for (let i = 1; i < out.length; i++) if (out[i].time <= out[i - 1].time) { t.fail('times stay increasing'); break }
  t.equal(pts.length, n, 'the data itself is unchanged')
})

t.test('a bucket keeps its minimum before its maximum when that is the order in time', async (t) => {
  const pts = Array.from({ length: 20 }, (_, i) => ({ time: i, value: i % 2 === 0 ? 10 : 10 }))
  pts[5].value = 1
  pts[6].value = 99
  pts[13].value = 99
  pts[14].value = 1
  const out = decimate(pts, 6)
  t.ok(out.length <= 6)
  t.ok(out.indexOf(pts[5]) < out.indexOf(pts[6]))
  t.ok(out.indexOf(pts[13]) < out.indexOf(pts[14]))
})

t.test('a budget below 4 is refused', async (t) => {
  t.throws(() => decimate([], 3), RangeError)
})

t.test('monthly returns: month-end equity over the previous month-end, the first over the initial capital', async (t) => {
  const out = monthlyReturns([
    { date: '2023-01-03', equity: '100500' },
    { date: '2023-01-31', equity: '110000' },
    { date: '2023-02-28', equity: '99000' }
  ], '100000')
  t.equal(out.length, 2)
  t.equal(out[0].month, '2023-01')
  t.ok(Math.abs(out[0].return_pct - 10) < 1e-9)
  t.ok(Math.abs(out[1].return_pct - -10) < 1e-9)
  t.same(monthlyReturns([{ date: '2023-01-31', equity: '5' }], '0'), [{ month: '2023-01', return_pct: 0 }])
})
