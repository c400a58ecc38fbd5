// docs/fill-policy.md §4 "Time in force" at its boundaries: cls limits at exactly the close (and one cent
// either side), which bar is the opening/closing auction when intraday data has pre-market and after-hours
// bars, fok at exactly the volume cap, ioc and day at the edges of their bar and day. Prices hand-computed.
import t from 'tap'
import { dailySeries, engineFor, executions, flat, nyseSessionAt, order, steps, submit, timedSeries, updates, type Ohlc } from './bars.js'
import type { SimulationEngine } from '../../../server/simulation/engine.js'

/** Fills as [order, price, reason] and the closing updates as [order, status, reason] of the next `n` steps. */
function run (e: SimulationEngine, n = 1): { fills: string[][], ends: string[][] } {
  const ev = steps(e, n)
  return {
    fills: executions(ev).map((x) => [x.order_id, x.executed_price, x.fill_reason]),
    ends: updates(ev).filter((u) => u.status !== 'filled' && u.status !== 'partially_filled').map((u) => [u.order_id, u.status, u.reason ?? ''])
  }
}

/** A daily engine past its first bar (flat 100), with one order placed for the second bar `bar2`. */
function dailyWith (bar2: Ohlc, orders: Parameters<typeof order>[0][], settings = {}): SimulationEngine {
  const e = engineFor(dailySeries('AAA', [flat(100), bar2, flat(100)]), { settings })
  steps(e, 1)
  const { ack } = submit(e, orders.map(order))
  if (ack.rejected_orders.length > 0) throw new Error(JSON.stringify(ack.rejected_orders))
  return e
}

// ── cls: a limit at exactly the close ────────────────────────────────────────────────────────────

t.test('cls buy limit equal to the close fills at the close (limit_close)', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', type: 'limit', price: 102, time_in_force: 'cls' }])
  t.same(run(e).fills, [['c', '102.00', 'limit_close']])
})

t.test('cls buy limit one cent below the close is not filled and is cancelled at the close', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', type: 'limit', price: 101.99, time_in_force: 'cls' }])
  t.same(run(e), { fills: [], ends: [['c', 'cancelled', 'cls: not filled at the close of 2023-01-03']] })
})

t.test('cls buy limit one cent above the close fills at the close, not at its limit', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', type: 'limit', price: 102.01, time_in_force: 'cls' }])
  t.same(run(e).fills, [['c', '102.00', 'limit_close']])
})

t.test('cls sell limit equal to the close fills at the close', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', side: 'sell', type: 'limit', price: 102, time_in_force: 'cls' }], { allow_short: true })
  t.same(run(e).fills, [['c', '102.00', 'limit_close']])
})

t.test('cls sell limit one cent above the close is not filled and is cancelled', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', side: 'sell', type: 'limit', price: 102.01, time_in_force: 'cls' }], { allow_short: true })
  t.same(run(e), { fills: [], ends: [['c', 'cancelled', 'cls: not filled at the close of 2023-01-03']] })
})

t.test('cls sell limit one cent below the close fills at the close', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', side: 'sell', type: 'limit', price: 101.99, time_in_force: 'cls' }], { allow_short: true })
  t.same(run(e).fills, [['c', '102.00', 'limit_close']])
})

t.test('cls limit: only the close counts, not a range that reached the limit earlier in the bar', async (t) => {
  // buy limit 100: the low 99 reached it, the open 101 and close 102 did not
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'c', type: 'limit', price: 100, time_in_force: 'cls' }])
  t.same(run(e).fills, [])
})

