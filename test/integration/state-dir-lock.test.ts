// The state folder's lock across real processes (issue 19 item 12): a live holder refuses a second start and
// names its pid; a holder killed with SIGKILL frees the folder at once, even while it is a zombie that its
// parent has not reaped (its pid still answers kill(pid, 0), which fooled the old pid file); a folder whose
// path is too long for a socket path is locked all the same; and a real server restarted right after its
// zombie predecessor's kill -9 starts.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { lockStateDir } from '../../server/adapters/state-dir-lock.js'
import { StorageStartError } from '../../server/ports/storage.js'
import { childEnv } from '../fixtures/child-env.js'
import { API_KEYS_ENV, JWT_SECRET } from '../fixtures/app.js'
import { SERVER_ARGS, startServer } from '../fixtures/server-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HOLDER = ['--import', 'tsx', 'test/fixtures/lock-holder.ts']

interface Held { child: ChildProcess, pid: number, exited: Promise<void> }

/** A process holding `dir`'s lock (as a zombie-to-be: under a parent that never reaps it); resolves once it holds it. */
async function holder (t: Test, dir: string, zombie = false): Promise<Held> {
  // As a zombie: the holder runs under a shell that then becomes `sleep`, which never reaps its children.
  const child = zombie
    ? spawn('/bin/sh', ['-c', `"${process.execPath}" ${HOLDER.join(' ')} "$0" & exec sleep 120`, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() })
    : spawn(process.execPath, [...HOLDER, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
  let out = ''
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /locked (\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    void exited.then(() => { reject(new Error(`the holder exited before locking:\n${out}`)) })
  })
  return { child, pid, exited }
}

/** Polls /proc until `pid` is a zombie (state Z): dead, its fds closed, not yet reaped. */
async function untilZombie (pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    if (/^\d+ \(.*\) Z /.test(stat)) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`process ${pid} did not become a zombie`)
}

async function tempDir (t: Test, name = ''): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'st-lock-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  if (name === '') return dir
  const deep = join(dir, name)
  await mkdir(deep, { recursive: true })
  return deep
}

t.test('a folder held by a live process is refused, naming its pid; after its kill -9 it is taken at once', async (t) => {
  const dir = await tempDir(t)
  const held = await holder(t, dir)
  await t.rejects(lockStateDir(dir), new StorageStartError(
    `The state folder ${dir} is in use by another SimuTrador process (pid ${held.pid}). ` +
    'Stop that process, or give this one its own SIMUTRADOR_STATE_DIR.'))
  held.child.kill('SIGKILL')
  await held.exited
  const unlock = await lockStateDir(dir)
  await unlock()
})

t.test('a holder killed but not yet reaped (a zombie whose pid still answers) does not hold the folder', { skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  const dir = await tempDir(t)
  const held = await holder(t, dir, true)
  process.kill(held.pid, 'SIGKILL')
  await untilZombie(held.pid)
  t.doesNotThrow(() => { process.kill(held.pid, 0) }, 'the zombie\'s pid still answers kill(pid, 0)')
  const unlock = await lockStateDir(dir)
  t.pass('locked while the dead holder is still a zombie')
  await unlock()
})

t.test('a folder whose path is too long for a socket path is locked too, and refused while held', async (t) => {
  const dir = await tempDir(t, 'a'.repeat(60) + '/' + 'b'.repeat(60))
  t.ok(Buffer.byteLength(join(dir, '.lock.sock')) > 108, 'longer than a Unix socket path may be')
  const held = await holder(t, dir)
  await t.rejects(lockStateDir(dir), { name: 'StorageStartError', message: new RegExp(`in use by another SimuTrador process \\(pid ${held.pid}\\)`) })
  held.child.kill('SIGKILL')
  await held.exited
  const unlock = await lockStateDir(dir)
  await unlock()
})

t.test('a server restarted right after kill -9 of its zombie predecessor starts on the same folder', { skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  const dir = await tempDir(t)
  const env = childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', JWT_SECRET, SIMUTRADOR_API_KEYS: API_KEYS_ENV, SIMUTRADOR_STATE_DIR: dir })
  const child = spawn('/bin/sh', ['-c', `"${process.execPath}" ${SERVER_ARGS.join(' ')} & echo "server pid $!"; exec sleep 300`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
  let out = ''
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const pid = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /server pid (\d+)[\s\S]*listening on http/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    void exited.then(() => { reject(new Error(`the first server exited:\n${out}`)) })
  })
  process.kill(pid, 'SIGKILL')
  await untilZombie(pid)
  const server = await startServer(t, { SIMUTRADOR_STATE_DIR: dir })
  t.equal((await fetch(`${server.baseUrl}/health`)).status, 200, 'the restarted server answers')
  await server.stop('SIGTERM')
})
