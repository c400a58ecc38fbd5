// Failed API-key attempts per client address counted in Redis, so AUTH_FAILURES_PER_MINUTE is one allowance
// across every instance (a guesser spread over the instances behind a load balancer gets no more tries).
// Same fixed window as FailureThrottle: the first failure opens a window of `windowMs`; once `maxFailures`
// are in it, further failures are refused (and not counted) until it ends. Check and count are one Lua
// script, so concurrent failures on several instances never exceed the allowance. Only failures reach Redis:
// a valid key never waits for it. While Redis is down, this instance's own FailureThrottle counts instead
// (the allowance is then per instance until Redis is back).
import type { Redis } from 'ioredis'
import type { FailureCounter, FailureThrottle } from '../../auth/failure-throttle.js'
import { tooManyFailures } from '../../auth/failure-throttle.js'
import type { RedisBus } from './connection.js'

/** KEYS[1] the address's counter; ARGV max, window ms. {1, ms left} refused, {0, count} counted. */
const FAIL = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then return {1, ttl} end
  redis.call('DEL', KEYS[1])
  n = 0
end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {0, n}`

interface FailCommand {
  stAuthFail: (key: string, max: number, windowMs: number) => Promise<[number, number]>
}

export class RedisFailureCounter implements FailureCounter {
  readonly #redis: Redis & FailCommand
  readonly #max: number
  readonly #windowMs: number
  readonly #fallback: FailureThrottle

  constructor (bus: RedisBus, opts: { maxFailures: number, windowMs: number, fallback: FailureThrottle }) {
    const redis = bus.client as Redis & Partial<FailCommand>
    if (redis.stAuthFail === undefined) redis.defineCommand('stAuthFail', { numberOfKeys: 1, lua: FAIL })
    this.#redis = redis as Redis & FailCommand
    this.#max = opts.maxFailures
    this.#windowMs = opts.windowMs
    this.#fallback = opts.fallback
  }

  async failed (key: string): Promise<void> {
    let outcome: [number, number]
    try {
      outcome = await this.#redis.stAuthFail(`auth:fail:${key}`, this.#max, this.#windowMs)
    } catch {
      await this.#fallback.failed(key)
      return
    }
    const [refused, value] = outcome
    if (refused === 1) throw tooManyFailures(Math.max(1, Math.ceil(value / 1000)))
  }
}
