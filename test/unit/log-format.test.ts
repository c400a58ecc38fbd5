// The readable log lines of a terminal (server/log-format.ts): pino's records as time, level, message and
// fields; request records as method, URL, status and time; an error's stack below its line; anything that is
// not a JSON record passed through; records split across writes put back together.
import t from 'tap'
import { formatRecord, prettyLogStream } from '../../server/log-format.js'

const AT = new Date(2026, 0, 2, 3, 4, 5, 6).getTime()

t.test('a record: time of day, level, message, then its own fields', async (t) => {
  t.equal(formatRecord(JSON.stringify({ level: 40, time: AT, pid: 1, hostname: 'h', instance: 'h:1', msg: 'shutting down', signal: 'SIGTERM', n: 3, o: { a: 1 } })),
    '03:04:05.006 WARN  shutting down signal=SIGTERM n=3 o={"a":1}')
})

t.test('request records: method and URL in, status and time out, the request id last', async (t) => {
  t.equal(formatRecord(JSON.stringify({ level: 30, time: AT, reqId: 'req-1', req: { id: 'req-1', method: 'GET', url: '/ws/simulate?[redacted]' }, msg: 'incoming request' })),
    '03:04:05.006 INFO  incoming request GET /ws/simulate?[redacted]  req-1')
  t.equal(formatRecord(JSON.stringify({ level: 30, time: AT, reqId: 'req-1', res: { statusCode: 200 }, responseTime: 1.2345, msg: 'request completed' })),
    '03:04:05.006 INFO  request completed 200 in 1.2 ms  req-1')
})

t.test('an error\'s stack goes below its line, indented; colours only when asked', async (t) => {
  const line = formatRecord(JSON.stringify({ level: 50, time: AT, msg: 'boom', err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at x (y.ts:1:2)' } }), { color: true })
  t.equal(line, '03:04:05.006 \x1b[31mERROR\x1b[0m boom\n    Error: bad\n        at x (y.ts:1:2)')
})

t.test('what is not a JSON record is kept; records split across writes are joined', async (t) => {
  t.equal(formatRecord('plain text'), 'plain text')
  t.equal(formatRecord('[1,2]'), '[1,2]')
  const out: string[] = []
  const stream = prettyLogStream((s) => { out.push(s) })
  const rec = JSON.stringify({ level: 30, time: AT, msg: 'hello' })
  stream.write(rec.slice(0, 10))
  t.same(out, [], 'nothing until the line is whole')
  stream.write(rec.slice(10) + '\n' + rec + '\n')
  t.same(out, ['03:04:05.006 INFO  hello\n03:04:05.006 INFO  hello\n'])
})
