// Trade statistics over the wire: a position still open at the end of a run is listed and counted apart
// (`open_trades`, `open_at_end`), never as a won or lost trade, in `simulation_complete` and `GET …/results`.
import t from 'tap'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { connectedClient } from '../fixtures/sdk.js'
import { runStrategy, type Strategy } from '../../client/strategy-runner.js'
import type { ExecutionReport } from '../../schemas/simulation.js'
import { formatMoney, parseMoney } from '../../server/money.js'

t.test('a round trip and a position held to the end: one closed trade, one open, win rate of the closed one', async (t) => {
  const { baseUrl } = await listen(t)
  const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.dev })
  const fills: ExecutionReport[] = []
  // Buy 10 on the first bar, sell them on the third, buy 10 again on the fifth and hold them.
  const plan: Record<number, 'buy' | 'sell'> = { 1: 'buy', 3: 'sell', 5: 'buy' }
  const strategy: Strategy = {
    onTick: (tick) => {
      const side = plan[tick.sequence_id]
      return side === undefined ? [] : [{ symbol: 'AAPL', side, type: 'market', quantity: 10 }]
    },
    onFill: (f) => { fills.push(f) }
  }
  const run = await runStrategy(client, strategy, { session: { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' } })
  t.equal(fills.length, 3, 'the three orders filled')

  // Hand-computed from the fills: the closed trade's net P&L = 10 × (exit − entry) − both commissions.
  const [entry, exit, held] = fills
  const closedNet = (parseMoney(exit.executed_price) - parseMoney(entry.executed_price)) * 10n - parseMoney(entry.commission) - parseMoney(exit.commission)
  const won = closedNet >= 0n
  const expected = {
    total_trades: 1,
    open_trades: 1,
    winning_trades: won ? 1 : 0,
    losing_trades: won ? 0 : 1,
    win_rate: won ? 1 : 0,
    gross_profit: won ? formatMoney(closedNet) : '0.00',
    gross_loss: won ? '0.00' : formatMoney(closedNet)
  }
  t.match(run.complete, expected, 'simulation_complete (WebSocket) counts the closed trade only')

  const res = await fetch(`${baseUrl}/sessions/${run.session.session_id}/results`, { headers: { authorization: `Bearer ${await tokenFor(baseUrl, KEYS.dev)}` } })
  t.equal(res.status, 200)
  const results = await res.json() as { metrics: Record<string, unknown>, trades: Array<Record<string, unknown>> }
  t.match(results.metrics, expected, 'GET …/results (REST) says the same')
  t.same(results.trades.map((x) => [x.direction, x.open_at_end, x.entry_time]), [
    ['long', false, entry.execution_time],
    ['long', true, held.execution_time]
  ], 'the trades list shows both, the held position marked open_at_end')
  t.equal(results.trades[0].net_pnl, formatMoney(closedNet))
})
