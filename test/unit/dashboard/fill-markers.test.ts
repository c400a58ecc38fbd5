// Fill markers: one per bar with fills (its net side), at most the cap (neighbouring bars merged), every fill
// counted in exactly one marker, and a label that says what the marker stands for.
import t from 'tap'
import { MAX_MARKERS } from '../../../dashboard/src/display-limits.js'
import { capGroups, describeGroup, groupByBar, markerCap, netSide, type FillMarker } from '../../../dashboard/src/fill-markers.js'

const HOUR = 3600
const T0 = Date.UTC(2023, 0, 3, 14, 30) / 1000
const bars = Array.from({ length: 1750 }, (_, i) => T0 + i * HOUR)
const iso = (s: number): string => new Date(s * 1000).toISOString()

/** 3,685 fills, as in the issue: alternating buys and sells a few minutes apart. */
const fills: FillMarker[] = Array.from({ length: 3685 }, (_, i) => ({ time: iso(T0 + i * 20 * 60), side: i % 2 === 0 ? 'buy' : 'sell', price: String(150 + (i % 17)), quantity: 5 }))

t.test('fills go to the bar they traded in, one group per bar', async (t) => {
  const g = groupByBar([
    { time: iso(T0 + 10), side: 'buy', price: '100', quantity: 1 },
    { time: iso(T0 + 20 * 60), side: 'buy', price: '101', quantity: 2 },
    { time: iso(T0 + HOUR + 5), side: 'sell', price: '99', quantity: 3 },
    { time: iso(T0 - 500), side: 'sell', price: '98', quantity: 1 }
  ], bars)
  t.same(g.map((x) => [x.time - T0, x.buys, x.sells, x.buyQuantity, x.sellQuantity, x.low, x.high]), [
    [0, 2, 1, 3, 1, 98, 101],
    [HOUR, 0, 1, 0, 3, 99, 99]
  ], 'a fill before the first bar goes to it')
  t.same(groupByBar(fills, []), [])
})

t.test('at most the cap, every fill kept in some marker, in time order', async (t) => {
  const groups = groupByBar(fills, bars)
  t.ok(groups.length > MAX_MARKERS, `${groups.length} bars with fills`)
  const capped = capGroups(groups, MAX_MARKERS)
  t.ok(capped.length <= MAX_MARKERS, `${capped.length} markers`)
  t.equal(capped.reduce((n, g) => n + g.buys + g.sells, 0), fills.length)
  t.ok(capped.every((g, i) => i === 0 || g.from > capped[i - 1].to), 'buckets do not overlap')
  t.same(capGroups(groups.slice(0, 3), MAX_MARKERS), groups.slice(0, 3), 'few enough: unchanged')
})

t.test('the cap follows the chart\'s width: one marker per 10 px, at most MAX_MARKERS', async (t) => {
  t.equal(markerCap(1170), 117)
  t.equal(markerCap(370), 37)
  t.equal(markerCap(5000), MAX_MARKERS)
  t.equal(markerCap(0), 1)
})

t.test('a marker shows the net side; its label names counts, shares, prices and times', async (t) => {
  const [g] = groupByBar([
    { time: iso(T0), side: 'buy', price: '100.5', quantity: 5 },
    { time: iso(T0 + 60), side: 'buy', price: '101', quantity: 5 },
    { time: iso(T0 + 120), side: 'sell', price: '99', quantity: 5 }
  ], bars)
  t.equal(netSide(g), 'buy')
  t.equal(netSide({ ...g, sells: 2 }), 'both')
  t.equal(netSide({ ...g, sells: 3 }), 'sell')
  t.equal(describeGroup(g, (s) => iso(s).slice(0, 16), (p) => p.toFixed(2)), '2 buys (10 shares), 1 sell (5 shares) at 99.00 – 101.00; 2023-01-03T14:30')
})
