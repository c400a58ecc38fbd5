import t from 'tap'
import {
  isTradingDay, sessionBounds, marketSessionAt, countTradingSessions, tradingDays, countBarSlots, countUnionTradingDays
} from '../../../server/market-data/calendar.js'
import { parseDate } from '../../../server/market-data/dates.js'

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('NYSE is closed on Good Friday 2023 (Easter computed)', async (t) => {
  t.equal(isTradingDay('NYSE', '2023-04-07'), false)
  t.equal(isTradingDay('NYSE', '2023-04-06'), true)
  t.equal(isTradingDay('NYSE', '2024-03-29'), false)
})

t.test('NYSE closes at 13:00 New York (17:00Z) on 2023-07-03', async (t) => {
  const b = sessionBounds('NYSE', '2023-07-03')
  t.ok(b)
  t.equal(iso(b!.close), '2023-07-03T17:00:00.000Z')
  t.equal(b!.early_close, true)
})

t.test('the day after Thanksgiving 2023 closes early and Thanksgiving is closed', async (t) => {
  t.equal(isTradingDay('NYSE', '2023-11-23'), false)
  const b = sessionBounds('NYSE', '2023-11-24')
  t.equal(b!.early_close, true)
  t.equal(iso(b!.close), '2023-11-24T18:00:00.000Z') // 13:00 EST
})

t.test('Juneteenth: open in 2021, closed from 2022 (observed Monday 2022-06-20)', async (t) => {
  t.equal(isTradingDay('NYSE', '2021-06-18'), true)
  t.equal(isTradingDay('NYSE', '2022-06-20'), false)
  t.equal(isTradingDay('NYSE', '2023-06-19'), false)
})

t.test('special closures: Carter funeral 2025-01-09, Hurricane Sandy, 9/11', async (t) => {
  for (const d of ['2025-01-09', '2012-10-29', '2012-10-30', '2001-09-11', '2001-09-14', '2018-12-05', '2007-01-02', '2004-06-11']) {
    t.equal(isTradingDay('NYSE', d), false, d)
  }
})

t.test('New Year on a Saturday is not observed on the Friday before; on a Sunday it moves to Monday', async (t) => {
  t.equal(isTradingDay('NYSE', '2021-12-31'), true)
  t.equal(isTradingDay('NYSE', '2023-01-02'), false)
})

t.test('Christmas and July 4 on a weekend move to the nearest weekday', async (t) => {
  t.equal(isTradingDay('NYSE', '2021-12-24'), false) // Christmas 2021 was a Saturday
  t.equal(isTradingDay('NYSE', '2022-12-26'), false) // Christmas 2022 was a Sunday
  t.equal(isTradingDay('NYSE', '2020-07-03'), false) // July 4 2020 was a Saturday
})

t.test('Christmas Eve on a weekday closes early; 2002 closed early on July 5 rather than July 3', async (t) => {
  t.equal(sessionBounds('NYSE', '2024-12-24')!.early_close, true)
  t.equal(sessionBounds('NYSE', '2002-07-03')!.early_close, false)
  t.equal(sessionBounds('NYSE', '2002-07-05')!.early_close, true)
  t.equal(sessionBounds('NYSE', '2019-07-03')!.early_close, true)
})

t.test('trading-day counts per year match the published NYSE calendars', async (t) => {
  t.equal(countTradingSessions('NYSE', '2022-01-01', '2022-12-31'), 251)
  t.equal(countTradingSessions('NYSE', '2023-01-01', '2023-12-31'), 250)
  t.equal(countTradingSessions('NYSE', '2024-01-01', '2024-12-31'), 252)
  t.equal(countTradingSessions('NYSE', '2012-01-01', '2012-12-31'), 250)
})

t.test('regular open is 14:30Z in winter and 13:30Z in summer (DST)', async (t) => {
  t.equal(iso(sessionBounds('NYSE', '2023-01-17')!.open), '2023-01-17T14:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2023-07-17')!.open), '2023-07-17T13:30:00.000Z')
})

t.test('DST switches on the 2007+ dates and on the pre-2007 dates', async (t) => {
  t.equal(iso(sessionBounds('NYSE', '2023-03-10')!.open), '2023-03-10T14:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2023-03-13')!.open), '2023-03-13T13:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2023-11-03')!.open), '2023-11-03T13:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2023-11-06')!.open), '2023-11-06T14:30:00.000Z')
  // 2005: DST from the first Sunday of April (Apr 3) to the last Sunday of October (Oct 30).
  t.equal(iso(sessionBounds('NYSE', '2005-04-01')!.open), '2005-04-01T14:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2005-04-04')!.open), '2005-04-04T13:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2005-10-28')!.open), '2005-10-28T13:30:00.000Z')
  t.equal(iso(sessionBounds('NYSE', '2005-10-31')!.open), '2005-10-31T14:30:00.000Z')
})

