// API-key registry: keys are held only as SHA-256 digests and compared in constant time, so neither a memory
// dump nor response timing reveals a key.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Plan } from '../../schemas/common.js'
import { AppError } from '../app-error.js'

export interface ApiKeyOwner { user_id: string, plan: Plan }

function digest (key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

export class ApiKeyRegistry {
  readonly #byDigest = new Map<string, { digest: Buffer, owner: ApiKeyOwner }>()

  constructor (entries: ReadonlyArray<{ key: string, user_id: string, plan: Plan }>) {
    for (const e of entries) {
      const d = digest(e.key)
      this.#byDigest.set(d.toString('hex'), { digest: d, owner: { user_id: e.user_id, plan: e.plan } })
    }
  }

  /** The key's owner, or INVALID_API_KEY. */
  authenticate (presented: string | undefined): ApiKeyOwner {
    if (presented === undefined || presented.length === 0) {
      throw new AppError('INVALID_API_KEY', 'Missing X-API-Key header')
    }
    const d = digest(presented)
    const entry = this.#byDigest.get(d.toString('hex'))
    // The map lookup is on a digest the caller cannot steer; the constant-time compare guards the final match.
    if (entry === undefined || !timingSafeEqual(entry.digest, d)) {
      throw new AppError('INVALID_API_KEY', 'Invalid API key')
    }
    return entry.owner
  }

  /** A stable, non-reversible id for a key (rate-limit buckets, logs). */
  static fingerprint (key: string): string {
    return digest(key).toString('base64url').slice(0, 16)
  }

  get size (): number { return this.#byDigest.size }
}
