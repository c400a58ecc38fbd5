// A small bounded LRU map with per-entry time-to-live, used to cache validation verdicts.
// Recency is the Map's insertion order: a hit re-inserts the key, eviction drops the first key.
export interface LruCacheOptions {
  /** Most entries kept; the least recently used is evicted beyond it. */
  maxSize: number
  /** Entry lifetime in ms. */
  ttlMs: number
  /** Clock for expiry (injectable so tests and the simulation control time). */
  now?: () => number
}

export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V, expires: number }>()
  private readonly maxSize: number
  private readonly ttlMs: number
  private readonly now: () => number

  constructor (options: LruCacheOptions) {
    if (!(options.maxSize >= 1)) throw new RangeError('LruCache maxSize must be at least 1')
    this.maxSize = Math.floor(options.maxSize)
    this.ttlMs = options.ttlMs
    this.now = options.now ?? Date.now
  }

  get size (): number {
    return this.map.size
  }

  get (key: K): V | undefined {
    const e = this.map.get(key)
    if (e === undefined) return undefined
    if (e.expires <= this.now()) {
      this.map.delete(key)
      return undefined
    }
    this.map.delete(key)
    this.map.set(key, e)
    return e.value
  }

  set (key: K, value: V): void {
    this.map.delete(key)
    this.map.set(key, { value, expires: this.now() + this.ttlMs })
    if (this.map.size > this.maxSize) this.map.delete(this.map.keys().next().value as K)
  }

  delete (key: K): boolean {
    return this.map.delete(key)
  }

  clear (): void {
    this.map.clear()
  }
}
