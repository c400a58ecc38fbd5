// Terminal output of the CLI: aligned tables, key/value blocks, a progress bar, JSON for --json, and the
// one way errors are printed (`error_code: message` plus suggestions on stderr, or the body as JSON).
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

/** `[██████░░░░░░░░░░░░░░]  30%` for a fraction 0..1. */
export function progressBar (fraction: number, width = 20): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0))
  const filled = Math.round(f * width)
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${`${Math.floor(f * 100)}%`.padStart(4)}`
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
