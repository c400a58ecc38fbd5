// docs/fill-policy.md §4 (fill rules), §5 (commission, cash, buying power) and §6 (results), rule by rule,
// through the engine; the per-type price rules themselves are in fills.test.ts. Each test fails when its rule changes.
import t from 'tap'
import { fillLimit, fillMarket, fillStop, fillStopLimit } from '../../../server/simulation/fills.js'
import { formatMoney, parseMoney } from '../../../server/money.js'
import type { OrderRequest, SimulationSettings } from '../../../schemas/simulation.js'
import { dailySeries, engineFor, executions, flat, minuteSeries, order, steps, submit, updates } from './bars.js'

const px = (s: string): [bigint, number] => [parseMoney(s), Number(s)]
const bar = { open: 100, high: 102, low: 97 }

// ── §4 prices at the edges ───────────────────────────────────────────────────────────────────────

t.test('§4 equality is a fill: open = limit/stop is the open, high/low = price is a touch', async (t) => {
  t.match(fillLimit('buy', bar, ...px('100')), { reason: 'limit_open', phase: 'open' })
  t.match(fillLimit('sell', bar, ...px('100')), { reason: 'limit_open' })
  t.match(fillLimit('sell', bar, ...px('102')), { reason: 'limit_touch' })
  t.match(fillStop('buy', bar, ...px('100')), { reason: 'stop_gap_open' })
  t.match(fillStop('sell', bar, ...px('100')), { reason: 'stop_gap_open' })
  t.match(fillStop('buy', bar, ...px('102')), { reason: 'stop_touch' })
  t.match(fillStop('sell', bar, ...px('97')), { reason: 'stop_touch', phase: 'intrabar' })
  t.equal(formatMoney(fillStop('sell', bar, ...px('97'))?.price ?? 0n), '97.00')
})

t.test('§4 slippage_bps reports what was paid after the cap; limit and stop prices report 0', async (t) => {
  // sell 500 bps: 95 floored at the low 97 → 300 bps paid
  const d = fillMarket('sell', bar, 500)
  t.same([formatMoney(d.price), d.slippageBps], ['97.00', 300])
  t.equal(fillLimit('buy', bar, ...px('98.5'))?.slippageBps, 0)
  t.equal(fillStop('buy', bar, ...px('101'))?.slippageBps, 0)
  t.equal(fillMarket('buy', bar, 0).slippageBps, 0)
})

t.test('§4 stop-limit touched inside the bar with limit = stop fills at the stop (buy and sell)', async (t) => {
  t.match(fillStopLimit('buy', bar, ...px('101'), ...px('101'), false), { triggered: true, fill: { reason: 'stop_limit_stop' } })
  t.match(fillStopLimit('sell', bar, ...px('98'), ...px('98'), false), { triggered: true, fill: { reason: 'stop_limit_stop' } })
})

t.test('§4 sell stop-limit is the mirror: limit ≤ stop fills at the stop, limit above waits, gaps use limit rules', async (t) => {
  const touch = fillStopLimit('sell', bar, ...px('98'), ...px('97.5'), false)
  t.same([formatMoney(touch.fill?.price ?? 0n), touch.fill?.reason, touch.triggered], ['98.00', 'stop_limit_stop', true])
  t.same(fillStopLimit('sell', bar, ...px('98'), ...px('99'), false), { fill: null, triggered: true })
  // opens 100 ≤ stop 101: triggered at the open; sell limit 99 ≤ open → at the open
  const gapOpen = fillStopLimit('sell', bar, ...px('101'), ...px('99'), false)
  t.same([formatMoney(gapOpen.fill?.price ?? 0n), gapOpen.fill?.reason], ['100.00', 'stop_limit_open'])
  // sell limit 101.5 above the open, high 102 reaches it → at the limit
  const gapTouch = fillStopLimit('sell', bar, ...px('101'), ...px('101.5'), false)
  t.same([formatMoney(gapTouch.fill?.price ?? 0n), gapTouch.fill?.reason], ['101.50', 'stop_limit_touch'])
  t.same(fillStopLimit('sell', bar, ...px('101'), ...px('102.5'), false), { fill: null, triggered: true }, 'triggered, limit out of reach')
})

