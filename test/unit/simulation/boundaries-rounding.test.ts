// Rounding of every pro-rata split and average at an exact tie of half a unit (0.000000005) and one unit
// either side: the code rounds half-even to 8 decimals everywhere (server/simulation/portfolio.ts prorate,
// averagePrice; docs/fill-policy.md §5 "Exactness"). A tie whose lower neighbour is even stays down, one
// whose lower neighbour is odd goes up, so half-up, half-down and truncation each fail one of the pair.
import t from 'tap'
import { formatMoney, parseMoney, type Fixed } from '../../../server/money.js'
import { fillMarket } from '../../../server/simulation/fills.js'
import { trailingStopLevel } from '../../../server/simulation/order-book.js'
import { averagePrice, Portfolio, prorate } from '../../../server/simulation/portfolio.js'
import { dailySeries, engineFor, executions, flat, order, steps, submit } from './bars.js'

const u = (s: string): Fixed => parseMoney(s)
const m = (f: Fixed): string => formatMoney(f, 8)
const T = '2023-01-03T14:30:00.000Z'

// ── prorate ──────────────────────────────────────────────────────────────────────────────────────

t.test('prorate at a tie rounds to the even unit: 10/4 = 2.5 → 2, 14/4 = 3.5 → 4', async (t) => {
  t.same([prorate(10n, 1n, 4n), prorate(14n, 1n, 4n)], [2n, 4n])
})

t.test('prorate one unit either side of a tie rounds to nearest: 9/4 → 2, 11/4 → 3, 13/4 → 3, 15/4 → 4', async (t) => {
  t.same([prorate(9n, 1n, 4n), prorate(11n, 1n, 4n), prorate(13n, 1n, 4n), prorate(15n, 1n, 4n)], [2n, 3n, 3n, 4n])
})

t.test('prorate of a negative amount is the mirror: −2.5 → −2, −3.5 → −4, −2.75 → −3', async (t) => {
  t.same([prorate(-10n, 1n, 4n), prorate(-14n, 1n, 4n), prorate(-11n, 1n, 4n)], [-2n, -4n, -3n])
})

// ── average prices ───────────────────────────────────────────────────────────────────────────────

t.test('average price at a tie: 200.00000003 / 2 → 100.00000002 (up to even), 200.00000005 / 2 → 100.00000002 (down to even)', async (t) => {
  t.same([m(averagePrice(u('200.00000003'), u('2'))), m(averagePrice(u('200.00000005'), u('2')))], ['100.00000002', '100.00000002'])
})

t.test('average price a quarter unit either side of the tie: 400.00000005 / 4 → 100.00000001, 400.00000007 / 4 → 100.00000002', async (t) => {
  t.same([m(averagePrice(u('400.00000005'), u('4'))), m(averagePrice(u('400.00000007'), u('4')))], ['100.00000001', '100.00000002'])
})

t.test('a position\'s avg_cost is its cost basis over its quantity, half-even', async (t) => {
  const p = new Portfolio(u('100000'), ['AAA'])
  p.applyFill(0, u('1'), u('100.00000002'), 0n, T)
  p.applyFill(0, u('1'), u('100.00000003'), 0n, T)
  t.equal(p.valuedPositions(new Float64Array([100])).positions[0].avg_cost, '100.00000002')
})

// ── cost basis released by a partial close ───────────────────────────────────────────────────────

/** Buy 1 at each price, sell 1 at 100: [realized P&L, cost basis left]. */
function afterClosingOne (prices: string[]): [string, string] {
  const p = new Portfolio(u('100000'), ['AAA'])
  for (const price of prices) p.applyFill(0, u('1'), u(price), 0n, T)
  p.applyFill(0, u('-1'), u('100'), 0n, T)
  return [m(p.realizedPnl), m(p.basis[0])]
}

t.test('closing half a position releases half its basis, a tie rounded to even: 200.00000003 → 100.00000002 released', async (t) => {
  t.same(afterClosingOne(['100.00000001', '100.00000002']), ['-0.00000002', '100.00000001'])
})

