// docs/fill-policy.md §2 "Time and events" at its edges: the stamp of a daily step whose symbols' markets
// close at different times (the latest wins, whichever symbol it is), the stamps of fills at the open and
// inside such a bar, and the market_session of intraday ticks through an early-close day and its evening.
import t from 'tap'
import { calendarKindOf, nominalSessionNum } from '../../../server/market-data/calendar.js'
import { buildTimeline } from '../../../server/simulation/timeline.js'
import { fromDayNumber } from '../../../server/market-data/dates.js'
import type { Market } from '../../../schemas/market-data.js'
import type { TickData } from '../../../schemas/simulation.js'
import { engineFor, executions, flat, nyseSessionAt, order, steps, submit, timedSeries, type Ohlc } from './bars.js'

/** The engine's dailyCloseAt as the market-data service answers it, for symbols on the given markets. */
function closesOf (markets: readonly Market[]): (symbolIndex: number, day: number) => number {
  return (i, day) => nominalSessionNum(calendarKindOf(markets[i]), fromDayNumber(day)).close
}

/** Daily bars of several symbols that all start at the same instants (e.g. a CSV stamped at one time). */
function sharedDaily (symbols: readonly string[], rows: ReadonlyArray<readonly [string, Ohlc]>): ReturnType<typeof timedSeries>[] {
  return symbols.map((s) => timedSeries(s, '1d', rows, (ms) => Number(new Date(ms).toISOString().slice(0, 10).replaceAll('-', ''))))
}

function ticksOf (events: ReturnType<typeof steps>): TickData[] {
  return events.flatMap((e) => (e.type === 'tick' ? [e.data] : []))
}

const FRIDAY_AFTER_THANKSGIVING: Array<[string, Ohlc]> = [['2023-11-24T14:30:00Z', [100, 102, 98, 101]], ['2023-11-27T14:30:00Z', [100, 102, 98, 101]]]

t.test('a daily step of an NYSE and a crypto symbol closes at the later close: crypto midnight UTC, not NYSE\'s early 13:00', async (t) => {
  const e = engineFor(sharedDaily(['AAA', 'BTC'], FRIDAY_AFTER_THANKSGIVING), { dailyCloseAt: closesOf(['NYSE', 'CRYPTO']) })
  t.same(ticksOf(steps(e, 2)).map((k) => k.sim_time), ['2023-11-25T00:00:00.000Z', '2023-11-28T00:00:00.000Z'])
})

t.test('the latest close wins whatever the order of the symbols (the later market listed first)', async (t) => {
  const e = engineFor(sharedDaily(['BTC', 'AAA'], FRIDAY_AFTER_THANKSGIVING), { dailyCloseAt: closesOf(['CRYPTO', 'NYSE']) })
  t.same(ticksOf(steps(e, 1)).map((k) => k.sim_time), ['2023-11-25T00:00:00.000Z'])
})

t.test('with three markets the latest close is the middle symbol\'s: forex 17:00 New York after NYSE 16:00 and NASDAQ 16:00', async (t) => {
  const rows: Array<[string, Ohlc]> = [['2023-11-22T14:30:00Z', flat(100)]]
  const e = engineFor(sharedDaily(['AAA', 'EURUSD', 'BBB'], rows), { dailyCloseAt: closesOf(['NYSE', 'FOREX', 'NASDAQ']) })
  t.same(ticksOf(steps(e, 1)).map((k) => k.sim_time), ['2023-11-22T22:00:00.000Z'])
})

t.test('a daily step of one market alone closes at that market\'s close (NYSE early close 18:00Z)', async (t) => {
  const e = engineFor(sharedDaily(['AAA', 'BBB'], FRIDAY_AFTER_THANKSGIVING), { dailyCloseAt: closesOf(['NYSE', 'NASDAQ']) })
  t.same(ticksOf(steps(e, 1)).map((k) => k.sim_time), ['2023-11-24T18:00:00.000Z'])
})

t.test('inside a mixed daily step, a fill at the open carries the bar start and a fill inside the bar the latest close', async (t) => {
  const e = engineFor(sharedDaily(['AAA', 'BTC'], FRIDAY_AFTER_THANKSGIVING), { dailyCloseAt: closesOf(['NYSE', 'CRYPTO']) })
  submit(e, [order({ order_id: 'm' }), order({ order_id: 'l', type: 'limit', price: 99 })])
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.execution_time]), [
    ['m', '2023-11-24T14:30:00.000Z'],
    ['l', '2023-11-25T00:00:00.000Z']
  ])
})

