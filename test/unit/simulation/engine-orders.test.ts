import t from 'tap'
import { AppError } from '../../../server/app-error.js'
import { dailySeries, engineFor, executions, flat, minuteSeries, order, steps, submit, updates } from './bars.js'

t.test('a market order placed after bar 1 fills at the open of bar 2, slippage capped at its high', async (t) => {
  // open 101 × (1 + 10/10000) = 101.101 > high 101.05 → 101.05
  const e = engineFor(dailySeries('AAA', [flat(100), [101, 101.05, 100, 100.5]]), { settings: { slippage_bps: 10 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'm1' })])
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '101.05')
  t.equal(x.fill_reason, 'market_open')
  t.equal(x.execution_time, '2023-01-03T14:30:00.000Z', 'stamped with the bar start (its open)')
})

t.test('a buy limit is not filled by the bar already closed when it was placed', async (t) => {
  // bar 1 low 95 would fill a 96 limit, but the order arrives after bar 1; bar 2 low 97 does not; bar 3 low 95 does
  const e = engineFor(dailySeries('AAA', [[100, 100, 95, 100], [100, 101, 97, 100], [99, 100, 95, 98]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'l1', type: 'limit', price: 96, time_in_force: 'gtc' })])
  t.same(executions(steps(e, 1)), [])
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '96.00')
  t.equal(x.fill_reason, 'limit_touch')
})

t.test('a buy limit fills at the open when the bar gaps down through it', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [95, 96, 94, 95]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'l1', type: 'limit', price: '98' })])
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '95.00')
  t.equal(x.fill_reason, 'limit_open')
})

t.test('a buy stop fills at the open when the bar gaps up through it', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [107, 108, 106, 107]]))
  steps(e, 1)
  submit(e, [order({ order_id: 's1', type: 'stop', stop_price: 105 })])
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '107.00')
  t.equal(x.fill_reason, 'stop_gap_open')
})

t.test('a sell stop touched inside the bar fills at the stop', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [99, 100, 93, 94]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'b1' })])
  steps(e, 1)
  submit(e, [order({ order_id: 's1', side: 'sell', type: 'stop', stop_price: 95 })])
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '95.00')
  t.equal(x.fill_reason, 'stop_touch')
})

t.test('a stop-limit triggers on one bar and fills at its limit on a later bar', async (t) => {
  // bar 2 reaches the 101 stop but the 100 limit is below it: triggered, no fill; bar 3 trades down to 99.8 ≤ 100
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 102, 99.5, 101.5], [101, 101.5, 99.8, 100.5]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'sl1', type: 'stop_limit', stop_price: 101, price: 100, time_in_force: 'gtc' })])
  t.same(executions(steps(e, 1)), [])
  t.equal(e.order('sl1').stop_triggered, true)
  const [x] = executions(steps(e, 1))
  t.equal(x.executed_price, '100.00')
  t.equal(x.fill_reason, 'stop_limit_touch')
})

t.test('bracket legs are first tried on the bar after the parent fills', async (t) => {
  // bar 2 (parent fills at its open) spans both 110 and 90; the legs must wait; bar 4 reaches 110 only
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 112, 89, 100], flat(100), [100, 111, 99, 105]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  const bar2 = steps(e, 1)
  t.same(executions(bar2).map((x) => x.order_id), ['p'])
  t.same(updates(bar2).filter((u) => u.status === 'accepted').map((u) => u.order_id), ['p-sl', 'p-tp'])
  steps(e, 1)
  const bar4 = steps(e, 1)
  t.same(executions(bar4).map((x) => [x.order_id, x.executed_price]), [['p-tp', '110.00']])
  t.same(updates(bar4).find((u) => u.order_id === 'p-sl')?.status, 'cancelled')
})