t.test('cls market buy: close × (1 + bps) is paid when it is exactly the high, and capped one cent lower', async (t) => {
  // close 100 + 100 bps = 101.00
  const atHigh = dailyWith([100, 101, 99, 100], [{ order_id: 'c', time_in_force: 'cls' }], { slippage_bps: 100 })
  const xs = executions(steps(atHigh, 1))
  t.same(xs.map((x) => [x.executed_price, x.slippage_bps, x.fill_reason]), [['101.00', 100, 'market_close']])
  const capped = dailyWith([100, 100.99, 99, 100], [{ order_id: 'c', time_in_force: 'cls' }], { slippage_bps: 100 })
  t.same(executions(steps(capped, 1)).map((x) => [x.executed_price, x.slippage_bps]), [['100.99', 99]])
})

t.test('cls market sell: close × (1 − bps), floored at the low', async (t) => {
  const atLow = dailyWith([100, 101, 99, 100], [{ order_id: 'c', side: 'sell', time_in_force: 'cls' }], { slippage_bps: 100, allow_short: true })
  t.same(executions(steps(atLow, 1)).map((x) => [x.executed_price, x.slippage_bps]), [['99.00', 100]])
  const floored = dailyWith([100, 101, 99.01, 100], [{ order_id: 'c', side: 'sell', time_in_force: 'cls' }], { slippage_bps: 100, allow_short: true })
  t.same(executions(steps(floored, 1)).map((x) => [x.executed_price, x.slippage_bps]), [['99.01', 99]])
})

t.test('cls fills are stamped at the bar\'s close and come after the bar\'s other fills', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [
    { order_id: 'c', time_in_force: 'cls' },
    { order_id: 'm', time_in_force: 'day' }
  ])
  const xs = executions(steps(e, 1))
  t.same(xs.map((x) => [x.order_id, x.fill_reason, x.execution_time]), [
    ['m', 'market_open', '2023-01-03T14:30:00.000Z'],
    ['c', 'market_close', '2023-01-04T14:30:00.000Z']
  ])
})

// ── the auction bars of intraday data with extended hours ────────────────────────────────────────

// 2023-11-21 (Tue) and 2023-11-22 (Wed), EST (UTC−5): regular 14:30Z–20:59Z, after-hours from 21:00Z.
const EXTENDED: Array<[string, Ohlc]> = [
  ['2023-11-21T20:59:00Z', flat(100)], // 15:59 regular: the 21st's closing bar
  ['2023-11-21T21:00:00Z', flat(101)], // 16:00 after-hours
  ['2023-11-22T09:00:00Z', flat(102)], // 04:00 pre-market: the 22nd's first bar
  ['2023-11-22T14:29:00Z', flat(103)], // 09:29 pre-market
  ['2023-11-22T14:30:00Z', [104, 105, 103.5, 104.5]], // 09:30 regular: the opening auction
  ['2023-11-22T14:31:00Z', flat(106)], // 09:31
  ['2023-11-22T20:59:00Z', [107, 108, 106, 107.5]], // 15:59: the closing auction
  ['2023-11-22T21:00:00Z', flat(109)], // 16:00 after-hours
  ['2023-11-23T00:59:00Z', flat(110)] // 19:59 after-hours, still the 22nd in New York
]

function extended (): SimulationEngine {
  return engineFor(timedSeries('AAA', '1m', EXTENDED), { marketSessionAt: nyseSessionAt, settings: { allow_short: true } })
}

t.test('opg with pre-market bars: the opening auction is the first regular bar (09:30), not the first bar of the day (04:00)', async (t) => {
  const e = extended()
  steps(e, 2)
  submit(e, [order({ order_id: 'o', time_in_force: 'opg' })])
  const r = run(e, 7)
  t.same(r.fills, [['o', '104.00', 'market_open']])
})

t.test('opg placed during pre-market takes that day\'s opening auction', async (t) => {
  const e = extended()
  steps(e, 3) // after the 04:00 bar
  submit(e, [order({ order_id: 'o', time_in_force: 'opg' })])
  t.same(run(e, 2).fills, [['o', '104.00', 'market_open']])
})

