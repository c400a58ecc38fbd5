// Recognises the one message a lockstep strategy sends per tick without a JSON parse or a schema walk: the
// exact bytes `{"type":"tick_ack","data":{"session_id":"…","sequence_id":N,"processing_status":"…"}}` that
// JSON.stringify makes of the SDK's (and a lean client's) acknowledgement. The fields are checked against the
// same rules as TickAckData (session id pattern, integer ≥ 1, the status enum), so anything it accepts the full
// path (secure-json-parse, envelope check, TickAckData check) accepts with the same values; anything else —
// other key orders, whitespace, extra fields, a request_id, escapes, odd numbers — returns undefined and goes
// the full path, which gives it the same answer as before. test/unit/ws/tick-ack-fast-path.test.ts holds both
// to that, message by message, and fails when TickAckData (or the envelope) changes under these rules.
import type { TickAckData } from '../../schemas/simulation.js'

const PREFIX = Buffer.from('{"type":"tick_ack","data":{"session_id":"', 'latin1')
const AFTER_ID = Buffer.from('","sequence_id":', 'latin1')
const AFTER_SEQ = Buffer.from(',"processing_status":"', 'latin1')
const STATUSES = (['ready', 'processing', 'need_time'] as const).map((s) => ({ status: s, bytes: Buffer.from(`${s}"}}`, 'latin1') }))

/** SessionId's pattern `^[A-Za-z0-9_-]{1,64}$`. */
const MAX_ID = 64
/** Integers up to 15 digits are exact doubles and parse the same digit by digit as JSON.parse reads them. */
const MAX_DIGITS = 15
const SHORTEST = PREFIX.length + 1 + AFTER_ID.length + 1 + AFTER_SEQ.length + 'ready"}}'.length
const LONGEST = PREFIX.length + MAX_ID + AFTER_ID.length + MAX_DIGITS + AFTER_SEQ.length + 'processing"}}'.length

function isIdByte (c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d
}

function matchesAt (raw: Buffer, at: number, part: Buffer): boolean {
  if (at + part.length > raw.length) return false
  for (let i = 0; i < part.length; i++) if (raw[at + i] !== part[i]) return false
  return true
}

/** The last session id read and its bytes: a run's acks repeat it, so its string is made once. */
const lastId = Buffer.alloc(MAX_ID)
let lastIdLength = 0
let lastIdText = ''

function sessionIdAt (raw: Buffer, start: number, end: number): string {
  const n = end - start
  if (n === lastIdLength) {
    let same = true
    for (let i = 0; i < n; i++) if (raw[start + i] !== lastId[i]) { same = false; break }
    if (same) return lastIdText
  }
  raw.copy(lastId, 0, start, end)
  lastIdLength = n
  lastIdText = raw.toString('latin1', start, end)
  return lastIdText
}

/** The tick_ack's data when `raw` is exactly the plain shape with valid fields; undefined otherwise. */
export function plainTickAck (raw: Buffer): TickAckData | undefined {
  const n = raw.length
  if (n < SHORTEST || n > LONGEST || !matchesAt(raw, 0, PREFIX)) return undefined
  let i = PREFIX.length
  const idStart = i
  while (i < n && i - idStart < MAX_ID && isIdByte(raw[i])) i++
  const idEnd = i
  if (idEnd === idStart || !matchesAt(raw, i, AFTER_ID)) return undefined
  i += AFTER_ID.length
  // JSON allows no leading zero; the schema wants ≥ 1: so the first digit is 1-9.
  let c = raw[i]
  if (c === undefined || c < 0x31 || c > 0x39) return undefined
  let seq = 0
  const seqStart = i
  while (i < n && (c = raw[i]) >= 0x30 && c <= 0x39) {
    if (i - seqStart >= MAX_DIGITS) return undefined
    seq = seq * 10 + (c - 0x30)
    i++
  }
  if (!matchesAt(raw, i, AFTER_SEQ)) return undefined
  i += AFTER_SEQ.length
  for (const s of STATUSES) {
    if (i + s.bytes.length === n && matchesAt(raw, i, s.bytes)) {
      return { session_id: sessionIdAt(raw, idStart, idEnd), sequence_id: seq, processing_status: s.status }
    }
  }
  return undefined
}
