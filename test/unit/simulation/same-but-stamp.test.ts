// A rebuilt run's events are checked against the stored ones except for the envelope's wall-clock timestamp.
import t from 'tap'
import { sameButStamp } from '../../../server/simulation/simulation-service.js'

const frame = (data: string, stamp: string, seq: number): string =>
  `{"type":"tick","data":${data},"timestamp":"${stamp}","sequence_id":${seq}}`

t.test('frames equal but for the envelope timestamp are the same', async (t) => {
  t.ok(sameButStamp(frame('{"a":1}', '2026-11-27T10:00:00.000Z', 7), frame('{"a":1}', '2026-11-28T11:11:11.111Z', 7)))
  t.ok(sameButStamp(frame('{"a":1}', 'x', 7), frame('{"a":1}', 'x', 7)), 'identical')
  t.ok(sameButStamp(frame('{"timestamp":"2023-01-03T14:30:00.000Z"}', 'a', 1), frame('{"timestamp":"2023-01-03T14:30:00.000Z"}', 'bb', 1)),
    'a timestamp inside the data is compared, the envelope\'s is not')
})

t.test('any other difference is a difference', async (t) => {
  const a = frame('{"a":1}', '2026-11-27T10:00:00.000Z', 7)
  t.notOk(sameButStamp(a, frame('{"a":2}', '2026-11-27T10:00:00.000Z', 7)), 'data')
  t.notOk(sameButStamp(a, frame('{"a":1}', '2026-11-27T10:00:00.000Z', 8)), 'sequence id')
  t.notOk(sameButStamp(a, frame('{"a":1}', '2026-11-27T10:00:00.000Z', 70)), 'sequence id of another length')
  t.notOk(sameButStamp(a, frame('{"ab":1}', '2026-11-27T10:00:00.000Z', 7)), 'data of another length')
  t.notOk(sameButStamp(frame('{"timestamp":"1"}', 'x', 1), frame('{"timestamp":"2"}', 'x', 1)), 'a data timestamp')
  t.notOk(sameButStamp('{"type":"tick","data":{}}', '{"type":"tick","data":{} }'), 'no envelope timestamp')
  t.notOk(sameButStamp(a, a.replace('"sequence_id"', '"sequence_ix"')), 'what follows the timestamp')
  t.notOk(sameButStamp(a, '{"type":"fill"' + a.slice(13)), 'the type')
})
