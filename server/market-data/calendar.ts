// Trading calendars for every market SimuTrador serves: NYSE/NASDAQ sessions, holidays and early closes,
// forex 24×5 and crypto 24×7. New York time is computed arithmetically from the US DST rules, so no
// timezone database is needed; per-year tables are built once and cached.
import type { Market } from '../../schemas/market-data.js'
import { AppError } from '../app-error.js'
import { DAY_MS, civilFromDays, daysFromCivil, daysInMonth, formatDate, parseDate, weekday } from './dates.js'

export type CalendarKind = 'nyse' | 'forex' | 'crypto'
export type MarketSession = 'pre' | 'regular' | 'after' | 'closed'

export interface SessionBounds {
  /** Regular-session open, epoch ms. */
  open: number
  /** Regular-session close, epoch ms. */
  close: number
  early_close: boolean
}

const HOUR_MS = 3_600_000
const MINUTE_MS = 60_000

// NYSE session times in New York minutes after midnight.
const PRE_OPEN_MIN = 4 * 60
const REGULAR_OPEN_MIN = 9 * 60 + 30
const REGULAR_CLOSE_MIN = 16 * 60
const EARLY_CLOSE_MIN = 13 * 60
const AFTER_CLOSE_MIN = 20 * 60
// On early-close days the late session ends 17:00 instead of 20:00.
const EARLY_AFTER_CLOSE_MIN = 17 * 60
const FOREX_ROLL_MIN = 17 * 60

export function calendarKindOf (market: Market): CalendarKind {
  if (market === 'FOREX') return 'forex'
  if (market === 'CRYPTO') return 'crypto'
  return 'nyse'
}

// ---------------------------------------------------------------- New York time

/** Epoch day of the n-th (1-based) given weekday of a month; n = -1 means the last one. */
function nthWeekday (y: number, m: number, wd: number, n: number): number {
  if (n > 0) {
    const first = daysFromCivil(y, m, 1)
    return first + ((wd - weekday(first) + 7) % 7) + (n - 1) * 7
  }
  const lastDay = daysFromCivil(y, m, daysInMonth(y, m))
  return lastDay - ((weekday(lastDay) - wd + 7) % 7)
}

const dstCache = new Map<number, [number, number]>()

/** First and last+1 epoch day of US daylight saving time in a year (US rules since 1987 / 2007). */
function dstDays (y: number): [number, number] {
  let r = dstCache.get(y)
  if (r === undefined) {
    r = y >= 2007
      ? [nthWeekday(y, 3, 0, 2), nthWeekday(y, 11, 0, 1)]
      : [nthWeekday(y, 4, 0, 1), nthWeekday(y, 10, 0, -1)]
    dstCache.set(y, r)
  }
  return r
}

/** Calendar year of an epoch day: an estimate corrected against exact year starts (no array allocation). */
function yearOfDay (day: number): number {
  let y = 1970 + Math.floor(day / 365.2425)
  if (day < daysFromCivil(y, 1, 1)) y--
  else if (day >= daysFromCivil(y + 1, 1, 1)) y++
  return y
}

/** New York's UTC offset in minutes for a local date, valid for local times from 02:00 on. */
function nyOffsetMinutesForLocalDay (day: number): number {
  const [start, end] = dstDays(yearOfDay(day))
  return day >= start && day < end ? -240 : -300
}

/** New York's UTC offset in minutes at an instant (switches happen at 02:00 local: 07:00Z and 06:00Z). */
export function nyOffsetMinutesAt (epochMs: number): number {
  const [start, end] = dstDays(yearOfDay(Math.floor(epochMs / DAY_MS)))
  return epochMs >= start * DAY_MS + 7 * HOUR_MS && epochMs < end * DAY_MS + 6 * HOUR_MS ? -240 : -300
}