t.test('when target and stop of a bracket are both inside one bar, the stop wins', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [100, 111, 89, 100]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price, x.fill_reason]), [['p-sl', '90.00', 'stop_touch']])
  t.equal(e.order('p-tp').status, 'cancelled')
  t.equal(e.account().positions.length, 0)
})

t.test('an ioc order unfilled on its first bar is cancelled', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 95, 100], [89, 90, 85, 88]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'i1', type: 'limit', price: 90, time_in_force: 'ioc' })])
  const ev = steps(e, 1)
  t.same(updates(ev).map((u) => u.status), ['cancelled'])
  t.same(executions(steps(e, 1)), [], 'not tried again on bar 3')
})

t.test('a day order expires at the end of its trading day', async (t) => {
  // day 1: three minute bars above 90; day 2 opens at 89
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100), flat(100)], [flat(89), flat(89)]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'd1', type: 'limit', price: 90, time_in_force: 'day' })])
  t.same(updates(steps(e, 1)), [])
  const last = steps(e, 1)
  const u = updates(last)
  t.same(u.map((x) => x.status), ['expired'])
  t.equal(u[0].update_time, '2023-01-02T14:33:00.000Z', 'at the close of the last bar of the day')
  t.equal(last[last.length - 1].type, 'tick', 'expiry goes out before the tick of that bar')
  t.same(executions(steps(e)), [])
})

t.test('a day order placed after the last bar of a day lives for the next trading day', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100)], [flat(95), [95, 95, 89, 90]]]))
  steps(e, 2)
  submit(e, [order({ order_id: 'd1', type: 'limit', price: 90, time_in_force: 'day' })])
  const [x] = executions(steps(e))
  t.equal(x.executed_price, '90.00')
})

t.test('a gtc order survives the end of the day and fills days later', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(100)], [flat(99), flat(99)], [flat(95), [91, 91, 89, 90]]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'g1', type: 'limit', price: 90, time_in_force: 'gtc' })])
  const ev = steps(e)
  t.same(updates(ev).filter((u) => u.order_id === 'g1').map((u) => u.status), ['filled'])
  t.equal(executions(ev)[0].execution_time, '2023-01-04T14:32:00.000Z')
})

t.test('the volume cap splits a market order into partial fills across bars', async (t) => {
  // cap 10 %: bar volumes 305, 500, 1000 → 30 (30.5 rounded down to whole shares), 50, then the last 20
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 305), flat(100, 500), flat(100, 1000)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'v1', quantity: 100, time_in_force: 'gtc' })])
  const xs = executions(steps(e))
  t.same(xs.map((x) => [x.executed_quantity, x.is_partial, x.remaining_quantity]), [[30, true, 70], [50, true, 20], [20, false, 0]])
  t.equal(e.order('v1').status, 'filled')
})

t.test('a buy the cash cannot pay is rejected with INSUFFICIENT_BUYING_POWER: recorded as a rejected order, the account unchanged', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000' })
  steps(e, 1)
  const before = JSON.stringify(e.account())
  const { ack, events } = submit(e, [order({ order_id: 'big', quantity: 20 })])
  t.same(ack.rejected_orders.map((r) => r.error_code), ['INSUFFICIENT_BUYING_POWER'])
  t.same(updates(events).map((u) => [u.order_id, u.status, u.error_code, u.reason]), [['big', 'rejected', 'INSUFFICIENT_BUYING_POWER', 'order needs 2000.00, buying power is 1000.00']])
  t.match(e.orders(), [{ order_id: 'big', status: 'rejected', quantity: 20, filled_quantity: 0, error_code: 'INSUFFICIENT_BUYING_POWER', reason: 'order needs 2000.00, buying power is 1000.00' }])
  t.equal(JSON.stringify(e.account()), before)
  t.equal(e.results().metrics.rejected_orders, 1, 'counted in the results')
})

