import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { AppError } from '../../../server/app-error.js'
import { Bar } from '../../../schemas/market-data.js'
import { ErrorCode } from '../../../schemas/errors.js'
import { AccountSnapshot, ExecutionReport, OrderUpdate, SimulationCompleteData, SimulationResults, TickData, simulationSchemas } from '../../../schemas/simulation.js'
import type { EngineEvent } from '../../../server/simulation/engine.js'
import { dailySeries, engineFor, flat, minuteSeries, order, steps, submit } from './bars.js'

function scenario (): EngineEvent[] {
  const e = engineFor(
    [
      minuteSeries('AAA', [[flat(100), [100, 103, 99, 102], [102, 104, 101, 103]], [[101, 102, 96, 97], flat(98), flat(99)]]),
      minuteSeries('BBB', [[flat(50), [50, 51, 49, 50], flat(50)], [flat(52), [52, 53, 51, 52], flat(52)]])
    ],
    { settings: { commission_per_share: 0.005, slippage_bps: 5, volume_participation: 0.5 }, includeBars: true }
  )
  const out: EngineEvent[] = []
  out.push(...(e.step() ?? []))
  out.push(...submit(e, [order({ order_id: 'a', take_profit: { limit_price: 103.5 }, stop_loss: { stop_price: 97 } }), order({ order_id: 'b', symbol: 'BBB', type: 'limit', price: 49.5, quantity: 7, time_in_force: 'gtc' })]).events)
  out.push(...steps(e))
  return out
}

t.test('two runs of the same session produce byte-identical event streams', async (t) => {
  const a = JSON.stringify(scenario())
  const b = JSON.stringify(scenario())
  t.ok(a.length > 1000)
  t.equal(a, b)
})

t.test('every event matches its schema', async (t) => {
  const refs = [...simulationSchemas, Bar, ErrorCode]
  const check = {
    tick: TypeCompiler.Compile(TickData, refs),
    execution_report: TypeCompiler.Compile(ExecutionReport, refs),
    order_update: TypeCompiler.Compile(OrderUpdate, refs),
    account_snapshot: TypeCompiler.Compile(AccountSnapshot, refs),
    simulation_complete: TypeCompiler.Compile(SimulationCompleteData, refs)
  }
  const bad = scenario().filter((ev) => !check[ev.type].Check(ev.data))
  t.same(bad, [])
})

t.test('within a step, fills at the open come first, then fills inside the bar, then the tick', async (t) => {
  // the limit (older order, fills inside the bar at 99) must follow the market order (newer, fills at the open)
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 98, 100]]), { accountUpdateFrequency: 'on_demand' })
  steps(e, 1)
  submit(e, [order({ order_id: 'lim', type: 'limit', price: 99 }), order({ order_id: 'mkt' })])
  const ev = e.step() ?? []
  t.same(ev.map((x) => x.type === 'execution_report' ? `fill:${x.data.order_id}` : x.type), [
    'fill:mkt', 'order_update', 'fill:lim', 'order_update', 'tick'
  ])
})

t.test('every_fill puts an account snapshot right after each fill', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'm' })])
  t.same((e.step() ?? []).map((x) => x.type), ['execution_report', 'order_update', 'account_snapshot', 'tick'])
})

t.test('every_fill sends one snapshot after all of a step\'s fills, counting only the orders still working', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 98, 100], flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'lim', type: 'limit', price: 99 }), order({ order_id: 'mkt' }), order({ order_id: 'far', type: 'limit', price: 50, time_in_force: 'gtc' })])
  const ev = e.step() ?? []
  t.same(ev.map((x) => x.type), ['execution_report', 'order_update', 'execution_report', 'order_update', 'account_snapshot', 'tick'])
  const snap = ev.find((x) => x.type === 'account_snapshot')?.data as { open_orders: number, positions: Array<{ quantity: number, last_price: string }> }
  t.equal(snap.open_orders, 1, 'the two filled orders are gone; the far limit still works')
  t.match(snap.positions[0], { quantity: 20, last_price: '100.00' })
  t.same((e.step() ?? []).map((x) => x.type), ['tick'], 'a step without a fill sends no snapshot')
})

t.test('every_tick puts one account snapshot before each tick', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { accountUpdateFrequency: 'every_tick' })
  t.same((e.step() ?? []).map((x) => x.type), ['account_snapshot', 'tick'])
})

t.test('the tick of a bar carries its close time as sim_time and the 1-based step number', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(1), flat(2)]]), { includeBars: true })
  const ticks = steps(e).filter((x) => x.type === 'tick').map((x) => x.data as TickData)
  t.same(ticks.map((x) => [x.sequence_id, x.sim_time, x.is_eod]), [
    [1, '2023-01-02T14:31:00.000Z', false],
    [2, '2023-01-02T14:32:00.000Z', true]
  ])
  t.same(ticks[1].bars?.AAA, { timestamp: '2023-01-02T14:31:00.000Z', session_date: '2023-01-02', open: 2, high: 2, low: 2, close: 2, volume: 1_000_000 })
})

t.test('a daily tick closes one day after the bar start', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(1)]))
  const tick = (e.step() ?? []).find((x) => x.type === 'tick')?.data as TickData
  t.equal(tick.sim_time, '2023-01-03T14:30:00.000Z')
})

t.test('after the last tick one more step completes the session, then step returns null', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { accountUpdateFrequency: 'on_demand' })
  steps(e, 1)
  submit(e, [order({ order_id: 'g', type: 'limit', price: 1, time_in_force: 'gtc' })])
  steps(e, 1)
  t.equal(e.done, false)
  t.equal(e.progress, 1)
  const end = e.step() ?? []
  t.same(end.map((x) => x.type), ['order_update', 'simulation_complete'])
  t.equal((end[1].data as SimulationCompleteData).reason, 'finished')
  t.equal(e.done, true)
  t.equal(e.step(), null)
  t.throws(() => submit(e, [order({ order_id: 'late' })]), AppError)
})

t.test('finish() stops early and reports the run as stopped', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]))
  steps(e, 1)
  const end = e.finish()
  const done = end.find((x) => x.type === 'simulation_complete')?.data as SimulationCompleteData
  t.equal(done.reason, 'stopped')
  t.equal(done.bars_processed, 1)
  t.same(e.finish(), [])
})

t.test('results match their schema and list an open position marked at the last close, counted apart', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(110)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'm' })])
  steps(e)
  const r = e.results()
  t.ok(TypeCompiler.Compile(SimulationResults, [...simulationSchemas, Bar, ErrorCode]).Check(r))
  t.same(r.trades.map((x) => [x.direction, x.avg_entry_price, x.avg_exit_price, x.net_pnl, x.open_at_end]), [['long', '100.00', '110.00', '100.00', true]])
  t.equal(r.metrics.final_equity, '100100.00')
  t.same([r.metrics.total_trades, r.metrics.open_trades, r.metrics.winning_trades, r.metrics.win_rate], [0, 1, 0, null], 'an open position is no won trade')
  t.equal(r.equity_curve.length, 3)
  t.equal(r.completed, true)
})