t.test('§4 a triggered stop-limit stays triggered: it fills later without the stop being reached again', async (t) => {
  // stop 101, limit 100. Bar 2 reaches 102: triggered, no fill. Bar 3 stays in 100.2..100.8: no fill.
  // Bar 4 opens 99.5, below the stop and at or under the limit → 99.50 (stop_limit_open).
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 102, 100.5, 101], [100.5, 100.8, 100.2, 100.5], [99.5, 99.9, 99, 99.5]]))
  steps(e, 1)
  submit(e, [order({ order_id: 's', type: 'stop_limit', stop_price: 101, price: 100, time_in_force: 'gtc' })])
  t.same(executions(steps(e, 2)), [])
  t.equal(e.order('s').stop_triggered, true)
  t.same(executions(steps(e, 1)).map((x) => [x.executed_price, x.fill_reason]), [['99.50', 'stop_limit_open']])
})

// ── §4 brackets ──────────────────────────────────────────────────────────────────────────────────

t.test('§4 an ioc bracket parent partly filled by the cap gets legs for the filled quantity, gtc, opposite side', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 300), flat(100)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', quantity: 100, time_in_force: 'ioc', take_profit: { limit_price: 120 }, stop_loss: { stop_price: 80 } })])
  const ev = steps(e, 1)
  t.same(updates(ev).map((u) => [u.order_id, u.status]), [['p', 'partially_filled'], ['p', 'cancelled'], ['p-sl', 'accepted'], ['p-tp', 'accepted']])
  const sl = e.order('p-sl')
  const tp = e.order('p-tp')
  t.same([sl.side, sl.type, sl.quantity, sl.time_in_force, sl.stop_price, sl.parent_order_id, sl.leg], ['sell', 'stop', 30, 'gtc', '80.00', 'p', 'stop_loss'])
  t.same([tp.side, tp.type, tp.quantity, tp.time_in_force, tp.price, tp.leg], ['sell', 'limit', 30, 'gtc', '120.00', 'take_profit'])
})

t.test('§4 a bracket parent cancelled by the client after a partial fill gets its legs at once', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 300), flat(100)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', quantity: 100, time_in_force: 'gtc', take_profit: { limit_price: 120 } })])
  steps(e, 1)
  const ev = e.cancelOrder('p')
  t.same(updates(ev).map((u) => [u.order_id, u.status, u.order.quantity]), [['p', 'cancelled', 100], ['p-tp', 'accepted', 30]])
  t.same(updates(ev)[1].update_time, '2023-01-04T14:30:00.000Z')
  t.throws(() => e.order('p-sl'), 'a target-only bracket has no stop leg')
})

t.test('§4 a short bracket gets buy legs, and each buy leg holds its cash', async (t) => {
  // short 10 at 100: cash 101 000; 150 % of 1 000 held; legs hold 10 × 110 (stop) and 10 × 90 (target):
  // 101 000 − 1 500 − 1 100 − 900
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]), { settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', side: 'sell', take_profit: { limit_price: 90 }, stop_loss: { stop_price: 110 } })])
  steps(e, 1)
  t.same([e.order('p-sl').side, e.order('p-sl').type, e.order('p-tp').side], ['buy', 'stop', 'buy'])
  const a = e.account()
  t.same([a.cash, a.buying_power], ['101000.00', '97500.00'])
})

t.test('§4 a target reached by a gap at the open fills at the open and cancels the stop, even if the bar reaches the stop', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [112, 113, 89, 95]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price, x.fill_reason]), [['p-tp', '112.00', 'limit_open']])
  t.match(updates(ev).find((u) => u.order_id === 'p-sl'), { status: 'cancelled', reason: 'one-cancels-other: p-tp filled' })
  t.equal(e.account().cash, '100120.00')
})

// ── §4 priority, notional, volume cap ────────────────────────────────────────────────────────────

