// `simutrador simulate run` end to end (the real CLI process against a real server): the report's numbers
// are the session's results, checked by value and recomputed from the equity curve and trades per
// docs/fill-policy.md; a strategy that throws ends the run in state error and the CLI prints its stack, exit 1.
import t from 'tap'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { runCli, tempDir } from '../fixtures/cli.js'
import { formatMoney } from '../../client/cli/output.js'

interface Results {
  metrics: Record<string, number | string | null>
  equity_curve: Array<{ equity: string }>
  trades: Array<{ open_at_end: boolean }>
}

/** The value after `label` on its own report line (`Label   value`). */
function field (stdout: string, label: string): string {
  const m = new RegExp(`^${label} +(.+)$`, 'm').exec(stdout)
  if (m === null) throw new Error(`no '${label}' line in:\n${stdout}`)
  return m[1]
}

t.test('the report prints the session’s own results, by value', async (t) => {
  const { baseUrl } = await listen(t)
  const r = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29'], { url: baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(r.code, 0, r.stderr)
  const sessionId = /^(\S+) \(AAPL/.exec(field(r.stdout, 'Session'))?.[1]
  t.ok(sessionId, 'the report names the session')
  const token = await tokenFor(baseUrl, KEYS.dev)
  const res = await fetch(`${baseUrl}/sessions/${sessionId}/results`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  const { metrics: m, equity_curve: curve, trades } = await res.json() as Results

  // What the CLI printed is what the server computed, at the printed precision (money: 2 decimals).
  t.equal(field(r.stdout, 'Initial capital'), formatMoney(m.initial_capital as string))
  t.equal(field(r.stdout, 'Final equity'), formatMoney(m.final_equity as string))
  t.equal(field(r.stdout, 'Total return'), `${(m.total_return_pct as number).toFixed(2)}%`)
  t.equal(field(r.stdout, 'Max drawdown'), `${(m.max_drawdown_pct as number).toFixed(2)}%`)
  t.equal(field(r.stdout, 'Sharpe'), (m.sharpe_ratio as number).toFixed(3))
  const open = (m.open_trades as number) > 0 ? `, ${m.open_trades as number} open at the end` : ''
  t.equal(field(r.stdout, 'Trades'), `${m.total_trades} closed (${m.winning_trades} won, win rate ${((m.win_rate as number) * 100).toFixed(2)}%)${open}`)
  t.equal(field(r.stdout, 'Commission'), formatMoney(m.total_commission as string))

  // And the server's figures are the documented formulas over its own curve (daily bars: a step is a day).
  const initial = Number(m.initial_capital)
  const equity = curve.map((p) => Number(p.equity))
  t.equal(equity.length, 250, 'one equity point per trading day of 2023')
  t.equal(Number(field(r.stdout, 'Ticks')), 250)
  const totalReturn = (Number(m.final_equity) / initial - 1) * 100
  t.equal(field(r.stdout, 'Total return'), `${totalReturn.toFixed(2)}%`, 'total return = (final / initial − 1) × 100')
  let peak = initial
  let maxDd = 0
  for (const e of equity) { peak = Math.max(peak, e); maxDd = Math.max(maxDd, (peak - e) / peak * 100) }
  t.equal(field(r.stdout, 'Max drawdown'), `${maxDd.toFixed(2)}%`, 'max drawdown from the running peak, initial capital first')
  const returns = equity.map((e, i) => e / (i === 0 ? initial : equity[i - 1]) - 1)
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length
  const sd = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / returns.length)
  t.equal(field(r.stdout, 'Sharpe'), (mean / sd * Math.sqrt(252)).toFixed(3), 'Sharpe = mean / population σ × √252')
  t.equal(m.total_trades, trades.filter((x) => !x.open_at_end).length, 'every closed trade is counted')
  t.equal(m.open_trades, trades.filter((x) => x.open_at_end).length, 'and the position open at the end apart')
  t.ok(trades.length > 2, `the example trades (${trades.length} trades)`)
})

t.test('a strategy that throws: the run ends in state error, the CLI prints the stack and exits 1', async (t) => {
  const { baseUrl } = await listen(t)
  const configDir = await tempDir(t)
  const args = ['simulate', 'run', 'test/fixtures/strategies/throws-midway.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29']
  const r = await runCli(args, { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(r.code, 1, 'exit 1: the operation failed')
  t.match(r.stderr, /^STRATEGY_ERROR: strategy test\/fixtures\/strategies\/throws-midway\.ts threw: boom at tick 150$/m)
  t.match(r.stderr, /^RangeError: boom at tick 150$/m, 'the stack starts with the original error')
  t.match(r.stderr, /at explode \(.*throws-midway\.ts:\d+:\d+\)/, 'and names the strategy’s own frames')
  t.notMatch(r.stderr, /INTERNAL_ERROR/)
  t.equal(r.stdout, '', 'no report')

  const token = await tokenFor(baseUrl, KEYS.dev)
  const list = await (await fetch(`${baseUrl}/sessions`, { headers: { authorization: `Bearer ${token}` } })).json() as { sessions: Array<{ state: string, error_message?: string, progress: number }> }
  t.equal(list.sessions.length, 1)
  t.match(list.sessions[0], { state: 'error', error_message: 'boom at tick 150' }, 'the server ended the run with the message')
  t.ok(list.sessions[0].progress < 1, 'it stopped where the strategy threw')

  const json = await runCli([...args, '--json'], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(json.code, 1)
  t.match(JSON.parse(json.stdout), { error_code: 'STRATEGY_ERROR', message: /boom at tick 150/, details: { strategy: 'test/fixtures/strategies/throws-midway.ts', stack: /RangeError: boom at tick 150/ } })
})
