// docs/fill-policy.md, section by section: one test (or more) per rule, each failing when the rule changes.
// Sections 1–3 here; §4–§6 in fill-policy-fills.test.ts. The worked examples of the doc are used where it gives one.
import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { AppError } from '../../../server/app-error.js'
import { emptySeries } from '../../../server/market-data/bar-series.js'
import { DEFAULT_SIMULATION_SETTINGS, resolveSettings, SimulationEngine } from '../../../server/simulation/engine.js'
import { Bar } from '../../../schemas/market-data.js'
import { ErrorCode } from '../../../schemas/errors.js'
import { OrderRequest, simulationSchemas, type SimulationSettings, type TickData } from '../../../schemas/simulation.js'
import { dailySeries, engineFor, executions, flat, minuteSeries, order, steps, submit, updates } from './bars.js'

function codeOf (fn: () => unknown): [string, unknown] | null {
  try {
    fn()
    return null
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return [err.error_code, err.details?.field]
  }
}

function ticksOf (events: ReturnType<typeof steps>): TickData[] {
  return events.flatMap((e) => (e.type === 'tick' ? [e.data] : []))
}

// ── §1 Settings ──────────────────────────────────────────────────────────────────────────────────

t.test('§1 defaults: 0.005 per share, no minimum, no slippage, no volume cap, no shorts, version 1.0.0', async (t) => {
  t.same(resolveSettings(), { commission_per_share: 0.005, min_commission_per_order: 0, slippage_bps: 0, allow_short: false, fill_policy_version: '1.0.0' })
  t.same(DEFAULT_SIMULATION_SETTINGS, resolveSettings())
  // The defaults as an engine applies them: 10 shares pay 0.05, fill at the open exactly, the whole
  // quantity in one bar of volume 1, and a sell without a position is refused.
  const e = new SimulationEngine({ sessionId: 's', series: [dailySeries('AAA', [flat(100), flat(100, 1)])], initialCapital: '100000', includeBars: false })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'b' }), order({ order_id: 's', side: 'sell', quantity: 20 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['s', 'INVALID_ORDER']])
  const [x] = executions(steps(e, 1))
  t.same([x.executed_price, x.executed_quantity, x.commission, x.slippage_bps], ['100.00', 10, '0.05', 0])
})

t.test('§1 settings out of range are refused with VALIDATION_FAILED naming the field', async (t) => {
  t.same(codeOf(() => resolveSettings({ commission_per_share: -0.001 })), ['VALIDATION_FAILED', 'commission_per_share'])
  t.same(codeOf(() => resolveSettings({ commission_per_share: Number.NaN })), ['VALIDATION_FAILED', 'commission_per_share'])
  t.same(codeOf(() => resolveSettings({ min_commission_per_order: -1 })), ['VALIDATION_FAILED', 'min_commission_per_order'])
  t.same(codeOf(() => resolveSettings({ slippage_bps: -1 })), ['VALIDATION_FAILED', 'slippage_bps'])
  t.same(codeOf(() => resolveSettings({ slippage_bps: 1000.5 })), ['VALIDATION_FAILED', 'slippage_bps'])
  t.same(codeOf(() => resolveSettings({ volume_participation: 0 })), ['VALIDATION_FAILED', 'volume_participation'])
  t.same(codeOf(() => resolveSettings({ volume_participation: 1.01 })), ['VALIDATION_FAILED', 'volume_participation'])
  t.same(codeOf(() => resolveSettings({ fill_policy_version: '1.0.1' } as unknown as Partial<SimulationSettings>)), ['VALIDATION_FAILED', 'fill_policy_version'])
  // the bounds themselves are allowed
  t.equal(codeOf(() => resolveSettings({ slippage_bps: 1000, volume_participation: 1, commission_per_share: 0, min_commission_per_order: 0 })), null)
  t.equal(codeOf(() => resolveSettings({ slippage_bps: 0, volume_participation: 0.00000001 })), null)
})

t.test('§1 an engine refuses bad settings and a non-positive initial capital; capital may be exact (bigint)', async (t) => {
  const series = [dailySeries('AAA', [flat(100)])]
  t.same(codeOf(() => new SimulationEngine({ sessionId: 's', series, initialCapital: 1000, settings: { slippage_bps: 2000 } })), ['VALIDATION_FAILED', 'slippage_bps'])
  t.same(codeOf(() => new SimulationEngine({ sessionId: 's', series, initialCapital: '0' }))?.[0], 'VALIDATION_FAILED')
  t.same(codeOf(() => new SimulationEngine({ sessionId: 's', series, initialCapital: -5 }))?.[0], 'VALIDATION_FAILED')
  t.same(codeOf(() => new SimulationEngine({ sessionId: 's', series, initialCapital: 'lots' }))?.[0], 'VALIDATION_FAILED')
  const e = new SimulationEngine({ sessionId: 's', series, initialCapital: 12_345_678_901n })
  t.equal(e.account().cash, '123.45678901')
})

