// docs/fill-policy.md, the order types of issue 12: trailing stops (checked against backtrader's StopTrail on its
// sample data 2006-day-001.txt), time in force fok/opg/cls, one-cancels-other on cancel, and replacing an order.
// Expected fills are computed by hand in the comments.
import t from 'tap'
import { AppError } from '../../../server/app-error.js'
import type { Ohlc } from './bars.js'
import type { BarSeries } from '../../../server/market-data/bar-series.js'
import { dailySeries, engineFor, executions, flat, minuteSeries, order, steps, submit, updates } from './bars.js'
import type { SimulationEngine } from '../../../server/simulation/engine.js'

/** The first 26 bars of backtrader's datas/2006-day-001.txt (Open, High, Low, Close; 2006-01-02 … 2006-02-06). */
const BT_2006: Ohlc[] = [
  [3578.73, 3605.95, 3578.73, 3604.33], [3604.08, 3638.42, 3601.84, 3614.34], [3615.23, 3652.46, 3615.23, 3652.46],
  [3652.19, 3661.65, 3643.17, 3650.24], [3650.54, 3666.99, 3647.66, 3666.99], [3667.10, 3685.99, 3667.10, 3671.78],
  [3671.23, 3671.23, 3638.77, 3644.94], [3645.73, 3674.31, 3645.73, 3668.61], [3667.16, 3676.00, 3656.99, 3670.20],
  [3670.27, 3670.27, 3618.06, 3629.25], [3628.73, 3649.10, 3621.03, 3644.41], [3639.57, 3639.57, 3606.54, 3610.07],
  [3609.34, 3609.34, 3550.16, 3570.17], [3572.19, 3597.34, 3572.19, 3593.22], [3593.16, 3612.37, 3550.80, 3550.80],
  [3550.24, 3550.24, 3515.07, 3544.31], [3544.78, 3553.16, 3526.37, 3532.68], [3532.72, 3578.00, 3532.72, 3578.00],
  [3578.92, 3641.42, 3577.98, 3641.42], [3643.35, 3685.48, 3643.35, 3685.48], [3684.38, 3685.65, 3664.45, 3677.52],
  [3676.71, 3707.63, 3671.67, 3691.41], [3686.16, 3728.80, 3674.89, 3728.25], [3728.92, 3745.14, 3677.05, 3677.05],
  [3677.05, 3696.00, 3652.76, 3678.48], [3678.87, 3704.17, 3672.53, 3682.32]
]

const BT_DATES = ['01-02', '01-03', '01-04', '01-05', '01-06', '01-09', '01-10', '01-11', '01-12', '01-13', '01-16', '01-17', '01-18',
  '01-19', '01-20', '01-23', '01-24', '01-25', '01-26', '01-27', '01-30', '01-31', '02-01', '02-02', '02-03', '02-06'].map((d) => `2006-${d}`)

/** The sample as daily bars on their real dates (bar start 14:30Z, so a bar's close is stamped +24 h). */
function btSeries (): BarSeries {
  const s = dailySeries('AAA', BT_2006, '2006-01-02')
  BT_DATES.forEach((d, i) => {
    s.time[i] = Date.parse(`${d}T14:30:00.000Z`)
    s.day[i] = Number(d.replaceAll('-', ''))
  })
  return s
}

function closeOf (bar: number): string {
  return new Date(Date.parse(`${BT_DATES[bar]}T14:30:00.000Z`) + 86_400_000).toISOString()
}

function codeOf (fn: () => unknown): string | null {
  try {
    fn()
    return null
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return err.error_code
  }
}

function rejected (e: SimulationEngine, fields: Parameters<typeof order>[0]): string {
  const { ack } = submit(e, [order(fields)])
  return ack.rejected_orders.map((r) => `${r.error_code}: ${r.reason}`).join('; ')
}

// ── trailing stop ──────────────────────────────────────────────────────────────────────────────