t.test('NYSE market session at instants: pre, regular, after, closed', async (t) => {
  t.equal(marketSessionAt('NYSE', Date.parse('2023-01-17T09:00:00Z')), 'pre') // 04:00 ET
  t.equal(marketSessionAt('NYSE', Date.parse('2023-01-17T08:59:00Z')), 'closed')
  t.equal(marketSessionAt('NYSE', Date.parse('2023-01-17T14:30:00Z')), 'regular')
  t.equal(marketSessionAt('NYSE', Date.parse('2023-01-17T21:00:00Z')), 'after')
  t.equal(marketSessionAt('NYSE', Date.parse('2023-01-18T01:00:00Z')), 'closed')
  t.equal(marketSessionAt('NYSE', Date.parse('2023-07-03T17:30:00Z')), 'after') // after an early close
  t.equal(marketSessionAt('NYSE', Date.parse('2023-04-07T15:00:00Z')), 'closed') // Good Friday
})

t.test('forex closes Friday 17:00 New York and reopens Sunday 17:00', async (t) => {
  t.equal(marketSessionAt('FOREX', Date.parse('2023-01-06T21:59:00Z')), 'regular')
  t.equal(marketSessionAt('FOREX', Date.parse('2023-01-06T22:00:00Z')), 'closed')
  t.equal(marketSessionAt('FOREX', Date.parse('2023-01-07T12:00:00Z')), 'closed')
  t.equal(marketSessionAt('FOREX', Date.parse('2023-01-08T21:59:00Z')), 'closed')
  t.equal(marketSessionAt('FOREX', Date.parse('2023-01-08T22:00:00Z')), 'regular')
  // Summer: 17:00 New York is 21:00Z.
  t.equal(marketSessionAt('FOREX', Date.parse('2023-07-07T21:00:00Z')), 'closed')
  t.equal(marketSessionAt('FOREX', Date.parse('2023-07-07T20:59:00Z')), 'regular')
})

t.test('a forex day runs 17:00→17:00 New York and carries the date it ends on', async (t) => {
  const monday = sessionBounds('FOREX', '2023-01-09')!
  t.equal(iso(monday.open), '2023-01-08T22:00:00.000Z')
  t.equal(iso(monday.close), '2023-01-09T22:00:00.000Z')
  t.equal(sessionBounds('FOREX', '2023-01-08'), null)
  t.equal(isTradingDay('FOREX', '2023-12-25'), false)
  t.equal(isTradingDay('FOREX', '2024-01-01'), false)
})

t.test('crypto trades every day including weekends, on UTC days', async (t) => {
  t.equal(isTradingDay('CRYPTO', '2023-01-07'), true)
  t.equal(countTradingSessions('CRYPTO', '2023-01-01', '2023-12-31'), 365)
  const b = sessionBounds('CRYPTO', '2023-01-07')!
  t.equal(iso(b.open), '2023-01-07T00:00:00.000Z')
  t.equal(b.close - b.open, 86_400_000)
  t.equal(marketSessionAt('CRYPTO', Date.parse('2023-01-07T03:00:00Z')), 'regular')
})

t.test('tradingDays lists the open dates of a range', async (t) => {
  t.same(tradingDays('NYSE', '2023-04-05', '2023-04-11'), ['2023-04-05', '2023-04-06', '2023-04-10', '2023-04-11'])
})

t.test('malformed dates are refused with INVALID_DATE_RANGE', async (t) => {
  t.throws(() => isTradingDay('NYSE', '2023-02-30'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE' })
})

t.test('bar-slot counting: NYSE minutes and hours including an early close', async (t) => {
  const d = parseDate('2023-07-03')!
  t.equal(countBarSlots(['nyse'], d, d, 60_000), 210)
  t.equal(countBarSlots(['nyse'], d, d, 3_600_000), 4) // 09:30, 10:30, 11:30, 12:30
  const full = parseDate('2023-07-05')!
  t.equal(countBarSlots(['nyse'], full, full, 3_600_000), 7)
})

t.test('bar-slot union: NYSE minutes are inside crypto minutes, NYSE hours are not on crypto hours', async (t) => {
  const d = parseDate('2023-07-05')!
  t.equal(countBarSlots(['nyse', 'crypto'], d, d, 60_000), 1440)
  t.equal(countBarSlots(['nyse', 'crypto'], d, d, 3_600_000), 24 + 7)
  // Forex day of 07-05 starts 07-04 21:00Z; crypto covers 07-05 only: union spans 07-04 21:00Z..07-06 00:00Z.
  t.equal(countBarSlots(['forex', 'crypto'], d, d, 3_600_000), 27)
})

t.test('union of trading days across calendars', async (t) => {
  const a = parseDate('2023-04-07')! // Good Friday: forex trades, NYSE does not
  t.equal(countUnionTradingDays(['nyse'], a, a + 2), 0)
  t.equal(countUnionTradingDays(['nyse', 'forex'], a, a + 2), 1)
  t.equal(countUnionTradingDays(['nyse', 'crypto'], a, a + 2), 3)
})