t.test('§1 numbers are read as the decimal they print as (0.1 × 3 is 0.30, not 0.30000000000000004)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { settings: { commission_per_share: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'b', quantity: 3 })])
  t.equal(executions(steps(e, 1))[0].commission, '0.30')
  t.equal(e.account().cash, '99699.70')
})

// ── §2 Time and events ───────────────────────────────────────────────────────────────────────────

t.test('§2 a symbol without a bar at a step does not trade in it and is not listed as trading', async (t) => {
  const a = dailySeries('AAA', [flat(100), flat(100), flat(100)])
  const b = dailySeries('BBB', [flat(50), flat(60)])
  b.time[1] = a.time[2]
  b.day[1] = a.day[2]
  const e = engineFor([a, b], { includeBars: true })
  steps(e, 1)
  submit(e, [order({ order_id: 'm', symbol: 'BBB', quantity: 1 })])
  const step2 = steps(e, 1)
  t.same(ticksOf(step2)[0].symbols_trading, ['AAA'])
  t.same(Object.keys(ticksOf(step2)[0].bars ?? {}), ['AAA'])
  t.same(executions(step2), [])
  const step3 = steps(e, 1)
  t.same(ticksOf(step3)[0].symbols_trading, ['AAA', 'BBB'])
  t.same(executions(step3).map((x) => [x.symbol, x.executed_price]), [['BBB', '60.00']])
})

t.test('§2 sim_time of an hourly tick is its bar start + 1 h (a shortened last bar too)', async (t) => {
  const s = emptySeries('AAA', '1h', 2)
  s.time[0] = Date.parse('2023-01-03T19:30:00.000Z')
  s.time[1] = Date.parse('2023-01-03T20:30:00.000Z') // NYSE 15:30 bar: really 30 minutes
  s.day[0] = s.day[1] = 20230103
  for (let i = 0; i < 2; i++) { s.open[i] = s.high[i] = s.low[i] = s.close[i] = 100; s.volume[i] = 1000 }
  const ticks = ticksOf(steps(engineFor(s)))
  t.same(ticks.map((x) => [x.sim_time, x.is_eod]), [['2023-01-03T20:30:00.000Z', false], ['2023-01-03T21:30:00.000Z', true]])
})

t.test('§2 market_session: intraday asks the calendar for the first trading symbol; daily ticks are always regular', async (t) => {
  const calls: Array<[number, string]> = []
  const session = (i: number, ms: number): 'pre_market' => { calls.push([i, new Date(ms).toISOString()]); return 'pre_market' }
  const a = minuteSeries('AAA', [[flat(1), flat(1)]])
  const b = minuteSeries('BBB', [[flat(1), flat(1), flat(1)]])
  const intraday = ticksOf(steps(engineFor([a, b], { marketSessionAt: session })))
  t.same(intraday.map((x) => x.market_session), ['pre_market', 'pre_market', 'pre_market'])
  // the third step has only BBB (index 1) trading
  t.same(calls, [[0, '2023-01-02T14:30:00.000Z'], [0, '2023-01-02T14:31:00.000Z'], [1, '2023-01-02T14:32:00.000Z']])
  calls.length = 0
  const daily = ticksOf(steps(engineFor(dailySeries('AAA', [flat(1), flat(1)]), { marketSessionAt: session })))
  t.same(daily.map((x) => x.market_session), ['regular', 'regular'])
  t.same(calls, [], 'the calendar is not consulted for daily bars')
})

t.test('§2 placement: an order sent before the first tick is created at the first bar start and tried on the first bar', async (t) => {
  const e = engineFor(dailySeries('AAA', [[100, 101, 99, 100], flat(120)]))
  t.equal(e.simTime, '2023-01-02T14:30:00.000Z')
  t.equal(e.progress, 0)
  const { ack, events } = submit(e, [order({ order_id: 'm' })])
  t.same(ack.estimated_fills, [], 'no last close yet: no estimate')
  t.equal(updates(events)[0].order.created_at, '2023-01-02T14:30:00.000Z')
  const [x] = executions(steps(e, 1))
  t.same([x.executed_price, x.execution_time], ['100.00', '2023-01-02T14:30:00.000Z'])
})

