// The state folder's socket lock within one process: one holder per folder (this process too), the socket
// file gone after unlock, a stale socket file (its process died) replaced, and a lock replaced meanwhile left
// alone by unlock. Across processes (kill -9, zombies, long paths): test/integration/state-dir-lock.test.ts.
import t, { type Test } from 'tap'
import { createServer } from 'node:net'
import { link, lstat, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lockStateDir } from '../../../server/adapters/state-dir-lock.js'
import { StorageStartError } from '../../../server/ports/storage.js'

/** A folder with a short path (tap's testdir paths are longer than a socket path may be). */
async function folder (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'st-lock-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

t.test('locks with a socket in the folder and unlocks by removing it', async (t) => {
  const dir = await folder(t)
  const unlock = await lockStateDir(dir)
  t.ok((await lstat(join(dir, '.lock.sock'))).isSocket(), 'the lock is a socket file in the folder')
  await unlock()
  await t.rejects(lstat(join(dir, '.lock.sock')), { code: 'ENOENT' })
  const again = await lockStateDir(dir)
  await again()
})

t.test('a folder already locked is refused, naming the holder\'s pid (this process too)', async (t) => {
  const dir = await folder(t)
  const unlock = await lockStateDir(dir)
  t.teardown(unlock)
  await t.rejects(lockStateDir(dir), new StorageStartError(
    `The state folder ${dir} is in use by another SimuTrador process (pid ${process.pid}). ` +
    'Stop that process, or give this one its own SIMUTRADOR_STATE_DIR.'))
})

t.test('a stale socket file (nobody listens on it) is replaced', async (t) => {
  const dir = await folder(t)
  // A socket file whose listener is gone, as a killed process leaves it: bind, then drop the listener
  // without the unlink a clean close does.
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(join(dir, 'x.sock'), resolve) })
  await link(join(dir, 'x.sock'), join(dir, '.lock.sock'))
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  t.ok((await lstat(join(dir, '.lock.sock'))).isSocket(), 'the stale socket file is there')
  const unlock = await lockStateDir(dir)
  t.pass('taken over')
  await unlock()
})

t.test('unlocking leaves a lock another process has taken since', async (t) => {
  const dir = await folder(t)
  const unlock = await lockStateDir(dir)
  await rm(join(dir, '.lock.sock'))
  const other = await lockStateDir(dir)
  await unlock()
  t.ok((await lstat(join(dir, '.lock.sock'))).isSocket(), 'the other holder\'s lock is still there')
  await t.rejects(lockStateDir(dir), { name: 'StorageStartError' })
  await other()
})
