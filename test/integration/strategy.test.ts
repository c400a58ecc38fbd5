// A strategy run through the SDK's runStrategy and the `simutrador simulate run` CLI, over a real server:
// results match the engine's, a dropped connection mid-run changes nothing, and the CLI prints the report.
import t from 'tap'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy, type Strategy } from '../../client/strategy-runner.js'
import { createStrategy } from '../../examples/sma-crossover.js'
import { listen, KEYS } from '../fixtures/app.js'
import { runCli, tempDir } from '../fixtures/cli.js'

const SESSION = { symbols: ['MSFT'], start_date: '2023-03-01', end_date: '2023-03-10', timeframe: '1m' as const }

t.test('strategies over the SDK', async (t) => {
  const { app, baseUrl } = await listen(t)
  const connect = async (tt: { teardown: (fn: () => unknown) => void }): Promise<SessionClient> => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent, reconnect: { baseDelayMs: 20, maxDelayMs: 100 } })
    tt.teardown(() => client.close())
    await client.connect()
    return client
  }

  t.test('the SMA example runs to completion and its fills reach onFill', async (t) => {
    const client = await connect(t)
    const fills: string[] = []
    const base = createStrategy()
    const strategy: Strategy = { ...base, onFill: (f) => { fills.push(f.order_id) } }
    const run = await runStrategy(client, strategy, { session: SESSION })
    t.equal(run.session.state, 'completed')
    t.equal(run.ticks, run.session.estimated_ticks, 'every tick handled')
    t.ok(run.orders_sent > 10, `${run.orders_sent} orders`)
    t.equal(fills.length, run.orders_sent, 'every market order filled')
    t.equal(run.complete.total_trades, Math.floor(run.orders_sent / 2), 'closed round trips')
    t.equal(run.complete.open_trades, run.orders_sent % 2, 'and the last entry, if unmatched, open at the end')
  })

  t.test('a connection dropped mid-run is resumed and the result is identical to an uninterrupted run', async (t) => {
    const plain = await runStrategy(await connect(t), createStrategy(), { session: SESSION })

    const client = await connect(t)
    let dropped = false
    const run = await runStrategy(client, createStrategy(), {
      session: SESSION,
      progressEveryTicks: 100,
      onProgress: ({ ticks }) => {
        if (dropped || ticks < 1500) return
        dropped = true
        // Kill the strategy's socket from the server side, as a network failure would.
        for (const conn of app.ws.connections.forUser('ent')) conn.socket.terminate()
      }
    })
    t.ok(dropped, 'the connection was dropped mid-run')
    t.equal(run.complete.final_equity, plain.complete.final_equity)
    t.equal(run.complete.total_trades, plain.complete.total_trades)
    t.equal(run.orders_sent, plain.orders_sent)
    t.equal(run.ticks, plain.ticks)
  })
})

t.test('simutrador simulate run prints a results report', async (t) => {
  const { baseUrl } = await listen(t)
  const configDir = await tempDir(t)
  const r = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29'], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Ticks\s+250\n/)
  t.match(r.stdout, /Final equity\s+\d+\.\d+/)
  t.match(r.stdout, /Sharpe\s+-?\d+\.\d{3}/)
  t.match(r.stdout, /Trades\s+\d+ closed \(\d+ won/)
  t.match(r.stdout, /Fill policy\s+1\.0\.0/)
  t.match(r.stderr, /100%\s+250\/250 ticks/)

  const json = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'MSFT', '--start', '2023-01-03', '--end', '2023-06-30', '--json'], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(json.code, 0, json.stderr)
  const out = JSON.parse(json.stdout) as { session: { state: string }, results: { metrics: { bars_processed: number }, equity_curve: unknown[] } }
  t.equal(out.session.state, 'completed')
  t.ok(out.results.metrics.bars_processed > 100)
  t.ok(out.results.equity_curve.length > 0)

  const bad = await runCli(['simulate', 'run', 'examples/does-not-exist.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-02-01'], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(bad.code, 2, 'a missing strategy file is a usage error')
})