t.test('open buy orders hold back buying power from later orders', async (t) => {
  // 6 × 100 = 600 held by the first order; 400 left is not enough for the second
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000' })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'a', quantity: 6 }), order({ order_id: 'b', quantity: 6 })])
  t.same(ack.accepted_orders, ['a'])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['b', 'INSUFFICIENT_BUYING_POWER']])
  t.equal(e.account().buying_power, '400.00')
})

t.test('a fill the cash cannot pay when tried is rejected at that bar', async (t) => {
  // accepted at the 100 close (900 ≤ 1000), but bar 2 opens at 120: 9 × 120 = 1080 > 1000
  const e = engineFor(dailySeries('AAA', [flat(100), flat(120)]), { initialCapital: '1000' })
  steps(e, 1)
  submit(e, [order({ order_id: 'a', quantity: 9 })])
  const u = updates(steps(e, 1))
  t.same(u.map((x) => [x.status, x.error_code]), [['rejected', 'INSUFFICIENT_BUYING_POWER']])
  t.match(e.order('a'), { status: 'rejected', error_code: 'INSUFFICIENT_BUYING_POWER', reason: /^fill of 9 at 120\.00 needs/ })
  t.equal(e.account().cash, '1000.00')
  t.equal(e.results().metrics.rejected_orders, 1)
})

t.test('invalid orders are rejected with INVALID_ORDER (a symbol outside the session INVALID_SYMBOL): recorded, nothing else changes', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const before = JSON.stringify(e.account())
  const { ack, events } = submit(e, [
    order({ order_id: 'both', quantity: 1, notional: 100 }),
    order({ order_id: 'neither', quantity: undefined }),
    order({ order_id: 'noprice', type: 'limit' }),
    order({ order_id: 'mktprice', price: 10 }),
    order({ order_id: 'nostop', type: 'stop_limit', price: 10 }),
    order({ order_id: 'sym', symbol: 'ZZZ' }),
    order({ order_id: 'neg', type: 'limit', price: -1 }),
    order({ order_id: 'brk', take_profit: { limit_price: 90 }, stop_loss: { stop_price: 95 } }),
    order({ order_id: 'short', side: 'sell' })
  ])
  t.same(ack.accepted_orders, [])
  const codes = [...Array(5).fill('INVALID_ORDER'), 'INVALID_SYMBOL', ...Array(3).fill('INVALID_ORDER')]
  t.same(ack.rejected_orders.map((r) => r.error_code), codes)
  t.same(updates(events).map((u) => [u.order_id, u.status, u.error_code]), ack.rejected_orders.map((r) => [r.order_id, 'rejected', r.error_code]), 'one order_update each, in batch order')
  t.same(e.orders().map((o) => [o.order_id, o.status, o.reason]), ack.rejected_orders.map((r) => [r.order_id, 'rejected', r.reason]), 'each recorded, saying why')
  t.match(e.order('sym'), { symbol: 'ZZZ', side: 'buy', type: 'market', quantity: 10 })
  t.notOk('price' in e.order('neg'), 'a malformed amount is left out of the record')
  t.equal(JSON.stringify(e.account()), before)
  let refused: unknown
  try { e.cancelOrder('sym') } catch (err) { refused = err }
  t.match(refused, { error_code: 'INVALID_STATE', message: 'order sym is already rejected' }, 'a rejected order cannot be cancelled')
  t.same(executions(steps(e)), [])
})

t.test('an atomic batch with one invalid order accepts none of them', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack, events } = submit(e, [order({ order_id: 'ok' }), order({ order_id: 'bad', quantity: -1 })], 'atomic')
  t.same(ack.accepted_orders, [])
  t.same(ack.rejected_orders.map((r) => r.order_id), ['ok', 'bad'])
  t.same(updates(events).map((u) => [u.order_id, u.status]), [['ok', 'rejected'], ['bad', 'rejected']])
  t.same(e.orders().map((o) => [o.order_id, o.status]), [['ok', 'rejected'], ['bad', 'rejected']])
  t.equal(e.account().buying_power, '100000.00', 'no reservation left behind')
  t.same(submit(e, [order({ order_id: 'ok' })]).ack.rejected_orders.map((r) => r.reason), ['order_id ok is already used in this session'], 'a refused order keeps its id, as any order does')
})

