// docs/fill-policy.md §6 at its boundaries, hand-computed: the equity curve's drawdown_pct through a new peak,
// a fall and a recovery (to exactly the peak, then above), a peak made inside a day; CAGR at D = 0 and D = 1;
// Sharpe/Sortino/Calmar where they stop being defined; the won/lost line at a net P&L of zero.
// (Win rate with a position still open and snapshot marks are being changed elsewhere: not pinned here.)
import t from 'tap'
import type { TradeRecord } from '../../../schemas/simulation.js'
import { cagrPct, calmarRatio, maxDrawdownPct, sharpeRatio, sortinoRatio, tradeStats } from '../../../server/simulation/metrics.js'
import { dailySeries, engineFor, flat, minuteSeries, order, steps, submit, timedSeries } from './bars.js'

/** Capital 1000, 10 shares bought at the first open (100), held: equity = 10 × close. */
function heldThrough (closes: number[]): ReturnType<ReturnType<typeof engineFor>['results']> {
  const e = engineFor(dailySeries('AAA', closes.map((c, i) => (i === 0 ? [100, Math.max(100, c), Math.min(100, c), c] : flat(c)))), { initialCapital: '1000' })
  submit(e, [order({ order_id: 'b', quantity: 10 })])
  steps(e)
  return e.results()
}

// ── drawdown ─────────────────────────────────────────────────────────────────────────────────────

t.test('drawdown_pct through a new peak, a fall, a partial and an exact recovery, a higher peak and a second fall', async (t) => {
  // equity 1000, 1100 (peak), 990 (−10 % of 1100), 1045 (−5 %), 1100 (back at the peak: 0), 1210 (new peak), 1089 (−10 % of 1210)
  const r = heldThrough([100, 110, 99, 104.5, 110, 121, 108.9])
  t.same(r.equity_curve.map((p) => [p.equity, p.drawdown_pct]), [
    ['1000.00', 0], ['1100.00', 0], ['990.00', 10], ['1045.00', 5], ['1100.00', 0], ['1210.00', 0], ['1089.00', 10]
  ])
})

t.test('max_drawdown_pct of that curve is the deepest fall from the running peak, 10', async (t) => {
  t.equal(heldThrough([100, 110, 99, 104.5, 110, 121, 108.9]).metrics.max_drawdown_pct, 10)
})

t.test('the first peak is the initial capital: a first close below it is a drawdown from it', async (t) => {
  const r = heldThrough([90, 95])
  t.same(r.equity_curve.map((p) => p.drawdown_pct), [10, 5])
  t.equal(r.metrics.max_drawdown_pct, 10, 'and max_drawdown_pct counts it')
})

t.test('a peak made inside a day counts for that day\'s drawdown_pct at its close', async (t) => {
  // minutes close 100, 120, 110: peak 1200 at the second minute, day closes at 1100 → 100 / 1200 = 8.3333333333 %
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(120), flat(110)], [flat(120)]]), { initialCapital: '1000' })
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  const r = e.results()
  t.same(r.equity_curve.map((p) => p.drawdown_pct), [8.3333333333, 0])
  t.equal(r.metrics.max_drawdown_pct, 8.3333333333)
})

t.test('maxDrawdownPct: equal to the peak is no drawdown; a cent below it is', async (t) => {
  t.equal(maxDrawdownPct(100, [110, 110]), 0)
  t.ok(Math.abs(maxDrawdownPct(100, [110, 109.99]) - 0.01 / 110 * 100) < 1e-12)
})

// ── day_pnl ──────────────────────────────────────────────────────────────────────────────────────

t.test('day_pnl at each day\'s close is against the previous day\'s close, not the first day\'s: 0, 100, 110, 121', async (t) => {
  // equity 1000, 1100, 1210, 1331 (10 shares held from the first open, 100)
  const e = engineFor(dailySeries('AAA', [flat(100), flat(110), flat(121), flat(133.1)]), { initialCapital: '1000', accountUpdateFrequency: 'every_tick' })
  submit(e, [order({ order_id: 'b' })])
  const snaps = steps(e, 4).flatMap((x) => (x.type === 'account_snapshot' ? [x.data.day_pnl] : []))
  t.same(snaps, ['0.00', '100.00', '110.00', '121.00'])
})

// ── total return and CAGR ────────────────────────────────────────────────────────────────────────

t.test('total_return_pct is (final / initial − 1) × 100', async (t) => {
  t.equal(heldThrough([100, 108.9]).metrics.total_return_pct, 8.9)
})

t.test('CAGR over one trading day (D = 0) is null, a loss included', async (t) => {
  const r = heldThrough([90])
  t.same([r.metrics.total_return_pct, r.metrics.cagr_pct], [-10, null])
})

t.test('CAGR over two consecutive days (D = 1) annualises one day: ((1010 / 1000)^365.25 − 1) × 100', async (t) => {
  const cagr = heldThrough([100, 101]).metrics.cagr_pct ?? 0
  t.ok(Math.abs(cagr - (1.01 ** 365.25 - 1) * 100) < 1e-6 * cagr, String(cagr))
})