t.test('trailing stop by amount on backtrader\'s 2006 sample: trails the closes, fills at the stop when touched', async (t) => {
  // Placed after bar 1 (close 3614.34), trail 25 → stop 3589.34. Bars then (backtrader: _try_exec_stop, then trailadjust(close)):
  //   01-04 L 3615.23 > 3589.34, close 3652.46 → stop 3627.46
  //   01-05 L 3643.17 > 3627.46, close 3650.24 below the best close → unchanged
  //   01-06 L 3647.66, close 3666.99 → 3641.99;  01-09 L 3667.10, close 3671.78 → 3646.78
  //   01-10 O 3671.23 above the stop, L 3638.77 ≤ 3646.78 → sold at 3646.78 (stop_touch)
  const e = engineFor(btSeries(), { settings: { allow_short: true } })
  steps(e, 2)
  const { ack } = submit(e, [order({ order_id: 'ts', side: 'sell', type: 'trailing_stop', trail_price: 25, quantity: 1, time_in_force: 'gtc' })])
  t.same(ack.rejected_orders, [])
  t.equal(e.order('ts').stop_price, '3589.34')
  t.equal(e.order('ts').hwm, '3614.34')
  steps(e, 1)
  t.equal(e.order('ts').stop_price, '3627.46')
  steps(e, 1)
  t.equal(e.order('ts').stop_price, '3627.46', 'a lower close does not move it back')
  const [x] = executions(steps(e, 3))
  t.equal(x.executed_price, '3646.78')
  t.equal(x.fill_reason, 'stop_touch')
  t.equal(x.execution_time, '2006-01-11T14:30:00.000Z', 'bar 2006-01-10 closes then')
  t.equal(e.order('ts').trail_price, '25.00')
})

t.test('trailing stop by percent on the same sample: stop = best close × (1 − p/100), exact to 8 decimals', async (t) => {
  // After bar 1: 3614.34 × 0.99 = 3578.1966; best closes 3652.46 → 3615.9354, 3666.99 → 3630.3201, 3671.78 → 3635.0622.
  // 01-10 L 3638.77 > 3635.0622 (no fill); 01-11 and 01-12 lows 3645.73, 3656.99; closes below 3671.78.
  // 01-13 O 3670.27, L 3618.06 ≤ 3635.0622 → 3635.0622.
  const e = engineFor(btSeries(), { settings: { allow_short: true } })
  steps(e, 2)
  submit(e, [order({ order_id: 'tp', side: 'sell', type: 'trailing_stop', trail_percent: '1', quantity: 1, time_in_force: 'gtc' })])
  t.equal(e.order('tp').stop_price, '3578.1966')
  const [x] = executions(steps(e, 8))
  t.equal(x.executed_price, '3635.0622')
  t.equal(x.execution_time, '2006-01-14T14:30:00.000Z')
  t.equal(e.order('tp').trail_percent, '1')
})

/**
 * backtrader's bar semantics for a StopTrail, written out independently of the engine (bbroker._try_exec_stop
 * and Order.trailadjust): created at close c → stop c ∓ trail; each later bar: gap through the stop → open,
 * touched → stop; not executed → trailadjust(close), moving only in the order's favour.
 */
function backtraderStopTrail (bars: readonly Ohlc[], created: number, side: 'buy' | 'sell', amount: number | null, fraction: number | null): { bar: number, price: number, gap: boolean } | null {
  const dist = (p: number): number => amount ?? p * (fraction as number)
  let stop = side === 'sell' ? bars[created][3] - dist(bars[created][3]) : bars[created][3] + dist(bars[created][3])
  for (let i = created + 1; i < bars.length; i++) {
    const [o, h, l, c] = bars[i]
    if (side === 'sell') {
      if (o <= stop) return { bar: i, price: o, gap: true }
      if (l <= stop) return { bar: i, price: stop, gap: false }
      stop = Math.max(stop, c - dist(c))
    } else {
      if (o >= stop) return { bar: i, price: o, gap: true }
      if (h >= stop) return { bar: i, price: stop, gap: false }
      stop = Math.min(stop, c + dist(c))
    }
  }
  return null
}

