// Readable log lines for a terminal: pino's JSON records (already redacted by loggerOptions) turned into
// `12:03:04.123 INFO  request completed 200 in 1.3 ms  req-1` lines, without pino-pretty (not a dependency).
// main.ts uses it in development when stdout is a terminal (or LOG_FORMAT=pretty); log pipelines get JSON.
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' }
/** Fields every record has, or that are shown in the line's own places. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'instance', 'v', 'reqId', 'req', 'res', 'responseTime', 'err'])

export interface PrettyOptions {
  /** ANSI colours for the level (a terminal without NO_COLOR). */
  color?: boolean
}

/** A pino destination that writes each record to `out` as a readable line (and an error's stack below it). */
export function prettyLogStream (out: (text: string) => void, options: PrettyOptions = {}): { write: (chunk: string) => void } {
  let partial = ''
  return {
    write (chunk: string) {
      const text = partial + chunk
      const lines = text.split('\n')
      partial = lines.pop() ?? ''
      let formatted = ''
      for (const line of lines) if (line.length > 0) formatted += formatRecord(line, options) + '\n'
      if (formatted.length > 0) out(formatted)
    }
  }
}

/** One JSON record as a line; a line that is not a JSON record is kept as it is. */
export function formatRecord (line: string, options: PrettyOptions = {}): string {
  let rec: Record<string, unknown>
  try {
    const value = JSON.parse(line) as unknown
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return line
    rec = value as Record<string, unknown>
  } catch {
    return line
  }
  const level = typeof rec.level === 'number' ? rec.level : 30
  const label = (LEVELS[level] ?? String(level)).padEnd(5)
  const parts = [clock(rec.time), options.color === true ? `\x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m` : label]
  if (typeof rec.msg === 'string') parts.push(rec.msg)
  parts.push(...requestParts(rec))
  for (const [key, value] of Object.entries(rec)) {
    if (SHOWN.has(key) || value === undefined) continue
    parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  }
  if (typeof rec.reqId === 'string') parts.push(` ${rec.reqId}`)
  return parts.join(' ') + errorLines(rec.err)
}

/** What a request record says: method and URL when it came in, status and time when it was answered. */
function requestParts (rec: Record<string, unknown>): string[] {
  const parts: string[] = []
  const req = rec.req as { method?: unknown, url?: unknown } | undefined
  if (req !== undefined && typeof req === 'object') parts.push(`${String(req.method)} ${String(req.url)}`)
  const res = rec.res as { statusCode?: unknown } | undefined
  if (res !== undefined && typeof res === 'object') parts.push(String(res.statusCode))
  if (typeof rec.responseTime === 'number') parts.push(`in ${rec.responseTime.toFixed(1)} ms`)
  return parts
}

function errorLines (err: unknown): string {
  if (err === null || typeof err !== 'object') return err === undefined ? '' : ` err=${String(err)}`
  const e = err as { message?: unknown, stack?: unknown }
  const stack = typeof e.stack === 'string' ? e.stack : typeof e.message === 'string' ? e.message : JSON.stringify(err)
  return '\n' + stack.split('\n').map((l) => `    ${l}`).join('\n')
}

/** The record's time of day (local), to the millisecond. */
function clock (time: unknown): string {
  const d = new Date(typeof time === 'number' ? time : Date.now())
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
}
