// Development credentials that survive a restart. With no JWT_SECRET and no SIMUTRADOR_API_KEYS, the config
// generates a signing secret and a development API key; in embedded mode they are created once and kept in
// the state folder (`dev-secrets.json`, mode 0600), so a restarted server prints the same key, accepts the
// tokens it issued before, and a strategy's SDK resumes its run. A configured JWT_SECRET or
// SIMUTRADOR_API_KEYS wins; `:memory:` and PostgreSQL mode keep nothing (the latter has no state folder).
import { randomBytes } from 'node:crypto'
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError, generateApiKey, type Config } from './config.js'

export const DEV_SECRETS_FILE = 'dev-secrets.json'

interface DevSecrets { jwt_secret: string, api_key: string, created_at: string }

/** The config with its generated credentials replaced by the kept ones, and the file that keeps them. */
export interface KeptCredentials { config: Config, file: string | undefined }

export async function keepDevSecrets (config: Config): Promise<KeptCredentials> {
  if (config.storage.mode !== 'embedded' || (!config.jwt.generated && !config.devKeyGenerated)) return { config, file: undefined }
  const file = join(config.storage.dir, DEV_SECRETS_FILE)
  const kept = await readOrCreate(config.storage.dir, file)
  const apiKeys = config.devKeyGenerated ? [{ ...config.apiKeys[0], key: kept.api_key }] : config.apiKeys
  const jwt = config.jwt.generated ? { ...config.jwt, secret: kept.jwt_secret } : config.jwt
  return { config: { ...config, jwt, apiKeys }, file }
}

async function readOrCreate (dir: string, file: string): Promise<DevSecrets> {
  const existing = await read(file)
  if (existing !== undefined) return existing
  await mkdir(dir, { recursive: true })
  const fresh: DevSecrets = { jwt_secret: randomBytes(48).toString('base64url'), api_key: generateApiKey(), created_at: new Date().toISOString() }
  // Written whole under a name of its own, then linked into place: two servers starting at once agree on
  // one file (the second link fails and reads the first), and nobody reads half a file.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(temp, JSON.stringify(fresh, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  try {
    await link(temp, file)
    return fresh
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return await read(file) ?? fresh
  } finally {
    await rm(temp, { force: true })
  }
}

async function read (file: string): Promise<DevSecrets | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let value: Partial<DevSecrets> | undefined
  try { value = JSON.parse(text) as Partial<DevSecrets> } catch { value = undefined }
  if (typeof value?.jwt_secret !== 'string' || Buffer.byteLength(value.jwt_secret) < 32 || typeof value.api_key !== 'string' || value.api_key.length < 16) {
    throw new ConfigError(`${file} is not a valid development credentials file; delete it to have new ones made (tokens and the key it held stop working)`)
  }
  // Secrets: readable by their owner only, whatever a copy or an editor left.
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600)
  return { jwt_secret: value.jwt_secret, api_key: value.api_key, created_at: String(value.created_at ?? '') }
}
