import t, { type Test } from 'tap'
import { DemoBarSource, DEMO_SPECS } from '../../../server/market-data/sources/demo.js'
import type { BarSeries } from '../../../server/market-data/bar-series.js'
import { sessionBounds } from '../../../server/market-data/calendar.js'

const clock2025 = (): number => Date.parse('2025-06-15T12:00:00Z')
const demo = new DemoBarSource({ now: clock2025 })

/** Asserts the minute bars of each day aggregate exactly to that day's daily bar. */
function assertAggregates (t: Test, daily: BarSeries, minutes: BarSeries): void {
  let i = 0
  for (let k = 0; k < daily.length; k++) {
    let hi = -Infinity
    let lo = Infinity
    let vol = 0
    const first = i
    while (i < minutes.length && minutes.day[i] === daily.day[k]) {
      if (minutes.high[i] > hi) hi = minutes.high[i]
      if (minutes.low[i] < lo) lo = minutes.low[i]
      vol += minutes.volume[i]
      i++
    }
    const last = i - 1
    t.ok(last >= first, `day ${daily.day[k]} has minutes`)
    t.equal(minutes.open[first], daily.open[k], `open ${daily.day[k]}`)
    t.equal(minutes.close[last], daily.close[k], `close ${daily.day[k]}`)
    t.equal(hi, daily.high[k], `high ${daily.day[k]}`)
    t.equal(lo, daily.low[k], `low ${daily.day[k]}`)
    t.equal(vol, daily.volume[k], `volume ${daily.day[k]}`)
  }
  t.equal(i, minutes.length, 'no minute outside the days')
}

t.test('the demo lists at least 20 stocks/ETFs, 6 forex pairs and 5 crypto pairs, all synthetic', async (t) => {
  const list = demo.listSymbols()
  t.ok(list.filter((s) => s.asset_class === 'stock').length >= 20)
  t.equal(list.filter((s) => s.asset_class === 'forex').length, 6)
  t.equal(list.filter((s) => s.asset_class === 'crypto').length, 5)
  t.ok(list.every((s) => s.synthetic && s.source === 'demo'))
  t.equal(list.length, DEMO_SPECS.length)
})

t.test('demo availability runs from the first 2010 trading day to Dec 31 of last year', async (t) => {
  const aapl = demo.listSymbols().find((s) => s.symbol === 'AAPL')!
  t.same(aapl.timeframes.find((x) => x.timeframe === '1d'), { timeframe: '1d', first_date: '2010-01-04', last_date: '2024-12-31' })
  const btc = demo.listSymbols().find((s) => s.symbol === 'BTC/USD')!
  t.equal(btc.timeframes[0].first_date, '2010-01-01')
})

t.test('the same request gives identical bars from two independent sources', async (t) => {
  const a = new DemoBarSource({ now: clock2025 }).loadSeriesSync('MSFT', '1d', '2015-01-01', '2015-12-31')
  const b = new DemoBarSource({ now: clock2025 }).loadSeriesSync('MSFT', '1d', '2015-01-01', '2015-12-31')
  t.same(Array.from(a.close), Array.from(b.close))
  t.same(Array.from(a.volume), Array.from(b.volume))
  const m1 = new DemoBarSource({ now: clock2025 }).loadSeriesSync('MSFT', '1m', '2015-03-02', '2015-03-02')
  const m2 = new DemoBarSource({ now: clock2025 }).loadSeriesSync('MSFT', '1m', '2015-03-02', '2015-03-02')
  t.same(Array.from(m1.close), Array.from(m2.close))
})

t.test('moving the clock a year on extends the data without changing earlier bars', async (t) => {
  const later = new DemoBarSource({ now: () => Date.parse('2026-03-01T00:00:00Z') })
  const a = demo.loadSeriesSync('NVDA', '1d', '2010-01-01', '2024-12-31')
  const b = later.loadSeriesSync('NVDA', '1d', '2010-01-01', '2024-12-31')
  t.same(Array.from(b.open), Array.from(a.open))
  t.same(Array.from(b.close), Array.from(a.close))
  t.ok(later.loadSeriesSync('NVDA', '1d', '2025-01-01', '2025-12-31').length > 200)
})

