import t from 'tap'
import {
  cagrPct, calendarDaysBetween, calmarRatio, downsideDeviation, maxDrawdownPct, mean, periodReturns, populationStd,
  restateTradeStats, sharpeRatio, sortinoRatio, tidy, tidyOrNull, tradeStats
} from '../../../server/simulation/metrics.js'
import type { SimulationResults, TradeRecord } from '../../../schemas/simulation.js'

// Curve used below: initial 100 → 110 → 121 → 108.9, i.e. returns +10 %, +10 %, −10 %.
const equity = [110, 121, 108.9]

t.test('period returns start against the initial capital', async (t) => {
  const r = Array.from(periodReturns(100, equity))
  t.same(r.map((x) => Math.round(x * 1e12) / 1e12), [0.1, 0.1, -0.1])
})

t.test('population standard deviation divides by N', async (t) => {
  // mean 1/30; deviations 1/15, 1/15, −2/15 → Σ² = 6/225 → /3 = 2/225 → sd = 0.0942809…
  t.ok(Math.abs(populationStd([0.1, 0.1, -0.1]) - Math.sqrt(2 / 225)) < 1e-12)
})

t.test('Sharpe is mean over population std times √252', async (t) => {
  // (1/30) / √(2/225) × √252 = 0.3535534 × 15.8745079 = 5.6124861
  const s = sharpeRatio(periodReturns(100, equity))
  t.ok(Math.abs((s ?? 0) - 5.6124861) < 1e-6, String(s))
})

t.test('Sortino divides by the downside deviation over all returns', async (t) => {
  // downside: √(0.01 / 3) = 0.0577350; (1/30) / 0.0577350 × √252 = 0.5773503 × 15.8745079 = 9.1651514
  t.ok(Math.abs(downsideDeviation([0.1, 0.1, -0.1]) - Math.sqrt(0.01 / 3)) < 1e-12)
  const s = sortinoRatio(periodReturns(100, equity))
  t.ok(Math.abs((s ?? 0) - 9.1651514) < 1e-6, String(s))
})

t.test('Sharpe and Sortino are null when undefined', async (t) => {
  t.equal(sharpeRatio([0.01, 0.01]), null, 'no volatility')
  t.equal(sortinoRatio([0.01, 0.02]), null, 'no downside')
  t.equal(sharpeRatio([]), null)
})

t.test('max drawdown is the largest fall from a running peak, initial capital included', async (t) => {
  // 100 → 120 → 90 (−25 % from 120) → 130 → 117 (−10 %)
  t.equal(maxDrawdownPct(100, [120, 90, 130, 117]), 25)
  // first bar below the initial capital: 100 → 80 is −20 %
  t.equal(maxDrawdownPct(100, [80, 100]), 20)
  t.equal(maxDrawdownPct(100, [101, 102]), 0)
})

t.test('CAGR annualises over calendar days (365.25 per year)', async (t) => {
  // 100 → 121 over exactly two years = 10 % a year
  t.ok(Math.abs((cagrPct(100, 121, 730.5) ?? 0) - 10) < 1e-9)
  t.equal(cagrPct(100, 121, 0), null)
  t.equal(cagrPct(100, -5, 365), -100)
})

t.test('calendar days between trading days', async (t) => {
  t.equal(calendarDaysBetween(20230103, 20240103), 365)
  t.equal(calendarDaysBetween(20240101, 20240301), 60, 'leap February')
})

t.test('Calmar is CAGR over max drawdown', async (t) => {
  t.equal(calmarRatio(10, 25), 0.4)
  t.equal(calmarRatio(10, 0), null)
  t.equal(calmarRatio(null, 5), null)
})

function trade (net: string): TradeRecord {
  return {
    trade_id: 1, symbol: 'AAA', direction: 'long', quantity: 1, entry_time: '2023-01-03T14:30:00.000Z', exit_time: '2023-01-04T14:30:00.000Z',
    avg_entry_price: '1', avg_exit_price: '1', gross_pnl: net, commission: '0', net_pnl: net, return_pct: 0, open_at_end: false
  }
}