t.test('§4 the volume cap is shared by all orders of a symbol, in arrival order, open fills first', async (t) => {
  // cap 10 % of 100 = 10 a bar. a (8, market) then b (8, market) at the open; c (limit, inside the bar) gets nothing.
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 100, 98, 100, 100], flat(100, 1000)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [
    order({ order_id: 'c', type: 'limit', price: 99, quantity: 5, time_in_force: 'gtc' }),
    order({ order_id: 'a', quantity: 8, time_in_force: 'gtc' }),
    order({ order_id: 'b', quantity: 8, time_in_force: 'gtc' })
  ])
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_quantity]), [['a', 8], ['b', 2]])
  // next bar (volume 1000, flat 100): b's rest at the open; c (limit 99) is not reached on a flat 100 bar
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_quantity]), [['b', 6]])
})

t.test('§4 fractional orders fill to 8 decimals under the cap; whole orders in whole units', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 305), flat(100, 1000)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'f', quantity: 100.5, time_in_force: 'gtc' })])
  t.same(executions(steps(e)).map((x) => [x.executed_quantity, x.remaining_quantity]), [[30.5, 70], [70, 0]])
})

t.test('§4 a bar with zero volume fills nothing under a cap', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 0), flat(101, 1000)]), { settings: { volume_participation: 1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'm', time_in_force: 'gtc' })])
  const zero = steps(e, 1)
  t.same(executions(zero), [])
  t.same(updates(zero), [], 'no update either: the order simply keeps working')
  t.same(executions(steps(e, 1)).map((x) => [x.executed_quantity, x.executed_price]), [[10, '101.00']])
})

t.test('§4 a notional order\'s quantity is fixed at its first fill', async (t) => {
  // 1000 at the 100 open → 10 units; the cap lets 5 through; the other 5 fill at 200, not 1000 / 200
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 10), flat(200, 1000)]), { settings: { volume_participation: 0.5 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'n', quantity: undefined, notional: 1000, time_in_force: 'gtc' })])
  t.equal(e.order('n').quantity, undefined, 'no quantity before the first fill')
  t.same(executions(steps(e)).map((x) => [x.executed_quantity, x.executed_price]), [[5, '100.00'], [5, '200.00']])
  t.equal(e.order('n').quantity, 10)
})

t.test('§4 a notional that buys less than 0.00000001 units is rejected at its bar', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(200)]))
  steps(e, 1)
  t.same(submit(e, [order({ order_id: 'n', quantity: undefined, notional: '0.000001' })]).ack.accepted_orders, ['n'])
  const u = updates(steps(e, 1))
  t.same(u.map((x) => [x.status, x.error_code, x.reason]), [['rejected', 'INVALID_ORDER', 'notional buys less than 0.00000001 units']])
})

t.test('§4 time_in_force defaults to day: an order sent without one expires at the close of its trading day', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100), flat(100)], [flat(89), flat(89)]]))
  steps(e, 1)
  const req = order({ order_id: 'd', type: 'limit', price: 90 })
  delete req.time_in_force
  submit(e, [req])
  t.equal(e.order('d').time_in_force, 'day')
  t.same(updates(steps(e, 2)).map((u) => [u.order_id, u.status]), [['d', 'expired']])
  t.same(executions(steps(e)), [], 'not alive on the next day, whose bars reach 90')
})

// ── §5 commission, buying power, shorts ──────────────────────────────────────────────────────────

t.test('§5 commission is per share on the cumulative quantity, minus what the order already paid', async (t) => {
  // 0.01/share, min 1: 30 → max(0.30, 1) = 1.00; 80 → max(0.80, 1) − 1 = 0.00; 300 → 3.00 − 1 = 2.00
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 300), flat(100, 500), flat(100, 2200)]), {
    settings: { commission_per_share: 0.01, min_commission_per_order: 1, volume_participation: 0.1 }
  })
  steps(e, 1)
  submit(e, [order({ order_id: 'c', quantity: 300, time_in_force: 'gtc' })])
  t.same(executions(steps(e)).map((x) => [x.executed_quantity, x.commission]), [[30, '1.00'], [50, '0.00'], [220, '2.00']])
  t.equal(e.order('c').commission, '3.00')
})

function holdOf (req: Partial<OrderRequest>, settings: Partial<SimulationSettings> = {}): string {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { settings: { commission_per_share: 0.005, ...settings } })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'o', ...req })])
  if (ack.accepted_orders.length !== 1) throw new Error(JSON.stringify(ack.rejected_orders))
  return formatMoney(parseMoney('100000') - parseMoney(e.account().buying_power))
}

