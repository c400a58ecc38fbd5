// Nesting depth of JSON text, measured on the raw characters before any parse, so a deeply nested body or
// WebSocket message is refused with VALIDATION_FAILED before anything recursive (parsers, Value.Default,
// structuredClone, canonical JSON) ever sees it. One linear scan; strings (and escapes in them) are skipped.
import { AppError } from './app-error.js'

export const DEFAULT_MAX_JSON_DEPTH = 32

/** The deepest nesting of `[`/`{` in `text`, stopping early once it passes `stopAbove`. */
export function jsonDepth (text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      depth++
      if (depth > max) {
        max = depth
        if (max > stopAbove) return max
      }
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}

/** Throws VALIDATION_FAILED when `text` nests deeper than `maxDepth`. */
export function assertJsonDepth (text: string, maxDepth: number): void {
  if (jsonDepth(text, maxDepth) > maxDepth) {
    throw new AppError('VALIDATION_FAILED', `JSON is nested deeper than ${maxDepth} levels`, { max_depth: maxDepth })
  }
}
