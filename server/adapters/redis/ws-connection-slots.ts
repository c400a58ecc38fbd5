// Per-plan WebSocket connection counts across instances (limitsFor(plan).ws_connections is per user, not per
// instance). Each open connection holds a slot: a member of the user's sorted set `ws:conn:<user_id>` whose
// score is the instant (Redis server time, so the instances' clocks do not matter) after which it no longer
// counts. Taking a slot is one Lua script — drop lapsed members, count, add if under the limit — so concurrent
// upgrades on any number of instances never exceed the limit. Each instance pushes its open connections'
// scores forward every REFRESH_MS; a connection closed normally gives its slot back at once, and one whose
// instance died (kill -9, partition) stops counting at most TTL_MS after that instance's last refresh.
// After Redis restarts empty, every instance writes its open connections back at its next refresh (at once
// when its command connection comes back), so the counts are rebuilt without anyone reconnecting.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisBus } from './connection.js'

/** A slot not refreshed for this long no longer counts: the bound on a dead instance's connections. */
export const WS_SLOT_TTL_MS = 15_000
/** How often an instance refreshes its open connections' slots (well inside the TTL: two refreshes may fail). */
export const WS_SLOT_REFRESH_MS = 5_000

// Server time in ms inside the script: scripts are replicated by effects (Redis ≥ 5), so TIME is allowed.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`
/** KEYS[1] the user's set; ARGV limit, ttl ms, member. 1 taken, 0 full. */
const ACQUIRE = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1`
/** KEYS[1] the user's set; ARGV ttl ms, members… (written back even if lapsed: they are open). */
const REFRESH = `${NOW}
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ttl)
return #ARGV - 1`
/** KEYS[1] the user's set. Slots that still count. */
const COUNT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`

interface SlotCommands {
  stWsAcquire: (key: string, limit: number, ttlMs: number, member: string) => Promise<number>
  stWsRefresh: (key: string, ttlMs: number, ...members: string[]) => Promise<number>
  stWsCount: (key: string) => Promise<number>
}

export interface ConnectionSlotsOptions {
  ttlMs?: number
  refreshMs?: number
}

export class RedisConnectionSlots {
  readonly #redis: Redis & SlotCommands
  readonly #ttlMs: number
  /** Slots held by this instance's open connections: member → user id. */
  readonly #held = new Map<string, string>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #timer: NodeJS.Timeout
  readonly #onReady: () => void
  readonly #instance = randomBytes(6).toString('hex')
  #seq = 0

  constructor (bus: RedisBus, options: ConnectionSlotsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? WS_SLOT_TTL_MS
    const redis = bus.client as Redis & Partial<SlotCommands>
    if (redis.stWsAcquire === undefined) {
      redis.defineCommand('stWsAcquire', { numberOfKeys: 1, lua: ACQUIRE })
      redis.defineCommand('stWsRefresh', { numberOfKeys: 1, lua: REFRESH })
      redis.defineCommand('stWsCount', { numberOfKeys: 1, lua: COUNT })
    }
    this.#redis = redis as Redis & SlotCommands
    this.#timer = setInterval(() => { void this.refresh() }, options.refreshMs ?? WS_SLOT_REFRESH_MS)
    this.#timer.unref()
    // Back from an outage (maybe a restarted, empty Redis): write the open connections back now.
    this.#onReady = () => { void this.refresh() }
    this.#redis.on('ready', this.#onReady)
  }

  /** Takes one of the user's `limit` slots: its id, or undefined when they are all taken. Rejects if Redis fails. */
  async acquire (userId: string, limit: number): Promise<string | undefined> {
    const member = `${this.#instance}:${++this.#seq}`
    const taken = await this.#redis.stWsAcquire(keyOf(userId), limit, this.#ttlMs, member)
    if (taken !== 1) return undefined
    this.#held.set(member, userId)
    return member
  }

  /** Gives a slot back (idempotent). If Redis is down the slot lapses by itself within the TTL. */
  release (slot: string): void {
    const userId = this.#held.get(slot)
    if (userId === undefined) return
    this.#held.delete(slot)
    void this.#track(this.#redis.zrem(keyOf(userId), slot))
  }

  /** The user's connections on every instance. Rejects if Redis fails. */
  async count (userId: string): Promise<number> {
    return await this.#redis.stWsCount(keyOf(userId))
  }

  /** Slots this instance holds. */
  get held (): number { return this.#held.size }

  /** Pushes every held slot's expiry forward (periodic; a failure waits for the next round). Never rejects. */
  async refresh (): Promise<void> {
    const byUser = new Map<string, string[]>()
    for (const [member, userId] of this.#held) {
      const list = byUser.get(userId)
      if (list === undefined) byUser.set(userId, [member])
      else list.push(member)
    }
    await Promise.all([...byUser].map(async ([userId, members]) => { await this.#track(this.#redis.stWsRefresh(keyOf(userId), this.#ttlMs, ...members)) }))
  }

  /** Stops refreshing and waits for the releases already sent (the bus closes after this). */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    this.#redis.off('ready', this.#onReady)
    await Promise.allSettled([...this.#pending])
  }

  #track (op: Promise<unknown>): Promise<unknown> {
    const p = op.catch(() => undefined).finally(() => { this.#pending.delete(p) })
    this.#pending.add(p)
    return p
  }
}

function keyOf (userId: string): string {
  return `ws:conn:${userId}`
}