t.test('§5 what a buy order holds: quantity × reference price + estimated commission', async (t) => {
  t.equal(holdOf({ type: 'limit', price: 95 }), '950.05', 'limit: its limit')
  t.equal(holdOf({ type: 'stop', stop_price: 105 }), '1050.05', 'stop: its stop')
  t.equal(holdOf({ type: 'stop_limit', stop_price: 105, price: 106 }), '1060.05', 'stop_limit: its limit')
  t.equal(holdOf({ type: 'market' }, { slippage_bps: 10 }), '1001.05', 'market: last close × (1 + slippage)')
  // notional 1000 at 100.10 → 9.99000999 units → commission 0.04995005
  t.equal(holdOf({ quantity: undefined, notional: 1000 }, { slippage_bps: 10 }), '1000.04995005', 'notional: itself + commission')
  t.equal(holdOf({ side: 'sell', quantity: 10 }, { allow_short: true }), '500.05', 'short sale: 50 % + commission')
})

t.test('§5 before a symbol\'s first bar a market order holds nothing; only the fill-time check applies', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000' })
  const { ack } = submit(e, [order({ order_id: 'huge', quantity: 50 })])
  t.same(ack.accepted_orders, ['huge'])
  t.equal(e.account().buying_power, '1000.00')
  t.same(updates(steps(e, 1)).map((u) => [u.status, u.error_code]), [['rejected', 'INSUFFICIENT_BUYING_POWER']])
  t.equal(e.account().cash, '1000.00')
})

t.test('§5 when tried, a buy fill must leave cash ≥ 0 including its commission', async (t) => {
  // capital 1000, 0.01/share: 9 held at the 100 close (900.09). Bar 2 opens 111.11: 999.99 + 0.09 > 1000 → rejected;
  // the same order on a bar opening at 111.10 (999.90 + 0.09 = 999.99) fills.
  const run = (open: number): ReturnType<typeof updates> => {
    const e = engineFor(dailySeries('AAA', [flat(100), flat(open)]), { initialCapital: '1000', settings: { commission_per_share: 0.01 } })
    steps(e, 1)
    submit(e, [order({ order_id: 'b', quantity: 9 })])
    return updates(steps(e, 1))
  }
  t.same(run(111.11).map((u) => [u.status, u.error_code, u.reason]), [['rejected', 'INSUFFICIENT_BUYING_POWER', 'fill of 9 at 111.11 needs 1000.08, cash is 1000.00']])
  t.same(run(111.1).map((u) => u.status), ['filled'])
})

t.test('§5 a buy that covers a short counts the 150 % it releases', async (t) => {
  // capital 1000, short 15 at 100 → cash 2500, buying power 2500 − 2250 = 250
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 's', side: 'sell', quantity: 15 })])
  steps(e, 1)
  t.equal(e.account().buying_power, '250.00')
  // only the covered part releases: 26 × 100 = 2600 > 250 + 15 × 150; 15 × 100 = 1500 ≤ 250 + 2250
  const { ack } = submit(e, [order({ order_id: 'over', quantity: 26 }), order({ order_id: 'cover', quantity: 15 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code, r.reason]), [['over', 'INSUFFICIENT_BUYING_POWER', 'order needs 2600.00, buying power is 2500.00']])
  t.same(ack.accepted_orders, ['cover'])
  steps(e, 1)
  t.same([e.account().cash, e.account().positions.length], ['1000.00', 0])
})

t.test('§5 a short-opening sale needs 50 % of its value plus commission at acceptance', async (t) => {
  // capital 1000, 0.01/share: 19 × 100 / 2 + 0.19 = 950.19 fits; 20 × 100 / 2 + 0.20 = 1000.20 does not
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000', settings: { allow_short: true, commission_per_share: 0.01 } })
  steps(e, 1)
  t.same(submit(e, [order({ order_id: 'a', side: 'sell', quantity: 20 })]).ack.rejected_orders.map((r) => [r.error_code, r.reason]), [
    ['INSUFFICIENT_BUYING_POWER', 'short sale needs 1000.20 of buying power, 1000.00 available']
  ])
  t.same(submit(e, [order({ order_id: 'b', side: 'sell', quantity: 19 })]).ack.accepted_orders, ['b'])
  t.equal(e.account().buying_power, '49.81')
  t.same(executions(steps(e, 1)).map((x) => x.executed_quantity), [19], 'its own hold counts for it when it fills')
})

