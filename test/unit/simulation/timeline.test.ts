import t from 'tap'
import { buildTimeline } from '../../../server/simulation/timeline.js'
import { AppError } from '../../../server/app-error.js'
import { dailySeries, flat, minuteSeries } from './bars.js'

t.test('series on different calendars merge into one step per distinct bar time', async (t) => {
  const a = dailySeries('AAA', [flat(1), flat(1), flat(1)], '2023-01-02')
  const b = dailySeries('BBB', [flat(1), flat(1), flat(1)], '2023-01-03')
  const tl = buildTimeline([a, b])
  t.equal(tl.length, 4)
  t.same(Array.from(tl.symbolSet).map((i) => tl.symbolSets[i]), [['AAA'], ['AAA', 'BBB'], ['AAA', 'BBB'], ['BBB']])
  t.same(Array.from(tl.day), [20230102, 20230103, 20230104, 20230105])
})

t.test('is_eod marks the last bar of each trading day', async (t) => {
  const tl = buildTimeline([minuteSeries('AAA', [[flat(1), flat(1)], [flat(1), flat(1), flat(1)]])])
  t.same(Array.from(tl.eod), [0, 1, 0, 0, 1])
})

t.test('a step is end of day only when every symbol trading in it ends its day', async (t) => {
  const a = minuteSeries('AAA', [[flat(1), flat(1)]])
  const b = minuteSeries('BBB', [[flat(1), flat(1), flat(1)]])
  t.same(Array.from(buildTimeline([a, b]).eod), [0, 0, 1])
})

t.test('series of different timeframes or unordered bars are refused', async (t) => {
  t.throws(() => buildTimeline([dailySeries('AAA', [flat(1)]), minuteSeries('BBB', [[flat(1)]])]), AppError)
  const bad = dailySeries('AAA', [flat(1), flat(1)])
  bad.time[1] = bad.time[0]
  t.throws(() => buildTimeline([bad]), AppError)
  t.throws(() => buildTimeline([]), AppError)
})

t.test('a symbol given twice is refused', async (t) => {
  t.throws(() => buildTimeline([dailySeries('AAA', [flat(1)]), dailySeries('AAA', [flat(2)])]), { error_code: 'VALIDATION_FAILED', message: 'symbol AAA appears twice' })
})

t.test('steps with the same subset of symbols share one symbols_trading array', async (t) => {
  // AAA trades every day, BBB only on days 2 and 4: sets [AAA,BBB] (id 0) and [AAA] (one id, reused)
  const a = dailySeries('AAA', [flat(1), flat(1), flat(1), flat(1)])
  const b = dailySeries('BBB', [flat(1), flat(1)], '2023-01-03')
  b.time[1] = a.time[3]
  b.day[1] = a.day[3]
  const tl = buildTimeline([a, b])
  t.same(Array.from(tl.symbolSet), [1, 0, 1, 0])
  t.equal(tl.symbolSets.length, 2)
  t.same(tl.symbolSets[1], ['AAA'])
})
