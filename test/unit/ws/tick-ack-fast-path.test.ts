// The tick_ack fast path accepts exactly the plain shape the SDK sends, with the values the full path
// (secure-json-parse + envelope check + TickAckData check) would give it, and declines everything else, so
// every other message keeps the full path's answer.
import t from 'tap'
import secureJson from 'secure-json-parse'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ClientEnvelope } from '../../../schemas/ws-messages.js'
import { TickAckData } from '../../../schemas/simulation.js'
import { plainTickAck } from '../../../server/ws/tick-ack-fast-path.js'

const envelope = TypeCompiler.Compile(ClientEnvelope)
const tickAck = TypeCompiler.Compile(TickAckData)

/** What the full path makes of `text`: the validated data, or undefined when it answers with an error. */
function fullPath (text: string): unknown {
  let parsed: unknown
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch {
    return undefined
  }
  if (!envelope.Check(parsed) || parsed.type !== 'tick_ack' || parsed.request_id !== undefined || parsed.timestamp !== undefined) return undefined
  return tickAck.Check(parsed.data) ? parsed.data : undefined
}

const sdk = (data: Record<string, unknown>): string => JSON.stringify({ type: 'tick_ack', data })
const fast = (text: string): unknown => plainTickAck(Buffer.from(text, 'utf8'))

t.test('the SDK\'s acknowledgement takes the fast path with the full path\'s values', async (t) => {
  const ids = ['sess_3kT9xQ2mVb7Lw1Rz', 'a', 'A-b_9', 'x'.repeat(64)]
  const seqs = [1, 9, 10, 51_690, 2 ** 31, 999_999_999_999_999]
  for (const session_id of ids) {
    for (const sequence_id of seqs) {
      for (const processing_status of ['ready', 'processing', 'need_time']) {
        const text = sdk({ session_id, sequence_id, processing_status })
        const got = fast(text)
        if (got === undefined || JSON.stringify(got) !== JSON.stringify(fullPath(text)) || !tickAck.Check(got)) t.fail(`not taken alike: ${text}`)
      }
    }
  }
})