/** The instant of a New York wall-clock time (minutes after midnight, ≥ 02:00) on a local date. */
export function nyTimeToEpoch (day: number, minutes: number): number {
  return day * DAY_MS + (minutes - nyOffsetMinutesForLocalDay(day)) * MINUTE_MS
}

// ---------------------------------------------------------------- NYSE holidays and early closes

/** Easter Sunday (Gregorian, anonymous algorithm) as an epoch day. */
function easterSunday (y: number): number {
  const a = y % 19
  const b = Math.floor(y / 100)
  const c = y % 100
  const d = Math.floor(b / 4)
  const e = b % 4
  const f = Math.floor((b + 8) / 25)
  const g = Math.floor((b - f + 1) / 3)
  const h = (19 * a + b - d - g + 15) % 30
  const i = Math.floor(c / 4)
  const k = c % 4
  const l = (32 + 2 * e + 2 * i - h - k) % 7
  const m = Math.floor((a + 11 * h + 22 * l) / 451)
  const month = Math.floor((h + l - 7 * m + 114) / 31)
  const day = ((h + l - 7 * m + 114) % 31) + 1
  return daysFromCivil(y, month, day)
}

/** Saturday holidays move to Friday, Sunday holidays to Monday (NYSE rule for July 4, Juneteenth, Christmas). */
function nearestWeekday (day: number): number {
  const wd = weekday(day)
  if (wd === 6) return day - 1
  if (wd === 0) return day + 1
  return day
}

// Unscheduled full-day closures since 2000 (attacks, state funerals, storms).
const SPECIAL_CLOSURES = [
  '2001-09-11', '2001-09-12', '2001-09-13', '2001-09-14',
  '2004-06-11', // President Reagan's funeral
  '2007-01-02', // President Ford's funeral
  '2012-10-29', '2012-10-30', // Hurricane Sandy
  '2018-12-05', // President G. H. W. Bush's funeral
  '2025-01-09' // President Carter's funeral
].map((d) => parseDate(d) as number)

// Early closes that the rules below do not produce.
const SPECIAL_EARLY_CLOSES = [
  '2003-12-26' // Friday after Christmas 2003
].map((d) => parseDate(d) as number)

function nyseHolidays (y: number): Set<number> {
  const s = new Set<number>()
  // New Year's Day: a Sunday holiday moves to Monday; a Saturday one is not observed (the Friday before
  // is the last trading day of the old year, e.g. 2010-12-31, 2021-12-31).
  const ny = daysFromCivil(y, 1, 1)
  if (weekday(ny) === 0) s.add(ny + 1)
  else if (weekday(ny) !== 6) s.add(ny)
  s.add(nthWeekday(y, 1, 1, 3)) // Martin Luther King Jr. Day (NYSE since 1998)
  s.add(nthWeekday(y, 2, 1, 3)) // Presidents' Day
  s.add(easterSunday(y) - 2) // Good Friday
  s.add(nthWeekday(y, 5, 1, -1)) // Memorial Day
  if (y >= 2022) s.add(nearestWeekday(daysFromCivil(y, 6, 19))) // Juneteenth
  s.add(nearestWeekday(daysFromCivil(y, 7, 4))) // Independence Day
  s.add(nthWeekday(y, 9, 1, 1)) // Labor Day
  s.add(nthWeekday(y, 11, 4, 4)) // Thanksgiving
  s.add(nearestWeekday(daysFromCivil(y, 12, 25))) // Christmas
  for (const d of SPECIAL_CLOSURES) if (civilFromDays(d)[0] === y) s.add(d)
  return s
}

