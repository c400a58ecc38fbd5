// The CLI's progress bar (client/cli/output.ts progressBar) in the last percent of a run and at the float
// edges of ticks / total: it never shows a full bar or 100% before the run is complete, and never one
// percent less than the ticks say.
import t from 'tap'
import { progressBar } from '../../client/cli/output.js'

const cells = (bar: string): [number, number] => [[...bar].filter((c) => c === '█').length, [...bar].filter((c) => c === '░').length]

t.test('at exactly 99 % (99 / 100 ticks): 99% and one empty cell of 30', async (t) => {
  const bar = progressBar(99 / 100, 30)
  t.equal(bar, `[${'█'.repeat(29)}░]  99%`)
})

t.test('at 99.x % (123 / 124, 999 / 1000): still 99% and not a full bar', async (t) => {
  for (const f of [123 / 124, 0.995, 999 / 1000, 0.99999]) {
    const bar = progressBar(f, 30)
    t.match(bar, / 99%$/, String(f))
    t.same(cells(bar), [29, 1], String(f))
  }
})

t.test('at 100 %: a full bar and 100%', async (t) => {
  t.equal(progressBar(1, 30), `[${'█'.repeat(30)}] 100%`)
  t.equal(progressBar(124 / 124), `[${'█'.repeat(20)}] 100%`)
})

t.test('just below 99 % (98.9 %) is 98%', async (t) => {
  t.match(progressBar(989 / 1000, 30), / 98%$/)
})

t.test('fractions that are one percent short in floating point show their true percent (29 / 100 is 29%, 57 / 100 is 57%)', async (t) => {
  t.match(progressBar(29 / 100), / 29%$/)
  t.match(progressBar(57 / 100), / 57%$/)
  t.match(progressBar(29 / 50), / 58%$/)
})

t.test('cells are whole thirtieths of the run, rounded down: 65 / 124 fills 15 of 30', async (t) => {
  t.same(cells(progressBar(65 / 124, 30)), [15, 15])
  t.same(cells(progressBar(1 / 30, 30)), [1, 29], 'exactly one cell\'s worth fills it')
  t.same(cells(progressBar(0.999 / 30, 30)), [0, 30])
})

t.test('out-of-range and undefined fractions are clamped: below 0 is 0%, above 1 is 100%, NaN is 0%', async (t) => {
  t.equal(progressBar(-0.5, 10), `[${'░'.repeat(10)}]   0%`)
  t.equal(progressBar(1.5, 10), `[${'█'.repeat(10)}] 100%`)
  t.equal(progressBar(Number.NaN, 10), `[${'░'.repeat(10)}]   0%`)
})
