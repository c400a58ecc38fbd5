// The NYSE calendar (server/market-data/calendar.ts) against the exchange's own history, year by year from
// 2000 (the first year whose special closures the calendar lists) to 2027 (the last year NYSE has published).
// Every day of every year is compared: open or closed, and 13:00 early close or not.
//
// Source of the table: NYSE's published "Holidays & Trading Hours" calendars (nyse.com/markets/hours-calendars,
// 2000–2027 editions) and its historical list of closings ("NYSE Closings", the reference pandas_market_calendars
// cites in holidays_nyse.py). Written out by hand as data, not derived from rules, so a rule that is wrong in
// one year shows up in that year.
import t from 'tap'
import { countTradingSessions, isTradingDay, sessionBounds } from '../../../server/market-data/calendar.js'

interface NyseYear {
  /** Weekdays the exchange was closed (MM-DD): holidays as observed, and unscheduled closures. */
  readonly closed: readonly string[]
  /** Weekdays the regular session closed at 13:00 New York (MM-DD). */
  readonly early: readonly string[]
  /** Trading sessions in the year, as NYSE counts them. */
  readonly sessions: number
}

// Holidays: New Year's Day, Martin Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day,
// Juneteenth (from 2022), Independence Day, Labor Day, Thanksgiving, Christmas, each as observed (Saturday →
// Friday, Sunday → Monday, but a Saturday New Year's Day is not observed). Closures: 2001-09-11…14 (attacks),
// 2004-06-11 (Reagan), 2007-01-02 (Ford), 2012-10-29/30 (Hurricane Sandy), 2018-12-05 (G. H. W. Bush),
// 2025-01-09 (Carter). Early closes: July 3 on a Monday, Tuesday or Thursday; a Wednesday July 3 traded a full
// day before 2013 (the Friday July 5 closed early instead, 2002) and closes early since 2013 (2013, 2019, 2024);
// the day after Thanksgiving; Christmas Eve Monday–Thursday; and 2003-12-26.
const NYSE: Readonly<Record<number, NyseYear>> = {
  2000: { closed: ['01-17', '02-21', '04-21', '05-29', '07-04', '09-04', '11-23', '12-25'], early: ['07-03', '11-24'], sessions: 252 },
  2001: { closed: ['01-01', '01-15', '02-19', '04-13', '05-28', '07-04', '09-03', '09-11', '09-12', '09-13', '09-14', '11-22', '12-25'], early: ['07-03', '11-23', '12-24'], sessions: 248 },
  2002: { closed: ['01-01', '01-21', '02-18', '03-29', '05-27', '07-04', '09-02', '11-28', '12-25'], early: ['07-05', '11-29', '12-24'], sessions: 252 },
  2003: { closed: ['01-01', '01-20', '02-17', '04-18', '05-26', '07-04', '09-01', '11-27', '12-25'], early: ['07-03', '11-28', '12-24', '12-26'], sessions: 252 },
  2004: { closed: ['01-01', '01-19', '02-16', '04-09', '05-31', '06-11', '07-05', '09-06', '11-25', '12-24'], early: ['11-26'], sessions: 252 },
  2005: { closed: ['01-17', '02-21', '03-25', '05-30', '07-04', '09-05', '11-24', '12-26'], early: ['11-25'], sessions: 252 },
  2006: { closed: ['01-02', '01-16', '02-20', '04-14', '05-29', '07-04', '09-04', '11-23', '12-25'], early: ['07-03', '11-24'], sessions: 251 },
  2007: { closed: ['01-01', '01-02', '01-15', '02-19', '04-06', '05-28', '07-04', '09-03', '11-22', '12-25'], early: ['07-03', '11-23', '12-24'], sessions: 251 },
  2008: { closed: ['01-01', '01-21', '02-18', '03-21', '05-26', '07-04', '09-01', '11-27', '12-25'], early: ['07-03', '11-28', '12-24'], sessions: 253 },
  2009: { closed: ['01-01', '01-19', '02-16', '04-10', '05-25', '07-03', '09-07', '11-26', '12-25'], early: ['11-27', '12-24'], sessions: 252 },
  2010: { closed: ['01-01', '01-18', '02-15', '04-02', '05-31', '07-05', '09-06', '11-25', '12-24'], early: ['11-26'], sessions: 252 },
  2011: { closed: ['01-17', '02-21', '04-22', '05-30', '07-04', '09-05', '11-24', '12-26'], early: ['11-25'], sessions: 252 },
  2012: { closed: ['01-02', '01-16', '02-20', '04-06', '05-28', '07-04', '09-03', '10-29', '10-30', '11-22', '12-25'], early: ['07-03', '11-23', '12-24'], sessions: 250 },
  2013: { closed: ['01-01', '01-21', '02-18', '03-29', '05-27', '07-04', '09-02', '11-28', '12-25'], early: ['07-03', '11-29', '12-24'], sessions: 252 },
  2014: { closed: ['01-01', '01-20', '02-17', '04-18', '05-26', '07-04', '09-01', '11-27', '12-25'], early: ['07-03', '11-28', '12-24'], sessions: 252 },
  2015: { closed: ['01-01', '01-19', '02-16', '04-03', '05-25', '07-03', '09-07', '11-26', '12-25'], early: ['11-27', '12-24'], sessions: 252 },
  2016: { closed: ['01-01', '01-18', '02-15', '03-25', '05-30', '07-04', '09-05', '11-24', '12-26'], early: ['11-25'], sessions: 252 },
  2017: { closed: ['01-02', '01-16', '02-20', '04-14', '05-29', '07-04', '09-04', '11-23', '12-25'], early: ['07-03', '11-24'], sessions: 251 },
  2018: { closed: ['01-01', '01-15', '02-19', '03-30', '05-28', '07-04', '09-03', '11-22', '12-05', '12-25'], early: ['07-03', '11-23', '12-24'], sessions: 251 },
  2019: { closed: ['01-01', '01-21', '02-18', '04-19', '05-27', '07-04', '09-02', '11-28', '12-25'], early: ['07-03', '11-29', '12-24'], sessions: 252 },
  2020: { closed: ['01-01', '01-20', '02-17', '04-10', '05-25', '07-03', '09-07', '11-26', '12-25'], early: ['11-27', '12-24'], sessions: 253 },
  2021: { closed: ['01-01', '01-18', '02-15', '04-02', '05-31', '07-05', '09-06', '11-25', '12-24'], early: ['11-26'], sessions: 252 },
  2022: { closed: ['01-17', '02-21', '04-15', '05-30', '06-20', '07-04', '09-05', '11-24', '12-26'], early: ['11-25'], sessions: 251 },
  2023: { closed: ['01-02', '01-16', '02-20', '04-07', '05-29', '06-19', '07-04', '09-04', '11-23', '12-25'], early: ['07-03', '11-24'], sessions: 250 },
  2024: { closed: ['01-01', '01-15', '02-19', '03-29', '05-27', '06-19', '07-04', '09-02', '11-28', '12-25'], early: ['07-03', '11-29', '12-24'], sessions: 252 },
  2025: { closed: ['01-01', '01-09', '01-20', '02-17', '04-18', '05-26', '06-19', '07-04', '09-01', '11-27', '12-25'], early: ['07-03', '11-28', '12-24'], sessions: 250 },
  2026: { closed: ['01-01', '01-19', '02-16', '04-03', '05-25', '06-19', '07-03', '09-07', '11-26', '12-25'], early: ['11-27', '12-24'], sessions: 251 },
  2027: { closed: ['01-01', '01-18', '02-15', '03-26', '05-31', '06-18', '07-05', '09-06', '11-25', '12-24'], early: ['11-26'], sessions: 251 }
}