t.test('§2 placement: an order received while handling tick t is created at t\'s sim_time', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { events } = submit(e, [order({ order_id: 'l', type: 'limit', price: 90, time_in_force: 'gtc' })])
  t.equal(updates(events)[0].order.created_at, '2023-01-03T14:30:00.000Z')
  t.equal(e.order('l').created_at, e.simTime)
})

t.test('§2 order of events: open fills, bracket legs, inside-bar fills, ioc cancellations, every_tick snapshot, tick', async (t) => {
  // bar 2: O 100 H 101 L 98. p (market, bracket) fills at the open; lim (limit 99) inside the bar; ioc
  // (limit 90) never reaches its price and is cancelled after the fills.
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 98, 100], flat(100)]), { accountUpdateFrequency: 'every_tick' })
  steps(e, 1)
  submit(e, [
    order({ order_id: 'lim', type: 'limit', price: 99 }),
    order({ order_id: 'ioc', type: 'limit', price: 90, time_in_force: 'ioc' }),
    order({ order_id: 'p', take_profit: { limit_price: 120 }, stop_loss: { stop_price: 80 } })
  ])
  const ev = e.step() ?? []
  const label = (x: (typeof ev)[number]): string => {
    if (x.type === 'execution_report') return `fill:${x.data.order_id}`
    if (x.type === 'order_update') return `${x.data.order_id}:${x.data.status}`
    return x.type
  }
  t.same(ev.map(label), [
    'fill:p', 'p:filled', 'p-sl:accepted', 'p-tp:accepted',
    'fill:lim', 'lim:filled',
    'ioc:cancelled',
    'account_snapshot', 'tick'
  ])
  const exec = executions(ev)
  t.same(exec.map((x) => x.execution_time), ['2023-01-03T14:30:00.000Z', '2023-01-04T14:30:00.000Z'], 'open fill at the bar start, inside-bar fill at its close')
  t.equal(updates(ev).find((u) => u.order_id === 'ioc')?.update_time, '2023-01-04T14:30:00.000Z', 'cancellation at the bar close')
})

t.test('§2 end: the step after the last tick cancels open orders, sends a final snapshot and simulation_complete', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'g', type: 'limit', price: 1, time_in_force: 'gtc' })])
  const last = steps(e, 1)
  t.equal(last[last.length - 1].type, 'tick')
  const end = e.step() ?? []
  t.same(end.map((x) => x.type), ['order_update', 'account_snapshot', 'simulation_complete'])
  t.match(updates(end)[0], { order_id: 'g', status: 'cancelled', reason: 'simulation ended' })
  t.equal((end[1].data as { open_orders: number }).open_orders, 0)
  t.same(codeOf(() => e.cancelOrder('g')), ['INVALID_STATE', undefined], 'nothing can be cancelled after the end')
})

t.test('§2 a session whose series has no bars completes at the first step', async (t) => {
  const e = engineFor(emptySeries('AAA', '1d', 0))
  t.same([e.totalSteps, e.progress, e.simTime], [0, 1, '1970-01-01T00:00:00.000Z'])
  const end = e.step() ?? []
  t.same(end.map((x) => x.type), ['account_snapshot', 'simulation_complete'])
  t.match(end[1].data, { reason: 'finished', bars_processed: 0, final_equity: '100000.00' })
  t.equal(e.step(), null)
})

// ── §3 Orders ────────────────────────────────────────────────────────────────────────────────────

t.test('§3 order_id is 1..60 characters of [A-Za-z0-9_.:-] (schema)', async (t) => {
  const check = TypeCompiler.Compile(OrderRequest, [...simulationSchemas, Bar, ErrorCode])
  const req = (id: string): unknown => ({ order_id: id, symbol: 'AAA', side: 'buy', type: 'market', quantity: 1 })
  t.ok(check.Check(req('a'.repeat(60))))
  t.notOk(check.Check(req('a'.repeat(61))))
  t.notOk(check.Check(req('')))
  t.notOk(check.Check(req('a b')))
})

t.test('§3 quantity is fractional to 8 decimals; below 0.00000001 is refused', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'tiny', quantity: 0.000000004 }), order({ order_id: 'frac', quantity: 0.123456789 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['tiny', 'INVALID_ORDER']])
  t.match(ack.rejected_orders[0].reason, /0\.00000001/)
  t.equal(e.order('frac').quantity, 0.12345679, 'rounded half-even to 8 decimals')
})

