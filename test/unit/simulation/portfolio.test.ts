import t from 'tap'
import { Portfolio } from '../../../server/simulation/portfolio.js'
import { formatMoney, parseMoney } from '../../../server/money.js'
import { dailySeries, engineFor, flat, order, steps, submit } from './bars.js'

const T = '2023-01-03T14:30:00.000Z'
const m = (s: string): bigint => parseMoney(s)

t.test('1,000 commissions of 0.10 sum to exactly 100.00 and cash does not drift', async (t) => {
  const p = new Portfolio(m('100000'), ['AAA'])
  for (let i = 0; i < 500; i++) {
    p.applyFill(0, m('1'), m('10.1'), m('0.1'), T)
    p.applyFill(0, m('-1'), m('10.1'), m('0.1'), T)
  }
  t.equal(formatMoney(p.totalCommission), '100.00')
  t.equal(formatMoney(p.cash), '99900.00')
  t.equal(p.trades.length, 500)
})

t.test('through the engine, 1,000 fills at a 0.10 minimum commission cost exactly 100.00', async (t) => {
  const e = engineFor(dailySeries('AAA', Array.from({ length: 1001 }, () => flat(10.1))), {
    settings: { commission_per_share: 0, min_commission_per_order: 0.1 }
  })
  steps(e, 1)
  for (let i = 0; i < 1000; i++) {
    submit(e, [order({ order_id: `o${i}`, side: i % 2 === 0 ? 'buy' : 'sell', quantity: 1 })])
    steps(e, 1)
  }
  const acct = e.account()
  t.equal(acct.total_commission, '100.00')
  t.equal(acct.cash, '99900.00')
})

t.test('average cost blends buys and realized P&L uses it', async (t) => {
  // buy 10 @ 100 and 10 @ 110 → avg 105; sell 15 @ 120 → realized 15 × (120 − 105) = 225
  const p = new Portfolio(m('10000'), ['AAA'])
  p.applyFill(0, m('10'), m('100'), 0n, T)
  p.applyFill(0, m('10'), m('110'), 0n, T)
  p.applyFill(0, m('-15'), m('120'), 0n, T)
  t.equal(formatMoney(p.realizedPnl), '225.00')
  const { positions: [pos], marketValue } = p.valuedPositions(Float64Array.of(120))
  t.same([pos.quantity, pos.avg_cost, pos.market_value, pos.unrealized_pnl], [5, '105.00', '600.00', '75.00'])
  t.equal(marketValue, p.marketValue(Float64Array.of(120)), 'with their total market value')
})

t.test('a fill that crosses zero closes one trade and opens the other side', async (t) => {
  // long 10 @ 100; sell 15 @ 110 (commission 1.50 split 1.00 / 0.50) → long trade +100 gross, short 5 @ 110 opened
  const p = new Portfolio(m('10000'), ['AAA'])
  p.applyFill(0, m('10'), m('100'), 0n, T)
  p.applyFill(0, m('-15'), m('110'), m('1.5'), T)
  t.same(p.trades.map((x) => [x.direction, x.gross_pnl, x.commission, x.net_pnl]), [['long', '100.00', '1.00', '99.00']])
  t.equal(formatMoney(p.qty[0]), '-5.00')
  const open = p.tradesMarkedAt(Float64Array.of(100), T)
  // short 5 from 110 marked at 100: +50 gross, 0.50 commission
  t.same(open.slice(1).map((x) => [x.direction, x.net_pnl, x.open_at_end]), [['short', '49.50', true]])
})

t.test('a short position gains when the price falls', async (t) => {
  const p = new Portfolio(m('10000'), ['AAA'])
  p.applyFill(0, m('-10'), m('50'), 0n, T)
  t.equal(formatMoney(p.cash), '10500.00')
  p.applyFill(0, m('10'), m('45'), 0n, T)
  t.equal(formatMoney(p.realizedPnl), '50.00')
  t.equal(p.held.length, 0)
})

