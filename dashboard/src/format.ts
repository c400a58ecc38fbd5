// Formatting for reading without changing a value: money arrives as decimal strings and keeps every digit
// (only thousands separators are added); numbers are printed from their shortest round-trip form.

/** Group the integer part of a decimal string in threes: "-1234567.891" → "-1,234,567.891". Not a decimal: unchanged. */
export function groupDigits (decimal: string): string {
  const m = /^([+-]?)(\d+)(\.\d+)?$/.exec(decimal)
  if (m === null) return decimal
  const [, sign, int, frac] = m
  return `${sign}${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${frac ?? ''}`
}

/** A money string for reading: grouped digits, every decimal kept. */
export function formatMoney (value: string): string {
  return groupDigits(value)
}

/** A JSON number as the API sent it (shortest round-trip digits), grouped; null → "—". */
export function formatNumber (value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (!Number.isFinite(value)) return String(value)
  const text = String(value)
  return text.includes('e') ? text : groupDigits(text)
}

/** A percentage the API already expresses in percent (e.g. total_return_pct 12.5 → "12.5 %"). */
export function formatPercent (value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${formatNumber(value)} %`
}

/** A 0..1 ratio as the API sent it, with its percent reading: 0.5 → "0.5 (50 %)"; the percent is shown rounded. */
export function formatRatio (value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  return `${formatNumber(value)} (${Number((value * 100).toFixed(2))} %)`
}

/** 0..1 progress → "42 %" (whole percent, for a progress label only). */
export function formatProgress (value: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, value)) * 100)} %`
}

/** ISO timestamp → "2023-01-03 14:30 UTC" (the simulation's clock is UTC); anything else unchanged. */
export function formatTime (iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z$/.exec(iso)
  return m === null ? iso : `${m[1]} ${m[2]} UTC`
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
