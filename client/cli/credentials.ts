// Where the CLI keeps what `auth login` obtained: one JSON file per user, `credentials.json` in
// $SIMUTRADOR_CONFIG_DIR, else $XDG_CONFIG_HOME/simutrador, else ~/.config/simutrador. Entries are keyed by
// server URL, so one machine can talk to several servers. The file holds an API key, hence 0600 in a 0700 dir.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Schemas } from '../../generated-client/index.js'

/** What is stored for one server. The API key is kept so expired tokens renew without a new login. */
export interface StoredCredentials {
  api_key: string
  access_token: string
  /** ISO-8601 expiry of access_token. */
  expires_at: string
  user_id: Schemas['TokenResponse']['user_id']
  plan: Schemas['TokenResponse']['plan']
}

interface CredentialsFile { servers: Record<string, StoredCredentials> }

export function configDir (env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.SIMUTRADOR_CONFIG_DIR
  if (explicit !== undefined && explicit.length > 0) return explicit
  const xdg = env.XDG_CONFIG_HOME
  return join(xdg !== undefined && xdg.length > 0 ? xdg : join(homedir(), '.config'), 'simutrador')
}

export function credentialsPath (env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'credentials.json')
}

async function readAll (env: NodeJS.ProcessEnv): Promise<CredentialsFile> {
  let text: string
  try {
    text = await readFile(credentialsPath(env), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} }
    throw err
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>
    return { servers: parsed.servers ?? {} }
  } catch {
    // A corrupt file is treated as empty; the next login rewrites it.
    return { servers: {} }
  }
}

async function writeAll (env: NodeJS.ProcessEnv, file: CredentialsFile): Promise<void> {
  const dir = configDir(env)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
  const path = credentialsPath(env)
  // Write then rename, so a crash never leaves a half-written file; the mode is set at creation.
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
  await chmod(tmp, 0o600)
  await rename(tmp, path)
}

export async function loadCredentials (server: string, env: NodeJS.ProcessEnv = process.env): Promise<StoredCredentials | undefined> {
  return (await readAll(env)).servers[server]
}

export async function saveCredentials (server: string, creds: StoredCredentials, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const file = await readAll(env)
  file.servers[server] = creds
  await writeAll(env, file)
}

/** Forget one server; removes the file when nothing is left. Returns whether there was an entry. */
export async function deleteCredentials (server: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const file = await readAll(env)
  if (file.servers[server] === undefined) return false
  delete file.servers[server]
  if (Object.keys(file.servers).length === 0) await rm(credentialsPath(env), { force: true })
  else await writeAll(env, file)
  return true
}
