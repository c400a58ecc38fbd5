// GET /sessions/{id}/equity over a listening server: a losing minute run held mid-way gives its whole curve so
// far (from the first step), thinned to max_points with the troughs kept, and the drawdown the results report
// at the end; a follow-up call gives only the newer steps; a finished run answers its daily closes; a rebuilt
// run (after a restart) answers what it answered before. Also item 7 of issue 19: the account snapshot after a
// fill is marked at the closes and counts only working orders, as GET …/account and …/positions are. With
// several instances (PostgreSQL and Redis), an instance that does not own the run asks its owner.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import type { Storage } from '../../server/ports/storage.js'
import { KEYS, TestSocket, listen, testConfig, tokenFor } from '../fixtures/app.js'
import { runDurable } from '../fixtures/durable-run.js'
import { startHeldRun } from '../fixtures/held-run.js'
import { call } from '../fixtures/rest.js'
import { startLocalCluster, type LocalInstance } from '../fixtures/cluster-in-process.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'
import { parseDecimal, mul, formatMoney } from '../../server/money.js'

type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number, body: any }>

/** test/fixtures/rest.ts's call, bound to a (changing) base URL and a token. */
function apiFor (baseUrl: () => string, token: string): Api {
  return async (method, path, body) => {
    const res = await call(baseUrl(), token, method, path, body)
    return { status: res.status, body: res.json }
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('a minute run held at 89 %: its whole curve so far, thinned, and the drawdown the results report', async (t) => {
  const { baseUrl } = await listen(t)
  const api = apiFor(() => baseUrl, await tokenFor(baseUrl, KEYS.dev))
  const run = await startHeldRun(baseUrl, KEYS.dev, { holdAt: 0.89, flatAt: 0.8 })
  t.teardown(run.close)
  await run.held
  const holdStep = Math.floor(run.totalSteps * 0.89)

  const so = await api('GET', `/sessions/${run.sessionId}/equity`)
  t.equal(so.status, 200)
  const h = so.body
  t.match(h, { session_id: run.sessionId, source: 'steps', steps_done: holdStep, total_steps: run.totalSteps, initial_capital: '100000.00', decimated: true })
  t.ok(run.totalSteps > 5000, `a long run (${run.totalSteps} steps)`)
  t.ok(h.points.length <= 2000 && h.points.length > 1000, `at most 2,000 points (${h.points.length})`)
  t.equal(h.points[0].step, 1, 'from the first step, not from when the caller came')
  t.equal(h.points.at(-1).step, holdStep, 'to the step the run is at')
  t.ok(h.max_drawdown_pct > 5, `the run lost (max drawdown ${h.max_drawdown_pct} %)`)
  t.equal(Math.max(...h.points.map((p: any) => p.drawdown_pct)), h.max_drawdown_pct, 'the deepest point survives the thinning')
  t.ok(h.points.every((p: any, i: number) => i === 0 || p.step > h.points[i - 1].step), 'in step order')

  const coarse = (await api('GET', `/sessions/${run.sessionId}/equity?max_points=50`)).body
  t.ok(coarse.points.length <= 50, `max_points=50 gives ${coarse.points.length}`)
  t.equal(coarse.max_drawdown_pct, h.max_drawdown_pct, 'the max drawdown does not depend on the thinning')
  t.equal(Math.max(...coarse.points.map((p: any) => p.drawdown_pct)), h.max_drawdown_pct)

  const newer = (await api('GET', `/sessions/${run.sessionId}/equity?after_step=${holdStep - 3}`)).body
  t.same(newer.points.map((p: any) => p.step), [holdStep - 2, holdStep - 1, holdStep], 'after_step gives only the newer steps')
  t.same(newer.points.at(-1), h.points.at(-1), 'the same values either way')
  t.ok(newer.points.every((p: any) => p.drawdown_pct > 0), 'drawdowns still measured from the whole run\'s peak')
  t.equal((await api('GET', `/sessions/${run.sessionId}/equity?after_step=${holdStep}`)).body.points.length, 0)

  const account = (await api('GET', `/sessions/${run.sessionId}/account`)).body
  t.ok(Math.abs(Number(account.equity) - Number(h.points.at(-1).equity)) < 0.01, `one equity: the account now (${account.equity}) is the curve's last point (${h.points.at(-1).equity})`)

  run.release()
  await run.done
  const results = (await api('GET', `/sessions/${run.sessionId}/results`)).body
  t.equal(h.max_drawdown_pct, results.metrics.max_drawdown_pct, 'the drawdown seen at 89 % is the run\'s, as the results report it')
  const final = (await api('GET', `/sessions/${run.sessionId}/equity`)).body
  t.match(final, { source: 'daily', steps_done: run.totalSteps, max_drawdown_pct: results.metrics.max_drawdown_pct, decimated: false })
  t.same(final.points.map((p: any) => p.equity), results.equity_curve.map((p: any) => p.equity), 'a finished run: its daily closes')
})

t.test('bad windows are refused with VALIDATION_FAILED; other users\' runs are not found', async (t) => {
  const { baseUrl } = await listen(t)
  const api = apiFor(() => baseUrl, await tokenFor(baseUrl, KEYS.alice))
  const id = (await api('POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' })).body.session_id as string
  for (const q of ['max_points=1', 'max_points=2001', 'after_step=-1', 'max_points=abc', 'extra=1']) {
    const res = await api('GET', `/sessions/${id}/equity?${q}`)
    t.match(res, { status: 400, body: { error_code: 'VALIDATION_FAILED' } }, q)
  }
  t.match(await api('GET', `/sessions/${id}/equity`), { status: 409, body: { error_code: 'INVALID_STATE' } }, 'a run not started yet has no curve')
  const bob = apiFor(() => baseUrl, await tokenFor(baseUrl, KEYS.bob))
  t.match(await bob('GET', `/sessions/${id}/equity`), { status: 404, body: { error_code: 'SESSION_NOT_FOUND' } })
})

t.test('after a restart the rebuilt run answers the curve it answered before', async (t) => {
  const storage = memoryStorage({ journal: true })
  const serve = async (s: Storage, port = 0): Promise<{ app: FastifyInstance, baseUrl: string }> => {
    const app = await buildApp(testConfig(), { logger: false, storage: s })
    return { app, baseUrl: await app.listen({ port, host: '127.0.0.1' }) }
  }
  let server = await serve(storage)
  t.teardown(async () => { await server.app.close() })
  const port = Number(new URL(server.baseUrl).port)
  const api = apiFor(() => server.baseUrl, await tokenFor(server.baseUrl, KEYS.ent))
  let before: any
  let after: any
  let restarting: Promise<void> = Promise.resolve()
  const outcome = await runDurable(() => server.baseUrl, KEYS.ent, async (step, sessionId) => {
    if (before === undefined && step >= 150) {
      before = (await api('GET', `/sessions/${sessionId}/equity`)).body
      await server.app.close()
      await sleep(20)
      restarting = (async () => { server = await serve(storage, port) })()
    } else if (before !== undefined && after === undefined && step > before.steps_done) {
      await restarting
      after = (await api('GET', `/sessions/${sessionId}/equity`)).body
    }
  })
  t.ok(before?.points.length >= 150, 'the curve before the restart')
  t.equal(after?.source, 'steps', 'the rebuilt run is live again')
  t.ok(before.max_drawdown_pct > 0, 'the run had a drawdown')
  t.same(after.points.slice(0, before.points.length), before.points, 'the same points up to where the restart came')
  t.ok(after.max_drawdown_pct >= before.max_drawdown_pct)
  t.equal(outcome.sessionId, before.session_id)
})

t.test('the snapshot after a fill is marked at the closes, counts working orders only, and is what REST answers', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const api = apiFor(() => baseUrl, token)
  const id = (await api('POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', commission_per_share: 0.005 })).body.session_id as string
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: id })
  const tick1 = await ws.next('tick')
  const ack = await ws.request('order_batch', { session_id: id, batch_id: 'b1', orders: [{ order_id: 'buy-1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10, time_in_force: 'day' }] })
  t.same(ack.data.accepted_orders, ['buy-1'])
  ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick1.data.sequence_id, processing_status: 'ready' } })
  const fill = await ws.next('execution_report')
  const snap = (await ws.next('account_snapshot')).data
  const tick2 = (await ws.next('tick')).data
  const close = tick2.bars.AAPL.close as number
  t.not(fill.data.executed_price, formatMoney(parseDecimal(String(close))), 'the fill (at the open) and the close differ, so the mark shows')
  t.equal(snap.open_orders, 0, 'the order has filled: nothing is working')
  t.equal(snap.sim_time, tick2.sim_time, 'taken when the bar closed')
  const lastPrice = formatMoney(parseDecimal(String(close)))
  const marketValue = formatMoney(mul(parseDecimal('10'), parseDecimal(String(close))))
  const cost = mul(parseDecimal('10'), parseDecimal(fill.data.executed_price))
  t.match(snap.positions[0], { symbol: 'AAPL', quantity: 10, last_price: lastPrice, market_value: marketValue, unrealized_pnl: formatMoney(parseDecimal(marketValue) - cost) })
  t.equal(snap.equity, formatMoney(parseDecimal(snap.cash) + parseDecimal(marketValue)), 'equity = cash + the position at the close')

  // The run waits for the ack of tick 2: REST reads the same account.
  // (Its day_pnl starts the next day: the daily bar closed the day.)
  const { day_pnl: _restDay, ...rest } = (await api('GET', `/sessions/${id}/account`)).body
  const { day_pnl: _snapDay, ...snapNow } = snap
  t.same(rest, snapNow, 'GET …/account is the snapshot')
  t.same((await api('GET', `/sessions/${id}/positions`)).body.positions, snap.positions, 'GET …/positions too')
  const curve = (await api('GET', `/sessions/${id}/equity`)).body
  t.equal(curve.points.at(-1).step, tick2.sequence_id)
  t.ok(Math.abs(Number(curve.points.at(-1).equity) - Number(snap.equity)) < 0.01, `and the equity curve's point at this step (${curve.points.at(-1).equity} against ${snap.equity})`)
})

