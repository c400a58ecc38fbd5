// The server's stdout as an operator's log pipeline reads it: a real `node bin/simutrador-server.js`, with
// requests logged at info while it starts and after. In development the start banner is one contiguous
// block and every other line is a JSON log line; with NODE_ENV=production every line is JSON at info, the
// banner included (as one `SimuTrador is listening on …` record).
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childEnv } from '../fixtures/child-env.js'
import { API_KEYS_ENV, JWT_SECRET } from '../fixtures/app.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Starts the server, sends `requests` GET /health while it runs, stops it with SIGTERM; its stdout. */
async function stdoutOf (t: { teardown: (fn: () => unknown) => void }, env: Record<string, string | undefined>, requests = 20): Promise<string> {
  const child = spawn(process.execPath, ['bin/simutrador-server.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: undefined, NODE_ENV: undefined, JWT_SECRET: undefined, SIMUTRADOR_API_KEYS: undefined, SIMUTRADOR_STATE_DIR: ':memory:', DATABASE_URL: undefined, REDIS_URL: undefined, ...env })
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) resolve(m[1])
    })
    void exited.then(() => { reject(new Error(`server exited before listening:\n${out}\n${err}`)) })
  })
  await Promise.all(Array.from({ length: requests }, async () => await (await fetch(`${baseUrl}/health`)).text()))
  child.kill('SIGTERM')
  await exited
  return out
}

function isJsonLog (line: string): boolean {
  try {
    const v = JSON.parse(line) as { level?: unknown, msg?: unknown }
    return typeof v.level === 'number' && typeof v.msg === 'string'
  } catch {
    return false
  }
}

t.test('development: the banner is one block; every other stdout line is a JSON log line', async (t) => {
  const out = await stdoutOf(t, { LOG_LEVEL: 'info' })
  const lines = out.split('\n')
  t.equal(lines.pop(), '', 'ends with a newline')
  const text = lines.map((l, i) => ({ l, i })).filter(({ l }) => !isJsonLog(l))
  const first = text[0].i
  t.same(text.map(({ i }) => i), text.map((_, k) => first + k), 'the non-JSON lines are contiguous')
  const banner = text.map(({ l }) => l)
  t.equal(banner[0], '', 'a blank line opens the banner')
  t.match(banner[1], /^ {2}SimuTrador is listening on http:\/\/127\.0\.0\.1:\d+$/)
  t.ok(banner.some((l) => /^ {4}sk_dev_\S+$/.test(l)), 'the development key is inside the block')
  t.equal(banner[banner.length - 1], '', 'a blank line closes it')
  t.ok(lines.slice(0, first).some((l) => JSON.parse(l).level === 40), 'the JWT_SECRET warning is logged before it')
  const after = lines.slice(first + banner.length).map((l) => JSON.parse(l) as { level: number, msg: string, req?: { url: string } })
  t.ok(after.filter((l) => l.req?.url === '/health').length >= 20, 'the request logs come after it, whole')
})

t.test('production: every stdout line is JSON, at info by default, the banner as one record', async (t) => {
  const out = await stdoutOf(t, { NODE_ENV: 'production', JWT_SECRET, SIMUTRADOR_API_KEYS: API_KEYS_ENV })
  const lines = out.trimEnd().split('\n')
  const bad = lines.filter((l) => !isJsonLog(l))
  t.same(bad, [], 'no line that is not a JSON log record')
  const records = lines.map((l) => JSON.parse(l) as { level: number, msg: string, url?: string, docs?: string, req?: unknown })
  const listening = records.filter((r) => r.msg.startsWith('SimuTrador is listening on '))
  t.equal(listening.length, 1)
  t.match(listening[0], { level: 30, url: /^http:\/\/127\.0\.0\.1:\d+$/, docs: /\/docs$/ })
  t.notOk(records.some((r) => /sk_dev_/.test(JSON.stringify(r))), 'no generated key in production')
  t.ok(records.some((r) => r.req !== undefined && r.level === 30), 'requests are logged at info (the default level)')
})
