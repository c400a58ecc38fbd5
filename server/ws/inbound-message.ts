// Turns one inbound WebSocket text frame into a checked envelope, refusing on the way what no handler may see:
// text nested deeper than the depth cap (before any recursive parse), invalid JSON or `__proto__`/`constructor`
// keys, an envelope that is not `{type, data?, request_id?, timestamp?}`, and a NUL in any string (PostgreSQL
// cannot store it). The request_id is handed out as soon as it is known, so every refusal can echo it.
import secureJson from 'secure-json-parse'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ClientEnvelope } from '../../schemas/ws-messages.js'
import { AppError } from '../app-error.js'
import { assertJsonDepth } from '../json-depth.js'
import { findNul, jsonMayHoldNul, nulRefused } from '../nul-strings.js'

const checkEnvelope = TypeCompiler.Compile(ClientEnvelope)

/** request_id is looked for in this many leading characters of a refused (unparsed) message. */
export const REQUEST_ID_PEEK_CHARS = 300
const REQUEST_ID_PATTERN = /"request_id"\s*:\s*"((?:[^"\\]|\\.){0,256})"/

/** The request_id of a message that will not be parsed (refused before parsing), if it is cheap to find. */
export function peekRequestId (text: string): string | undefined {
  const m = REQUEST_ID_PATTERN.exec(text.length > REQUEST_ID_PEEK_CHARS ? text.slice(0, REQUEST_ID_PEEK_CHARS) : text)
  if (m === null) return undefined
  try {
    return (JSON.parse(`"${m[1]}"`) as string).slice(0, 128)
  } catch {
    return undefined
  }
}

/**
 * The envelope of `text`, or an AppError (INVALID_MESSAGE, VALIDATION_FAILED). `seen.requestId` is set once the
 * message's request_id is known, before any check that can refuse the message after it.
 */
export function parseEnvelope (text: string, maxDepth: number, seen: { requestId?: string | undefined }): ClientEnvelope {
  // Before anything recursive (parser, Value.Default, structuredClone) sees the message.
  try {
    assertJsonDepth(text, maxDepth)
  } catch (err) {
    seen.requestId = peekRequestId(text)
    throw err
  }
  let parsed: unknown
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch {
    throw new AppError('INVALID_MESSAGE', 'Message is not valid JSON (or contains __proto__/constructor keys)')
  }
  if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { request_id?: unknown }).request_id === 'string') {
    seen.requestId = (parsed as { request_id: string }).request_id.slice(0, 128)
  }
  if (!checkEnvelope.Check(parsed)) {
    const first = checkEnvelope.Errors(parsed).First()
    const field = first === undefined ? '' : first.path.replace(/^\//, '').replace(/\//g, '.').slice(0, 160)
    throw new AppError('INVALID_MESSAGE', `Invalid message envelope${field.length > 0 ? `: ${field} ${first?.message ?? ''}` : ''}`, { fields: field.length > 0 ? [field] : [] })
  }
  return parsed
}

/**
 * VALIDATION_FAILED when a string of the message (request_id, data, anything) holds NUL. Walked only when the
 * text spells one (`\u0000`): a plain message pays one substring search. Called once the handler is known, so
 * the refusal is the reply of its family (`session_error` for session operations).
 */
export function assertNoNulIn (text: string, envelope: ClientEnvelope): void {
  const nul = jsonMayHoldNul(text) ? findNul(envelope) : undefined
  if (nul !== undefined) throw nulRefused(nul, undefined)
}