function nyseEarlyCloses (y: number): Set<number> {
  const s = new Set<number>()
  // July 3 is a 13:00 close when it is a weekday before a weekday July 4. Before 2013 a Wednesday July 3
  // traded a full day and the Friday after (July 5) closed early instead (2002).
  const july3 = daysFromCivil(y, 7, 3)
  const wd3 = weekday(july3)
  if (wd3 === 1 || wd3 === 2 || wd3 === 4 || (wd3 === 3 && y >= 2013)) s.add(july3)
  if (wd3 === 3 && y < 2013) s.add(july3 + 2)
  s.add(nthWeekday(y, 11, 4, 4) + 1) // day after Thanksgiving
  // Christmas Eve Monday–Thursday (a Friday Christmas Eve is the observed Christmas holiday).
  const xmasEve = daysFromCivil(y, 12, 24)
  const wdx = weekday(xmasEve)
  if (wdx >= 1 && wdx <= 4) s.add(xmasEve)
  for (const d of SPECIAL_EARLY_CLOSES) if (civilFromDays(d)[0] === y) s.add(d)
  return s
}

// ---------------------------------------------------------------- per-year tables

const CLOSED = 0
const OPEN = 1
const EARLY = 2

interface YearTable {
  first: number
  /** CLOSED / OPEN / EARLY per day of the year. */
  flags: Uint8Array
  /** cum[i] = trading days among days 0..i-1 of the year. */
  cum: Int32Array
}

const tables: Record<CalendarKind, Map<number, YearTable>> = { nyse: new Map(), forex: new Map(), crypto: new Map() }

function buildYear (kind: CalendarKind, y: number): YearTable {
  const first = daysFromCivil(y, 1, 1)
  const n = daysFromCivil(y + 1, 1, 1) - first
  const flags = new Uint8Array(n)
  if (kind === 'crypto') {
    flags.fill(OPEN)
  } else if (kind === 'forex') {
    // A forex day is labelled with the date it ends (17:00 New York); days ending Saturday or Sunday
    // do not exist, and the days ending on Christmas and New Year's Day are closed.
    const xmas = daysFromCivil(y, 12, 25)
    for (let i = 0; i < n; i++) {
      const d = first + i
      const wd = weekday(d)
      flags[i] = wd === 0 || wd === 6 || d === first || d === xmas ? CLOSED : OPEN
    }
  } else {
    const holidays = nyseHolidays(y)
    const early = nyseEarlyCloses(y)
    for (let i = 0; i < n; i++) {
      const d = first + i
      const wd = weekday(d)
      flags[i] = wd === 0 || wd === 6 || holidays.has(d) ? CLOSED : early.has(d) ? EARLY : OPEN
    }
  }
  const cum = new Int32Array(n + 1)
  for (let i = 0; i < n; i++) cum[i + 1] = cum[i] + (flags[i] === CLOSED ? 0 : 1)
  return { first, flags, cum }
}

function yearTable (kind: CalendarKind, y: number): YearTable {
  const map = tables[kind]
  let t = map.get(y)
  if (t === undefined) {
    t = buildYear(kind, y)
    map.set(y, t)
  }
  return t
}

function dayFlag (kind: CalendarKind, day: number): number {
  const t = yearTable(kind, yearOfDay(day))
  return t.flags[day - t.first]
}

// ---------------------------------------------------------------- numeric API (epoch days, epoch ms)

export function isTradingDayNum (kind: CalendarKind, day: number): boolean {
  return dayFlag(kind, day) !== CLOSED
}

export function isEarlyCloseNum (kind: CalendarKind, day: number): boolean {
  return dayFlag(kind, day) === EARLY
}

/** Trading days in [startDay, endDay] (inclusive), counted from the per-year prefix sums. */
export function countTradingDaysNum (kind: CalendarKind, startDay: number, endDay: number): number {
  if (endDay < startDay) return 0
  const y0 = yearOfDay(startDay)
  const y1 = yearOfDay(endDay)
  let total = 0
  for (let y = y0; y <= y1; y++) {
    const t = yearTable(kind, y)
    const a = y === y0 ? startDay - t.first : 0
    const b = y === y1 ? endDay - t.first + 1 : t.flags.length
    total += t.cum[b] - t.cum[a]
  }
  return total
}