t.test('trailing stops agree with backtrader\'s StopTrail semantics on the 2006 sample (amounts, percents, both sides, every start)', async (t) => {
  let compared = 0
  let filled = 0
  let gaps = 0
  for (const side of ['sell', 'buy'] as const) {
    for (const trail of [{ trail_price: 2 }, { trail_price: 10 }, { trail_price: 40 }, { trail_percent: 0.1 }, { trail_percent: 0.5 }, { trail_percent: 1.5 }]) {
      for (const created of [0, 3, 9, 10, 15]) {
        const want = backtraderStopTrail(BT_2006, created, side, trail.trail_price ?? null, trail.trail_percent === undefined ? null : trail.trail_percent / 100)
        const e = engineFor(btSeries(), { settings: { allow_short: true } })
        steps(e, created + 1)
        submit(e, [order({ order_id: 'x', side, type: 'trailing_stop', quantity: 1, time_in_force: 'gtc', ...trail })])
        const events = steps(e)
        const fills = executions(events)
        const label = `${side} ${JSON.stringify(trail)} from bar ${created}`
        if (want === null) {
          t.same(fills, [], label)
        } else {
          t.equal(fills.length, 1, label)
          // The engine is exact (8 decimals, half-even), the model is float: compare to the cent.
          t.equal(Number(fills[0].executed_price).toFixed(2), want.price.toFixed(2), label)
          // a gap fill happens at the bar's open (stamped with its start), a touch inside it (stamped with its close)
          t.equal(fills[0].execution_time, want.gap ? `${BT_DATES[want.bar]}T14:30:00.000Z` : closeOf(want.bar), `${label}: on bar ${want.bar}`)
          t.equal(fills[0].fill_reason, want.gap ? 'stop_gap_open' : 'stop_touch', label)
          if (want.gap) gaps++
          filled++
        }
        compared++
      }
    }
  }
  t.equal(compared, 60)
  t.ok(filled >= 20, `most cases trigger inside the sample (${filled})`)
  t.ok(gaps > 0, `some trigger through a gap (${gaps})`)
})

t.test('trailing stop: a gap through the stop fills at the open (stop_gap_open)', async (t) => {
  // sell trail 2 from close 100 → 98; next bar opens at 97 → 97.00
  const e = engineFor(dailySeries('AAA', [flat(100), [97, 97.5, 96, 97]]), { settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 'g', side: 'sell', type: 'trailing_stop', trail_price: 2, quantity: 1 })])
  const [x] = executions(steps(e, 1))
  t.same([x.executed_price, x.fill_reason, x.slippage_bps], ['97.00', 'stop_gap_open', 0])
})

t.test('trailing stop placed before the symbol\'s first bar trails from that bar\'s open', async (t) => {
  // buy trail 3, first bar O 100 H 102 L 99 C 101: stop 103 from the open, not reached; close 101 → stop 104? no: a buy stop only moves down
  // (101 + 3 = 104 > 103, unchanged). Bar 2 O 102 H 103.5 → touched at 103.
  const e = engineFor(dailySeries('AAA', [[100, 102, 99, 101], [102, 103.5, 101, 103]]))
  submit(e, [order({ order_id: 'b', side: 'buy', type: 'trailing_stop', trail_price: 3, quantity: 1, time_in_force: 'gtc' })])
  t.equal(e.order('b').stop_price, undefined, 'no price yet')
  steps(e, 1)
  t.same([e.order('b').stop_price, e.order('b').hwm], ['103.00', '100.00'])
  const [x] = executions(steps(e, 1))
  t.same([x.executed_price, x.fill_reason], ['103.00', 'stop_touch'])
})

