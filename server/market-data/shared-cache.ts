// Reference-counted sharing of immutable, expensive values (a run's bar series, its merged timeline): every
// holder of one key gets the same value, loaded once, and the value is dropped when its last holder lets go.
// Bounded by what is in use: an entry lives exactly as long as some lease on it is unreleased, so the cache
// never holds more than the live runs do, and a value nobody uses costs nothing. Concurrent acquires of a
// key that is still loading wait for that one load (no second load). A failed load is forgotten at once,
// so the next acquire tries again.

export interface Lease<V> {
  readonly key: string
  readonly value: V
  /** Lets go of the value (idempotent); the last release drops the entry. */
  release: () => void
}

export interface SharedCacheStats {
  /** Keys loaded or loading. */
  entries: number
  /** Unreleased leases over all entries (acquires still waiting for a load included). */
  references: number
  /** Loads started since creation (a shared acquire does not load). */
  loads: number
  /** Acquires served by an entry that was already there (loaded or loading). */
  shared: number
}

interface Entry<V> {
  readonly key: string
  readonly value: Promise<V>
  references: number
}

export class SharedCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  #loads = 0
  #shared = 0

  /** A lease on `key`'s value, loading it with `load` when no one holds it. Rejects when the load fails. */
  async acquire (key: string, load: () => V | Promise<V>): Promise<Lease<V>> {
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      this.#loads++
      const loaded = (async () => await load())()
      const created: Entry<V> = { key, value: loaded, references: 0 }
      loaded.catch(() => { if (this.#entries.get(key) === created) this.#entries.delete(key) })
      this.#entries.set(key, created)
      entry = created
    } else {
      this.#shared++
    }
    // Counted before the load settles, so a release by another holder meanwhile cannot drop the entry.
    entry.references++
    let value: V
    try {
      value = await entry.value
    } catch (err) {
      this.#unref(entry)
      throw err
    }
    let held = true
    const owner = entry
    return {
      key,
      value,
      release: () => {
        if (!held) return
        held = false
        this.#unref(owner)
      }
    }
  }

  stats (): SharedCacheStats {
    let references = 0
    for (const e of this.#entries.values()) references += e.references
    return { entries: this.#entries.size, references, loads: this.#loads, shared: this.#shared }
  }

  /** Leases held on `key` (0 when it is not cached). */
  references (key: string): number {
    return this.#entries.get(key)?.references ?? 0
  }

  #unref (entry: Entry<V>): void {
    entry.references--
    if (entry.references <= 0 && this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key)
  }
}