const DAY_MS = 86_400_000

/** Every date of a year as YYYY-MM-DD with its weekday (0 = Sunday), from UTC arithmetic alone. */
function datesOf (year: number): Array<{ date: string, weekday: number }> {
  const out: Array<{ date: string, weekday: number }> = []
  for (let ms = Date.UTC(year, 0, 1); ms < Date.UTC(year + 1, 0, 1); ms += DAY_MS) {
    const d = new Date(ms)
    out.push({ date: d.toISOString().slice(0, 10), weekday: d.getUTCDay() })
  }
  return out
}

for (const [yearText, expected] of Object.entries(NYSE)) {
  const year = Number(yearText)
  t.test(`${year}: every day open or closed and closing at 13:00 exactly as NYSE published`, async (t) => {
    const closed = new Set(expected.closed.map((md) => `${year}-${md}`))
    const early = new Set(expected.early.map((md) => `${year}-${md}`))
    const wrongOpen: string[] = []
    const wrongEarly: string[] = []
    for (const { date, weekday } of datesOf(year)) {
      const open = weekday !== 0 && weekday !== 6 && !closed.has(date)
      if (isTradingDay('NYSE', date) !== open) wrongOpen.push(`${date} ${open ? 'open' : 'closed'}`)
      const bounds = sessionBounds('NYSE', date)
      if ((bounds?.early_close ?? false) !== early.has(date)) wrongEarly.push(`${date} ${early.has(date) ? 'early' : 'full day'}`)
    }
    t.same(wrongOpen, [], 'days whose open/closed state differs from the exchange (expected state shown)')
    t.same(wrongEarly, [], 'days whose early close differs from the exchange (expected shown)')
    t.equal(countTradingSessions('NYSE', `${year}-01-01`, `${year}-12-31`), expected.sessions, 'sessions in the year')
  })
}