t.test('a trade with zero net P&L counts as won; profit factor is wins over |losses|', async (t) => {
  // wins 30 + 0, losses −10 − 5 → PF 30 / 15 = 2, win rate 2/4
  const s = tradeStats(['30', '-10', '-5', '0'].map(trade))
  t.same([s.total, s.winning, s.losing, s.winRate, s.profitFactor], [4, 2, 2, 0.5, 2])
})

t.test('profit factor and win rate are null when undefined', async (t) => {
  t.equal(tradeStats([trade('5')]).profitFactor, null)
  t.equal(tradeStats([]).winRate, null)
})

t.test('a period that starts at zero equity has a 0 return, not Infinity', async (t) => {
  t.same(Array.from(periodReturns(100, [0, 50])), [-1, 0])
  t.same(Array.from(periodReturns(0, [10])), [0])
})

t.test('statistics of nothing are undefined, never 0', async (t) => {
  t.ok(Number.isNaN(mean([])))
  t.equal(sortinoRatio([]), null)
  t.equal(cagrPct(0, 100, 365), null, 'no initial capital: no growth rate')
})

t.test('ratios go on the wire rounded to 10 decimals; undefined values as null', async (t) => {
  t.equal(tidy(0.1 + 0.2), 0.3)
  t.equal(tidy(1 / 3), 0.3333333333)
  t.equal(tidy(-2 / 3), -0.6666666667)
  t.equal(tidy(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY)
  t.equal(tidyOrNull(Number.NaN), null)
  t.equal(tidyOrNull(Number.NEGATIVE_INFINITY), null)
  t.equal(tidyOrNull(null), null)
  t.equal(tidyOrNull(2 / 3), 0.6666666667)
})

t.test('gross profit and gross loss are exact sums of net P&L; gross loss is ≤ 0', async (t) => {
  const s = tradeStats(['0.1', '0.2', '-0.3', '-0.00000001'].map(trade))
  t.same([s.grossProfit, s.grossLoss], [30_000_000n, -30_000_001n])
  t.equal(s.profitFactor, 30_000_000 / 30_000_001)
})

t.test('a position still open at the end is counted apart, in no win/loss statistic (backtrader TradeAnalyzer: open)', async (t) => {
  // closed: +30, −10; open (marked at the last close): +50 → 2 closed trades, 1 won, win rate 1/2, PF 30/10 = 3
  const open = { ...trade('50'), open_at_end: true }
  const s = tradeStats([trade('30'), trade('-10'), open])
  t.same([s.total, s.open, s.winning, s.losing, s.winRate, s.profitFactor], [2, 1, 1, 1, 0.5, 3])
  t.same([s.grossProfit, s.grossLoss], [3_000_000_000n, -1_000_000_000n], 'the open trade\'s unrealized +50 is in neither sum')
})

t.test('only an open position: no closed trade, so win rate and profit factor are undefined', async (t) => {
  const s = tradeStats([{ ...trade('0'), open_at_end: true }])
  t.same([s.total, s.open, s.winning, s.losing, s.winRate, s.profitFactor, s.grossProfit], [0, 1, 0, 0, null, null, 0n])
})

t.test('results stored before open_trades existed are restated by the closed-trades rule', async (t) => {
  const { open_trades: _, ...old } = {
    initial_capital: '100000.00', final_equity: '100070.00', total_return_pct: 0.07, cagr_pct: null, total_trades: 2, open_trades: 0, winning_trades: 2,
    losing_trades: 0, win_rate: 1, profit_factor: null, gross_profit: '80.00', gross_loss: '0.00', realized_pnl: '30.00', total_commission: '0.00',
    max_drawdown_pct: 0, sharpe_ratio: null, sortino_ratio: null, calmar_ratio: null, bars_processed: 3, trading_days: 3
  }
  const stored = { session_id: 'sess_x', fill_policy_version: '1.0.0', completed: true, metrics: old, equity_curve: [], trades: [trade('30'), { ...trade('50'), open_at_end: true }] }
  const m = restateTradeStats(stored as unknown as SimulationResults).metrics
  t.same([m.total_trades, m.open_trades, m.winning_trades, m.losing_trades, m.win_rate, m.gross_profit, m.gross_loss], [1, 1, 1, 0, 1, '30.00', '0.00'])
  const current = restateTradeStats(stored as unknown as SimulationResults)
  t.equal(restateTradeStats(current), current, 'results that have open_trades are left as they are')
})
