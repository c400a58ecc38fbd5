// Calendar sessions at their edges (server/market-data/calendar.ts): the NYSE session of every minute of
// an early-close day through the evening, of a full day and of a holiday; the DST switch instants; forex 24×5
// (Sunday 17:00 open, Friday 17:00 close, the days ending on December 25 and January 1); crypto 24×7 on UTC days.
// Each boundary is tested at the minute it changes and the minute before.
import t from 'tap'
import { marketSessionAt, nyOffsetMinutesAt, sessionBounds, type MarketSession } from '../../../server/market-data/calendar.js'

const MINUTE = 60_000

/** The session of each New York minute of a local date, run-length encoded as "HH:MM session" at each change. */
function sessionChanges (market: 'NYSE' | 'FOREX', date: string, utcOffsetHours: number): string[] {
  const midnight = Date.parse(`${date}T00:00:00.000Z`) - utcOffsetHours * 3_600_000
  const out: string[] = []
  let last: MarketSession | undefined
  for (let m = 0; m < 24 * 60; m++) {
    const s = marketSessionAt(market, midnight + m * MINUTE)
    if (s !== last) out.push(`${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')} ${s}`)
    last = s
  }
  return out
}

const at = (market: 'NYSE' | 'FOREX' | 'CRYPTO', iso: string): MarketSession => marketSessionAt(market, Date.parse(iso))

// ── NYSE, minute by minute ───────────────────────────────────────────────────────────────────────

t.test('early close in winter (2023-11-24, EST): pre 04:00, regular 09:30–12:59, after-hours 13:00–16:59, closed from 17:00', async (t) => {
  t.same(sessionChanges('NYSE', '2023-11-24', -5), ['00:00 closed', '04:00 pre', '09:30 regular', '13:00 after', '17:00 closed'])
})

t.test('early close in summer (2023-07-03, EDT): the same New York times, an hour earlier in UTC', async (t) => {
  t.same(sessionChanges('NYSE', '2023-07-03', -4), ['00:00 closed', '04:00 pre', '09:30 regular', '13:00 after', '17:00 closed'])
  t.equal(at('NYSE', '2023-07-03T16:59:00Z'), 'regular', '12:59 EDT')
  t.equal(at('NYSE', '2023-07-03T17:00:00Z'), 'after', '13:00 EDT')
  t.equal(at('NYSE', '2023-07-03T20:59:00Z'), 'after', '16:59 EDT')
  t.equal(at('NYSE', '2023-07-03T21:00:00Z'), 'closed', '17:00 EDT')
})

t.test('Christmas Eve early close (2024-12-24): closed from 17:00 through the evening, and Christmas is closed all day', async (t) => {
  t.same(sessionChanges('NYSE', '2024-12-24', -5), ['00:00 closed', '04:00 pre', '09:30 regular', '13:00 after', '17:00 closed'])
  t.same(sessionChanges('NYSE', '2024-12-25', -5), ['00:00 closed'])
})

t.test('a full day (2023-11-22): regular until 15:59, after-hours 16:00–19:59, closed from 20:00', async (t) => {
  t.same(sessionChanges('NYSE', '2023-11-22', -5), ['00:00 closed', '04:00 pre', '09:30 regular', '16:00 after', '20:00 closed'])
})

t.test('a holiday has no session at all, extended hours included (Thanksgiving 2023-11-23)', async (t) => {
  t.same(sessionChanges('NYSE', '2023-11-23', -5), ['00:00 closed'])
})

t.test('weekends are closed all day (Saturday and Sunday)', async (t) => {
  t.same(sessionChanges('NYSE', '2023-11-25', -5), ['00:00 closed'])
  t.same(sessionChanges('NYSE', '2023-11-26', -5), ['00:00 closed'])
})

t.test('an early-close day\'s regular session is 09:30–13:00 New York; a full day\'s 09:30–16:00', async (t) => {
  const early = sessionBounds('NYSE', '2023-11-24')
  t.same([new Date(early?.open ?? 0).toISOString(), new Date(early?.close ?? 0).toISOString(), early?.early_close],
    ['2023-11-24T14:30:00.000Z', '2023-11-24T18:00:00.000Z', true])
  const full = sessionBounds('NYSE', '2023-11-22')
  t.same([new Date(full?.close ?? 0).toISOString(), full?.early_close], ['2023-11-22T21:00:00.000Z', false])
})

// ── New York time: the DST switch instants ───────────────────────────────────────────────────────

t.test('DST starts at 02:00 EST on the second Sunday of March (07:00Z) and ends at 02:00 EDT on the first Sunday of November (06:00Z)', async (t) => {
  t.equal(nyOffsetMinutesAt(Date.parse('2023-03-12T06:59:59.999Z')), -300)
  t.equal(nyOffsetMinutesAt(Date.parse('2023-03-12T07:00:00.000Z')), -240)
  t.equal(nyOffsetMinutesAt(Date.parse('2023-11-05T05:59:59.999Z')), -240)
  t.equal(nyOffsetMinutesAt(Date.parse('2023-11-05T06:00:00.000Z')), -300)
})