t.test('§5 and again when filled: a gap up that raises the margin past buying power rejects it at that bar', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(110)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  t.same(submit(e, [order({ order_id: 's', side: 'sell', quantity: 19 })]).ack.accepted_orders, ['s'])
  // 19 × 110 / 2 = 1045 > 1000
  const u = updates(steps(e, 1))
  t.same(u.map((x) => [x.status, x.error_code, x.reason]), [['rejected', 'INSUFFICIENT_BUYING_POWER', 'short sale needs 1045.00 of buying power, 1000.00 available']])
  t.same([e.account().cash, e.account().buying_power, e.account().positions.length], ['1000.00', '1000.00', 0])
})

t.test('§5 a notional sell that would open a short at its fill price is rejected when shorts are off', async (t) => {
  // long 10; sell notional 1000 is 10 units at the 100 close but 11.11111111 at the 90 open
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(90)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  steps(e, 1)
  t.same(submit(e, [order({ order_id: 'n', side: 'sell', quantity: undefined, notional: 1000 })]).ack.accepted_orders, ['n'])
  const u = updates(steps(e, 1))
  t.same(u.map((x) => [x.status, x.error_code]), [['rejected', 'INVALID_ORDER']])
  t.match(u[0].reason, /would open a short position/)
  t.equal(e.account().positions[0].quantity, 10)
})

t.test('§5 there is no margin call: a short far under water stays open with negative buying power', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(300), flat(300)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 's', side: 'sell', quantity: 10 })])
  const rest = steps(e, 3)
  t.same(executions(rest).map((x) => x.order_id), ['s'])
  const a = e.account()
  // cash 2000, short 10 marked at 300: equity −1000; buying power 2000 − 1.5 × 3000
  t.same([a.positions[0].quantity, a.equity, a.buying_power], [-10, '-1000.00', '-2500.00'])
})

t.test('§5 positions: average cost without commission, marked at the last close, in the snapshot after the fill too', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [101, 104, 100, 103], flat(110)]), { settings: { commission_per_share: 0.01 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  const ev = steps(e, 1)
  const snap = ev.find((x) => x.type === 'account_snapshot')?.data as { positions: Array<Record<string, unknown>>, cash: string, equity: string, open_orders: number, sim_time: string }
  t.match(snap.positions[0], { avg_cost: '101.00', last_price: '103.00', market_value: '1030.00', unrealized_pnl: '20.00' })
  t.same([snap.cash, snap.equity, snap.open_orders], ['98989.90', '100019.90', 0], 'equity = cash + the position at the close; the filled order no longer counts')
  t.equal(snap.sim_time, (ev.find((x) => x.type === 'tick')?.data as { sim_time: string }).sim_time, 'stamped at the step\'s close')
  const a = e.account()
  t.same([a.positions, a.equity, a.open_orders], [snap.positions, snap.equity, snap.open_orders], 'the account between steps holds the snapshot\'s marks')
  submit(e, [order({ order_id: 's', side: 'sell' })])
  steps(e, 1)
  const after = e.account()
  t.same([after.realized_pnl, after.total_commission, after.cash, after.equity], ['90.00', '0.20', '100089.80', '100089.80'], 'realized P&L is gross of commission')
})

t.test('§5 day_pnl is equity minus the previous trading day\'s closing equity (initial capital on day one)', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100), [100, 105, 100, 105]], [flat(107), flat(108)]]), { accountUpdateFrequency: 'every_tick' })
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  const day1 = steps(e, 2)
  const lastSnapDay1 = day1.filter((x) => x.type === 'account_snapshot').pop()?.data as { day_pnl: string }
  t.equal(lastSnapDay1.day_pnl, '50.00', 'the snapshot at the day\'s close still shows that day\'s P&L')
  t.equal(e.account().day_pnl, '0.00', 'after the close, the new day starts from it')
  steps(e, 1)
  t.equal(e.account().day_pnl, '20.00')
})

// ── §6 results ───────────────────────────────────────────────────────────────────────────────────

