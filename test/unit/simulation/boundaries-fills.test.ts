// docs/fill-policy.md §4 price rules and §5 buying power, each at its boundary and one cent (or one unit)
// either side: where a limit, stop or stop-limit starts and stops filling and at which price, the slippage
// cap at exactly the high/low, trailing stops touched exactly, both bracket legs touched exactly in one bar,
// and acceptance/fill checks at exactly the buying power or cash available.
import t from 'tap'
import { parseMoney, formatMoney } from '../../../server/money.js'
import { fillLimit, fillMarket, fillStop, fillStopLimit, type BarPrices, type FillDecision } from '../../../server/simulation/fills.js'
import { dailySeries, engineFor, executions, flat, order, steps, submit, updates } from './bars.js'

const px = (s: string): [bigint, number] => [parseMoney(s), Number(s)]
/** A fill as "price reason", or "none". */
const shown = (d: FillDecision | null): string => (d === null ? 'none' : `${formatMoney(d.price)} ${d.reason}`)
const bar = (open: number, high: number, low: number): BarPrices => ({ open, high, low })

// ── limit ────────────────────────────────────────────────────────────────────────────────────────

t.test('buy limit: open at the limit fills at the open; open a cent above with the low at the limit fills at the limit; low a cent above does not fill', async (t) => {
  t.same([
    shown(fillLimit('buy', bar(100, 101, 99), ...px('100'))),
    shown(fillLimit('buy', bar(100.01, 101, 100), ...px('100'))),
    shown(fillLimit('buy', bar(100.02, 101, 100.01), ...px('100')))
  ], ['100.00 limit_open', '100.00 limit_touch', 'none'])
})

t.test('buy limit a cent above the open fills at the (better) open', async (t) => {
  t.equal(shown(fillLimit('buy', bar(100, 101, 99), ...px('100.01'))), '100.00 limit_open')
})

t.test('sell limit: open at the limit fills at the open; high at the limit fills at the limit; high a cent below does not fill', async (t) => {
  t.same([
    shown(fillLimit('sell', bar(100, 101, 99), ...px('100'))),
    shown(fillLimit('sell', bar(99.99, 100, 99), ...px('100'))),
    shown(fillLimit('sell', bar(99.98, 99.99, 99), ...px('100')))
  ], ['100.00 limit_open', '100.00 limit_touch', 'none'])
})

// ── stop ─────────────────────────────────────────────────────────────────────────────────────────

t.test('buy stop: open at the stop is a gap at the open; open a cent below with the high at the stop fills at the stop; high a cent below does not', async (t) => {
  t.same([
    shown(fillStop('buy', bar(100, 101, 99), ...px('100'))),
    shown(fillStop('buy', bar(99.99, 100, 99), ...px('100'))),
    shown(fillStop('buy', bar(99.98, 99.99, 99), ...px('100')))
  ], ['100.00 stop_gap_open', '100.00 stop_touch', 'none'])
})

t.test('sell stop: open at the stop is a gap; low at the stop fills at the stop; low a cent above does not', async (t) => {
  t.same([
    shown(fillStop('sell', bar(100, 101, 99), ...px('100'))),
    shown(fillStop('sell', bar(100.01, 101, 100), ...px('100'))),
    shown(fillStop('sell', bar(100.02, 101, 100.01), ...px('100')))
  ], ['100.00 stop_gap_open', '100.00 stop_touch', 'none'])
})

t.test('a sell stop a cent above a gap-down open fills at the (worse) open', async (t) => {
  t.equal(shown(fillStop('sell', bar(99.99, 101, 99), ...px('100'))), '99.99 stop_gap_open')
})

// ── stop-limit ───────────────────────────────────────────────────────────────────────────────────

t.test('buy stop-limit touched inside the bar: limit = stop and limit a cent above fill at the stop; a cent below waits, triggered', async (t) => {
  const b = bar(99, 101, 98.5)
  t.same([
    fillStopLimit('buy', b, ...px('100'), ...px('100'), false),
    fillStopLimit('buy', b, ...px('100'), ...px('100.01'), false),
    fillStopLimit('buy', b, ...px('100'), ...px('99.99'), false)
  ].map((r) => `${shown(r.fill)} ${r.triggered}`), ['100.00 stop_limit_stop true', '100.00 stop_limit_stop true', 'none true'])
})

t.test('sell stop-limit touched inside the bar: limit = stop and a cent below fill at the stop; a cent above waits', async (t) => {
  const b = bar(101, 101.5, 99)
  t.same([
    fillStopLimit('sell', b, ...px('100'), ...px('100'), false),
    fillStopLimit('sell', b, ...px('100'), ...px('99.99'), false),
    fillStopLimit('sell', b, ...px('100'), ...px('100.01'), false)
  ].map((r) => `${shown(r.fill)} ${r.triggered}`), ['100.00 stop_limit_stop true', '100.00 stop_limit_stop true', 'none true'])
})

t.test('buy stop-limit: the high exactly at the stop triggers it, a cent below does not', async (t) => {
  t.equal(fillStopLimit('buy', bar(99, 100, 98), ...px('100'), ...px('100'), false).triggered, true)
  t.equal(fillStopLimit('buy', bar(99, 99.99, 98), ...px('100'), ...px('100'), false).triggered, false)
})

t.test('buy stop-limit opening exactly at the stop is triggered at the open and fills by the limit rules on the bar', async (t) => {
  t.same([
    shown(fillStopLimit('buy', bar(100, 101, 99), ...px('100'), ...px('100'), false).fill),
    shown(fillStopLimit('buy', bar(100, 101, 99), ...px('100'), ...px('99'), false).fill),
    shown(fillStopLimit('buy', bar(100, 101, 99.01), ...px('100'), ...px('99'), false).fill)
  ], ['100.00 stop_limit_open', '99.00 stop_limit_touch', 'none'])
})

