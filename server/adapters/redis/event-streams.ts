// Runs' event logs as Redis Streams, one per run (`run:{<user>:<session>}:events`), with the stream id
// `0-<sequence_id>`, so XRANGE reads from any offset and the id is the frame's sequence id. Each entry holds
// the exact frame that was sent (field `f`).
//
// Appends are FENCED: one Lua script checks that the caller's token holds the run's lease and that the batch
// follows the stream's last entry, then adds the whole batch, atomically. An instance that lost its lease
// (stopped past it, partitioned) therefore cannot write, and a stream never has a gap or a repeat (a
// holder's retry of a batch that went through is skipped where it overlaps). A
// finished run's last batch sets the stream's expiry (EVENT_LOG_RETENTION_HOURS). Any other Redis failure
// (down, restarting, a command timeout) rejects with BUS_UNAVAILABLE, which callers retry.
//
// Watchers on instances that do not own the run follow streams through one dedicated connection per
// instance, multiplexing every followed stream in one XREAD BLOCK (woken with CLIENT UNBLOCK when the set
// changes).
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { EventStore, StoredFrame } from '../../ports/run-journal.js'
import { FencedAppendError, type AppendFence, type EventFollower, type RunRef } from '../../ports/run-registry.js'
import { trimToChars } from '../memory/memory-run-journal.js'
import { busUnavailable, onBus, type RedisBus } from './connection.js'
import { LUA_LAST_SEQ, runKey } from './run-leases.js'

/** Frames per script call: a long batch (a rebuild's catch-up) is split so Redis never blocks for long. */
const APPEND_CHUNK = 1000
/** Entries per stream per XREAD, and how long one XREAD blocks. */
const FOLLOW_COUNT = 512
const FOLLOW_BLOCK_MS = 1000

// KEYS: lease, stream. ARGV: token, first seq, expiry ms (0: none), frames…
// A batch that starts inside the stream is the holder's own retry of a batch whose answer it did not get
// (a command timeout while the write went through): the frames already there are skipped.
const APPEND = `${LUA_LAST_SEQ}
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  return redis.error_reply('FENCED the lease of this run is ' .. (holder and ('held by ' .. holder) or 'not held'))
end
local first = tonumber(ARGV[2])
local last = last_seq(KEYS[2])
if first > last + 1 then
  return redis.error_reply('GAP the stream ends at ' .. last .. '; this batch starts at ' .. first)
end
for i = 4 + last + 1 - first, #ARGV do
  redis.call('XADD', KEYS[2], '0-' .. (first + i - 4), 'f', ARGV[i])
end
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return math.max(last, first + #ARGV - 4)`

interface StreamCommands {
  stAppend: (lease: string, stream: string, token: string, first: number, ttl: number, ...frames: string[]) => Promise<number>
}

type Entries = Array<[id: string, fields: string[]]>

const seqOf = (id: string): number => Number(id.slice(2))

export class RedisEventStore implements EventStore {
  readonly #redis: Redis
  readonly #cmd: StreamCommands

  constructor (redis: Redis) {
    this.#redis = redis
    redis.defineCommand('stAppend', { numberOfKeys: 2, lua: APPEND })
    this.#cmd = redis as unknown as StreamCommands
  }