t.test('trailing stop inputs that make no sense are refused with INVALID_ORDER and reserve nothing', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]), { settings: { allow_short: true } })
  steps(e, 1)
  const ts = { side: 'sell' as const, type: 'trailing_stop' as const }
  t.match(rejected(e, { order_id: 'a', ...ts, trail_percent: 0 }), /^INVALID_ORDER: trail_percent must be positive/)
  t.match(rejected(e, { order_id: 'b', ...ts, trail_percent: -1 }), /^INVALID_ORDER: trail_percent must be positive/)
  t.match(rejected(e, { order_id: 'c', ...ts, trail_percent: 100 }), /^INVALID_ORDER: trail_percent must be below 100/)
  t.match(rejected(e, { order_id: 'd', ...ts, trail_price: '0' }), /^INVALID_ORDER: trail_price must be positive/)
  t.match(rejected(e, { order_id: 'e', ...ts, trail_price: 1, trail_percent: 1 }), /^INVALID_ORDER: trailing_stop orders need exactly one/)
  t.match(rejected(e, { order_id: 'f', ...ts }), /^INVALID_ORDER: trailing_stop orders need exactly one/)
  t.match(rejected(e, { order_id: 'g', ...ts, trail_price: 1, stop_price: 99 }), /^INVALID_ORDER: trailing_stop orders take no stop_price/)
  t.match(rejected(e, { order_id: 'h', ...ts, trail_price: 1, time_in_force: 'ioc' }), /^INVALID_ORDER: time_in_force ioc is not accepted on trailing_stop/)
  t.match(rejected(e, { order_id: 'i', type: 'limit', price: 99, trail_price: 1 }), /^INVALID_ORDER: limit orders take no trail_price/)
  t.same(new Set(e.orders().map((o) => o.status)), new Set(['rejected']), 'each recorded as a rejected order')
  t.equal(e.account().buying_power, '100000.00')
})

// ── time in force fok / opg / cls ──────────────────────────────────────────────────────────────

t.test('fok fills entirely on its first bar, or not at all and is cancelled', async (t) => {
  // volume cap 0.1 × 500 = 50 per bar: fok 40 fills, fok 60 (after it, 10 left in the bar) is cancelled unfilled
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 500), flat(100, 5000)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'f40', quantity: 40, time_in_force: 'fok' }), order({ order_id: 'f60', quantity: 60, time_in_force: 'fok' })])
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.order_id, x.executed_quantity]), [['f40', 40]])
  const u = updates(ev).find((x) => x.order_id === 'f60')
  t.same([u?.status, u?.reason, u?.order.filled_quantity], ['cancelled', 'fok: not filled entirely on its first bar', 0])
  // a fok limit not reached on its first bar is cancelled too
  submit(e, [order({ order_id: 'fl', type: 'limit', price: 99, time_in_force: 'fok' })])
  t.equal(updates(steps(e, 1)).find((x) => x.order_id === 'fl')?.status, 'cancelled')
})

t.test('opg on daily bars: the next bar\'s open or nothing (a limit touched later in the bar does not count)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [101, 103, 98, 99], [99, 100, 98, 99]]), { settings: { slippage_bps: 10 } })
  steps(e, 1)
  submit(e, [
    order({ order_id: 'om', time_in_force: 'opg' }),
    order({ order_id: 'ol', type: 'limit', price: 100, time_in_force: 'opg' })
  ])
  const ev = steps(e, 1)
  // market: 101 × 1.001 = 101.101; limit 100 < open 101 → no auction fill (the low 98 came later) → cancelled
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price, x.fill_reason]), [['om', '101.101', 'market_open']])
  const u = updates(ev).find((x) => x.order_id === 'ol')
  t.same([u?.status, u?.reason], ['cancelled', 'opg: not filled at the open of 2023-01-03'])
})

t.test('opg on minute bars waits for the first bar of the next trading day', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), flat(101), flat(102)], [flat(110), flat(111)]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'o', time_in_force: 'opg' })])
  t.same(executions(steps(e, 2)), [], 'not on the rest of day 1')
  const [x] = executions(steps(e, 1))
  t.same([x.executed_price, x.execution_time], ['110.00', '2023-01-03T14:30:00.000Z'])
})