t.test('CAGR counts calendar days, not trading days: Friday to Monday is D = 3', async (t) => {
  // two daily bars, Friday 2023-01-06 and Monday 2023-01-09: two trading days, three calendar days
  const e = engineFor(timedSeries('AAA', '1d', [['2023-01-06T14:30:00Z', flat(100)], ['2023-01-09T14:30:00Z', flat(101)]]), { initialCapital: '1000' })
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  const cagr = e.results().metrics.cagr_pct ?? 0
  t.ok(Math.abs(cagr - ((1010 / 1000) ** (365.25 / 3) - 1) * 100) < 1e-6 * cagr, String(cagr))
})

t.test('CAGR when equity ends exactly at 0 is −100', async (t) => {
  // short 10 at 100 with 1000: cash 2000; the price doubles to 200: equity 0
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(200)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 's', side: 'sell' })])
  steps(e)
  const mtr = e.results().metrics
  t.same([mtr.final_equity, mtr.total_return_pct, mtr.cagr_pct], ['0.00', -100, -100])
})

t.test('cagrPct: one day is annualised, zero days is null, a final of 0 is −100', async (t) => {
  t.equal(cagrPct(100, 100, 0), null)
  t.equal(cagrPct(100, 50, 0), null)
  t.equal(cagrPct(100, 0, 1), -100)
  t.ok(Math.abs((cagrPct(100, 101, 1) ?? 0) - (1.01 ** 365.25 - 1) * 100) < 1e-6)
})

// ── Sharpe, Sortino, Calmar where they start or stop being defined ──────────────────────────────

t.test('Sharpe of one return is null (σ = 0); of two different returns it is defined', async (t) => {
  t.equal(sharpeRatio([0.01]), null)
  t.equal(sharpeRatio([0.01, 0.01]), null)
  // [0.02, 0]: mean 0.01, population σ 0.01 → √252 = 15.8745078664
  t.ok(Math.abs((sharpeRatio([0.02, 0]) ?? 0) - Math.sqrt(252)) < 1e-9)
})

t.test('Sortino: a day at exactly 0 is not a losing day (null without one); one losing day defines it', async (t) => {
  t.equal(sortinoRatio([0.02, 0]), null)
  // [0.02, −0.01]: mean 0.005, DD = √(0.0001 / 2) = 0.00707107 → 0.70710678 × √252 = 11.2249721603
  t.ok(Math.abs((sortinoRatio([0.02, -0.01]) ?? 0) - 0.005 / Math.sqrt(0.0001 / 2) * Math.sqrt(252)) < 1e-9)
})

t.test('Calmar is negative when CAGR is; null at a zero drawdown; defined at the smallest drawdown', async (t) => {
  t.equal(calmarRatio(-20, 10), -2)
  t.equal(calmarRatio(5, 0), null)
  t.equal(calmarRatio(5, 1e-9), 5e9)
})

t.test('through the engine Sharpe and Sortino use day closes: one trading day of many bars has one return, Sharpe null', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(120), flat(90), flat(101)]]), { initialCapital: '1000' })
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  t.same([e.results().metrics.sharpe_ratio, e.results().metrics.sortino_ratio], [null, null])
})

// ── trades won and lost ──────────────────────────────────────────────────────────────────────────

function closed (net: string): TradeRecord {
  return {
    trade_id: 1, symbol: 'AAA', direction: 'long', quantity: 1, entry_time: 'x', exit_time: 'y',
    avg_entry_price: '1', avg_exit_price: '1', gross_pnl: net, commission: '0', net_pnl: net, return_pct: 0, open_at_end: false
  }
}

t.test('net P&L exactly 0 is a winning trade; one unit below is a losing trade; one unit above a winning one', async (t) => {
  t.same(['0.00', '-0.00000001', '0.00000001'].map((n) => tradeStats([closed(n)]).winning), [1, 0, 1])
})

t.test('profit factor: 0 when the only winner made 0; null when nothing lost, even one unit never lost', async (t) => {
  t.equal(tradeStats([closed('0.00'), closed('-10')]).profitFactor, 0)
  t.equal(tradeStats([closed('0.00'), closed('0.00000001')]).profitFactor, null)
  t.equal(tradeStats([closed('30'), closed('-10')]).profitFactor, 3)
})

t.test('a closed trade\'s return_pct is its net P&L (after commissions) over its entry value', async (t) => {
  // buy 10 at 100, sell at 110, 0.01/share: net 100 − 0.20 = 99.80 on 1000 → 9.98 %
  const e = engineFor(dailySeries('AAA', [flat(100), flat(110), flat(110)]), { settings: { commission_per_share: 0.01 } })
  submit(e, [order({ order_id: 'b' })])
  steps(e, 1)
  submit(e, [order({ order_id: 's', side: 'sell' })])
  steps(e)
  const [tr] = e.results().trades
  t.same([tr.net_pnl, tr.commission, tr.return_pct, tr.open_at_end], ['99.80', '0.20', 9.98, false])
})

t.test('bars_processed counts steps and trading_days the days they fall on', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(1), flat(1), flat(1)], [flat(1)], [flat(1), flat(1)]]))
  steps(e)
  t.same([e.results().metrics.bars_processed, e.results().metrics.trading_days], [6, 3])
})