t.test('a best-effort batch accepts its valid orders and rejects the others', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const { ack, events } = submit(e, [order({ order_id: 'ok' }), order({ order_id: 'bad', quantity: -1 })])
  t.same(ack.accepted_orders, ['ok'])
  t.same(ack.rejected_orders.map((r) => r.order_id), ['bad'])
  t.same(updates(events).map((u) => [u.order_id, u.status]), [['ok', 'accepted'], ['bad', 'rejected']])
  t.same(ack.estimated_fills, [{ order_id: 'ok', estimated_price: '100.00', estimated_quantity: 10 }])
})

t.test('a duplicate order_id is rejected, within a batch and across batches', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  const first = submit(e, [order({ order_id: 'x' }), order({ order_id: 'x' })])
  t.same(first.ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['x', 'INVALID_ORDER']])
  t.same(updates(first.events).map((u) => [u.order_id, u.status]), [['x', 'accepted']], 'a repeat is no order of its own: no update, no record')
  const second = submit(e, [order({ order_id: 'x' })])
  t.same(second.ack.accepted_orders, [])
  t.same(second.events, [])
  t.same(e.orders().map((o) => [o.order_id, o.status]), [['x', 'accepted']])
  t.equal(e.results().metrics.rejected_orders, 0)
})

t.test('short selling is refused unless the session allows it', async (t) => {
  const series = dailySeries('AAA', [flat(100), flat(100)])
  const off = engineFor(series)
  steps(off, 1)
  t.same(submit(off, [order({ order_id: 's', side: 'sell' })]).ack.rejected_orders.map((r) => r.error_code), ['INVALID_ORDER'])
  const on = engineFor(series, { settings: { allow_short: true } })
  steps(on, 1)
  submit(on, [order({ order_id: 's', side: 'sell' })])
  steps(on, 1)
  const acct = on.account()
  t.equal(acct.positions[0].quantity, -10)
  t.equal(acct.cash, '101000.00', 'short proceeds are credited')
  // 101000 − 150 % × 1000 held against the short
  t.equal(acct.buying_power, '99500.00')
})

t.test('a notional market order buys notional / open, truncated to 8 decimals', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(300)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'n', quantity: undefined, notional: '1000' })])
  const [x] = executions(steps(e, 1))
  // 1000 / 300 = 3.33333333…
  t.equal(x.executed_quantity, 3.33333333)
})

t.test('a market order on a symbol without a bar in the next step waits for its next bar', async (t) => {
  const a = dailySeries('AAA', [flat(100), flat(101), flat(102)])
  const b = dailySeries('BBB', [flat(50), flat(55)], '2023-01-02')
  b.time[1] = a.time[2]
  b.day[1] = a.day[2]
  const e = engineFor([a, b])
  steps(e, 1)
  submit(e, [order({ order_id: 'm', symbol: 'BBB', quantity: 1 })])
  t.same(executions(steps(e, 1)), [])
  t.equal(executions(steps(e, 1))[0].executed_price, '55.00')
})

t.test('cancel_order cancels an open order and refuses unknown or finished ones', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'l', type: 'limit', price: 50, time_in_force: 'gtc' }), order({ order_id: 'm' })])
  t.same(updates(e.cancelOrder('l')).map((u) => u.status), ['cancelled'])
  t.throws(() => e.cancelOrder('nope'), AppError)
  steps(e, 1)
  try {
    e.cancelOrder('m')
    t.fail('cancelling a filled order must throw')
  } catch (err) {
    t.equal((err as AppError).error_code, 'INVALID_STATE')
  }
})

