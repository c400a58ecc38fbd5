// The typed REST client: openapi-fetch over the generated `paths` of openapi.yaml. Its auth middleware
// exchanges an API key for a token, caches it, refreshes it before expiry and retries a request once on 401.
import createClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths, components } from './schema.js'

export type { paths, components }
export type Schemas = components['schemas']
export type SimutradorClient = Client<paths>

export interface ClientOptions {
  /** Server base URL, e.g. http://127.0.0.1:8003 */
  baseUrl: string
  /** API key exchanged for tokens as needed. */
  apiKey?: string
  /** A token to start with (e.g. from the CLI's cache); refreshed from `apiKey` when it expires. */
  accessToken?: string
  /** Custom fetch (tests hand in one that calls `app.inject`). */
  fetch?: (request: Request) => Promise<Response>
  /** Refresh this many seconds before the token's expiry (default 30). */
  refreshMarginSec?: number
  /** Clock for expiry decisions (tests). */
  now?: () => number
}

export interface TokenCache {
  /** A valid token, exchanging the API key when the cached one is missing or about to expire. */
  get: () => Promise<string>
  /** Forget the cached token (after a 401). */
  invalidate: () => void
  /** The cached token and its expiry (epoch ms), if any. */
  peek: () => { token: string, expiresAt: number } | undefined
}

/** Seconds-since-epoch `exp` of a JWT, read without verifying (the server verifies). */
export function tokenExpiry (token: string): number | undefined {
  const part = token.split('.')[1]
  if (part === undefined) return undefined
  try {
    // atob, not Buffer: the dashboard runs this module in the browser.
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown }
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined
  } catch {
    return undefined
  }
}

export function createTokenCache (opts: ClientOptions): TokenCache {
  const doFetch = opts.fetch ?? ((req: Request) => fetch(req))
  const now = opts.now ?? Date.now
  const margin = (opts.refreshMarginSec ?? 30) * 1000
  let cached: { token: string, expiresAt: number } | undefined
  if (opts.accessToken !== undefined) {
    cached = { token: opts.accessToken, expiresAt: tokenExpiry(opts.accessToken) ?? Number.POSITIVE_INFINITY }
  }
  let inflight: Promise<string> | undefined

  async function exchange (): Promise<string> {
    if (opts.apiKey === undefined) throw new Error('No API key to obtain an access token with')
    const res = await doFetch(new Request(new URL('/auth/token', opts.baseUrl), { method: 'POST', headers: { 'x-api-key': opts.apiKey } }))
    const body = await res.json() as Schemas['TokenResponse'] | Schemas['ErrorResponse']
    if (!res.ok || !('access_token' in body)) {
      const err = body as Schemas['ErrorResponse']
      throw Object.assign(new Error(`Token exchange failed: ${err.error_code ?? res.status} ${err.message ?? ''}`.trim()), { error_code: err.error_code, status: res.status })
    }
    cached = { token: body.access_token, expiresAt: now() + body.expires_in * 1000 }
    return body.access_token
  }

  return {
    async get () {
      if (cached !== undefined && cached.expiresAt - margin > now()) return cached.token
      if (opts.apiKey === undefined && cached !== undefined) return cached.token
      inflight ??= exchange().finally(() => { inflight = undefined })
      return await inflight
    },
    invalidate () { cached = undefined },
    peek () { return cached }
  }
}

/** Middleware: attach `Authorization: Bearer`, and on 401 refresh the token and retry the request once. */
export function authMiddleware (tokens: TokenCache, opts: ClientOptions): Middleware {
  const doFetch = opts.fetch ?? ((req: Request) => fetch(req))
  const retries = new Map<string, Request>()
  return {
    async onRequest ({ request, id }) {
      if (new URL(request.url).pathname === '/auth/token') return request
      request.headers.set('authorization', `Bearer ${await tokens.get()}`)
      if (opts.apiKey !== undefined) retries.set(id, request.clone())
      return request
    },
    async onResponse ({ response, id }) {
      const retry = retries.get(id)
      retries.delete(id)
      if (response.status !== 401 || retry === undefined) return response
      tokens.invalidate()
      retry.headers.set('authorization', `Bearer ${await tokens.get()}`)
      return await doFetch(retry)
    },
    onError ({ id }) { retries.delete(id) }
  }
}

/** A typed SimuTrador REST client; every path, parameter and response type comes from openapi.yaml. */
export function createSimutradorClient (opts: ClientOptions): SimutradorClient & { tokens: TokenCache } {
  const client = createClient<paths>({ baseUrl: opts.baseUrl, ...(opts.fetch !== undefined ? { fetch: opts.fetch } : {}) })
  const tokens = createTokenCache(opts)
  if (opts.apiKey !== undefined || opts.accessToken !== undefined) client.use(authMiddleware(tokens, opts))
  return Object.assign(client, { tokens })
}