t.test('§3 prices are MoneyInput: a number or a decimal string, parsed exactly; output money is a string', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 102, 101, 101]]))
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'str', side: 'buy', type: 'stop', stop_price: '101.25', quantity: 1 }),
    order({ order_id: 'bad', type: 'limit', price: '1,5' }),
    order({ order_id: 'nan', type: 'limit', price: Number.NaN })
  ])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), [
    ['bad', 'INVALID_ORDER', 'price is not a decimal amount'],
    ['nan', 'INVALID_ORDER', 'price is not a decimal amount']
  ])
  t.equal(e.order('str').stop_price, '101.25')
  t.equal(executions(steps(e, 1))[0].executed_price, '101.25')
})

t.test('§3 each type takes exactly the prices it needs', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const cases: Array<[string, Partial<OrderRequest>, string]> = [
    ['mkt-stop', { type: 'market', stop_price: 90 }, 'market orders take no stop_price'],
    ['lim-stop', { type: 'limit', price: 90, stop_price: 95 }, 'limit orders take no stop_price'],
    ['stop-none', { type: 'stop' }, 'stop orders need stop_price'],
    ['stop-price', { type: 'stop', stop_price: 90, price: 89 }, 'stop orders take no price'],
    ['sl-noprice', { type: 'stop_limit', stop_price: 90 }, 'stop_limit orders need price']
  ]
  const { ack } = submit(e, cases.map(([id, f]) => order({ order_id: id, ...f })))
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), cases.map(([id, , reason]) => [id, 'INVALID_ORDER', reason]))
  const ok = submit(e, [
    order({ order_id: 'l', type: 'limit', price: 90 }),
    order({ order_id: 's', type: 'stop', stop_price: 110 }),
    order({ order_id: 'sl', type: 'stop_limit', stop_price: 110, price: 111 })
  ]).ack
  t.same(ok.accepted_orders, ['l', 's', 'sl'])
})

t.test('§3 non-positive amounts are refused (price, stop, notional, bracket prices)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'p0', type: 'limit', price: 0 }),
    order({ order_id: 's0', type: 'stop', stop_price: '-1' }),
    order({ order_id: 'n0', quantity: undefined, notional: 0 }),
    order({ order_id: 'q0', quantity: 0 }),
    order({ order_id: 'tp0', take_profit: { limit_price: 0 } })
  ])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), ['p0', 's0', 'n0', 'q0', 'tp0'].map((id) => [id, 'INVALID_ORDER']))
  t.same(ack.rejected_orders.map((r) => r.reason), [
    'price must be positive', 'stop_price must be positive', 'notional must be positive', 'quantity must be positive', 'take_profit.limit_price must be positive'
  ])
})

t.test('§3 notional only on a market order without bracket', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'lim', type: 'limit', price: 99, quantity: undefined, notional: 500 }),
    order({ order_id: 'brk', quantity: undefined, notional: 500, take_profit: { limit_price: 120 } }),
    order({ order_id: 'brk2', quantity: undefined, notional: 500, stop_loss: { stop_price: 80 } }),
    order({ order_id: 'ok', quantity: undefined, notional: 500 })
  ])
  t.same(ack.rejected_orders.map((r) => r.order_id), ['lim', 'brk', 'brk2'])
  t.ok(ack.rejected_orders.every((r) => r.reason === 'notional is accepted only on market orders without a bracket'))
  t.same(ack.accepted_orders, ['ok'])
})

t.test('§3 a bracket target must be beyond its stop: above for a buy, below for a sell (equal is refused)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { settings: { allow_short: true } })
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'buy-eq', take_profit: { limit_price: 95 }, stop_loss: { stop_price: 95 } }),
    order({ order_id: 'sell-up', side: 'sell', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } }),
    order({ order_id: 'sell-eq', side: 'sell', take_profit: { limit_price: 95 }, stop_loss: { stop_price: 95 } }),
    order({ order_id: 'buy-ok', quantity: 1, take_profit: { limit_price: 95.00000001 }, stop_loss: { stop_price: 95 } }),
    order({ order_id: 'sell-ok', side: 'sell', quantity: 1, take_profit: { limit_price: 94.99999999 }, stop_loss: { stop_price: 95 } })
  ])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.reason]), [
    ['buy-eq', 'take_profit.limit_price must be above stop_loss.stop_price for a buy'],
    ['sell-up', 'take_profit.limit_price must be below stop_loss.stop_price for a sell'],
    ['sell-eq', 'take_profit.limit_price must be below stop_loss.stop_price for a sell']
  ])
  t.same(ack.accepted_orders, ['buy-ok', 'sell-ok'])
})

