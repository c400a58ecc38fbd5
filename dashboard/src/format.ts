// Formatting for reading: money and percentages to 2 decimals with thousands separators, rounded on the
// decimal string itself (no float), so "89312.628175" reads "89,312.63". The exact value stays on the page
// as the element's title (exact()), and CSV/JSON exports keep the API's values untouched.

/** Group the integer part of a decimal string in threes: "-1234567.891" → "-1,234,567.891". Not a decimal: unchanged. */
export function groupDigits (decimal: string): string {
  const m = /^([+-]?)(\d+)(\.\d+)?$/.exec(decimal)
  if (m === null) return decimal
  const [, sign, int, frac] = m
  return `${sign}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ?? ''}`
}

/**
 * A decimal string rounded to `digits` decimals, half away from zero, on its digits (exact for any length):
 * "1.005" → "1.01", "-0.004" → "0.00". Not a plain decimal: unchanged.
 */
export function roundDecimal (decimal: string, digits: number): string {
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(decimal)
  if (m === null) return decimal
  const [, sign, int, frac = ''] = m
  const kept = BigInt(int + frac.slice(0, digits).padEnd(digits, '0'))
  const rounded = kept + ((frac.charCodeAt(digits) || 48) >= 53 ? 1n : 0n)
  const text = rounded.toString().padStart(digits + 1, '0')
  const body = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
  return rounded === 0n || sign !== '-' ? body : `-${body}`
}

/** A number as a decimal string without exponent (for rounding): 1e-7 → "0.0000001". */
function plain (value: number): string {
  const text = String(value)
  return /e/i.test(text) ? value.toFixed(12) : text
}

/** Money for reading: 2 decimals, thousands separators ("89312.628175" → "89,312.63"). */
export function formatMoney (value: string): string {
  return groupDigits(roundDecimal(value, 2))
}

/** A price: 2 decimals, or 4 below 10 so that a forex quote (1.08345 → "1.0835") keeps its meaning. */
export function formatPrice (value: string): string {
  const n = Number(value)
  return groupDigits(roundDecimal(value, Number.isFinite(n) && Math.abs(n) < 10 ? 4 : 2))
}

/** A ratio or other float: 2 decimals, grouped; null → "—". */
export function formatNumber (value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return '—'
  if (!Number.isFinite(value)) return String(value)
  return groupDigits(roundDecimal(plain(value), digits))
}

/** A count: a whole number, grouped. */
export function formatCount (value: number | null | undefined): string {
  return formatNumber(value, 0)
}

/** A quantity: as many decimals as it has (fractional shares), grouped. */
export function formatQuantity (value: number): string {
  return Number.isFinite(value) ? groupDigits(plain(value)) : String(value)
}

/** A percentage the API already expresses in percent: 2 decimals and the unit (total_return_pct −28.1378 → "-28.14 %"). */
export function formatPercent (value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${formatNumber(value)} %`
}

/** A 0..1 ratio as a percentage: win_rate 0.6666666667 → "66.67 %". */
export function formatRatio (value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : formatPercent(value * 100)
}

/** The exact value behind a formatted one, for a `title` (shown on hover); null → undefined (no title). */
export function exact (value: string | number | null | undefined): string | undefined {
  return value === null || value === undefined ? undefined : String(value)
}

/** 0..1 progress → "42 %" (whole percent, for a progress label only). */
export function formatProgress (value: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, value)) * 100)} %`
}

/** ISO timestamp → "2023-01-03 14:30 UTC" (the simulation's clock is UTC); anything else unchanged. */
export function formatTime (iso: string, zone = true): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z$/.exec(iso)
  return m === null ? iso : `${m[1]} ${m[2]}${zone ? ' UTC' : ''}`
}

/** The sign of a decimal string or number, so colour is never the only signal: "+", "−" or "". */
export function signOf (value: string | number): 'positive' | 'negative' | 'zero' {
  const n = typeof value === 'number' ? value : Number(value)
  return n > 0 ? 'positive' : n < 0 ? 'negative' : 'zero'
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or newline; formula-leading text is defused. */
export function csvField (value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return ''
  let text = String(value)
  if (typeof value === 'string' && /^[=+@\t\r]/.test(text)) text = `'${text}`
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Rows of values → CSV text with a header row and CRLF line ends. */
export function toCsv (header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null | undefined>>): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n'
}