t.test('the table itself: holidays fall on weekdays and early closes on trading days', async (t) => {
  for (const [yearText, y] of Object.entries(NYSE)) {
    for (const md of [...y.closed, ...y.early]) {
      const wd = new Date(`${yearText}-${md}T00:00:00Z`).getUTCDay()
      t.ok(wd >= 1 && wd <= 5, `${yearText}-${md} is a weekday`)
    }
    for (const md of y.early) t.notOk(y.closed.includes(md), `${yearText}-${md} is not also closed`)
  }
})

t.test('an early close ends the regular session at 13:00 New York: 17:00Z in July (EDT), 18:00Z in November/December (EST)', async (t) => {
  for (const [yearText, y] of Object.entries(NYSE)) {
    for (const md of y.early) {
      const b = sessionBounds('NYSE', `${yearText}-${md}`)
      const hour = md.startsWith('07-') ? 17 : 18
      t.equal(new Date(b?.close ?? 0).toISOString(), `${yearText}-${md}T${hour}:00:00.000Z`, `${yearText}-${md}`)
    }
  }
})

// The rules that changed over the years, each at the years where it changed (the table above checks every
// day; these name the rule a failure breaks).

t.test('a Wednesday July 3: a full day before 2013 with Friday July 5 closing early (2002), an early close from 2013 on', async (t) => {
  t.same([sessionBounds('NYSE', '2002-07-03')?.early_close, sessionBounds('NYSE', '2002-07-05')?.early_close], [false, true])
  for (const y of [2013, 2019, 2024]) {
    t.same([sessionBounds('NYSE', `${y}-07-03`)?.early_close, sessionBounds('NYSE', `${y}-07-05`)?.early_close], [true, false], String(y))
  }
})

t.test('July 3 before a weekday July 4 closes early on a Monday, Tuesday or Thursday', async (t) => {
  t.equal(sessionBounds('NYSE', '2023-07-03')?.early_close, true, 'Monday')
  t.equal(sessionBounds('NYSE', '2018-07-03')?.early_close, true, 'Tuesday')
  t.equal(sessionBounds('NYSE', '2025-07-03')?.early_close, true, 'Thursday')
})

t.test('July 4 on a Saturday closes Friday July 3 and Thursday July 2 is a full day (2015, 2020, 2026)', async (t) => {
  for (const y of [2015, 2020, 2026]) {
    t.equal(isTradingDay('NYSE', `${y}-07-03`), false, `${y}-07-03 closed`)
    t.equal(sessionBounds('NYSE', `${y}-07-02`)?.early_close, false, `${y}-07-02 full day`)
  }
})

