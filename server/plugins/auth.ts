// Authentication: API key → HS256 JWT exchange and verification with every claim pinned (algorithm, issuer,
// audience, expiry, required claims). Decorates `app.auth` and the `app.authenticate` preValidation hook, which
// takes a bearer token or, as Alpaca's API does, the API key itself in `X-API-Key` (checked like an exchange).
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Plan } from '../../schemas/common.js'
import type { TokenResponse } from '../../schemas/auth.js'
import { AppError } from '../app-error.js'
import { ApiKeyRegistry, type ApiKeyOwner } from '../auth/api-keys.js'
import { FailureThrottle, type FailureCounter } from '../auth/failure-throttle.js'
import { RedisFailureCounter } from '../adapters/redis/failure-counter.js'
import { USER_ID_PATTERN, type Config } from '../config.js'
import { clientAddress } from './rate-limit.js'

export interface AuthUser { user_id: string, plan: Plan, exp: number }

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string, plan: Plan }
    user: AuthUser
  }
}

export interface AuthService {
  readonly keys: ApiKeyRegistry
  /** Failed exchanges per address (in Redis with REDIS_URL: one allowance across instances). */
  readonly failures: FailureCounter
  /** Exchange an API key for a token; counts failures per `clientKey` (address). */
  exchange (apiKey: string | undefined, clientKey: string): Promise<TokenResponse>
  /** The key's user, for a request that sends its key instead of a token; failures counted as exchange's. */
  authenticateKey (apiKey: string | undefined, clientKey: string): Promise<AuthUser>
  /** Verify a raw token; UNAUTHORIZED or TOKEN_EXPIRED on failure. */
  verify (token: string | undefined): AuthUser
}

declare module 'fastify' {
  interface FastifyInstance {
    auth: AuthService
    authenticate: (request: FastifyRequest) => Promise<void>
  }
}

const REQUIRED_CLAIMS = ['sub', 'plan', 'iss', 'aud', 'iat', 'exp']
const PLANS = new Set(['free', 'professional', 'enterprise'])

function toAuthError (err: unknown): AppError {
  const code = (err as { code?: string }).code ?? ''
  if (code.includes('EXPIRED')) return new AppError('TOKEN_EXPIRED', 'Access token has expired')
  return new AppError('UNAUTHORIZED', 'Invalid access token')
}

export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m === null ? undefined : m[1]
}

export default fp(async function authPlugin (app: FastifyInstance, opts: { config: Config }) {
  const { jwt } = opts.config
  await app.register(fastifyJwt, {
    secret: jwt.secret,
    sign: { algorithm: 'HS256', iss: jwt.issuer, aud: jwt.audience, expiresIn: jwt.ttlSeconds },
    verify: { algorithms: ['HS256'], allowedIss: jwt.issuer, allowedAud: jwt.audience, requiredClaims: REQUIRED_CLAIMS },
    decode: { complete: false }
  })

  const keys = new ApiKeyRegistry(opts.config.apiKeys)
  const local = new FailureThrottle({ maxFailures: opts.config.authFailuresPerMinute, windowMs: 60_000 })
  const failures: FailureCounter = app.redis !== undefined
    ? new RedisFailureCounter(app.redis, { maxFailures: opts.config.authFailuresPerMinute, windowMs: 60_000, fallback: local })
    : local

  /** The key's owner, or INVALID_API_KEY counted against `clientKey` (429 once that address has used its failures). */
  async function ownerOf (apiKey: string | undefined, clientKey: string): Promise<ApiKeyOwner> {
    try {
      return keys.authenticate(apiKey)
    } catch (err) {
      await failures.failed(clientKey)
      throw err
    }
  }

  const service: AuthService = {
    keys,
    failures,
    async exchange (apiKey, clientKey) {
      // A valid key always succeeds, even from an address that has used up its failures (a user behind the
      // same NAT as a misconfigured client must not be locked out). A wrong key from a throttled address is
      // answered 429 with Retry-After instead of 401, and is no longer counted. Letting valid keys through
      // does not help a guesser: a key carries at least 144 random bits (the generated key is 18 random
      // bytes; configure keys of the same strength), so 10^9 guesses a second for a century find one with
      // probability below 10^-18, even against a million configured keys. The throttle makes a client with
      // a wrong key back off and bounds the log noise; the keys' entropy is what protects them.
      const owner = await ownerOf(apiKey, clientKey)
      const token = app.jwt.sign({ sub: owner.user_id, plan: owner.plan })
      return { access_token: token, token_type: 'Bearer', expires_in: jwt.ttlSeconds, user_id: owner.user_id, plan: owner.plan }
    },
    async authenticateKey (apiKey, clientKey) {
      const owner = await ownerOf(apiKey, clientKey)
      // As if exchanged for a token now: nothing downstream of a REST request reads exp.
      return { user_id: owner.user_id, plan: owner.plan, exp: Math.floor(Date.now() / 1000) + jwt.ttlSeconds }
    },
    verify (token) {
      if (token === undefined || token.length === 0) throw new AppError('UNAUTHORIZED', 'Missing access token')
      let claims: Record<string, unknown>
      try {
        claims = app.jwt.verify<Record<string, unknown>>(token)
      } catch (err) {
        throw toAuthError(err)
      }
      const { sub, plan, exp } = claims
      // A correctly signed token is still refused when its subject could not be a user id (e.g. sub ""):
      // every user-keyed map and limit downstream assumes a real id.
      if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub) || typeof plan !== 'string' || !PLANS.has(plan) || typeof exp !== 'number') {
        throw new AppError('UNAUTHORIZED', 'Invalid access token')
      }
      return { user_id: sub, plan: plan as Plan, exp }
    }
  }

  app.decorate('auth', service)
  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    // A token when one is sent (an invalid one is not rescued by a key); else the key, exchanged here.
    const key = request.headers['x-api-key']
    request.user = request.headers.authorization === undefined && typeof key === 'string'
      ? await service.authenticateKey(key, clientAddress(request))
      : service.verify(bearerToken(request.headers.authorization))
  })
}, { name: 'auth', dependencies: ['redis'] })
