// Terminal output of the CLI: aligned tables, key/value blocks, a progress bar, money at 2 decimals, CSV,
// JSON for --json (full precision), and the one way errors are printed (`error_code: message` plus
// suggestions on stderr, or the body as JSON).
import { formatMoney as moneyText, parseMoney } from '../../server/money.js'
import type { OperationError, StrategyFailedError, UsageError } from './errors.js'

export function printJson (value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function printLine (text = ''): void {
  process.stdout.write(`${text}\n`)
}

/** Columns padded to their widest cell; the last column is not padded (no trailing spaces). */
export function formatTable (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** `label  value` lines with the labels aligned. */
export function formatFields (fields: Array<[string, string]>): string {
  const width = Math.max(...fields.map(([k]) => k.length))
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d*))?$/

/**
 * A wire money string (exact decimal) as people read cash, equity, P&L and commission in tables: exactly 2
 * decimals, rounded half-even on the string's digits (as the server rounds), never through a float.
 * `--json` prints the wire value instead. A value that is not a decimal is shown as it is.
 */
export function formatMoney (value: string): string {
  const m = DECIMAL.exec(value.trim())
  if (m === null) return value
  const frac = m[3] ?? ''
  let cents = BigInt(m[2]) * 100n + BigInt(frac.slice(0, 2).padEnd(2, '0'))
  const rest = frac.slice(2)
  const first = rest.length > 0 ? rest.charCodeAt(0) - 48 : 0
  if (first > 5 || (first === 5 && (/[1-9]/.test(rest.slice(1)) || cents % 2n === 1n))) cents += 1n
  const sign = m[1] === '-' && cents !== 0n ? '-' : ''
  return `${sign}${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`
}

/**
 * A decimal string (or a finite JSON number) as integer units of 1e-8, read as the server reads money
 * (server/money.ts); undefined when it is not a decimal. For exact sums and comparisons in the CLI.
 */
export function decimalUnits (value: string | number): bigint | undefined {
  try {
    return parseMoney(value)
  } catch {
    return undefined
  }
}

/** Units of 1e-8 as a decimal string with at least 2 decimals (the wire's money shape). */
export function unitsToDecimal (u: bigint): string {
  return moneyText(u, 2)
}

/** RFC 4180 CSV: a header line and one line per row; fields with commas, quotes or newlines are quoted. */
export function formatCsv (headers: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const cell = (v: unknown): string => {
    const text = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
  }
  return [headers, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n'
}

/**
 * `[██████░░░░░░░░░░░░░░]  30%` for a fraction 0..1. Cells and percent count what is done, rounded down, so a
 * full bar and 100% both mean the run is complete (99.9 % is 99% with one empty cell). The nudge undoes float
 * noise in ticks / total (29 / 100 × 100 is 28.999999999999996), far below one percent of any real run.
 */
export function progressBar (fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const filled = Math.floor(f * width + 1e-9)
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${`${Math.floor(f * 100 + 1e-9)}%`.padStart(4)}`
}

/** Server or CLI failure: the body as JSON on stdout with --json, else `CODE: message` and hints on stderr. */
export function printOperationError (err: OperationError, json: boolean): void {
  if (json) {
    printJson(err.body)
    return
  }
  const lines = [`${err.body.error_code}: ${err.body.message}`, ...describeDetails(err.body.details ?? {})]
  process.stderr.write(`${lines.join('\n')}\n`)
}

/** A strategy's exception: `STRATEGY_ERROR: message` and the strategy's stack (or the body as JSON). */
export function printStrategyError (err: StrategyFailedError, json: boolean): void {
  const stack = err.original.stack ?? String(err.original)
  if (json) {
    printJson({ error_code: 'STRATEGY_ERROR', message: err.message, details: { strategy: err.strategyFile, stack } })
    return
  }
  process.stderr.write(`STRATEGY_ERROR: ${err.message}\n${stack}\n`)
}

export function printUsageError (err: UsageError): void {
  process.stderr.write(`error: ${err.message}\n${err.hint !== undefined ? `${err.hint}\n` : ''}`)
}

/** Human hints from an error's details: per-symbol suggestions first, then the remaining fields. */
export function describeDetails (details: Record<string, unknown>): string[] {
  const lines: string[] = []
  const suggestions = details.suggestions
  if (isRecord(suggestions)) {
    for (const [symbol, options] of Object.entries(suggestions)) {
      const list = Array.isArray(options) ? options.filter((o): o is string => typeof o === 'string') : []
      lines.push(list.length > 0 ? `  ${symbol}: did you mean ${list.join(', ')}?` : `  ${symbol}: no similar symbol`)
    }
  }
  for (const [key, value] of Object.entries(details)) {
    if (key === 'suggestions' || key === 'errors') continue
    lines.push(`  ${key}: ${Array.isArray(value) ? value.map(String).join(', ') : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
  }
  return lines
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
