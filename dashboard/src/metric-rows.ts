// The statistics table's rows: each PerformanceMetrics field, its label, and how the API's value is shown
// (to 2 decimals for reading; the exact value is the cell's title). Shared by the session page and the browser
// tests that compare it with REST.
import type { Schemas } from '../../generated-client/index.js'
import { formatCount, formatMoney, formatNumber, formatPercent, formatRatio } from './format.js'

type Metrics = Schemas['PerformanceMetrics']

/** Statistics rows: label and how the API's value is shown (never recomputed). */
export const METRIC_ROWS: Array<[keyof Metrics, string, (v: never) => string]> = [
  ['initial_capital', 'Initial capital', formatMoney],
  ['final_equity', 'Final equity', formatMoney],
  ['total_return_pct', 'Total return', formatPercent],
  ['cagr_pct', 'CAGR', formatPercent],
  ['max_drawdown_pct', 'Max drawdown', formatPercent],
  ['sharpe_ratio', 'Sharpe ratio', formatNumber],
  ['sortino_ratio', 'Sortino ratio', formatNumber],
  ['calmar_ratio', 'Calmar ratio', formatNumber],
  ['total_trades', 'Closed trades', formatCount],
  ['open_trades', 'Open at the end', formatCount],
  ['winning_trades', 'Winning trades', formatCount],
  ['losing_trades', 'Losing trades', formatCount],
  ['win_rate', 'Win rate', formatRatio],
  ['profit_factor', 'Profit factor', formatNumber],
  ['gross_profit', 'Gross profit', formatMoney],
  ['gross_loss', 'Gross loss', formatMoney],
  ['realized_pnl', 'Realized P&L', formatMoney],
  ['total_commission', 'Commission', formatMoney],
  ['rejected_orders', 'Rejected orders', formatCount],
  ['bars_processed', 'Bars processed', formatCount],
  ['trading_days', 'Trading days', formatCount]
]
