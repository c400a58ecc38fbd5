// The state folder's lock: PGlite does not guard its data folder, and two processes on one folder would
// corrupt it. A pid file does; a stale one (its process is gone, e.g. after kill -9) is taken over.
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageStartError } from '../ports/storage.js'

/** Takes `dir`'s lock for this process (StorageStartError if a live process holds it); resolves the unlock. */
export async function lockStateDir (dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'simutrador.pid')
  const mine = String(process.pid)
  try {
    await writeFile(file, mine, { flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const holder = Number((await readFile(file, 'utf8')).trim())
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new StorageStartError(
        `The state folder ${dir} is in use by another SimuTrador process (pid ${holder}). ` +
        'Stop that process, or give this one its own SIMUTRADOR_STATE_DIR.')
    }
    await writeFile(file, mine)
  }
  return async () => {
    const holder = await readFile(file, 'utf8').catch(() => '')
    if (holder.trim() === mine) await rm(file, { force: true })
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
