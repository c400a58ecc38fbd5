// How commands reach the server: global options (--server, --api-key, --json) resolved once, a typed REST
// client from generated-client/ authenticated with the flag/env key or the stored login, and `unwrap`,
// which turns an openapi-fetch `{data, error}` into data or an OperationError carrying the server's body.
import { createSimutradorClient, type SimutradorClient, type TokenCache } from '../../generated-client/index.js'
import { loadCredentials, saveCredentials, type StoredCredentials } from './credentials.js'
import { OperationError, UsageError } from './errors.js'
import { SessionError } from '../session-error.js'
import { isRecord } from './output.js'

export const DEFAULT_SERVER = 'http://127.0.0.1:8003'

export interface GlobalOptions { server?: string, apiKey?: string, json?: boolean }

export interface CliContext {
  server: string
  json: boolean
  /** API key from --api-key or SIMUTRADOR_API_KEY, if any (a stored login is used otherwise). */
  apiKey: string | undefined
}

export function contextFrom (opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  const raw = opts.server ?? env.SIMUTRADOR_URL ?? DEFAULT_SERVER
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`--server: '${raw}' is not a URL`, 'Example: --server http://127.0.0.1:8003')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server: '${raw}' must be an http:// or https:// URL`)
  const envKey = env.SIMUTRADOR_API_KEY
  return {
    server: url.toString().replace(/\/+$/, ''),
    json: opts.json === true,
    apiKey: opts.apiKey ?? (envKey !== undefined && envKey.length > 0 ? envKey : undefined)
  }
}

export interface AuthedClient {
  client: SimutradorClient & { tokens: TokenCache }
  /** Store a token the middleware renewed, so the next command does not exchange the key again. */
  persist: () => Promise<void>
}

/** The explicit key, else the stored login's (with that login); UNAUTHORIZED when there is neither. */
export async function resolveApiKey (ctx: CliContext): Promise<{ apiKey: string, stored: StoredCredentials | undefined }> {
  const stored = await loadCredentials(ctx.server)
  const apiKey = ctx.apiKey ?? stored?.api_key
  if (apiKey === undefined) {
    throw new OperationError({ error_code: 'UNAUTHORIZED', message: `Not logged in to ${ctx.server}`, details: { hint: 'run `simutrador auth login` or set SIMUTRADOR_API_KEY' } })
  }
  return { apiKey, stored }
}

/** A REST client authenticated with the explicit key, else the stored login; NOT_LOGGED_IN otherwise. */
export async function authedClient (ctx: CliContext): Promise<AuthedClient> {
  const { apiKey, stored } = await resolveApiKey(ctx)
  // The stored token only belongs to the stored key.
  const reuse = stored !== undefined && stored.api_key === apiKey ? stored : undefined
  const client = createSimutradorClient({ baseUrl: ctx.server, apiKey, ...(reuse !== undefined ? { accessToken: reuse.access_token } : {}) })
  return {
    client,
    async persist () {
      const current = client.tokens.peek()
      if (reuse === undefined || current === undefined || current.token === reuse.access_token) return
      const next: StoredCredentials = { ...reuse, access_token: current.token, expires_at: new Date(current.expiresAt).toISOString() }
      await saveCredentials(ctx.server, next)
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
    return new OperationError({ error_code: 'CONNECTION_FAILED', message: `Cannot reach ${server}${typeof cause?.code === 'string' ? ` (${cause.code})` : ''}`, details: { hint: 'is the server running? start it with `npm start`, or pass --server' } })
  }
  return undefined
}
