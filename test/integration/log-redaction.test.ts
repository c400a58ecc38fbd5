// Tokens and API keys never reach the logs: not from `?token=` on the WebSocket, not from Authorization or
// X-API-Key headers, not from failed attempts.
import t from 'tap'
import { Writable } from 'node:stream'
import { buildApp, loggerOptions } from '../../server/app.js'
import { testConfig, KEYS, TestSocket } from '../fixtures/app.js'

t.test('request logs carry no token or key', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done() } })
  const app = await buildApp(testConfig({ LOG_LEVEL: 'trace' }), { logger: { ...(loggerOptions('trace') as object), stream } })
  t.teardown(() => app.close())
  const base = await app.listen({ port: 0, host: '127.0.0.1' })

  const token = (await (await fetch(`${base}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEYS.dev } })).json() as { access_token: string }).access_token
  await fetch(`${base}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'wrong-key-that-must-not-be-logged' } })
  await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } })
  await fetch(`${base}/me?token=${token}`)
  const ws = await TestSocket.open(`${base.replace('http', 'ws')}/ws/simulate?token=${token}`)
  await ws.next('connection_ready')
  ws.close()
  await ws.closed

  const log = lines.join('')
  t.ok(lines.length > 5, `${lines.length} log lines were written`)
  t.match(log, /\/ws\/simulate\?\[redacted\]/, 'the WebSocket URL is logged without its query')
  for (const secret of [token, token.split('.')[2], KEYS.dev, 'wrong-key-that-must-not-be-logged']) {
    t.notOk(log.includes(secret), `the log does not contain ${secret.slice(0, 12)}…`)
  }
})