t.test('§3 the ids of bracket legs are reserved, both ways', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', quantity: 1, take_profit: { limit_price: 120 }, stop_loss: { stop_price: 80 } })])
  const taken = submit(e, [order({ order_id: 'p-tp', quantity: 1 }), order({ order_id: 'p-sl', quantity: 1 })]).ack
  t.same(taken.rejected_orders.map((r) => [r.order_id, r.error_code]), [['p-tp', 'INVALID_ORDER'], ['p-sl', 'INVALID_ORDER']])
  submit(e, [order({ order_id: 'q-sl', quantity: 1 })])
  const parent = submit(e, [order({ order_id: 'q', quantity: 1, stop_loss: { stop_price: 80 } })]).ack
  t.same(parent.rejected_orders.map((r) => [r.order_id, r.reason]), [['q', 'bracket leg ids q-tp/q-sl are already used']])
  // a target-only bracket does not need the stop id
  t.same(submit(e, [order({ order_id: 'q2', quantity: 1, take_profit: { limit_price: 120 } })]).ack.accepted_orders, ['q2'])
  submit(e, [order({ order_id: 'q3-sl', quantity: 1 })])
  t.same(submit(e, [order({ order_id: 'q3', quantity: 1, take_profit: { limit_price: 120 } })]).ack.accepted_orders, ['q3'])
  // the parent's wire form names its bracket
  submit(e, [order({ order_id: 'r', quantity: 1, take_profit: { limit_price: '120.5' }, stop_loss: { stop_price: 80, limit_price: 79 } })])
  t.match(e.order('r'), { take_profit_price: '120.50', stop_loss_price: '80.00', stop_loss_limit_price: '79.00' })
})

t.test('§3 a symbol with no bars left in the session is refused', async (t) => {
  const a = dailySeries('AAA', [flat(100), flat(100), flat(100)])
  const b = dailySeries('BBB', [flat(50)])
  const e = engineFor([a, b])
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'b', symbol: 'BBB', quantity: 1 }), order({ order_id: 'a', symbol: 'aaa', quantity: 1 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), [['b', 'INVALID_ORDER', 'BBB has no bars left in this session']])
  t.same(ack.accepted_orders, ['a'], 'symbols match case-insensitively')
})

t.test('§3 a sell may not exceed the position minus what open sells already promise (no shorts)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b', quantity: 10 })])
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 's6', side: 'sell', type: 'limit', price: 200, quantity: 6, time_in_force: 'gtc' }),
    order({ order_id: 's5', side: 'sell', type: 'limit', price: 200, quantity: 5, time_in_force: 'gtc' }),
    order({ order_id: 's4', side: 'sell', type: 'limit', price: 200, quantity: 4, time_in_force: 'gtc' })
  ])
  t.same(ack.accepted_orders, ['s6', 's4'])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), [['s5', 'INVALID_ORDER', 'short selling is not allowed in this session (4 available to sell)']])
  e.cancelOrder('s6')
  t.same(submit(e, [order({ order_id: 's5b', side: 'sell', quantity: 5 })]).ack.accepted_orders, ['s5b'], 'a cancelled sell frees its quantity')
})

t.test('§3 the two legs of one bracket promise the position once, not twice', async (t) => {
  // long 10 from a plain buy, then a bracket buy of 10: position 20, legs sell 10 each (one-cancels-other)
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b' }), order({ order_id: 'p', take_profit: { limit_price: 150 }, stop_loss: { stop_price: 50 } })])
  steps(e, 1)
  t.equal(e.account().positions[0].quantity, 20)
  const { ack } = submit(e, [order({ order_id: 's', side: 'sell', quantity: 10 }), order({ order_id: 'x', side: 'sell', quantity: 1 })])
  t.same(ack.accepted_orders, ['s'])
  t.same(ack.rejected_orders.map((r) => r.order_id), ['x'])
})

