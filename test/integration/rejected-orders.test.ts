// Every order has an outcome the strategy hears (issue 19 item 1), over a real listening server: a sell of
// shares not held (shorting off), a buy beyond buying power and an order for a symbol outside the session
// reach the SDK strategy's onOrder (status rejected, with error_code and reason) and onReject; the server
// records them, so GET …/orders?status=all|rejected lists them (with why) and GET …/events holds their
// order_update; the results and simulation_complete count them; `simutrador simulate run` ends with a line
// counting them by error code, and lists each one with --verbose.
import t from 'tap'
import type { OrderUpdate } from '../../schemas/simulation.js'
import { runStrategy, type Strategy, type StrategyRejection } from '../../client/strategy-runner.js'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { runCli, tempDir } from '../fixtures/cli.js'
import { call } from '../fixtures/rest.js'
import { connectedClient } from '../fixtures/sdk.js'
import { createStrategy, REJECTED_KINDS } from '../fixtures/strategies/rejected-orders.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-02-28', initial_capital: 10000 }

t.test('rejected orders are heard, recorded and counted', async (t) => {
  const { baseUrl } = await listen(t)
  const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.dev })
  const heard: OrderUpdate[] = []
  const rejects: StrategyRejection[] = []
  const strategy: Strategy = {
    ...createStrategy(),
    onOrder: (update) => { heard.push(update) },
    onReject: (update) => { rejects.push(update) }
  }
  const run = await runStrategy(client, strategy, { session: SESSION })
  const id = run.session.session_id

  t.test('the strategy hears each one through onOrder and onReject, with error_code and reason', async (t) => {
    const rejected = heard.filter((u) => u.status === 'rejected')
    t.same(rejected.map((u) => u.error_code), REJECTED_KINDS, 'each kind, in the order the orders were sent')
    t.match(rejected.map((u) => u.reason), [/short selling is not allowed/, /buying power/, /ZZZZ is not part of this session/])
    t.match(rejected.map((u) => u.order), [{ status: 'rejected', side: 'sell', quantity: 5 }, { status: 'rejected', quantity: 1_000_000 }, { status: 'rejected', symbol: 'ZZZZ' }])
    t.same(rejects, rejected.map((u) => ({ order_id: u.order_id, error_code: u.error_code, reason: u.reason, order: u.order })), 'onReject hears the same refusals')
    t.ok(heard.some((u) => u.status === 'filled'), 'the valid order still fills')
    t.equal(run.complete.rejected_orders, 3, 'simulation_complete counts them')
  })

  t.test('REST lists them with why, the event log holds them, the results count them', async (t) => {
    const token = await tokenFor(baseUrl, KEYS.dev)
    const rejected = await call(baseUrl, token, 'GET', `/sessions/${id}/orders?status=rejected`)
    t.equal(rejected.status, 200)
    t.same(rejected.json.orders.map((o: { error_code: string }) => o.error_code), REJECTED_KINDS)
    t.match(rejected.json.orders[2], { symbol: 'ZZZZ', status: 'rejected', reason: /not part of this session/ })
    const all = await call(baseUrl, token, 'GET', `/sessions/${id}/orders?status=all`)
    t.same(all.json.orders.map((o: { status: string }) => o.status), ['rejected', 'rejected', 'rejected', 'filled'])
    const events = await call(baseUrl, token, 'GET', `/sessions/${id}/events?after_seq=0&limit=1000`)
    const logged = (events.json.events as Array<{ type: string, data: OrderUpdate }>).filter((e) => e.type === 'order_update' && e.data.status === 'rejected')
    t.same(logged.map((e) => e.data.error_code), REJECTED_KINDS, 'in the event log, so a resumed run replays them')
    const results = await call(baseUrl, token, 'GET', `/sessions/${id}/results`)
    t.equal(results.json.metrics.rejected_orders, 3)
  })
})

t.test('a repeated order_id (not recorded: the id is taken) reaches onReject alone, a batch resent after a drop does not', async (t) => {
  const { app, baseUrl } = await listen(t)
  const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.dev, reconnect: { baseDelayMs: 20, maxDelayMs: 100 } })
  const heard: OrderUpdate[] = []
  const rejects: StrategyRejection[] = []
  let dropped = false
  const strategy: Strategy = {
    onTick (tick) {
      if (tick.sequence_id === 2) return [{ order_id: 'mine-1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }]
      if (tick.sequence_id === 4) return [{ order_id: 'mine-1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 2 }, { order_id: 'mine-2', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }, { order_id: 'mine-2', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 3 }]
      if (tick.sequence_id === 6 && !dropped) {
        // Drop the connection as this tick's batch goes out: the SDK resends it after resuming, same ids.
        dropped = true
        setImmediate(() => { for (const conn of app.ws.connections.forUser('dev')) conn.socket.terminate() })
        return [{ order_id: 'mine-3', symbol: 'AAPL', side: 'sell', type: 'market', quantity: 100 }]
      }
      return []
    },
    onOrder: (update) => { heard.push(update) },
    onReject: (r) => { rejects.push(r) }
  }
  const run = await runStrategy(client, strategy, { session: SESSION })
  t.ok(dropped)
  t.same(rejects.filter((r) => r.order === undefined).map((r) => [r.order_id, r.error_code]), [['mine-1', 'INVALID_ORDER'], ['mine-2', 'INVALID_ORDER']], 'each repeat once, without an order')
  t.match(rejects.filter((r) => r.order === undefined).map((r) => r.reason), [/mine-1 is already used/, /mine-2 is already used/])
  t.same(rejects.filter((r) => r.order !== undefined).map((r) => r.order_id), ['mine-3'], 'the resent batch\'s refusal is heard once')
  t.same(heard.filter((u) => u.status === 'rejected').map((u) => u.order_id), ['mine-3'], 'onOrder hears only recorded orders')
  t.equal(run.complete.rejected_orders, 1, 'repeats are not orders: not counted')
})

t.test('simutrador simulate run prints the rejections by code, and each one with --verbose', async (t) => {
  const { baseUrl } = await listen(t)
  const configDir = await tempDir(t)
  const args = ['simulate', 'run', 'test/fixtures/strategies/rejected-orders.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-02-28', '--capital', '10000']
  const plain = await runCli(args, { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(plain.code, 0, plain.stderr)
  t.match(plain.stdout, /^Rejected orders: 3 \(INSUFFICIENT_BUYING_POWER 1, INVALID_ORDER 1, INVALID_SYMBOL 1\)$/m)
  t.notMatch(plain.stdout, /not part of this session/, 'one line without --verbose')
  const verbose = await runCli([...args, '--verbose'], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
  t.equal(verbose.code, 0, verbose.stderr)
  const lines = verbose.stdout.split('\n').filter((l) => /^ {2}\S+ (buy|sell) /.test(l))
  t.equal(lines.length, 3, verbose.stdout)
  t.match(lines, [/sell 5 AAPL .*INVALID_ORDER: short selling is not allowed/, /buy 1000000 AAPL .*INSUFFICIENT_BUYING_POWER: order needs/, /buy 1 ZZZZ .*INVALID_SYMBOL: symbol ZZZZ is not part of this session/])
})