export function tradingDaysNum (kind: CalendarKind, startDay: number, endDay: number): Int32Array {
  const out = new Int32Array(countTradingDaysNum(kind, startDay, endDay))
  let k = 0
  for (let d = startDay; d <= endDay; d++) if (isTradingDayNum(kind, d)) out[k++] = d
  return out
}

/** Regular-session bounds as if `day` traded (used for daily bar timestamps even on data the calendar calls closed). */
export function nominalSessionNum (kind: CalendarKind, day: number): SessionBounds {
  if (kind === 'crypto') return { open: day * DAY_MS, close: (day + 1) * DAY_MS, early_close: false }
  if (kind === 'forex') {
    return { open: nyTimeToEpoch(day - 1, FOREX_ROLL_MIN), close: nyTimeToEpoch(day, FOREX_ROLL_MIN), early_close: false }
  }
  const early = isEarlyCloseNum(kind, day)
  return {
    open: nyTimeToEpoch(day, REGULAR_OPEN_MIN),
    close: nyTimeToEpoch(day, early ? EARLY_CLOSE_MIN : REGULAR_CLOSE_MIN),
    early_close: early
  }
}

export function sessionBoundsNum (kind: CalendarKind, day: number): SessionBounds | null {
  return isTradingDayNum(kind, day) ? nominalSessionNum(kind, day) : null
}

/** The trading-day label a forex instant belongs to (the New York date on which its 17:00→17:00 day ends). */
export function forexDayAt (epochMs: number): number {
  const local = epochMs + nyOffsetMinutesAt(epochMs) * MINUTE_MS
  const localDay = Math.floor(local / DAY_MS)
  return local - localDay * DAY_MS >= FOREX_ROLL_MIN * MINUTE_MS ? localDay + 1 : localDay
}

export function marketSessionAtNum (kind: CalendarKind, epochMs: number): MarketSession {
  if (kind === 'crypto') return 'regular'
  if (kind === 'forex') return isTradingDayNum('forex', forexDayAt(epochMs)) ? 'regular' : 'closed'
  const local = epochMs + nyOffsetMinutesAt(epochMs) * MINUTE_MS
  const day = Math.floor(local / DAY_MS)
  const flag = dayFlag('nyse', day)
  if (flag === CLOSED) return 'closed'
  const minute = (local - day * DAY_MS) / MINUTE_MS
  if (minute < PRE_OPEN_MIN) return 'closed'
  if (minute < REGULAR_OPEN_MIN) return 'pre'
  if (minute < (flag === EARLY ? EARLY_CLOSE_MIN : REGULAR_CLOSE_MIN)) return 'regular'
  if (minute < (flag === EARLY ? EARLY_AFTER_CLOSE_MIN : AFTER_CLOSE_MIN)) return 'after'
  return 'closed'
}

/** Regular-session length in ms of every trading day in [startDay, endDay], as [open, close) pairs. */
export function sessionIntervalsNum (kind: CalendarKind, startDay: number, endDay: number): Float64Array {
  const days = tradingDaysNum(kind, startDay, endDay)
  const out = new Float64Array(days.length * 2)
  for (let i = 0; i < days.length; i++) {
    const b = nominalSessionNum(kind, days[i])
    out[2 * i] = b.open
    out[2 * i + 1] = b.close
  }
  return out
}

/**
 * Number of distinct bar timestamps of `stepMs` bars over the union of the calendars' regular sessions in
 * [startDay, endDay]. Bars start at each session's open and every `stepMs` after it (the last may be short),
 * so sessions whose opens share a phase modulo `stepMs` share timestamps and are merged, while sessions of
 * different phases (NYSE 09:30 vs crypto 00:00 for hourly bars) never collide. Arithmetic only: no bars.
 */