t.test('before 2007 DST ran from the first Sunday of April to the last Sunday of October', async (t) => {
  t.equal(nyOffsetMinutesAt(Date.parse('2006-04-02T06:59:00Z')), -300)
  t.equal(nyOffsetMinutesAt(Date.parse('2006-04-02T07:00:00Z')), -240)
  t.equal(nyOffsetMinutesAt(Date.parse('2006-10-29T05:59:00Z')), -240)
  t.equal(nyOffsetMinutesAt(Date.parse('2006-10-29T06:00:00Z')), -300)
  t.equal(nyOffsetMinutesAt(Date.parse('2006-03-13T12:00:00Z')), -300, 'the 2007 rule\'s date is still winter in 2006')
})

t.test('the Monday after each switch opens at the new UTC time', async (t) => {
  t.equal(at('NYSE', '2023-03-13T13:29:00Z'), 'pre')
  t.equal(at('NYSE', '2023-03-13T13:30:00Z'), 'regular')
  t.equal(at('NYSE', '2023-11-06T14:29:00Z'), 'pre')
  t.equal(at('NYSE', '2023-11-06T14:30:00Z'), 'regular')
})

// ── forex 24×5 ───────────────────────────────────────────────────────────────────────────────────

t.test('forex opens Sunday 17:00 New York: 22:00Z in winter, 21:00Z in summer (the minute before is closed)', async (t) => {
  t.same([at('FOREX', '2023-01-08T21:59:00Z'), at('FOREX', '2023-01-08T22:00:00Z')], ['closed', 'regular'])
  t.same([at('FOREX', '2023-07-09T20:59:00Z'), at('FOREX', '2023-07-09T21:00:00Z')], ['closed', 'regular'])
})

t.test('forex closes Friday 17:00 New York (the minute before trades) and stays closed all Saturday', async (t) => {
  t.same([at('FOREX', '2023-01-13T21:59:00Z'), at('FOREX', '2023-01-13T22:00:00Z')], ['regular', 'closed'])
  t.same([at('FOREX', '2023-07-14T20:59:00Z'), at('FOREX', '2023-07-14T21:00:00Z')], ['regular', 'closed'])
  t.same(sessionChanges('FOREX', '2023-01-14', -5), ['00:00 closed'])
})

t.test('forex on a weekday runs through 17:00 New York: the day rolls over, the market stays open', async (t) => {
  t.same(sessionChanges('FOREX', '2023-01-11', -5), ['00:00 regular'])
})

t.test('forex on the weekends the clocks change: the open and the close follow New York time (EDT or EST that day)', async (t) => {
  // 17:00 New York on 2023-03-12 is already EDT (the switch was at 02:00): 21:00Z.
  t.same([at('FOREX', '2023-03-12T20:59:00Z'), at('FOREX', '2023-03-12T21:00:00Z')], ['closed', 'regular'])
  // 17:00 on Friday 2023-11-03 is still EDT (21:00Z); Sunday 2023-11-05 17:00 is EST (22:00Z).
  t.same([at('FOREX', '2023-11-03T20:59:00Z'), at('FOREX', '2023-11-03T21:00:00Z')], ['regular', 'closed'])
  t.same([at('FOREX', '2023-11-05T21:59:00Z'), at('FOREX', '2023-11-05T22:00:00Z')], ['closed', 'regular'])
})

t.test('forex: the day ending on December 25 is closed (Dec 24 17:00 → Dec 25 17:00 New York); the next day trades', async (t) => {
  // 2023-12-24 is a Sunday: the week would open at 17:00 but that day ends on Christmas.
  t.same([at('FOREX', '2023-12-24T22:00:00Z'), at('FOREX', '2023-12-25T21:59:00Z'), at('FOREX', '2023-12-25T22:00:00Z')], ['closed', 'closed', 'regular'])
  // 2024-12-24 is a Tuesday: trading until 17:00, closed for the Christmas day, open again Dec 25 17:00.
  t.same([at('FOREX', '2024-12-24T21:59:00Z'), at('FOREX', '2024-12-24T22:00:00Z'), at('FOREX', '2024-12-25T22:00:00Z')], ['regular', 'closed', 'regular'])
  t.same([sessionBounds('FOREX', '2024-12-25'), sessionBounds('FOREX', '2024-12-26') === null], [null, false])
})

t.test('forex: the day ending on January 1 is closed, the one ending January 2 trades', async (t) => {
  t.same([at('FOREX', '2024-12-31T21:59:00Z'), at('FOREX', '2024-12-31T22:00:00Z'), at('FOREX', '2025-01-01T21:59:00Z'), at('FOREX', '2025-01-01T22:00:00Z')],
    ['regular', 'closed', 'closed', 'regular'])
})

// ── crypto 24×7 ──────────────────────────────────────────────────────────────────────────────────

t.test('crypto trades every minute of every day, weekends and holidays included, on UTC days', async (t) => {
  for (const iso of ['2023-01-07T00:00:00Z', '2023-01-07T23:59:00Z', '2023-01-08T12:00:00Z', '2023-12-25T00:00:00Z', '2024-01-01T00:00:00Z']) {
    t.equal(at('CRYPTO', iso), 'regular', iso)
  }
  const b = sessionBounds('CRYPTO', '2024-02-29')
  t.same([new Date(b?.open ?? 0).toISOString(), new Date(b?.close ?? 0).toISOString()], ['2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'])
  t.equal(sessionBounds('CRYPTO', '2023-12-25')?.early_close, false)
})