t.test('opg placed after the opening bar waits for the next day\'s open (cancelled at the end of the data here, never filled at 09:31)', async (t) => {
  const e = extended()
  steps(e, 5) // after the 09:30 bar
  submit(e, [order({ order_id: 'o', time_in_force: 'opg' })])
  const r = run(e, Infinity)
  t.same(r.fills, [])
  t.same(r.ends, [['o', 'cancelled', 'simulation ended']])
})

t.test('opg limit: an open exactly at the limit fills at the open (limit_open)', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'o', type: 'limit', price: 101, time_in_force: 'opg' }])
  t.same(run(e).fills, [['o', '101.00', 'limit_open']])
})

t.test('opg limit: an open one cent worse is cancelled, though the bar trades through the limit later', async (t) => {
  const buy = dailyWith([101, 103, 99, 102], [{ order_id: 'o', type: 'limit', price: 100.99, time_in_force: 'opg' }])
  t.same(run(buy), { fills: [], ends: [['o', 'cancelled', 'opg: not filled at the open of 2023-01-03']] })
  const sell = dailyWith([101, 103, 99, 102], [{ order_id: 'o', side: 'sell', type: 'limit', price: 101.01, time_in_force: 'opg' }], { allow_short: true })
  t.same(run(sell), { fills: [], ends: [['o', 'cancelled', 'opg: not filled at the open of 2023-01-03']] })
})

t.test('opg sell limit: an open exactly at the limit fills', async (t) => {
  const e = dailyWith([101, 103, 99, 102], [{ order_id: 'o', side: 'sell', type: 'limit', price: 101, time_in_force: 'opg' }], { allow_short: true })
  t.same(run(e).fills, [['o', '101.00', 'limit_open']])
})

t.test('cls with after-hours bars: the closing auction is the last regular bar (15:59), not the last bar of the day', async (t) => {
  const e = extended()
  steps(e, 2)
  submit(e, [order({ order_id: 'c', time_in_force: 'cls' })])
  t.same(run(e, 7).fills, [['c', '107.50', 'market_close']])
})

t.test('cls placed after its day\'s closing bar waits for the next day\'s closing bar', async (t) => {
  const e = extended()
  steps(e, 1) // after the 21st's 15:59 bar: that day's closing auction is over
  submit(e, [order({ order_id: 'c', time_in_force: 'cls' })])
  t.same(run(e, 8).fills, [['c', '107.50', 'market_close']])
})

t.test('cls on an early-close day: the closing auction is the 12:59 bar; after-hours bars until 16:59 do not count', async (t) => {
  // 2023-11-24 closes at 13:00 New York (18:00Z)
  const e = engineFor(timedSeries('AAA', '1m', [
    ['2023-11-24T14:30:00Z', flat(100)], ['2023-11-24T17:59:00Z', [100, 101, 99, 100.5]], ['2023-11-24T18:00:00Z', flat(102)], ['2023-11-24T21:59:00Z', flat(103)]
  ]), { marketSessionAt: nyseSessionAt })
  steps(e, 1)
  submit(e, [order({ order_id: 'c', time_in_force: 'cls' })])
  t.same(run(e, 3).fills, [['c', '100.50', 'market_close']])
})

t.test('a day order works through the after-hours bars of its day and expires after the last one', async (t) => {
  const e = extended()
  steps(e, 6) // after 09:31 on the 22nd
  submit(e, [order({ order_id: 'd', type: 'limit', price: 50, time_in_force: 'day' })])
  const through = run(e, 2)
  t.same(through.ends, [], 'alive at 15:59 and 16:00')
  t.same(run(e, 1).ends, [['d', 'expired', 'day order expired at the end of 2023-11-22']])
})

// ── fok and ioc at the volume cap ────────────────────────────────────────────────────────────────

/** Daily bars; the second has volume 500, so a 0.1 cap lets 50 shares a bar through. */
function capped (orders: Parameters<typeof order>[0][], volume = 500): SimulationEngine {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, volume), flat(100, 100_000)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, orders.map(order))
  return e
}

