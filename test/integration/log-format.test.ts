// What `npm start` prints in a terminal (issue 19, item 11's log lines), against real server processes: with
// LOG_FORMAT=pretty, and by default on a terminal (a pseudo-terminal from `script`) in development, the log
// is readable lines, not JSON, and still carries no token or key; with NODE_ENV=production on a terminal it
// stays JSON (start-banner.test.ts holds the JSON of a pipe).
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { API_KEYS_ENV, JWT_SECRET, KEYS, tokenFor } from '../fixtures/app.js'
import { childEnv } from '../fixtures/child-env.js'
import { SERVER_ARGS, startServer } from '../fixtures/server-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RECORD = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/

function isJson (line: string): boolean {
  try { return typeof JSON.parse(line) === 'object' } catch { return false }
}

/** The lines outside the start banner (the block between its blank lines). */
function logLines (out: string): string[] {
  const lines = out.replaceAll('\r', '').split('\n')
  const start = lines.findIndex((l) => / {2}SimuTrador is listening on /.test(l))
  let end = start
  while (end < lines.length && lines[end] !== '') end++
  if (start >= 0) lines.splice(start - 1, end - start + 2)
  return lines.filter((l) => l.trim() !== '')
}

t.test('LOG_FORMAT=pretty: readable lines, no JSON, and no token or key in them', async (t) => {
  const server = await startServer(t, { SIMUTRADOR_STATE_DIR: ':memory:', LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' })
  const token = await tokenFor(server.baseUrl, KEYS.dev)
  await fetch(`${server.baseUrl}/me`, { headers: { authorization: `Bearer ${token}` } })
  await fetch(`${server.baseUrl}/me?token=${token}`)
  await fetch(`${server.baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'wrong-key-that-must-not-be-logged' } })
  const ws = new WebSocket(`${server.wsUrl}?token=${token}`)
  await new Promise((resolve) => ws.once('message', resolve))
  ws.close()
  await server.stop('SIGTERM')
  const lines = logLines(server.output())
  t.ok(lines.length > 8, `${lines.length} log lines`)
  t.same(lines.filter((l) => !RECORD.test(l) && !/^ {4}/.test(l)), [], 'every line is a readable record (or an indented stack)')
  t.same(lines.filter(isJson), [], 'no JSON line')
  t.ok(lines.some((l) => / INFO {2}incoming request GET \/me /.test(l)), 'requests read as method and URL')
  t.ok(lines.some((l) => / INFO {2}request completed 200 in \d+\.\d ms/.test(l)), 'and status and time')
  t.ok(lines.some((l) => /\/ws\/simulate\?\[redacted\]/.test(l)), 'the WebSocket URL without its query')
  for (const secret of [token, KEYS.dev, 'wrong-key-that-must-not-be-logged']) t.notOk(server.output().includes(secret), `no ${secret.slice(0, 12)}…`)
})

t.test('on a terminal: readable lines in development by default, JSON with NODE_ENV=production', { skip: spawnSync('script', ['--version']).status !== 0 && 'needs script(1) for a pseudo-terminal' }, async (t) => {
  for (const production of [false, true]) {
    const env = childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', LOG_FORMAT: undefined, SIMUTRADOR_STATE_DIR: ':memory:', NO_COLOR: '1', JWT_SECRET, SIMUTRADOR_API_KEYS: API_KEYS_ENV, NODE_ENV: production ? 'production' : undefined })
    // script(1) runs the server on a pseudo-terminal: its stdout is a TTY, as `npm start` in a terminal.
    const child = spawn('script', ['-qefc', `"${process.execPath}" ${SERVER_ARGS.join(' ')}`, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
    t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => { const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m !== null) resolve(m[1]) })
      void exited.then(() => { reject(new Error(`exited before listening:\n${out}`)) })
    })
    await (await fetch(`${base}/health`)).text()
    // Ctrl-C on the terminal: SIGINT to the server, which shuts down and exits.
    child.stdin.write('\x03')
    await exited
    // The terminal echoes the Ctrl-C as ^C.
    const lines = logLines(out.replaceAll('^C', ''))
    t.ok(lines.some((l) => l.includes('request completed')), `${production ? 'production' : 'development'}: requests are logged`)
    if (production) t.same(lines.filter((l) => !isJson(l)), [], 'production: every line is JSON, even on a terminal')
    else t.same(lines.filter((l) => !RECORD.test(l) && !/^ {4}/.test(l)), [], 'development: every line is readable, none JSON')
  }
})