t.test('different symbols get different walks', async (t) => {
  const a = demo.loadSeriesSync('KO', '1d', '2020-01-01', '2020-01-31')
  const b = demo.loadSeriesSync('PG', '1d', '2020-01-01', '2020-01-31')
  t.not(a.close[5] / a.close[0], b.close[5] / b.close[0])
})

t.test('daily bars are consistent OHLC on the tick grid, stamped at the NYSE open', async (t) => {
  const d = demo.loadSeriesSync('AAPL', '1d', '2023-01-01', '2023-12-31')
  t.equal(d.length, 250)
  for (let i = 0; i < d.length; i++) {
    if (!(d.high[i] >= Math.max(d.open[i], d.close[i]) && d.low[i] <= Math.min(d.open[i], d.close[i]) && d.low[i] > 0)) t.fail(`bar ${i} inconsistent`)
    if (Math.abs(d.close[i] * 100 - Math.round(d.close[i] * 100)) > 1e-6) t.fail(`bar ${i} off the 0.01 grid`)
    if (!Number.isInteger(d.volume[i])) t.fail(`bar ${i} volume not integer`)
  }
  t.equal(new Date(d.time[0]).toISOString(), '2023-01-03T14:30:00.000Z')
})

t.test('forex daily bars start at 17:00 New York of the previous day; crypto at 00:00 UTC', async (t) => {
  const fx = demo.loadSeriesSync('EUR/USD', '1d', '2023-07-10', '2023-07-10')
  t.equal(new Date(fx.time[0]).toISOString(), '2023-07-09T21:00:00.000Z')
  const c = demo.loadSeriesSync('BTC/USD', '1d', '2023-07-08', '2023-07-09')
  t.equal(c.length, 2)
  t.equal(new Date(c.time[0]).toISOString(), '2023-07-08T00:00:00.000Z')
})

t.test('stock minute bars aggregate exactly to the daily bars', async (t) => {
  for (const sym of ['AAPL', 'BRK.B', 'SPY']) {
    const daily = demo.loadSeriesSync(sym, '1d', '2023-03-06', '2023-03-10')
    const minutes = demo.loadSeriesSync(sym, '1m', '2023-03-06', '2023-03-10')
    t.equal(minutes.length, 5 * 390, sym)
    assertAggregates(t, daily, minutes)
  }
})

t.test('an early-close day has 210 minutes ending at 13:00 and still aggregates exactly', async (t) => {
  const daily = demo.loadSeriesSync('JPM', '1d', '2023-11-24', '2023-11-24')
  const minutes = demo.loadSeriesSync('JPM', '1m', '2023-11-24', '2023-11-24')
  t.equal(minutes.length, 210)
  t.equal(minutes.time[minutes.length - 1] + 60_000, sessionBounds('NYSE', '2023-11-24')!.close)
  assertAggregates(t, daily, minutes)
})

t.test('forex and crypto minute bars cover the whole day and aggregate exactly', async (t) => {
  for (const [sym, date] of [['USD/JPY', '2023-07-10'], ['EUR/USD', '2024-02-14'], ['BTC/USD', '2023-07-08'], ['XRP/USD', '2021-05-01']] as const) {
    const daily = demo.loadSeriesSync(sym, '1d', date, date)
    const minutes = demo.loadSeriesSync(sym, '1m', date, date)
    t.equal(minutes.length, 1440, sym)
    t.equal(minutes.time[0], daily.time[0], `${sym} first minute at the day's open`)
    assertAggregates(t, daily, minutes)
  }
})