t.test('several instances: another instance answers the curve of a run owned elsewhere, as the owner does', async (t) => {
  if (!await requirePostgres(t) || !await requireRedis(t)) return
  const cluster = await startLocalCluster(t, ['a', 'b'])
  const [a, b] = [cluster.instances.get('a') as LocalInstance, cluster.instances.get('b') as LocalInstance]
  const token = await tokenFor(a.baseUrl, KEYS.ent)
  const id = (await call(a.baseUrl, token, 'POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' })).json.session_id as string
  const ws = await TestSocket.open(`${a.wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: id })
  for (let step = 1; step <= 10; step++) {
    await ws.next('tick')
    if (step === 2) await ws.request('order_batch', { session_id: id, batch_id: 'b2', orders: [{ order_id: 'o2', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 50, time_in_force: 'day' }] })
    if (step < 10) ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
  }
  const owner = await call(a.baseUrl, token, 'GET', `/sessions/${id}/equity?max_points=8`)
  const elsewhere = await call(b.baseUrl, token, 'GET', `/sessions/${id}/equity?max_points=8`)
  t.equal(owner.status, 200)
  t.match(owner.json, { source: 'steps', steps_done: 10, decimated: true })
  t.ok(owner.json.points.length <= 8)
  t.same(elsewhere.json, owner.json, 'B asks the owner (A) and answers what it says')
})
