// The cached ISO formatter must agree with Date.prototype.toISOString everywhere it is used.
import t from 'tap'
import { IsoFormatter } from '../../server/iso-time.js'

t.test('formats exactly like toISOString across days, milliseconds and out-of-order instants', async (t) => {
  const f = new IsoFormatter()
  const instants = [0, 1, 999, 86_399_999, 86_400_000, Date.UTC(2023, 0, 3, 14, 30), Date.UTC(2024, 1, 29, 23, 59, 59, 7), Date.UTC(2010, 0, 4), Date.UTC(2023, 0, 3, 14, 30, 0, 50)]
  let seed = 7
  for (let i = 0; i < 2000; i++) { seed = (seed * 48271) % 2147483647; instants.push(Date.UTC(2010, 0, 1) + seed * 997) }
  const mismatches = instants.filter((ms) => f.format(ms) !== new Date(ms).toISOString())
  t.same(mismatches, [])
})
