// Run leases in Redis (ports/run-registry.ts). One key per live run, `run:{<user>:<session>}:lease`, whose
// value is the owner's fencing token; every check-and-change is one Lua script, so it is atomic with respect
// to every other client. The run's event stream (`…:events`, event-streams.ts) shares the hash tag, so the
// scripts that look at both keys stay valid on a Redis Cluster too.
import type { Redis } from 'ioredis'
import type { LeaseHolder, ReacquireOutcome, RunLeases, RunRef } from '../../ports/run-registry.js'

/** A run's keys (without the deployment's prefix, which the command connection adds). */
export function runKey (run: RunRef, part: 'lease' | 'events'): string {
  return `run:{${run.userId}:${run.sessionId}}:${part}`
}

/** The stream's last id as a number (ids are `0-<sequence_id>`), 0 when the stream is empty or absent. */
export const LUA_LAST_SEQ = `
local function last_seq (key)
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if #top == 0 then return 0 end
  return tonumber(string.sub(top[1][1], 3))
end
`

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`
const TRANSFER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`
const HOLDER = `local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}`
// KEYS: lease, stream. ARGV: token, ttl, the last seq the caller knows it appended, the last it tried to.
const REACQUIRE = `${LUA_LAST_SEQ}
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 'kept' end
if holder then return 'held' end
local last = last_seq(KEYS[2])
if last < tonumber(ARGV[3]) or last > tonumber(ARGV[4]) then return 'moved' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'acquired'`

interface LeaseCommands {
  stLeaseRenew: (key: string, token: string, ttl: number) => Promise<number>
  stLeaseRelease: (key: string, token: string) => Promise<number>
  stLeaseTransfer: (key: string, token: string, next: string, ttl: number) => Promise<number>
  stLeaseHolder: (key: string) => Promise<[string, number] | null>
  stLeaseReacquire: (lease: string, stream: string, token: string, ttl: number, appended: number, tried: number) => Promise<ReacquireOutcome>
}

export class RedisRunLeases implements RunLeases {
  readonly #redis: Redis
  readonly #cmd: LeaseCommands

  /** `redis`: the bus's command connection (keys prefixed by it). */
  constructor (redis: Redis) {
    this.#redis = redis
    redis.defineCommand('stLeaseRenew', { numberOfKeys: 1, lua: RENEW })
    redis.defineCommand('stLeaseRelease', { numberOfKeys: 1, lua: RELEASE })
    redis.defineCommand('stLeaseTransfer', { numberOfKeys: 1, lua: TRANSFER })
    redis.defineCommand('stLeaseHolder', { numberOfKeys: 1, lua: HOLDER })
    redis.defineCommand('stLeaseReacquire', { numberOfKeys: 2, lua: REACQUIRE })
    this.#cmd = redis as unknown as LeaseCommands
  }

  async acquire (run: RunRef, token: string, ttlMs: number): Promise<boolean> {
    return await this.#redis.set(runKey(run, 'lease'), token, 'PX', ttlMs, 'NX') === 'OK'
  }

  async renew (runs: ReadonlyArray<{ run: RunRef, token: string }>, ttlMs: number): Promise<boolean[]> {
    if (runs.length === 0) return []
    const pipeline = this.#redis.pipeline() as unknown as LeaseCommands & { exec: () => Promise<Array<[Error | null, unknown]> | null> }
    for (const r of runs) void pipeline.stLeaseRenew(runKey(r.run, 'lease'), r.token, ttlMs)
    const results = await pipeline.exec()
    if (results === null) throw new Error('lease renewal pipeline was discarded')
    return results.map(([err, n]) => {
      if (err !== null) throw err
      return n === 1
    })
  }

  async release (run: RunRef, token: string): Promise<boolean> {
    return await this.#cmd.stLeaseRelease(runKey(run, 'lease'), token) === 1
  }

  async transfer (run: RunRef, token: string, next: string, ttlMs: number): Promise<boolean> {
    return await this.#cmd.stLeaseTransfer(runKey(run, 'lease'), token, next, ttlMs) === 1
  }

  async holder (run: RunRef): Promise<LeaseHolder | undefined> {
    const got = await this.#cmd.stLeaseHolder(runKey(run, 'lease'))
    return got === null ? undefined : { token: got[0], ttlMs: Number(got[1]) }
  }

  async reacquire (run: RunRef, token: string, ttlMs: number, appendedThrough: number, triedThrough = appendedThrough): Promise<ReacquireOutcome> {
    return await this.#cmd.stLeaseReacquire(runKey(run, 'lease'), runKey(run, 'events'), token, ttlMs, appendedThrough, Math.max(appendedThrough, triedThrough))
  }
}
