// The state folder's pid-file lock: one live process per folder; a stale file (kill -9) is taken over.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lockStateDir } from '../../../server/adapters/state-dir-lock.js'
import { StorageStartError } from '../../../server/ports/storage.js'

/** The pid of a process that has exited. */
function deadPid (): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}

t.test('locks with this pid and unlocks by removing the file', async (t) => {
  const dir = t.testdir()
  const unlock = await lockStateDir(dir)
  t.equal(await readFile(join(dir, 'simutrador.pid'), 'utf8'), String(process.pid))
  await unlock()
  await t.rejects(readFile(join(dir, 'simutrador.pid')), { code: 'ENOENT' })
})

t.test('a folder held by another live process is refused, naming it', async (t) => {
  const dir = t.testdir({ 'simutrador.pid': String(process.ppid) })
  await t.rejects(lockStateDir(dir), new StorageStartError(
    `The state folder ${dir} is in use by another SimuTrador process (pid ${process.ppid}). ` +
    'Stop that process, or give this one its own SIMUTRADOR_STATE_DIR.'))
})

t.test('a stale pid file (its process is gone) is taken over, as is an unreadable one', async (t) => {
  for (const content of [String(deadPid()), 'not a pid']) {
    const dir = t.testdir({ 'simutrador.pid': content })
    const unlock = await lockStateDir(dir)
    t.equal(await readFile(join(dir, 'simutrador.pid'), 'utf8'), String(process.pid), content)
    await unlock()
  }
})

t.test('unlocking leaves a file another process has taken since', async (t) => {
  const dir = t.testdir()
  const unlock = await lockStateDir(dir)
  await writeFile(join(dir, 'simutrador.pid'), '1')
  await unlock()
  t.equal(await readFile(join(dir, 'simutrador.pid'), 'utf8'), '1')
})