t.test('July 4 on a Sunday closes Monday July 5 and Friday July 2 is a full day (2010, 2021, 2027)', async (t) => {
  for (const y of [2010, 2021, 2027]) {
    t.equal(isTradingDay('NYSE', `${y}-07-05`), false)
    t.equal(sessionBounds('NYSE', `${y}-07-02`)?.early_close, false)
  }
})

t.test('Juneteenth: traded in 2020 and 2021; closed from 2022, observed Monday 2022-06-20 and Friday 2027-06-18', async (t) => {
  t.same(['2020-06-19', '2021-06-18'].map((d) => isTradingDay('NYSE', d)), [true, true])
  t.same(['2022-06-20', '2023-06-19', '2024-06-19', '2025-06-19', '2026-06-19', '2027-06-18'].map((d) => isTradingDay('NYSE', d)), [false, false, false, false, false, false])
  t.equal(isTradingDay('NYSE', '2022-06-17'), true, 'a Sunday Juneteenth moves forward, not back')
})

t.test('a Saturday New Year\'s Day is not observed: the Friday before trades (2004, 2010, 2021, 2027 year ends)', async (t) => {
  t.same(['2004-12-31', '2010-12-31', '2021-12-31', '2027-12-31'].map((d) => isTradingDay('NYSE', d)), [true, true, true, true])
  t.same(['2005-01-03', '2011-01-03', '2022-01-03'].map((d) => isTradingDay('NYSE', d)), [true, true, true], 'nor the Monday after')
})

t.test('a Sunday New Year\'s Day is observed on Monday January 2 (2006, 2012, 2017, 2023)', async (t) => {
  t.same(['2006-01-02', '2012-01-02', '2017-01-02', '2023-01-02'].map((d) => isTradingDay('NYSE', d)), [false, false, false, false])
})

t.test('Christmas on a Saturday closes Friday December 24, and Thursday December 23 is a full day (2004, 2010, 2021, 2027)', async (t) => {
  for (const y of [2004, 2010, 2021, 2027]) {
    t.equal(isTradingDay('NYSE', `${y}-12-24`), false)
    t.equal(sessionBounds('NYSE', `${y}-12-23`)?.early_close, false)
  }
})

t.test('Christmas Eve on a weekend or a Friday holiday is no early close; on Monday–Thursday it is', async (t) => {
  t.equal(sessionBounds('NYSE', '2017-12-22')?.early_close, false, 'Christmas Eve 2017 was a Sunday: the Friday before is a full day')
  t.same(['2018-12-24', '2019-12-24', '2025-12-24', '2020-12-24'].map((d) => sessionBounds('NYSE', d)?.early_close), [true, true, true, true])
})

t.test('the only day-after-Christmas early close since 2000 is 2003-12-26', async (t) => {
  t.equal(sessionBounds('NYSE', '2003-12-26')?.early_close, true)
  t.same(['2008-12-26', '2014-12-26', '2025-12-26'].map((d) => sessionBounds('NYSE', d)?.early_close), [false, false, false])
})

t.test('unscheduled closures: 9/11, Reagan, Ford, Hurricane Sandy, G. H. W. Bush and Carter; the days around them trade', async (t) => {
  t.same(['2001-09-10', '2001-09-17', '2004-06-10', '2004-06-14', '2007-01-03', '2012-10-26', '2012-10-31', '2018-12-04', '2018-12-06', '2025-01-08', '2025-01-10']
    .map((d) => isTradingDay('NYSE', d)), Array(11).fill(true))
})

t.test('NASDAQ listings use the NYSE calendar (same holidays and early closes)', async (t) => {
  for (const d of ['2025-01-09', '2012-10-29', '2022-06-20']) t.equal(isTradingDay('NASDAQ', d), false, d)
  t.equal(sessionBounds('NASDAQ', '2003-12-26')?.early_close, true)
})