t.test('cls on daily bars fills at the close (market: ± slippage within the range; limit: when the close is as good)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 105, 99, 104.9]]), { settings: { slippage_bps: 50 } })
  steps(e, 1)
  submit(e, [
    order({ order_id: 'cm', time_in_force: 'cls' }),
    order({ order_id: 'cl', type: 'limit', price: 104, time_in_force: 'cls' }),
    order({ order_id: 'cl2', type: 'limit', price: 105, time_in_force: 'cls' })
  ])
  const ev = steps(e, 1)
  // market: 104.9 × 1.005 = 105.4245 capped at the high 105 (slippage paid 0.1/104.9 = 9.532888 bps);
  // limit 104 < close 104.9 → cancelled; limit 105 ≥ 104.9 → 104.90
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price, x.fill_reason, x.slippage_bps, x.execution_time]), [
    ['cm', '105.00', 'market_close', 9.532888, '2023-01-04T14:30:00.000Z'],
    ['cl2', '104.90', 'limit_close', 0, '2023-01-04T14:30:00.000Z']
  ])
  t.equal(updates(ev).find((x) => x.order_id === 'cl')?.reason, 'cls: not filled at the close of 2023-01-03')
})

t.test('cls on minute bars waits for the last bar of the trading day', async (t) => {
  const e = engineFor(minuteSeries('AAA', [[flat(100), [101, 101, 101, 101.5], [102, 103, 101, 102.5]], [flat(110)]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'c', time_in_force: 'cls' })])
  const ev = steps(e, 2)
  t.same(executions(ev).map((x) => [x.executed_price, x.fill_reason]), [['102.50', 'market_close']])
})

t.test('fok, opg and cls are refused where they mean nothing (stops, brackets)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  t.match(rejected(e, { order_id: 'a', type: 'stop', stop_price: 101, time_in_force: 'fok' }), /^INVALID_ORDER: time_in_force fok is not accepted on stop orders \(allowed: day, gtc, ioc\)/)
  t.match(rejected(e, { order_id: 'b', type: 'stop_limit', stop_price: 101, price: 102, time_in_force: 'opg' }), /^INVALID_ORDER: time_in_force opg/)
  t.match(rejected(e, { order_id: 'c', time_in_force: 'fok', take_profit: { limit_price: 110 } }), /^INVALID_ORDER: time_in_force fok is not accepted on bracket orders/)
  t.match(rejected(e, { order_id: 'd', time_in_force: 'cls', stop_loss: { stop_price: 90 } }), /^INVALID_ORDER: time_in_force cls is not accepted on bracket orders/)
})

// ── one-cancels-other ──────────────────────────────────────────────────────────────────────────

t.test('cancelling one exit leg of a bracket cancels the other (OCO)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', time_in_force: 'gtc', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  t.same([e.order('p-tp').status, e.order('p-sl').status], ['accepted', 'accepted'])
  const ev = e.cancelOrder('p-tp')
  t.same(updates(ev).map((u) => [u.order_id, u.status, u.reason]), [
    ['p-tp', 'cancelled', 'cancelled by the client'],
    ['p-sl', 'cancelled', 'one-cancels-other: p-tp cancelled']
  ])
  t.equal(e.account().open_orders, 0)
})

// ── replace ────────────────────────────────────────────────────────────────────────────────────