t.test('the other tie: 200.00000005 → 100.00000002 released, 100.00000003 kept', async (t) => {
  t.same(afterClosingOne(['100.00000002', '100.00000003']), ['-0.00000002', '100.00000003'])
})

t.test('a quarter of the basis a quarter unit either side of a tie: 400.00000001 → 100.00000000, 400.00000003 → 100.00000001', async (t) => {
  const released = (last: string): string => m(-u(afterClosingOne(['100', '100', '100', last])[0]))
  t.same([released('100.00000001'), released('100.00000002'), released('100.00000003')], ['0.00000000', '0.00000000', '0.00000001'])
})

// ── a fill that crosses zero: value and commission split between the two trades ──────────────────

/** Long 1 at 100, then a sale of `size` at 100 with `commission`: [closing trade's commission, new trade's]. */
function crossingCommission (size: string, commission: string): [string, string] {
  const p = new Portfolio(u('100000'), ['AAA'])
  p.applyFill(0, u('1'), u('100'), 0n, T)
  p.applyFill(0, -u(size), u('100'), u(commission), T)
  const [closed, open] = p.tradesMarkedAt(new Float64Array([100]), T)
  return [closed.commission, open.commission]
}

t.test('a crossing fill\'s commission splits pro rata with ties to even: 1 unit over 1:1 → 0 + 1, 3 units → 2 + 1', async (t) => {
  t.same(crossingCommission('2', '0.00000001'), ['0.00', '0.00000001'])
  t.same(crossingCommission('2', '0.00000003'), ['0.00000002', '0.00000001'])
})

t.test('a crossing commission a quarter unit either side of a tie: 1 unit over 1:3 → 0 + 1, 3 units → 1 + 2', async (t) => {
  t.same(crossingCommission('4', '0.00000001'), ['0.00', '0.00000001'])
  t.same(crossingCommission('4', '0.00000003'), ['0.00000001', '0.00000002'])
})

t.test('a crossing fill\'s value splits pro rata at a tie to even, and the two parts add up to the fill', async (t) => {
  // long 0.5 at 100; sell 1 at 100.00000001 (value 100.00000001): 50.000000005 → 50.00000000 closes, 50.00000001 opens the short
  const p = new Portfolio(u('100000'), ['AAA'])
  p.applyFill(0, u('0.5'), u('100'), 0n, T)
  p.applyFill(0, u('-1'), u('100.00000001'), 0n, T)
  const [closed, open] = p.tradesMarkedAt(new Float64Array([100.00000001]), T)
  t.same([closed.avg_exit_price, closed.gross_pnl, open.direction, open.avg_entry_price], ['100.00', '0.00', 'short', '100.00000002'])
  t.equal(m(p.cash), '100050.00000001', 'cash moved by the whole fill value: 100 000 − 50 + 100.00000001')
})

t.test('the other value tie: selling 1 at 100.00000003 against a long 0.5 closes 50.00000002 and opens the short at 50.00000001', async (t) => {
  // 100.00000003 / 2 = 50.000000015 → 50.00000002 (up to even); the short gets the remaining 50.00000001
  const p = new Portfolio(u('100000'), ['AAA'])
  p.applyFill(0, u('0.5'), u('100'), 0n, T)
  p.applyFill(0, u('-1'), u('100.00000003'), 0n, T)
  const [closed, open] = p.tradesMarkedAt(new Float64Array([100.00000003]), T)
  t.same([closed.avg_exit_price, closed.gross_pnl, open.avg_entry_price], ['100.00000004', '0.00000002', '100.00000002'])
})

// ── fill value and its cash ──────────────────────────────────────────────────────────────────────

t.test('a fill value of quantity × price finer than 8 decimals is rounded half-even once: 0.5 × 100.00000001 → 50.00000000, × 100.00000003 → 50.00000002', async (t) => {
  const cashAfter = (price: string): string => {
    const p = new Portfolio(u('1000'), ['AAA'])
    p.applyFill(0, u('0.5'), u(price), 0n, T)
    return m(p.cash)
  }
  t.same([cashAfter('100.00000001'), cashAfter('100.00000003')], ['950.00000000', '949.99999998'])
})