// ── market and the slippage cap ──────────────────────────────────────────────────────────────────

t.test('market buy slippage that lands exactly on the high is paid in full; with the high a cent lower it is capped', async (t) => {
  t.same([formatMoney(fillMarket('buy', bar(100, 101, 99), 100).price), fillMarket('buy', bar(100, 101, 99), 100).slippageBps], ['101.00', 100])
  t.same([formatMoney(fillMarket('buy', bar(100, 100.99, 99), 100).price), fillMarket('buy', bar(100, 100.99, 99), 100).slippageBps], ['100.99', 99])
})

t.test('market sell slippage that lands exactly on the low is paid in full; with the low a cent higher it is floored', async (t) => {
  t.same([formatMoney(fillMarket('sell', bar(100, 101, 99), 100).price), fillMarket('sell', bar(100, 101, 99), 100).slippageBps], ['99.00', 100])
  t.same([formatMoney(fillMarket('sell', bar(100, 101, 99.01), 100).price), fillMarket('sell', bar(100, 101, 99.01), 100).slippageBps], ['99.01', 99])
})

// ── trailing stop touched exactly ────────────────────────────────────────────────────────────────

t.test('a sell trailing stop fills when the low reaches its stop exactly, not when it stays a cent above', async (t) => {
  // placed after the 100 close with trail 2: stop 98
  const run = (low: number): string[][] => {
    const e = engineFor(dailySeries('AAA', [flat(100), [99.5, 100, low, 99.5]]), { settings: { allow_short: true } })
    steps(e, 1)
    submit(e, [order({ order_id: 'ts', side: 'sell', type: 'trailing_stop', trail_price: 2, quantity: 1, time_in_force: 'gtc' })])
    return executions(steps(e, 1)).map((x) => [x.executed_price, x.fill_reason])
  }
  t.same(run(98), [['98.00', 'stop_touch']])
  t.same(run(98.01), [])
})

t.test('a buy trailing stop trails the lowest close and fills when the high reaches it exactly', async (t) => {
  // placed after the 100 close with trail 2: stop 102; the 99 close lowers it to 101
  const run = (high: number): string[][] => {
    const e = engineFor(dailySeries('AAA', [flat(100), flat(99), [100, high, 99.5, 100]]), { settings: { allow_short: true } })
    steps(e, 1)
    submit(e, [order({ order_id: 'ts', side: 'buy', type: 'trailing_stop', trail_price: 2, quantity: 1, time_in_force: 'gtc' })])
    return executions(steps(e, 2)).map((x) => [x.executed_price, x.fill_reason])
  }
  t.same(run(101), [['101.00', 'stop_touch']])
  t.same(run(100.99), [])
})

// ── brackets with both legs touched exactly ──────────────────────────────────────────────────────

t.test('a bar whose low is exactly the stop and whose high is exactly the target fills the stop leg only', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [100, 110, 90, 100]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price]), [['p-sl', '90.00']])
  t.match(updates(ev).find((u) => u.order_id === 'p-tp'), { status: 'cancelled' })
})

t.test('a bar opening exactly at the target fills the target at the open, although its low reaches the stop', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [110, 111, 89, 95]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_price, x.fill_reason]), [['p-tp', '110.00', 'limit_open']])
})

// ── buying power and cash at exactly what is available ───────────────────────────────────────────

t.test('a buy costing exactly the buying power is accepted; one cent more is INSUFFICIENT_BUYING_POWER', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000' })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'over', type: 'limit', price: '100.001', quantity: 10 }), order({ order_id: 'all', type: 'limit', price: 100, quantity: 10 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['over', 'INSUFFICIENT_BUYING_POWER']])
  t.same([ack.accepted_orders, e.account().buying_power], [['all'], '0.00'])
})

t.test('a buy fill that spends exactly all the cash fills (cash 0); one cent more is rejected at its bar', async (t) => {
  const run = (open: number): Array<[string, string | undefined]> => {
    const e = engineFor(dailySeries('AAA', [flat(100), flat(open)]), { initialCapital: '1000' })
    steps(e, 1)
    submit(e, [order({ order_id: 'b', quantity: 10 })])
    const u = updates(steps(e, 1)).map((x): [string, string | undefined] => [x.status, x.error_code])
    return e.account().cash === '0.00' ? [...u, ['cash 0', undefined]] : u
  }
  t.same(run(100), [['filled', undefined], ['cash 0', undefined]])
  t.same(run(100.001), [['rejected', 'INSUFFICIENT_BUYING_POWER']])
})

t.test('a short sale whose 50 % margin is exactly the buying power is accepted; one unit of quantity more is not', async (t) => {
  // capital 1000, close 100: 20 short need 1000; 20.00000002 need 1000.00000001
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'over', side: 'sell', quantity: 20.00000002 }), order({ order_id: 'all', side: 'sell', quantity: 20 })])
  t.same([ack.accepted_orders, ack.rejected_orders.map((r) => [r.order_id, r.error_code])], [['all'], [['over', 'INSUFFICIENT_BUYING_POWER']]])
  t.same(executions(steps(e, 1)).map((x) => x.executed_quantity), [20], 'and it fills: at the fill its own hold counts for it')
})

t.test('the volume cap is exact at a whole number: volume 300 × 0.1 lets exactly 30 shares through', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 300), flat(100, 300)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'g', quantity: 31, time_in_force: 'gtc' })])
  t.same(executions(steps(e, 2)).map((x) => x.executed_quantity), [30, 1])
})
