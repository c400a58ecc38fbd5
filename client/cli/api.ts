// How commands reach the server: global options (--url, --api-key, --json) resolved once, a typed REST
// client from generated-client/ authenticated with the flag/env key or the stored login, and `unwrap`,
// which turns an openapi-fetch `{data, error}` into data or an OperationError carrying the server's body.
// Several URLs name instances of one service: REST requests go to the first that answers (failover-fetch.ts)
// and `simulate run` hands the whole list to the SDK.
import { createSimutradorClient, type SimutradorClient, type TokenCache } from '../../generated-client/index.js'
import { loadCredentials, saveCredentials, type StoredCredentials } from './credentials.js'
import { OperationError, UsageError } from './errors.js'
import { failoverFetch } from './failover-fetch.js'
import { SessionError } from '../session-error.js'
import { isRecord } from './output.js'

export const DEFAULT_SERVER = 'http://127.0.0.1:8003'

/** `--url` and `--server` (its older name) are repeatable: commander collects each into a list. */
export interface GlobalOptions { url?: string[], server?: string[], apiKey?: string, json?: boolean }

export interface CliContext {
  /** The first server URL: the name of the service in messages and in the credentials file. */
  server: string
  /** Every server URL, in the order given (one unless several instances were named). */
  servers: string[]
  json: boolean
  /** API key from --api-key or SIMUTRADOR_API_KEY, if any (a stored login is used otherwise). */
  apiKey: string | undefined
}

/** commander's parser for a repeatable option: each use adds one value. */
export function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/**
 * The server URLs with where they came from: --url (then --server) flags, else SIMUTRADOR_URL, which may
 * hold several separated by commas, else the default.
 */
function rawServers (opts: GlobalOptions, env: NodeJS.ProcessEnv): Array<{ raw: string, source: string }> {
  const flags = [...(opts.url ?? []).map((raw) => ({ raw, source: '--url' })), ...(opts.server ?? []).map((raw) => ({ raw, source: '--server' }))]
  if (flags.length > 0) return flags
  const fromEnv = (env.SIMUTRADOR_URL ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (fromEnv.length > 0) return fromEnv.map((raw) => ({ raw, source: 'SIMUTRADOR_URL' }))
  return [{ raw: DEFAULT_SERVER, source: 'default' }]
}

function checkedServer ({ raw, source }: { raw: string, source: string }): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`${source}: '${raw}' is not a URL`, 'Example: --url http://127.0.0.1:8003 (repeat --url for several instances)')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${source}: '${raw}' must be an http:// or https:// URL`)
  return url.toString().replace(/\/+$/, '')
}

export function contextFrom (opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  // The same URL twice would only be tried twice.
  const servers = [...new Set(rawServers(opts, env).map(checkedServer))]
  const envKey = env.SIMUTRADOR_API_KEY
  return {
    server: servers[0],
    servers,
    json: opts.json === true,
    apiKey: opts.apiKey ?? (envKey !== undefined && envKey.length > 0 ? envKey : undefined)
  }
}

/** "http://a", or "any of http://a, http://b", for messages. */
export function serverList (servers: readonly string[]): string {
  return servers.length === 1 ? servers[0] : `any of ${servers.join(', ')}`
}

/** serverList of the URLs the options name, unchecked: it never throws (used while reporting errors). */
export function describeServers (opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  return serverList(rawServers(opts, env).map((s) => s.raw))
}

/** A REST client over the context's server URLs, without credentials (`auth login` uses it as is). */
export function restClient (ctx: CliContext, auth: { apiKey?: string, accessToken?: string } = {}): SimutradorClient & { tokens: TokenCache } {
  return createSimutradorClient({
    baseUrl: ctx.server,
    ...auth,
    ...(ctx.servers.length > 1 ? { fetch: failoverFetch(ctx.servers) } : {})
  })
}

