// Calendar-date arithmetic on "epoch days" (days since 1970-01-01), the integer form every market-data
// module uses internally: strict YYYY-MM-DD parsing, formatting, weekdays and yyyymmdd conversion.
export const DAY_MS = 86_400_000

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil; no Date allocation). */
export function daysFromCivil (y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const mp = (m + 9) % 12
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** [year, month, day] of an epoch day (Hinnant's civil_from_days). */
export function civilFromDays (z: number): [number, number, number] {
  const zz = z + 719468
  const era = Math.floor(zz / 146097)
  const doe = zz - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

export function isLeapYear (y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export function daysInMonth (y: number, m: number): number {
  return m === 2 && isLeapYear(y) ? 29 : MONTH_DAYS[m - 1]
}

/**
 * Epoch day of a `YYYY-MM-DD` string, or null when it is not a real date (2023-02-30, 2023-13-01).
 * Character checks instead of a regex: this runs for every validation request.
 */
export function parseDate (text: string): number | null {
  if (typeof text !== 'string' || text.length !== 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null
  let y = 0
  let m = 0
  let d = 0
  for (let i = 0; i < 10; i++) {
    if (i === 4 || i === 7) continue
    const c = text.charCodeAt(i) - 48
    if (c < 0 || c > 9) return null
    if (i < 4) y = y * 10 + c
    else if (i < 7) m = m * 10 + c
    else d = d * 10 + c
  }
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return null
  return daysFromCivil(y, m, d)
}

export function formatDate (day: number): string {
  const [y, m, d] = civilFromDays(day)
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday (day: number): number {
  return ((day % 7) + 11) % 7
}

/** yyyymmdd integer (BarSeries.day) of an epoch day. */
export function toDayNumber (day: number): number {
  const [y, m, d] = civilFromDays(day)
  return y * 10000 + m * 100 + d
}

export function fromDayNumber (n: number): number {
  return daysFromCivil(Math.floor(n / 10000), Math.floor(n / 100) % 100, n % 100)
}

/** The UTC calendar day containing an instant. */
export function utcDay (epochMs: number): number {
  return Math.floor(epochMs / DAY_MS)
}