// ── margin: 50 % of a short sale, 150 % of an open short ─────────────────────────────────────────

t.test('a short sale holds 50 % of its value, a tie rounded to even: 100.00000001 → 50.00000000, 100.00000003 → 50.00000002', async (t) => {
  const bp = (close: number): string => {
    const e = engineFor(dailySeries('AAA', [flat(close), flat(close)]), { settings: { allow_short: true } })
    steps(e, 1)
    submit(e, [order({ order_id: 's', side: 'sell', quantity: 1 })])
    return e.account().buying_power
  }
  t.same([bp(100.00000001), bp(100.00000003)], ['99950.00', '99949.99999998'])
})

t.test('an open short holds 150 % of its market value, a tie rounded to even: 150.000000015 → 150.00000002, 150.000000045 → 150.00000004', async (t) => {
  const bp = (price: number): string => {
    const e = engineFor(dailySeries('AAA', [flat(price), flat(price)]), { settings: { allow_short: true } })
    steps(e, 1)
    submit(e, [order({ order_id: 's', side: 'sell', quantity: 1 })])
    steps(e, 1)
    return e.account().buying_power
  }
  // cash 100 000 + the sale; buying power = cash − 1.5 × value
  t.same([bp(100.00000001), bp(100.00000003)], ['99949.99999999', '99949.99999999'])
})

t.test('a partly filled buy keeps the remaining share of its hold, a tie rounded to even', async (t) => {
  // buy 0.5 limit P; the cap (volume 2.5 × 0.1) fills 0.25 at the open 100; what stays held is half the hold
  const bp = (limit: string): string => {
    const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 2.5), flat(100, 2.5)]), { settings: { volume_participation: 0.1 } })
    steps(e, 1)
    submit(e, [order({ order_id: 'b', type: 'limit', price: limit, quantity: 0.5, time_in_force: 'gtc' })])
    steps(e, 1)
    return e.account().buying_power
  }
  // holds 50.00000001 → 25.000000005 stays (→ 25.00000000); holds 50.00000003 → 25.000000015 (→ 25.00000002); cash 99 975
  t.same([bp('100.00000002'), bp('100.00000006')], ['99950.00', '99949.99999998'])
})

// ── trailing stops by percent ────────────────────────────────────────────────────────────────────

t.test('a trailing percent distance is rounded half-even: 50 % of 100.00000001 → 50.00000000, of 100.00000003 → 50.00000002', async (t) => {
  t.same([m(trailingStopLevel('sell', u('100.00000001'), null, u('50'))), m(trailingStopLevel('sell', u('100.00000003'), null, u('50')))], ['50.00000001', '50.00000001'])
  t.equal(m(trailingStopLevel('buy', u('100.00000003'), null, u('50'))), '150.00000005')
})

t.test('a trailing percent distance a quarter unit either side of a tie: 25 % of 100.00000001 → 25.00000000, of 100.00000003 → 25.00000001', async (t) => {
  t.same([m(trailingStopLevel('sell', u('100.00000001'), null, u('25'))), m(trailingStopLevel('sell', u('100.00000003'), null, u('25')))], ['75.00000001', '75.00000002'])
})

// ── slippage and notional ────────────────────────────────────────────────────────────────────────

t.test('slippage of a market fill is rounded half-even: 1 bp of 100.00005 → 0.01000000, of 100.00015 → 0.01000002', async (t) => {
  const bar = (open: number): { open: number, high: number, low: number } => ({ open, high: 200, low: 1 })
  t.same([m(fillMarket('buy', bar(100.00005), 1).price), m(fillMarket('buy', bar(100.00015), 1).price)], ['100.01005000', '100.01015002'])
  t.same([m(fillMarket('sell', bar(100.00005), 1).price), m(fillMarket('sell', bar(100.00015), 1).price)], ['99.99005000', '99.99014998'])
})

t.test('a notional order\'s quantity is truncated, never rounded up: 200 / 3 → 66.66666666', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(3), flat(3)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'n', quantity: undefined, notional: 200 })])
  t.same(executions(steps(e, 1)).map((x) => [x.executed_quantity, x.executed_price]), [[66.66666666, '3.00']])
})