t.test('anything but the plain shape is declined (and the full path answers it as before)', async (t) => {
  const plain = '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"}}'
  t.same(fast(plain), { session_id: 'sess_1', sequence_id: 7, processing_status: 'ready' })
  const declined: Array<[string, string, 'accepted' | 'refused']> = [
    ['whitespace', '{ "type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"}}', 'accepted'],
    ['keys reordered', '{"data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"},"type":"tick_ack"}', 'accepted'],
    ['data keys reordered', '{"type":"tick_ack","data":{"sequence_id":7,"session_id":"sess_1","processing_status":"ready"}}', 'accepted'],
    ['request_id', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"},"request_id":"r1"}', 'refused'],
    ['timestamp', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"},"timestamp":"x"}', 'refused'],
    ['extra data field', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready","x":1}}', 'refused'],
    ['extra envelope field', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"},"x":1}', 'refused'],
    ['escaped id', '{"type":"tick_ack","data":{"session_id":"sess\\u005f1","sequence_id":7,"processing_status":"ready"}}', 'accepted'],
    ['escaped type', '{"type":"tick\\u005fack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready"}}', 'accepted'],
    ['sequence 0', sdk({ session_id: 'sess_1', sequence_id: 0, processing_status: 'ready' }), 'refused'],
    ['negative sequence', sdk({ session_id: 'sess_1', sequence_id: -3, processing_status: 'ready' }), 'refused'],
    ['fractional sequence', sdk({ session_id: 'sess_1', sequence_id: 1.5, processing_status: 'ready' }), 'refused'],
    ['sequence 7.0', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7.0,"processing_status":"ready"}}', 'accepted'],
    ['exponent', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7e0,"processing_status":"ready"}}', 'accepted'],
    ['leading zero', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":07,"processing_status":"ready"}}', 'refused'],
    ['16 digits', sdk({ session_id: 'sess_1', sequence_id: 1234567890123456, processing_status: 'ready' }), 'accepted'],
    ['string sequence', sdk({ session_id: 'sess_1', sequence_id: '7', processing_status: 'ready' }), 'refused'],
    ['unknown status', sdk({ session_id: 'sess_1', sequence_id: 7, processing_status: 'READY' }), 'refused'],
    ['status prefix', sdk({ session_id: 'sess_1', sequence_id: 7, processing_status: 'read' }), 'refused'],
    ['id with a bad character', sdk({ session_id: 'sess!1', sequence_id: 7, processing_status: 'ready' }), 'refused'],
    ['id with a non-ASCII letter', sdk({ session_id: 'séss', sequence_id: 7, processing_status: 'ready' }), 'refused'],
    ['id of 65 characters', sdk({ session_id: 'x'.repeat(65), sequence_id: 7, processing_status: 'ready' }), 'refused'],
    ['empty id', sdk({ session_id: '', sequence_id: 7, processing_status: 'ready' }), 'refused'],
    ['missing status', JSON.stringify({ type: 'tick_ack', data: { session_id: 'sess_1', sequence_id: 7 } }), 'refused'],
    ['duplicate status key', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready","processing_status":"ready"}}', 'accepted'],
    ['trailing bytes', `${plain} `, 'accepted'],
    ['trailing garbage', `${plain}x`, 'refused'],
    ['truncated', plain.slice(0, -1), 'refused'],
    ['another type', plain.replace('tick_ack', 'tick_acc'), 'refused'],
    ['__proto__', '{"type":"tick_ack","data":{"session_id":"sess_1","sequence_id":7,"processing_status":"ready","__proto__":{}}}', 'refused']
  ]
  for (const [name, text, full] of declined) {
    t.equal(fast(text), undefined, `declined: ${name}`)
    t.equal(fullPath(text) !== undefined ? 'accepted' : 'refused', full, `the full path still decides: ${name}`)
  }
})

t.test('random mutations of the plain shape: whatever the fast path accepts, the full path accepts alike', async (t) => {
  // A small deterministic generator (no Math.random: the test is the same every run).
  let state = 0x9e3779b9
  const rnd = (n: number): number => { state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0; return state % n }
  const alphabet = '{}[]":,0123456789-_.eE+ \\abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZé\u0000'
  let fastCount = 0
  let mutatedFast = 0
  const mismatches: string[] = []
  for (let i = 0; i < 20_000; i++) {
    let text = sdk({ session_id: `sess_${i % 97}`, sequence_id: 1 + (i % 1000), processing_status: ['ready', 'processing', 'need_time'][i % 3] })
    const edits = rnd(3)
    for (let e = 0; e < edits; e++) {
      const at = rnd(text.length + 1)
      const op = rnd(3)
      const ch = alphabet[rnd(alphabet.length)]
      text = op === 0 ? text.slice(0, at) + ch + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1)
    }
    const got = fast(text)
    if (got === undefined) continue
    fastCount++
    if (edits > 0) mutatedFast++
    if (JSON.stringify(got) !== JSON.stringify(fullPath(text))) mismatches.push(text)
  }
  t.same(mismatches, [], 'every message the fast path took, the full path accepts with the same values')
  t.ok(fastCount > 1000 && mutatedFast > 100, `many (mutated) messages keep the plain shape: ${fastCount}, ${mutatedFast} mutated`)
})

t.test('the schemas are still the ones the fast path checks by hand', async (t) => {
  // plainTickAck checks these rules itself (no TypeBox check at run time): a change to either schema must
  // change tick-ack-fast-path.ts too, and this test says so.
  const plain = (schema: unknown): any => JSON.parse(JSON.stringify(schema, (k, v) => (k === 'description' || k === 'examples' ? undefined : v)))
  t.same(plain(TickAckData), {
    $id: 'TickAckData',
    type: 'object',
    additionalProperties: false,
    required: ['session_id', 'sequence_id', 'processing_status'],
    properties: {
      session_id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      sequence_id: { type: 'integer', minimum: 1 },
      processing_status: { type: 'string', enum: ['ready', 'processing', 'need_time'] }
    }
  }, 'TickAckData is what plainTickAck checks')
  t.same(plain(ClientEnvelope).properties.type, { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-z_]+$' }, 'the envelope\'s type rule')
  t.same(plain(ClientEnvelope).required, ['type'], 'only type is required in the envelope')
})

t.test('acks of sessions taking turns read each one\'s id', async (t) => {
  const ids = ['sess_a', 'sess_b', 'sess_a', 'sess_c1', 'sess_c2', 'sess_c1']
  t.same(ids.map((id, i) => (fast(sdk({ session_id: id, sequence_id: i + 1, processing_status: 'ready' })) as { session_id: string }).session_id), ids)
})