t.test('fok for exactly the volume cap fills entirely', async (t) => {
  const e = capped([{ order_id: 'f', quantity: 50, time_in_force: 'fok' }])
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.executed_quantity, x.is_partial]), [[50, false]])
  t.equal(e.order('f').status, 'filled')
})

t.test('fok for one share more than the cap does not trade and is cancelled', async (t) => {
  const e = capped([{ order_id: 'f', quantity: 51, time_in_force: 'fok' }])
  t.same(run(e), { fills: [], ends: [['f', 'cancelled', 'fok: not filled entirely on its first bar']] })
})

t.test('fok for exactly what an earlier order left of the cap fills; one more does not, and leaves the cap to later orders', async (t) => {
  const exact = capped([{ order_id: 'a', quantity: 20 }, { order_id: 'f', quantity: 30, time_in_force: 'fok' }])
  t.same(executions(steps(exact, 1)).map((x) => [x.order_id, x.executed_quantity]), [['a', 20], ['f', 30]])
  const over = capped([{ order_id: 'a', quantity: 20 }, { order_id: 'f', quantity: 31, time_in_force: 'fok' }, { order_id: 'b', quantity: 40 }])
  t.same(executions(steps(over, 1)).map((x) => [x.order_id, x.executed_quantity]), [['a', 20], ['b', 30]], 'b gets the 30 the fok did not take')
})

t.test('fok under a fractional cap: a whole-share order fits the cap rounded down, a fractional one the exact cap', async (t) => {
  // volume 305 × 0.1 = 30.5
  t.same(executions(steps(capped([{ order_id: 'w', quantity: 30, time_in_force: 'fok' }], 305), 1)).map((x) => x.executed_quantity), [30])
  t.same(executions(steps(capped([{ order_id: 'w', quantity: 31, time_in_force: 'fok' }], 305), 1)), [])
  t.same(executions(steps(capped([{ order_id: 'x', quantity: 30.5, time_in_force: 'fok' }], 305), 1)).map((x) => x.executed_quantity), [30.5])
  t.same(executions(steps(capped([{ order_id: 'x', quantity: 30.50000001, time_in_force: 'fok' }], 305), 1)), [])
})

t.test('ioc for exactly the cap fills entirely and is not cancelled; one more fills the cap and cancels the rest', async (t) => {
  const exact = capped([{ order_id: 'i', quantity: 50, time_in_force: 'ioc' }])
  t.same(run(exact).ends, [])
  t.equal(exact.order('i').status, 'filled')
  const over = capped([{ order_id: 'i', quantity: 51, time_in_force: 'ioc' }])
  const r = steps(over, 1)
  t.same(executions(r).map((x) => [x.executed_quantity, x.is_partial, x.remaining_quantity]), [[50, true, 1]])
  t.same(updates(r).map((u) => [u.status, u.order.filled_quantity]), [['partially_filled', 50], ['cancelled', 50]])
})

t.test('ioc of whole shares under a fractional cap (30.5) fills 30 and cancels the rest; a fractional ioc fills 30.5', async (t) => {
  t.same(executions(steps(capped([{ order_id: 'w', quantity: 40, time_in_force: 'ioc' }], 305), 1)).map((x) => [x.executed_quantity, x.remaining_quantity]), [[30, 10]])
  t.same(executions(steps(capped([{ order_id: 'x', quantity: 40.5, time_in_force: 'ioc' }], 305), 1)).map((x) => [x.executed_quantity, x.remaining_quantity]), [[30.5, 10]])
})

t.test('a gtc order larger than the cap fills the cap each bar until done', async (t) => {
  const e = capped([{ order_id: 'g', quantity: 51, time_in_force: 'gtc' }])
  t.same(executions(steps(e, 2)).map((x) => x.executed_quantity), [50, 1])
})