  async append (userId: string, sessionId: string, frames: readonly StoredFrame[], fence?: AppendFence): Promise<void> {
    if (fence === undefined) throw new Error('a shared event store appends only with the run\'s lease token')
    const run = { userId, sessionId }
    const ttl = fence.finalTtlMs ?? 0
    if (frames.length === 0 && ttl === 0) return
    for (let i = 0; i < frames.length || i === 0; i += APPEND_CHUNK) {
      const chunk = frames.slice(i, i + APPEND_CHUNK)
      const last = i + APPEND_CHUNK >= frames.length
      const first = chunk.length > 0 ? chunk[0].seq : await this.lastSeq(userId, sessionId) + 1
      try {
        await this.#cmd.stAppend(runKey(run, 'lease'), runKey(run, 'events'), fence.token, first, last ? ttl : 0, ...chunk.map((f) => f.frame))
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err)
        if (message.startsWith('FENCED ')) throw new FencedAppendError('fenced', message.slice(7))
        if (message.startsWith('GAP ')) throw new FencedAppendError('gap', message.slice(4))
        throw busUnavailable(err)
      }
      if (last) break
    }
  }

  async read (userId: string, sessionId: string, afterSeq: number, limit: number, maxChars: number): Promise<string[]> {
    const entries = await onBus(async () => await this.#redis.xrange(runKey({ userId, sessionId }, 'events'), `0-${afterSeq + 1}`, '+', 'COUNT', limit) as Entries)
    return trimToChars(entries.map((e) => e[1][1]), maxChars)
  }

  async lastSeq (userId: string, sessionId: string): Promise<number> {
    const top = await onBus(async () => await this.#redis.xrevrange(runKey({ userId, sessionId }, 'events'), '+', '-', 'COUNT', 1) as Entries)
    return top.length === 0 ? 0 : seqOf(top[0][0])
  }

  async delete (userId: string, sessionId: string): Promise<void> {
    await onBus(async () => await this.#redis.del(runKey({ userId, sessionId }, 'events')))
  }

  /** Finished runs' streams expire by themselves (their last append set the TTL). */
  async deleteFinishedBefore (): Promise<number> { return 0 }
}

interface Follower {
  /** Last seq delivered to this follower. */
  after: number
  readonly onFrames: (frames: readonly string[], lastSeq: number) => void
}

/** Follows runs' streams for this instance's remote watchers, through one blocking connection. */
export class RedisStreamFollower implements EventFollower {
  readonly #bus: RedisBus
  readonly #store: RedisEventStore
  readonly #onError: (err: unknown) => void
  /** By full (prefixed) stream key. */
  readonly #streams = new Map<string, Set<Follower>>()
  #reader: Redis | undefined
  #readerId: number | undefined
  #loop: Promise<void> | undefined
  #wake: (() => void) | undefined
  #closed = false

  constructor (bus: RedisBus, store: RedisEventStore, onError: (err: unknown) => void) {
    this.#bus = bus
    this.#store = store
    this.#onError = onError
  }

  async lastSeq (run: RunRef): Promise<number> { return await this.#store.lastSeq(run.userId, run.sessionId) }

  follow (run: RunRef, afterSeq: number, onFrames: (frames: readonly string[], lastSeq: number) => void): () => void {
    const key = this.#bus.config.keyPrefix + runKey(run, 'events')
    const follower: Follower = { after: afterSeq, onFrames }
    let set = this.#streams.get(key)
    if (set === undefined) { set = new Set(); this.#streams.set(key, set) }
    set.add(follower)
    this.#changed()
    return () => {
      const s = this.#streams.get(key)
      if (s === undefined || !s.delete(follower)) return
      if (s.size === 0) this.#streams.delete(key)
      this.#changed()
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#streams.clear()
    this.#changed()
    this.#reader?.disconnect()
    await this.#loop
  }

  /** The followed set changed: start the loop, or wake it out of its XREAD so the next one covers the change. */
  #changed (): void {
    if (this.#closed && this.#loop === undefined) return
    this.#loop ??= this.#run().catch(this.#onError)
    this.#wake?.()
    if (this.#readerId !== undefined) this.#bus.client.client('UNBLOCK', this.#readerId).catch(() => undefined)
  }

  async #run (): Promise<void> {
    const reader = this.#reader = this.#bus.dedicated('event-follower')
    const learnId = (): void => { reader.client('ID').then((id) => { this.#readerId = Number(id) }, () => undefined) }
    reader.on('ready', learnId)
    if (reader.status === 'ready') learnId()
    while (!this.#closed) {
      if (this.#streams.size === 0) {
        await new Promise<void>((resolve) => { this.#wake = resolve })
        this.#wake = undefined
        continue
      }
      // Each stream is read from its slowest follower's position; the others skip what they already have.
      const keys = [...this.#streams.keys()]
      const ids = keys.map((k) => `0-${Math.min(...[...(this.#streams.get(k) ?? [])].map((f) => f.after))}`)
      let result: Array<[string, Entries]> | null
      try {
        result = await reader.xread('COUNT', FOLLOW_COUNT, 'BLOCK', FOLLOW_BLOCK_MS, 'STREAMS', ...keys, ...ids) as Array<[string, Entries]> | null
      } catch {
        if (this.#closed) return
        // The bus is down: the connection reconnects by itself; read again a little later.
        await sleep(250)
        continue
      }
      for (const [key, entries] of result ?? []) {
        if (entries.length === 0) continue
        const firstSeq = seqOf(entries[0][0])
        const frames = entries.map((e) => e[1][1])
        const lastSeq = firstSeq + frames.length - 1
        for (const f of this.#streams.get(key) ?? []) {
          // Only what directly follows what this follower has (one that joined behind is caught up next time).
          if (f.after < firstSeq - 1 || f.after >= lastSeq) continue
          const mine = frames.slice(f.after - firstSeq + 1)
          f.after = lastSeq
          try { f.onFrames(mine, lastSeq) } catch (err) { this.#onError(err) }
        }
      }
    }
  }
}
