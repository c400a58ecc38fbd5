// Unmasked WebSocket text frames (RFC 6455 §5.2, server to client, FIN set, no extension bits) encoded
// straight into a shared slab: one pass over the text (UTF-8 encoding with the header written in front),
// one buffer per frame, so a turn's frames leave in one writev of whole frames. `ws`'s own sender measures
// the text first (Buffer.byteLength walks it) and queues the header and the text as two chunks, which the
// socket then encodes again. Used by WsConnection for its frames when the connection negotiated no
// extension (see there); `ws` keeps sending its control frames (pong, close) itself.

/** Room kept in front of the text for the longest header (2 + 8 bytes). */
const HEADER_ROOM = 10
const SLAB_BYTES = 64 * 1024
/** Frames that could need more than this get a buffer of their own. */
const SLAB_MAX_FRAME = 16 * 1024

let slab = Buffer.allocUnsafe(SLAB_BYTES)
let used = 0

/** The frame of `text`: a view that stays valid for as long as it is referenced (slabs are never reused). */
export function textFrame (text: string): Buffer {
  // UTF-8 needs at most 3 bytes per UTF-16 unit.
  const most = HEADER_ROOM + text.length * 3
  let target: Buffer
  let at: number
  if (most > SLAB_MAX_FRAME) {
    target = Buffer.allocUnsafe(most)
    at = 0
  } else {
    if (used + most > SLAB_BYTES) { slab = Buffer.allocUnsafe(SLAB_BYTES); used = 0 }
    target = slab
    at = used
  }
  const length = target.write(text, at + HEADER_ROOM, 'utf8')
  let start: number
  if (length < 126) {
    start = at + HEADER_ROOM - 2
    target[start + 1] = length
  } else if (length < 65536) {
    start = at + HEADER_ROOM - 4
    target[start + 1] = 126
    target.writeUInt16BE(length, start + 2)
  } else {
    start = at
    target[start + 1] = 127
    target.writeUInt32BE(Math.floor(length / 2 ** 32), start + 2)
    target.writeUInt32BE(length >>> 0, start + 6)
  }
  target[start] = 0x81 // FIN + text
  const end = at + HEADER_ROOM + length
  if (target === slab) used = (end + 7) & ~7
  return target.subarray(start, end)
}