t.test('hourly bars are exact aggregations of minutes, aligned to 09:30 with a short last bar', async (t) => {
  const minutes = demo.loadSeriesSync('TSLA', '1m', '2023-07-03', '2023-07-05')
  const hours = demo.loadSeriesSync('TSLA', '1h', '2023-07-03', '2023-07-05')
  t.equal(hours.length, 4 + 7) // early close 07-03, holiday 07-04, full day 07-05
  t.equal(new Date(hours.time[0]).toISOString(), '2023-07-03T13:30:00.000Z')
  t.equal(new Date(hours.time[10]).toISOString(), '2023-07-05T19:30:00.000Z')
  let i = 0
  for (let h = 0; h < hours.length; h++) {
    const end = h + 1 < hours.length && hours.day[h + 1] === hours.day[h] ? hours.time[h + 1] : Infinity
    let hi = -Infinity
    let lo = Infinity
    let vol = 0
    const first = i
    while (i < minutes.length && minutes.time[i] < end && minutes.day[i] === hours.day[h]) {
      hi = Math.max(hi, minutes.high[i])
      lo = Math.min(lo, minutes.low[i])
      vol += minutes.volume[i]
      i++
    }
    t.equal(hours.open[h], minutes.open[first])
    t.equal(hours.close[h], minutes.close[i - 1])
    t.equal(hours.high[h], hi)
    t.equal(hours.low[h], lo)
    t.equal(hours.volume[h], vol)
  }
})

t.test('a year of minute bars for one stock generates well under a second', async (t) => {
  const fresh = new DemoBarSource({ now: clock2025 })
  const t0 = performance.now()
  const m = fresh.loadSeriesSync('AMD', '1m', '2024-01-01', '2024-12-31')
  const ms = performance.now() - t0
  t.equal(m.length, 252 * 390 - 3 * 180) // three 13:00 closes in 2024
  t.ok(ms < 1000, `took ${ms.toFixed(0)} ms`)
})

t.test('hourly bars over more than a month (generated a month at a time) aggregate to every daily bar', async (t) => {
  const daily = demo.loadSeriesSync('MSFT', '1d', '2023-01-03', '2023-03-31')
  const hours = demo.loadSeriesSync('MSFT', '1h', '2023-01-03', '2023-03-31')
  t.equal(daily.length, 62, 'more trading days than one 31-day chunk holds')
  t.equal(hours.length, 62 * 7, 'seven hourly bars on each full NYSE day')
  const perDay = new Map<number, { open: number, close: number, high: number, low: number, volume: number, n: number }>()
  for (let i = 0; i < hours.length; i++) {
    const d = perDay.get(hours.day[i])
    if (d === undefined) perDay.set(hours.day[i], { open: hours.open[i], close: hours.close[i], high: hours.high[i], low: hours.low[i], volume: hours.volume[i], n: 1 })
    else Object.assign(d, { close: hours.close[i], high: Math.max(d.high, hours.high[i]), low: Math.min(d.low, hours.low[i]), volume: d.volume + hours.volume[i], n: d.n + 1 })
  }
  const mismatched = Array.from(daily.day).filter((day, k) => {
    const d = perDay.get(day)
    return d === undefined || d.n !== 7 || d.open !== daily.open[k] || d.close !== daily.close[k] || d.high !== daily.high[k] || d.low !== daily.low[k] || d.volume !== daily.volume[k]
  })
  t.same(mismatched, [], 'each day\'s hours give its open, close, high, low and volume')
  t.equal(perDay.size, daily.length, 'no hour outside the days')
  t.ok(hours.time.every((x, i) => i === 0 || x > hours.time[i - 1]), 'strictly increasing across chunk boundaries')
})

t.test('the demo source refuses impossible dates and symbols it does not hold', async (t) => {
  t.throws(() => demo.loadSeriesSync('AAPL', '1d', '2023-02-30', '2023-03-31'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', message: /2023-02-30/ })
  t.throws(() => demo.loadSeriesSync('AAPL', '1m', '2023-01-03', '2023-1-4'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', message: /2023-1-4/ })
  await t.rejects(demo.loadSeries('ZZZZ', '1d', '2023-01-03', '2023-01-04'), { name: 'AppError', error_code: 'INVALID_SYMBOL', message: /ZZZZ/ })
})