export function countBarSlots (kinds: readonly CalendarKind[], startDay: number, endDay: number, stepMs: number): number {
  const unique = [...new Set(kinds)]
  if (unique.length === 1) {
    const iv = sessionIntervalsNum(unique[0], startDay, endDay)
    let n = 0
    for (let i = 0; i < iv.length; i += 2) n += Math.ceil((iv[i + 1] - iv[i]) / stepMs)
    return n
  }
  const byPhase = new Map<number, Array<[number, number]>>()
  for (const kind of unique) {
    const iv = sessionIntervalsNum(kind, startDay, endDay)
    for (let i = 0; i < iv.length; i += 2) {
      const phase = ((iv[i] % stepMs) + stepMs) % stepMs
      let list = byPhase.get(phase)
      if (list === undefined) byPhase.set(phase, (list = []))
      list.push([iv[i], iv[i + 1]])
    }
  }
  let total = 0
  for (const list of byPhase.values()) {
    list.sort((a, b) => a[0] - b[0])
    let [a, b] = list[0]
    for (let i = 1; i < list.length; i++) {
      const [c, d] = list[i]
      if (c <= b) {
        if (d > b) b = d
      } else {
        total += Math.ceil((b - a) / stepMs)
        a = c
        b = d
      }
    }
    total += Math.ceil((b - a) / stepMs)
  }
  return total
}

/** Days in [startDay, endDay] on which at least one of the calendars trades. */
export function countUnionTradingDays (kinds: readonly CalendarKind[], startDay: number, endDay: number): number {
  const unique = [...new Set(kinds)]
  if (unique.includes('crypto')) return Math.max(0, endDay - startDay + 1)
  if (unique.length === 1) return countTradingDaysNum(unique[0], startDay, endDay)
  let n = 0
  for (let d = startDay; d <= endDay; d++) {
    for (const k of unique) {
      if (isTradingDayNum(k, d)) {
        n++
        break
      }
    }
  }
  return n
}

// ---------------------------------------------------------------- date-string API by market

function dayOf (date: string): number {
  const d = parseDate(date)
  if (d === null) throw new AppError('INVALID_DATE_RANGE', `'${date}' is not a valid YYYY-MM-DD date`, { date })
  return d
}

export function isTradingDay (market: Market, date: string): boolean {
  return isTradingDayNum(calendarKindOf(market), dayOf(date))
}

export function tradingDays (market: Market, start: string, end: string): string[] {
  return Array.from(tradingDaysNum(calendarKindOf(market), dayOf(start), dayOf(end)), formatDate)
}

export function countTradingSessions (market: Market, start: string, end: string): number {
  return countTradingDaysNum(calendarKindOf(market), dayOf(start), dayOf(end))
}

/** Regular-session bounds of a trading day, or null when the market is closed that day. */
export function sessionBounds (market: Market, date: string): SessionBounds | null {
  return sessionBoundsNum(calendarKindOf(market), dayOf(date))
}

export function marketSessionAt (market: Market, epochMs: number): MarketSession {
  return marketSessionAtNum(calendarKindOf(market), epochMs)
}

/** A market's calendar bound to that market, for callers that hold a symbol rather than a market. */
export interface MarketCalendar {
  readonly market: Market
  readonly kind: CalendarKind
  isTradingDay (date: string): boolean
  tradingDays (start: string, end: string): string[]
  countTradingSessions (start: string, end: string): number
  sessionBounds (date: string): SessionBounds | null
  marketSessionAt (epochMs: number): MarketSession
}

const boundCalendars = new Map<Market, MarketCalendar>()

export function calendarFor (market: Market): MarketCalendar {
  let c = boundCalendars.get(market)
  if (c === undefined) {
    c = {
      market,
      kind: calendarKindOf(market),
      isTradingDay: (date) => isTradingDay(market, date),
      tradingDays: (start, end) => tradingDays(market, start, end),
      countTradingSessions: (start, end) => countTradingSessions(market, start, end),
      sessionBounds: (date) => sessionBounds(market, date),
      marketSessionAt: (ms) => marketSessionAt(market, ms)
    }
    boundCalendars.set(market, c)
  }
  return c
}