t.test('a fill value finer than 8 decimals is rounded half-even, once, before it moves cash', async (t) => {
  // docs/fill-policy.md §5: fill value = quantity × price rounded half-even to 8 decimals.
  // 0.00000005 × 0.5 = 0.000000025 → 0.00000002 (tie, kept digit even: down; half-up would give 3)
  // 0.00000007 × 0.5 = 0.000000035 → 0.00000004 (tie, kept digit odd: up; truncation would give 3)
  const p = new Portfolio(m('1000'), ['AAA'])
  p.applyFill(0, m('0.00000005'), m('0.5'), 0n, T)
  t.equal(formatMoney(p.cash), '999.99999998')
  p.applyFill(0, m('0.00000007'), m('0.5'), 0n, T)
  t.equal(formatMoney(p.cash), '999.99999994', 'half-even on both ties: 2 + 4 units of 1e-8')
  // 1.23456789 × 187.4321 = 231.397652215269 → 231.39765222
  const q = new Portfolio(m('1000'), ['AAA'])
  q.applyFill(0, m('1.23456789'), m('187.4321'), 0n, T)
  t.equal(formatMoney(q.cash), '768.60234778')
  t.equal(formatMoney(q.basis[0]), '231.39765222', 'the cost basis is the same rounded value')
})

t.test('through the engine, a fractional fill moves cash by the rounded value and P&L adds up exactly', async (t) => {
  // buy 0.33333333 at the open 100.15: 33.3833329995 → 33.38333300 (truncation would leave …299)
  // sell it at the open 100.25: 33.4166663325 → 33.41666633; realized 33.41666633 − 33.383333 = 0.03333333
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100.15), flat(100.25)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b', quantity: 0.33333333 })])
  steps(e, 1)
  t.equal(e.account().cash, '99966.616667')
  submit(e, [order({ order_id: 's', side: 'sell', quantity: 0.33333333 })])
  steps(e, 1)
  const acct = e.account()
  t.equal(acct.cash, '100000.03333333')
  t.equal(acct.realized_pnl, '0.03333333')
})

t.test('covering part of a short realizes P&L against its average price and keeps the rest at that price', async (t) => {
  // short 3 @ 10.01 (basis −30.03); cover 1 @ 10 → +0.01; 2 left at 10.01
  const p = new Portfolio(m('1000'), ['AAA'])
  p.applyFill(0, m('-3'), m('10.01'), 0n, T)
  p.applyFill(0, m('1'), m('10'), 0n, T)
  t.equal(formatMoney(p.realizedPnl), '0.01')
  t.equal(formatMoney(p.basis[0]), '-20.02')
  const { positions: [pos] } = p.valuedPositions(Float64Array.of(10))
  t.same([pos.quantity, pos.avg_cost, pos.market_value, pos.unrealized_pnl], [-2, '10.01', '-20.00', '0.02'])
  t.equal(p.trades.length, 0, 'the round trip is still open')
})

t.test('a buy that crosses a short to a long closes the short trade and opens a long, commission split pro rata', async (t) => {
  // short 10 @ 50; buy 15 @ 45 with 1.50 commission → short trade: +50 gross, 1.00 commission; long 5 @ 45 opened with 0.50
  const p = new Portfolio(m('10000'), ['AAA'])
  p.applyFill(0, m('-10'), m('50'), 0n, T)
  p.applyFill(0, m('15'), m('45'), m('1.5'), T)
  t.same(p.trades.map((x) => [x.direction, x.quantity, x.avg_entry_price, x.avg_exit_price, x.gross_pnl, x.commission, x.net_pnl, x.return_pct]),
    [['short', 10, '50.00', '45.00', '50.00', '1.00', '49.00', 9.8]])
  t.equal(formatMoney(p.qty[0]), '5.00')
  t.equal(formatMoney(p.basis[0]), '225.00')
  t.equal(formatMoney(p.cash), '9823.50', '10000 + 500 − 675 − 1.50')
  const [open] = p.tradesMarkedAt(Float64Array.of(46), T).slice(1)
  t.same([open.direction, open.quantity, open.gross_pnl, open.commission, open.net_pnl, open.open_at_end], ['long', 5, '5.00', '0.50', '4.50', true])
})

t.test('positions are listed in the session\'s symbol order, whatever order they were opened in', async (t) => {
  const p = new Portfolio(m('10000'), ['AAA', 'BBB', 'CCC'])
  p.applyFill(2, m('1'), m('30'), 0n, T)
  p.applyFill(0, m('1'), m('10'), 0n, T)
  const marks = Float64Array.of(11, 20, 31)
  const { positions, marketValue } = p.valuedPositions(marks)
  t.same(positions.map((x) => x.symbol), ['AAA', 'CCC'])
  t.equal(formatMoney(marketValue), '42.00')
  p.applyFill(1, m('2'), m('20'), 0n, T)
  t.same(p.valuedPositions(marks).positions.map((x) => x.symbol), ['AAA', 'BBB', 'CCC'])
})
