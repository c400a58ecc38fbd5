// The README's start command, exactly: `npm start` listens (printing its real port and a development key),
// and SIGTERM sent to the npm process shuts the server down gracefully: a connected client gets
// `connection_closing` and close code 1001, and nothing is left listening.
import t from 'tap'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { childEnv } from '../fixtures/child-env.js'
import { TestSocket, tokenFor } from '../fixtures/app.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Resolves true when a TCP connect to port is refused, false when something accepts it. */
async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' })
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', () => { resolve(true) })
  })
}

t.test('SIGTERM to `npm start` closes clients with 1001 and leaves no server behind', async (t) => {
  // Own process group, so the teardown can end whatever is left if the test fails half-way.
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // State in memory: the embedded database's first open costs seconds (restart-embedded.test.ts covers it).
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', SIMUTRADOR_API_KEYS: undefined, JWT_SECRET: undefined, SIMUTRADOR_STATE_DIR: ':memory:', DATABASE_URL: undefined, npm_config_update_notifier: 'false' })
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    npm.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  t.teardown(() => {
    try { process.kill(-npm.pid!, 'SIGKILL') } catch { /* already gone */ }
  })
  let out = ''
  let err = ''
  npm.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const banner = await new Promise<{ baseUrl: string, key: string }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no listening line within 60 s:\n${out}\n${err}`)) }, 60_000)
    npm.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      const url = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out)
      const key = /^\s+(sk_dev_\S+)\s*$/m.exec(out)
      if (url !== null && key !== null) { clearTimeout(timer); resolve({ baseUrl: url[1], key: key[1] }) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`npm start exited early:\n${out}\n${err}`)) })
  })
  const port = Number(new URL(banner.baseUrl).port)
  t.ok(port > 0, `the banner names the real port (${port}), not 0`)
  t.match(out, /^ {2}State: {7}in memory \(SIMUTRADOR_STATE_DIR=:memory:\): nothing survives a restart$/m, 'the banner says where state lives')

  const token = await tokenFor(banner.baseUrl, banner.key)
  const socket = await TestSocket.open(`${banner.baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  t.teardown(() => { socket.close() })
  t.match((await socket.next('connection_ready')).data, { user_id: 'dev' })

  npm.kill('SIGTERM')
  const closing = await socket.next('connection_closing', 15_000)
  t.ok(closing, 'the client is told the server is closing')
  const closed = await socket.closed
  t.equal(closed.code, 1001, 'the close code is 1001 (going away)')

  const end = await Promise.race([exited, new Promise<'timeout'>((resolve) => { setTimeout(() => { resolve('timeout') }, 20_000).unref() })])
  t.not(end, 'timeout', 'npm exits after the server has shut down')
  // The server is npm's child; once npm has exited nothing may still accept connections on the port.
  t.ok(await refused(port), 'the port refuses connections afterwards: no orphaned server')
})