t.test('commission is per share with a per-order minimum spread over partial fills', async (t) => {
  // 0.005/share, min 1.00: 30 shares → max(0.15, 1) = 1.00; then 80 cumulative → 0.40 < 1 → 0; then 100 → 0.50 → 0
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 300), flat(100, 500), flat(100, 1000)]), {
    settings: { commission_per_share: 0.005, min_commission_per_order: 1, volume_participation: 0.1 }
  })
  steps(e, 1)
  submit(e, [order({ order_id: 'c', quantity: 100, time_in_force: 'gtc' })])
  t.same(executions(steps(e)).map((x) => x.commission), ['1.00', '0.00', '0.00'])
})

t.test('a stop_loss with a limit price becomes a stop-limit leg', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', stop_loss: { stop_price: 90, limit_price: '89.5' } })])
  steps(e, 1)
  const leg = e.order('p-sl')
  t.same([leg.type, leg.side, leg.stop_price, leg.price, leg.quantity], ['stop_limit', 'sell', '90.00', '89.50', 10])
})

t.test('a short sale needs 50 % of its value in buying power', async (t) => {
  // capital 1000: shorting 30 @ 100 needs 1500 of buying power → refused; 15 @ 100 needs 750 → accepted
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { initialCapital: '1000', settings: { allow_short: true } })
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: 'big', side: 'sell', quantity: 30 }), order({ order_id: 'ok', side: 'sell', quantity: 15 })])
  t.same(ack.rejected_orders.map((r) => [r.order_id, r.error_code]), [['big', 'INSUFFICIENT_BUYING_POWER']])
  t.same(ack.accepted_orders, ['ok'])
})

t.test('a bracket stop leg partly filled by the volume cap in a bar that also reaches the target', async (t) => {
  // docs/fill-policy.md: the stop leg is evaluated first; once it traded in a bar the target may not trade
  // in that bar; a partial leg fill reduces the other leg by the same quantity.
  // Long 10 from 100 (bar 2), target 110, stop 90, cap 50 % of volume.
  // Bar 3 (O 100 H 111 L 89, volume 8): cap 4 → the stop sells 4 at 90.00; the target, touched, must wait.
  // Bar 4 (O 105 H 112 L 104, volume 100): cap 50 → the target sells the remaining 6 at 110.00, the stop is
  // cancelled. Cash: 100 000 − 10 × 100 + 4 × 90 + 6 × 110 = 100 020.
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), [100, 111, 89, 100, 8], [105, 112, 104, 108, 100]]), { settings: { volume_participation: 0.5 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_quantity, x.executed_price]), [['p', 10, '100.00']])

  const bar3 = steps(e, 1)
  t.same(executions(bar3).map((x) => [x.order_id, x.executed_quantity, x.executed_price, x.fill_reason, x.is_partial, x.remaining_quantity]),
    [['p-sl', 4, '90.00', 'stop_touch', true, 6]], 'only the stop trades, capped at 4')
  t.equal(e.order('p-sl').status, 'partially_filled')
  t.not(e.order('p-tp').status, 'cancelled', 'a partial stop fill does not cancel the target')
  t.equal(e.order('p-tp').filled_quantity ?? 0, 0, 'the target did not trade in the bar the stop traded in')
  t.equal(e.account().positions[0]?.quantity, 6)

  const bar4 = steps(e, 1)
  t.same(executions(bar4).map((x) => [x.order_id, x.executed_quantity, x.executed_price, x.fill_reason]),
    [['p-tp', 6, '110.00', 'limit_touch']], 'the target closes the remaining 6, not the original 10')
  t.equal(e.order('p-tp').status, 'filled')
  t.equal(e.order('p-sl').status, 'cancelled')
  t.match(updates(bar4).find((u) => u.order_id === 'p-sl'), { status: 'cancelled', reason: /one-cancels-other/ })
  const acct = e.account()
  t.equal(acct.positions.length, 0)
  t.equal(acct.cash, '100020.00')
})
