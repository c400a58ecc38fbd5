// Text frames the connection writes itself decode, with ws's own client-side Receiver, to the exact text
// (every header length form, non-ASCII text, frames that spill into a new slab or get their own buffer),
// byte for byte the frames ws's Sender would have written.
import t from 'tap'
import { createRequire } from 'node:module'
import { textFrame } from '../../../server/ws/text-frames.js'

// ws's frame parser and writer (not in @types/ws).
interface WsReceiver { on: (event: string, listener: (...args: any[]) => void) => void, write: (chunk: Buffer, cb: () => void) => void }
const ws = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean, maxPayload: number }) => WsReceiver
  Sender: { frame: (data: Buffer, options: Record<string, unknown>) => Buffer[] }
}
const { Receiver, Sender } = ws

function decode (frames: Buffer[]): Promise<string[]> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 })
  const out: string[] = []
  receiver.on('message', (data: Buffer, isBinary: boolean) => { if (!isBinary) out.push(data.toString('utf8')) })
  return new Promise((resolve, reject) => {
    receiver.on('error', reject)
    receiver.write(Buffer.concat(frames), () => { resolve(out) })
  })
}

/** What ws's Sender writes for a server's text frame (header and payload). */
function wsFrame (text: string): Buffer {
  return Buffer.concat(Sender.frame(Buffer.from(text, 'utf8'), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }))
}

t.test('frames decode to the text and equal ws\'s own', async (t) => {
  const texts: string[] = ['', 'a', '{"type":"tick"}']
  for (const n of [124, 125, 126, 127, 5000, 16 * 1024, 21_845, 21_846, 65_535, 65_536, 70_000, 1 << 20]) texts.push('x'.repeat(n))
  texts.push('é'.repeat(63), 'é'.repeat(64), '€'.repeat(42), '😀'.repeat(40_000), `{"symbol":"Société Générale","note":"\u2028 ✓"}`)
  // Enough small frames to cross slab boundaries several times.
  for (let i = 0; i < 3000; i++) texts.push(`{"type":"tick","data":{"sequence_id":${i},"pad":"${'p'.repeat(i % 300)}"}}`)
  const frames = texts.map(textFrame)
  t.same(await decode(frames), texts, `${texts.length} frames decode to their texts`)
  const differ = texts.filter((text, i) => !frames[i].equals(wsFrame(text)))
  t.same(differ.map((d) => d.slice(0, 40)), [], 'each frame is byte for byte the one ws writes')
})

t.test('frames stay intact while later frames are encoded', async (t) => {
  const first = textFrame('{"first":true}')
  const copy = Buffer.from(first)
  for (let i = 0; i < 10_000; i++) textFrame(`{"later":${i}}`)
  t.ok(first.equals(copy), 'a slab is never written over')
})