t.test('replacing a limit order: the old one ends replaced, the new one (<id>-r1) works with the new price', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 98, 99], [100, 101, 98, 99]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'l', type: 'limit', price: 95, quantity: 10, time_in_force: 'gtc' })])
  t.equal(e.account().buying_power, '99050.00', 'holds 10 × 95')
  const r = e.replaceOrder('l', { price: '98.50', quantity: 20 })
  t.same([r.order.order_id, r.order.price, r.order.quantity, r.order.replaces, r.order.status], ['l-r1', '98.50', 20, 'l', 'accepted'])
  t.same(updates(r.events).map((u) => [u.order_id, u.status]), [['l', 'replaced'], ['l-r1', 'accepted']])
  t.equal(e.order('l').replaced_by, 'l-r1')
  t.equal(e.account().buying_power, '98030.00', 'holds 20 × 98.50 instead')
  const [x] = executions(steps(e, 1))
  t.same([x.order_id, x.executed_price, x.executed_quantity], ['l-r1', '98.50', 20])
  // a chain: l-r1 is filled now; replacing it is refused, and so is replacing l (replaced)
  t.equal(codeOf(() => e.replaceOrder('l-r1', { price: 97 })), 'INVALID_STATE')
  t.equal(codeOf(() => e.replaceOrder('l', { price: 97 })), 'INVALID_STATE')
  t.equal(codeOf(() => e.replaceOrder('nope', { price: 97 })), 'ORDER_NOT_FOUND')
})

t.test('a refused replacement changes nothing (buying power, empty change, used id)', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100)]))
  steps(e, 1)
  submit(e, [order({ order_id: 'l', type: 'limit', price: 95, quantity: 10, time_in_force: 'gtc' }), order({ order_id: 'm', type: 'limit', price: 90, quantity: 1 })])
  const before = JSON.stringify([e.orders(), e.account()])
  t.equal(codeOf(() => e.replaceOrder('l', { quantity: 2000 })), 'INSUFFICIENT_BUYING_POWER')
  t.equal(codeOf(() => e.replaceOrder('l', {})), 'INVALID_ORDER')
  t.equal(codeOf(() => e.replaceOrder('l', { price: 96, new_order_id: 'm' })), 'INVALID_ORDER')
  t.equal(codeOf(() => e.replaceOrder('l', { price: -1 })), 'INVALID_ORDER')
  t.equal(codeOf(() => e.replaceOrder('l', { trail_price: 1 })), 'INVALID_ORDER')
  t.equal(JSON.stringify([e.orders(), e.account()]), before)
  // and a valid one with an explicit id still goes through afterwards, keeping the order among the open ones
  t.equal(e.replaceOrder('l', { price: 96, new_order_id: 'l2' }).order.order_id, 'l2')
  t.equal(e.account().open_orders, 2)
})

t.test('replacing a bracket leg keeps the pair one-cancels-other; replacing a trailing stop keeps its best close', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(105), [104, 104, 94, 95]]), { settings: { allow_short: true } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', time_in_force: 'gtc', take_profit: { limit_price: 120 }, stop_loss: { stop_price: 90 } })])
  steps(e, 1)
  t.equal(codeOf(() => e.replaceOrder('p-sl', { quantity: 5 })), 'INVALID_ORDER')
  const r = e.replaceOrder('p-sl', { stop_price: 95 })
  t.same([r.order.order_id, r.order.leg, r.order.parent_order_id, r.order.stop_price], ['p-sl-r1', 'stop_loss', 'p', '95.00'])
  submit(e, [order({ order_id: 'ts', side: 'sell', type: 'trailing_stop', trail_price: 10, quantity: 1, time_in_force: 'gtc' })])
  steps(e, 1) // close 105 → ts best close 105, stop 95
  const rt = e.replaceOrder('ts', { trail_price: 5 })
  t.same([rt.order.hwm, rt.order.stop_price], ['105.00', '100.00'], 'trails 5 below the best close seen, 105')
  const ev = steps(e, 1) // O 104 L 94: p-sl-r1 (95) and ts-r1 (100) trigger; target 120 not reached
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price]), [['p-sl-r1', '95.00'], ['ts-r1', '100.00']])
  t.same(updates(ev).filter((u) => u.order_id === 'p-tp').map((u) => [u.status, u.reason]), [['cancelled', 'one-cancels-other: p-sl-r1 filled']])
})
