// NUL (U+0000) is refused in every string a client sends, at each transport's one parsing place (REST bodies,
// query strings and params; WebSocket messages), with VALIDATION_FAILED naming the field. PostgreSQL's text and
// jsonb cannot hold it, so without this a NUL reached the database and came back as a 500 after part of an
// operation had run; refusing it at the boundary keeps every storage mode alike and changes nothing.
import { AppError } from './app-error.js'

const NUL = '\u0000'
/** How JSON text spells NUL (a raw U+0000 is not valid JSON, so the parser refuses that by itself). */
const ESCAPED_NUL = '\\u0000'

/** Cheap pre-check on JSON text: false means no string of it can hold NUL (true may be `\\u0000`, a literal). */
export function jsonMayHoldNul (text: string): boolean {
  return text.includes(ESCAPED_NUL)
}

/** Where a NUL sits in a parsed value: the path of the string (or of the object whose key holds one). */
export interface NulAt { readonly path: string[], readonly inKey: boolean }

/** The first string or property name holding NUL in `value`, walked iteratively (depth is capped upstream anyway). */
export function findNul (value: unknown): NulAt | undefined {
  const stack: Array<{ v: unknown, path: string[] }> = [{ v: value, path: [] }]
  while (stack.length > 0) {
    const { v, path } = stack.pop() as { v: unknown, path: string[] }
    if (typeof v === 'string') {
      if (v.includes(NUL)) return { path, inKey: false }
      continue
    }
    if (v === null || typeof v !== 'object') continue
    const entries = Array.isArray(v) ? v.map((item, i): [string, unknown] => [String(i), item]) : Object.entries(v)
    // Pushed in reverse, so the first NUL in document order is the one reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]
      if (key.includes(NUL)) return { path, inKey: true }
      stack.push({ v: item, path: [...path, key] })
    }
  }
  return undefined
}

/** VALIDATION_FAILED for a NUL at `at`, its field named from `root` (`body`, `querystring`, `data`…). */
export function nulRefused (at: NulAt, root: string | undefined): AppError {
  const field = [...(root !== undefined ? [root] : []), ...at.path].join('.').slice(0, 160)
  const problem = at.inKey ? 'must not have a property name containing the NUL character (U+0000)' : 'must not contain the NUL character (U+0000)'
  const name = field.length > 0 ? field : 'message'
  return new AppError('VALIDATION_FAILED', `Invalid request: ${name} ${problem}`, {
    fields: [name],
    errors: [{ field: name, message: problem, keyword: 'nul' }]
  })
}

/** Throws VALIDATION_FAILED when any string (or key) of `value` holds NUL. */
export function assertNoNul (value: unknown, root: string | undefined): void {
  const at = findNul(value)
  if (at !== undefined) throw nulRefused(at, root)
}
