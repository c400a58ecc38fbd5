// The state folder's lock: PGlite does not guard its data folder, and two processes on one folder would
// corrupt it. The lock is a Unix domain socket bound in the folder (`.lock.sock`) by the holding process. The
// kernel closes it when that process dies (kill -9 included, and before a zombie is reaped), so a dead holder
// never looks alive, as it could through a pid file (a zombie or a reused pid answers kill(pid, 0)). The
// socket file outlives a crash; a connect to it that is refused proves it stale, and it is replaced. A live
// holder answers the connect with its pid, which the refusal names.
//
// Why this lock: Node has no flock; PGlite has no lock of its own; Linux's abstract socket namespace is
// released the same way but exists per network namespace (two containers sharing the folder would both get
// it) and only on Linux. A socket file in the folder is seen by every process that sees the folder.
// Taking it is atomic: the socket is bound under a unique name, then hard-linked to `.lock.sock` (link fails
// if the name exists); a stale one is moved aside and removed only if it is still the one found stale.
// Socket paths are limited (108 bytes on Linux, 104 on macOS): a folder whose path is too long is reached
// through a relative path from the working directory, else through a short symlink to it under the
// temporary directory; the socket file is in the folder either way.
import { createHash, randomBytes } from 'node:crypto'
import { createConnection, createServer, type Server } from 'node:net'
import { link, lstat, readlink, realpath, rename, rm, symlink, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { StorageStartError } from '../ports/storage.js'

const LOCK_NAME = '.lock.sock'
/** Longest socket path, in bytes, that every platform takes (macOS: 104 with the terminating NUL). */
const MAX_SOCKET_PATH = 103
/** How long a probe waits for a live holder's pid before naming none. */
const PROBE_MS = 2000
const TAKE_ATTEMPTS = 5

/** Takes `dir`'s lock for this process (StorageStartError if a live process holds it); resolves the unlock. */
export async function lockStateDir (dir: string): Promise<() => Promise<void>> {
  const base = await socketBase(dir)
  const lockPath = join(base, LOCK_NAME)
  const tempPath = join(base, `.lock.${process.pid}.${randomBytes(4).toString('hex')}.sock`)
  const server = await bind(tempPath)
  let ino: number
  try {
    ino = (await lstat(tempPath)).ino
    await take(dir, tempPath, lockPath)
  } catch (err) {
    await close(server)
    await rm(tempPath, { force: true })
    throw err
  }
  await rm(tempPath, { force: true })
  return async () => {
    // Only the lock this process took: a folder whose lock was replaced meanwhile keeps the other one.
    const now = await lstat(lockPath).catch(() => undefined)
    if (now?.ino === ino) await unlink(lockPath).catch(() => undefined)
    await close(server)
  }
}

/** Links the bound socket to the lock's name, replacing a stale lock; refuses a live holder. */
async function take (dir: string, tempPath: string, lockPath: string): Promise<void> {
  for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
    try {
      await link(tempPath, lockPath)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const found = await lstat(lockPath).catch(() => undefined)
    if (found === undefined) continue
    const probe = await probeHolder(lockPath)
    if (probe.live) {
      throw new StorageStartError(
        `The state folder ${dir} is in use by another SimuTrador process${probe.pid !== undefined ? ` (pid ${probe.pid})` : ''}. ` +
        'Stop that process, or give this one its own SIMUTRADOR_STATE_DIR.')
    }
    await removeIfStill(lockPath, found.ino, `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`)
  }
  throw new StorageStartError(`Could not take the lock of the state folder ${dir}: other processes keep replacing it`)
}

/**
 * Moves the stale lock aside and deletes it if it is still the one found stale (`ino`); a live lock that
 * another starting process put there meanwhile is put back.
 */
async function removeIfStill (lockPath: string, ino: number, asidePath: string): Promise<void> {
  try {
    await rename(lockPath, asidePath)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if ((await lstat(asidePath)).ino !== ino) await link(asidePath, lockPath).catch(() => undefined)
  await unlink(asidePath)
}

/** Whether a process listens on the lock (and its pid, as it answers). Refused or gone: stale. */
async function probeHolder (lockPath: string): Promise<{ live: boolean, pid?: number }> {
  return await new Promise((resolve) => {
    let text = ''
    let connected = false
    const socket = createConnection(lockPath)
    const done = (result: { live: boolean, pid?: number }): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => { done({ live: true }) }, PROBE_MS)
    socket.on('connect', () => { connected = true })
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const m = /^pid (\d+)\n/.exec(text)
      if (m !== null) done({ live: true, pid: Number(m[1]) })
    })
    socket.on('end', () => { done({ live: true }) })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: nobody listens on the socket file (its process died). Anything else cannot prove it dead.
      done({ live: connected || (err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT') })
    })
  })
}

/** A listening socket at `path` that tells whoever connects this process's pid; it keeps no process alive. */
async function bind (path: string): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    socket.end(`pid ${process.pid}\n`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.unref()
  return server
}

async function close (server: Server): Promise<void> {
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
}

/** A path to `dir` short enough for the lock's socket paths: itself, relative to the working directory, or an alias. */
async function socketBase (dir: string): Promise<string> {
  // The longest name bound there: `.lock.<pid>.<8 hex>.sock`.
  const fits = (base: string): boolean => Buffer.byteLength(join(base, `.lock.${'9'.repeat(10)}.${'f'.repeat(8)}.sock`)) <= MAX_SOCKET_PATH
  if (fits(dir)) return dir
  const rel = relative(process.cwd(), dir)
  if (rel !== '' && fits(rel)) return rel
  const real = await realpath(dir)
  const alias = join(tmpdir(), `simutrador-${createHash('sha256').update(real).digest('hex').slice(0, 16)}`)
  if (!fits(alias)) {
    throw new StorageStartError(`The state folder ${dir} has too long a path for its lock socket, and so has the temporary directory; use a shorter SIMUTRADOR_STATE_DIR`)
  }
  const target = await readlink(alias).catch(() => undefined)
  if (target !== real) {
    if (target !== undefined) await unlink(alias).catch(() => undefined)
    await symlink(real, alias).catch(async (err: NodeJS.ErrnoException) => {
      // Another process made the same alias at the same moment: fine if it points here.
      if (err.code !== 'EEXIST' || await readlink(alias).catch(() => undefined) !== real) throw err
    })
  }
  return alias
}