t.test('§6 equity curve: one point per trading day at its last step; counts of bars and days', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100), [100, 105, 100, 105]], [flat(107), flat(108)]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  const r = e.results()
  t.same(r.equity_curve, [
    { date: '2023-01-02', sim_time: '2023-01-02T14:33:00.000Z', equity: '100050.00', cash: '99000.00', drawdown_pct: 0 },
    { date: '2023-01-03', sim_time: '2023-01-03T14:32:00.000Z', equity: '100080.00', cash: '99000.00', drawdown_pct: 0 }
  ])
  t.same([r.metrics.bars_processed, r.metrics.trading_days], [5, 2])
  t.same([r.metrics.final_equity, r.metrics.total_return_pct], ['100080.00', 0.08])
  // daily returns 0.0005 and 30 / 100050, no losing day
  const r1 = 0.0005
  const r2 = 100080 / 100050 - 1
  const mean = (r1 + r2) / 2
  const sd = Math.sqrt(((r1 - mean) ** 2 + (r2 - mean) ** 2) / 2)
  t.ok(Math.abs((r.metrics.sharpe_ratio ?? 0) - mean / sd * Math.sqrt(252)) < 1e-6, 'Sharpe on daily closes')
  t.equal(r.metrics.sortino_ratio, null, 'no losing day')
  t.equal(r.metrics.calmar_ratio, null, 'no drawdown')
  t.equal(r.metrics.profit_factor, null, 'no losing trade')
})

t.test('§6 max drawdown uses every step, so a dip recovered by the close still counts', async (t) => {
  // capital 1000 all in 10 shares at 100; the second minute closes at 50, the day closes at 100
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100), [100, 100, 50, 50], flat(100)]]), { initialCapital: '1000' })
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  const r = e.results()
  t.equal(r.metrics.max_drawdown_pct, 50)
  t.equal(r.equity_curve[0].drawdown_pct, 0, 'the curve point is at the day close')
  t.equal(r.metrics.cagr_pct, null, 'one trading day: D = 0')
  t.equal(r.metrics.calmar_ratio, null)
})

t.test('§6 CAGR over calendar days between first and last bar; −100 when equity ends ≤ 0; a losing open position is no lost trade', async (t) => {
  // short 10 at 100 with capital 1000; price triples: equity 2000 − 3000 = −1000
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(300)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 's', side: 'sell' })])
  steps(e)
  const m = e.results().metrics
  t.same([m.final_equity, m.total_return_pct, m.cagr_pct], ['-1000.00', -200, -100])
  t.same([m.total_trades, m.open_trades, m.winning_trades, m.losing_trades, m.win_rate, m.gross_loss, m.gross_profit], [0, 1, 0, 0, null, '0.00', '0.00'])
  t.equal(m.profit_factor, null)
  t.equal(e.results().trades[0].net_pnl, '-2000.00', 'the trades list shows it, marked at the last close')
  t.same(e.results().equity_curve.map((p) => p.drawdown_pct), [0, 0, 200], 'the curve\'s drawdown is from the running peak (1000) to −1000')
  // no trade at all: win rate is null; D = 2 days, 0 % a year
  const flatRun = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]))
  steps(flatRun)
  t.same([flatRun.results().metrics.win_rate, flatRun.results().metrics.cagr_pct, flatRun.results().metrics.total_trades], [null, 0, 0])
})

t.test('§6 CAGR annualises the return over D calendar days (365.25 a year)', async (t) => {
  // days 2023-01-02 … 2023-01-04: D = 2; final 100 100 on 100 000
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(110)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b' })])
  steps(e)
  const expected = ((100100 / 100000) ** (365.25 / 2) - 1) * 100
  t.ok(Math.abs((e.results().metrics.cagr_pct ?? 0) - expected) < 1e-8, `${e.results().metrics.cagr_pct} vs ${expected}`)
})

t.test('§6 results before any step: nothing processed, no days, initial equity', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100)]))
  const r = e.results()
  t.same([r.completed, r.metrics.bars_processed, r.metrics.trading_days, r.metrics.final_equity, r.metrics.cagr_pct, r.metrics.max_drawdown_pct], [false, 0, 0, '100000.00', null, 0])
  t.same(r.equity_curve, [])
})
