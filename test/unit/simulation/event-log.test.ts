// The event log as a bounded ring: newest frames within a byte budget, pages bounded by count and size,
// EVENTS_EXPIRED (with the first available id) for dropped events, release keeps the numbering.
import t from 'tap'
import { EventLog } from '../../../server/simulation/event-log.js'
import { isAppError } from '../../../server/app-error.js'

const frame = (seq: number, pad = 0): string => `{"type":"tick","data":{"n":${seq}${' '.repeat(pad)}},"sequence_id":${seq}}`

t.test('keeps the newest frames within its budget and refuses older ones with EVENTS_EXPIRED', async (t) => {
  const log = new EventLog(1000)
  for (let i = 1; i <= 100; i++) log.append(i, frame(i, 50 - String(i).length))
  t.equal(log.lastSequenceId, 100)
  t.ok(log.approximateBytes <= 1000, `within budget (${log.approximateBytes})`)
  const first = log.firstAvailableSequenceId
  t.ok(first > 1 && first < 100)
  t.same(log.framesAfter(first - 1, 2).map((f) => JSON.parse(f).sequence_id), [first, first + 1])
  t.equal(log.lastTickStepThrough(100), 100)
  try {
    log.framesAfter(first - 2)
    t.fail('expected EVENTS_EXPIRED')
  } catch (err) {
    t.ok(isAppError(err) && err.error_code === 'EVENTS_EXPIRED' && err.details?.first_available_sequence_id === first)
  }
})

t.test('pages stop at the character budget but always carry one frame', async (t) => {
  const log = new EventLog(1 << 20)
  for (let i = 1; i <= 10; i++) log.append(0, frame(i, 100))
  t.equal(log.framesAfter(0, 1000, 2 * frame(1, 100).length).length, 2)
  t.equal(log.framesAfter(0, 1000, 10).length, 1)
  t.equal(log.framesAfter(0, 3).length, 3)
  t.same(log.framesAfter(10), [])
})

t.test('many drops stay consistent across compaction', async (t) => {
  const log = new EventLog(64 * 100)
  for (let i = 1; i <= 20_000; i++) log.append(i, frame(i, 60 - String(i).length))
  const first = log.firstAvailableSequenceId
  const page = log.framesAfter(first - 1, 1000).map((f) => JSON.parse(f).sequence_id as number)
  t.same(page, Array.from({ length: 20_000 - first + 1 }, (_, i) => first + i))
})

t.test('release forgets the frames, keeps the numbering', async (t) => {
  const log = new EventLog()
  for (let i = 1; i <= 5; i++) log.append(0, frame(i))
  log.release()
  t.equal(log.released, true)
  t.equal(log.lastSequenceId, 5)
  t.equal(log.approximateBytes, 0)
  t.same(log.framesAfter(5), [])
  t.throws(() => log.framesAfter(4), /no longer kept/)
  log.append(0, frame(6))
  t.equal(log.nextSequenceId, 7, 'events after release still count')
})