t.test('§3 a sell of a notional order without any position or last close is refused when shorts are off', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  const { ack } = submit(e, [order({ order_id: 'n', side: 'sell', quantity: undefined, notional: 100 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), [['n', 'INVALID_ORDER', 'short selling is not allowed in this session']])
})

t.test('§3 atomic: one failure rejects all, with the reason naming it; the orders are recorded rejected, leg ids stay free', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'p', quantity: 1, take_profit: { limit_price: 120 }, stop_loss: { stop_price: 80 } }),
    order({ order_id: 'bad1', type: 'limit' }),
    order({ order_id: 'ok', quantity: 1 }),
    order({ order_id: 'bad2', quantity: -1 })
  ], 'atomic')
  t.same(ack.accepted_orders, [])
  t.same(ack.rejected_orders.map((r) => r.order_id), ['p', 'bad1', 'ok', 'bad2'], 'listed in batch order')
  t.same(ack.rejected_orders.filter((r) => r.order_id === 'p' || r.order_id === 'ok').map((r) => [r.error_code, r.reason]), [
    ['INVALID_ORDER', 'atomic batch rejected because of order(s) bad1, bad2'],
    ['INVALID_ORDER', 'atomic batch rejected because of order(s) bad1, bad2']
  ])
  t.equal(e.account().buying_power, '100000.00', 'no reservation left behind')
  t.same(e.orders().map((o) => [o.order_id, o.status]), [['p', 'rejected'], ['bad1', 'rejected'], ['ok', 'rejected'], ['bad2', 'rejected']])
  t.same(submit(e, [order({ order_id: 'p-tp', quantity: 1 }), order({ order_id: 'p-sl', quantity: 1 }), order({ order_id: 'p', quantity: 1 })]).ack.accepted_orders, ['p-tp', 'p-sl'])
})

t.test('§3 estimated_fills: market ± slippage and marketable limits at the last close; others not estimated', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { settings: { slippage_bps: 10, allow_short: true } })
  steps(e, 1)
  const { ack } = submit(e, [
    order({ order_id: 'mb', quantity: 2 }),
    order({ order_id: 'ms', side: 'sell', quantity: 3 }),
    order({ order_id: 'lb', type: 'limit', price: 100, quantity: 4 }),
    order({ order_id: 'lb-no', type: 'limit', price: 99.99, quantity: 4 }),
    order({ order_id: 'ls', side: 'sell', type: 'limit', price: 100, quantity: 5 }),
    order({ order_id: 'ls-no', side: 'sell', type: 'limit', price: 100.01, quantity: 5 }),
    order({ order_id: 'st', type: 'stop', stop_price: 99, quantity: 1 }),
    order({ order_id: 'n', quantity: undefined, notional: '1000' })
  ])
  t.equal(ack.rejected_orders.length, 0)
  t.same(ack.estimated_fills, [
    { order_id: 'mb', estimated_price: '100.10', estimated_quantity: 2 },
    { order_id: 'ms', estimated_price: '99.90', estimated_quantity: 3 },
    { order_id: 'lb', estimated_price: '100.00', estimated_quantity: 4 },
    { order_id: 'ls', estimated_price: '100.00', estimated_quantity: 5 },
    // 1000 / 100.10 = 9.99000999…, truncated
    { order_id: 'n', estimated_price: '100.10', estimated_quantity: 9.99000999 }
  ])
})

t.test('§3 cancel: unknown id → ORDER_NOT_FOUND; cancelled/expired/rejected → INVALID_STATE; one leg cancelled cancels the other (OCO)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [100, 111, 99, 105], flat(100)]), { initialCapital: '2000' })
  steps(e, 1)
  submit(e, [
    order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } }),
    order({ order_id: 'ioc', type: 'limit', price: 50, quantity: 1, time_in_force: 'ioc' })
  ])
  t.same(codeOf(() => e.order('nope')), ['ORDER_NOT_FOUND', undefined])
  t.same(codeOf(() => e.cancelOrder('nope')), ['ORDER_NOT_FOUND', undefined])
  steps(e, 1)
  t.same(codeOf(() => e.cancelOrder('ioc')), ['INVALID_STATE', undefined], 'cancelled by ioc')
  const ev = e.cancelOrder('p-sl')
  t.match(updates(ev), [
    { order_id: 'p-sl', status: 'cancelled', reason: 'cancelled by the client' },
    { order_id: 'p-tp', status: 'cancelled', reason: 'one-cancels-other: p-sl cancelled' }
  ])
  t.same(codeOf(() => e.cancelOrder('p-sl')), ['INVALID_STATE', undefined], 'already cancelled')
  t.same(codeOf(() => e.cancelOrder('p-tp')), ['INVALID_STATE', undefined], 'the target went with it')
  t.same(executions(steps(e, 1)), [], 'the bar reaching 110 fills nothing')
})