t.test('an order placed after a mixed daily step is created at its close, and the equity curve point carries it', async (t) => {
  const e = engineFor(sharedDaily(['AAA', 'BTC'], FRIDAY_AFTER_THANKSGIVING), { dailyCloseAt: closesOf(['NYSE', 'CRYPTO']) })
  steps(e, 1)
  t.equal(e.order(submit(e, [order({ order_id: 'x', type: 'limit', price: 1, time_in_force: 'gtc' })]).ack.accepted_orders[0]).created_at, '2023-11-25T00:00:00.000Z')
  steps(e)
  t.same(e.results().equity_curve.map((p) => [p.date, p.sim_time]), [['2023-11-24', '2023-11-25T00:00:00.000Z'], ['2023-11-27', '2023-11-28T00:00:00.000Z']])
})

t.test('without a calendar a daily step closes 24 h after its bar start', async (t) => {
  const e = engineFor(sharedDaily(['AAA', 'BTC'], FRIDAY_AFTER_THANKSGIVING))
  t.same(ticksOf(steps(e, 1)).map((k) => k.sim_time), ['2023-11-25T14:30:00.000Z'])
})

t.test('an intraday step closes one bar length after its start whatever dailyCloseAt says', async (t) => {
  const e = engineFor(timedSeries('AAA', '1m', [['2023-11-24T17:59:00Z', flat(100)]]), { dailyCloseAt: () => 0 })
  t.same(ticksOf(steps(e, 1)).map((k) => k.sim_time), ['2023-11-24T18:00:00.000Z'])
})

t.test('a step whose bars belong to different trading days carries the latest of them, whichever symbol has it', async (t) => {
  // 2023-11-21 22:00Z: an hourly crypto bar of the 21st (UTC day) and the first forex bar of the 22nd (17:00 New York)
  const crypto = timedSeries('BTC', '1h', [['2023-11-21T22:00:00Z', flat(1)]], () => 20231121)
  const forex = timedSeries('EURUSD', '1h', [['2023-11-21T22:00:00Z', flat(1)]], () => 20231122)
  t.same([buildTimeline([crypto, forex]).day[0], buildTimeline([forex, crypto]).day[0]], [20231122, 20231122])
})

// ── market_session of intraday ticks through an early-close day ──────────────────────────────────

t.test('market_session of minute ticks on 2023-11-24 (13:00 close): pre to 09:29, regular to 12:59, after-hours to 16:59, then closed', async (t) => {
  // New York = UTC−5. Bars at 03:59, 04:00, 09:29, 09:30, 12:59, 13:00, 16:59, 17:00, 19:59 New York.
  const times = ['08:59', '09:00', '14:29', '14:30', '17:59', '18:00', '21:59', '22:00', '00:59']
  const rows: Array<[string, Ohlc]> = times.map((hm, i) => [`2023-11-${i === 8 ? '25' : '24'}T${hm}:00Z`, flat(100)])
  const e = engineFor(timedSeries('AAA', '1m', rows), { marketSessionAt: nyseSessionAt })
  t.same(ticksOf(steps(e)).map((k) => k.market_session), [
    'closed', 'pre_market', 'pre_market', 'regular', 'regular', 'after_hours', 'after_hours', 'closed', 'closed'
  ])
})

t.test('market_session of a full day\'s evening: after-hours through 19:59, closed from 20:00 New York', async (t) => {
  const rows: Array<[string, Ohlc]> = [['2023-11-22T20:59:00Z', flat(1)], ['2023-11-22T21:00:00Z', flat(1)], ['2023-11-23T00:59:00Z', flat(1)], ['2023-11-23T01:00:00Z', flat(1)]]
  const e = engineFor(timedSeries('AAA', '1m', rows), { marketSessionAt: nyseSessionAt })
  t.same(ticksOf(steps(e)).map((k) => k.market_session), ['regular', 'after_hours', 'after_hours', 'closed'])
})

t.test('market_session is the first trading symbol\'s, not a later one\'s', async (t) => {
  const a = timedSeries('AAA', '1m', [['2023-11-24T18:00:00Z', flat(1)]])
  const b = timedSeries('BBB', '1m', [['2023-11-24T18:00:00Z', flat(1)]])
  const session = (i: number, ms: number): TickData['market_session'] => (i === 0 ? nyseSessionAt(i, ms) : 'regular')
  t.same(ticksOf(steps(engineFor([a, b], { marketSessionAt: session }))).map((k) => k.market_session), ['after_hours'])
})