export interface AuthedClient {
  client: SimutradorClient & { tokens: TokenCache }
  /** Store a token the middleware renewed, so the next command does not exchange the key again. */
  persist: () => Promise<void>
}

/** The stored login for the first of the context's URLs that has one, and the URL it is stored under. */
export async function storedLogin (ctx: CliContext): Promise<{ stored: StoredCredentials, server: string } | undefined> {
  for (const server of ctx.servers) {
    const stored = await loadCredentials(server)
    if (stored !== undefined) return { stored, server }
  }
  return undefined
}

/** The explicit key, else the stored login's (with that login); UNAUTHORIZED when there is neither. */
export async function resolveApiKey (ctx: CliContext): Promise<{ apiKey: string, stored: StoredCredentials | undefined, storedUnder: string }> {
  const login = await storedLogin(ctx)
  const stored = login?.stored
  const apiKey = ctx.apiKey ?? stored?.api_key
  if (apiKey === undefined) {
    throw new OperationError({ error_code: 'UNAUTHORIZED', message: `Not logged in to ${serverList(ctx.servers)}`, details: { hint: 'run `simutrador auth login` or set SIMUTRADOR_API_KEY' } })
  }
  return { apiKey, stored, storedUnder: login?.server ?? ctx.server }
}

/** A REST client authenticated with the explicit key, else the stored login; NOT_LOGGED_IN otherwise. */
export async function authedClient (ctx: CliContext): Promise<AuthedClient> {
  const { apiKey, stored, storedUnder } = await resolveApiKey(ctx)
  // The stored token only belongs to the stored key.
  const reuse = stored !== undefined && stored.api_key === apiKey ? stored : undefined
  const client = restClient(ctx, { apiKey, ...(reuse !== undefined ? { accessToken: reuse.access_token } : {}) })
  return {
    client,
    async persist () {
      const current = client.tokens.peek()
      if (reuse === undefined || current === undefined || current.token === reuse.access_token) return
      const next: StoredCredentials = { ...reuse, access_token: current.token, expires_at: new Date(current.expiresAt).toISOString() }
      await saveCredentials(storedUnder, next)
    }
  }
}

/** The success body, or an OperationError with the server's error body (or a synthesized one). */
export function unwrap<D> (result: { data?: D, error?: unknown, response: Response }): D {
  if (result.error !== undefined || !result.response.ok) {
    const e = result.error
    if (isRecord(e) && typeof e.error_code === 'string' && typeof e.message === 'string') {
      throw new OperationError({ error_code: e.error_code, message: e.message, ...(isRecord(e.details) ? { details: e.details } : {}) })
    }
    throw new OperationError({ error_code: 'INTERNAL_ERROR', message: `HTTP ${result.response.status} ${result.response.statusText}` })
  }
  return result.data as D
}

/** Turn transport failures (server down, token exchange refused) into OperationErrors with a code. */
export function asOperationError (err: unknown, server: string): OperationError | undefined {
  if (err instanceof OperationError) return err
  // A WebSocket failure (SDK): the server's code, message and details as they are.
  if (err instanceof SessionError) return new OperationError({ error_code: err.error_code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) })
  if (!(err instanceof Error)) return undefined
  const code = (err as { error_code?: unknown }).error_code
  // The token middleware says "Token exchange failed: CODE message"; the code is printed separately.
  if (typeof code === 'string') return new OperationError({ error_code: code, message: `${err.message.replace(/^Token exchange failed: \S+ ?/, '')} (exchanging the API key for a token)` })
  const cause = (err as { cause?: { code?: unknown } }).cause
  if (err instanceof TypeError && (err.message === 'fetch failed' || typeof cause?.code === 'string')) {
    return new OperationError({ error_code: 'CONNECTION_FAILED', message: `Cannot reach ${server}${typeof cause?.code === 'string' ? ` (${cause.code})` : ''}`, details: { hint: 'is the server running? start it with `npm start`, or pass --url' } })
  }
  return undefined
}
