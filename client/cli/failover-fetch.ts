// A fetch for the CLI's REST client over several server URLs (instances of one service): a request goes to
// the URL that answered last (at first the first URL) and moves on to the next one when no answer came.
// Any HTTP answer, errors included, is the service's answer and is returned as it is: another instance
// would say the same. The token exchange and the 401 retry go through it too, so they follow the same URL.
import { rebaseRequest } from '../server-urls.js'

/**
 * Error codes that say the request never reached a server (nothing can have been applied), as opposed to
 * a connection that broke after the request was sent.
 */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT'])

export type Fetch = (request: Request) => Promise<Response>

/** The error codes under a fetch failure (undici nests them in `cause`, happy eyeballs in `cause.errors`). */
export function transportCodes (err: unknown): string[] {
  const cause = err instanceof Error ? err.cause : undefined
  const codes: string[] = []
  const collect = (e: unknown): void => {
    const code = (e as { code?: unknown } | null | undefined)?.code
    if (typeof code === 'string') codes.push(code)
  }
  collect(cause)
  const nested = (cause as { errors?: unknown } | undefined)?.errors
  if (Array.isArray(nested)) for (const e of nested) collect(e)
  return codes
}

/**
 * Whether sending `request` to the next server after `err` is safe. Reads, the token exchange and creates
 * carrying an Idempotency-Key may be repeated whatever happened; anything else only when the request never
 * left (connection refused, host unknown): a PATCH or DELETE that reached a server which then died may have
 * been applied, and repeating it elsewhere would report the wrong outcome.
 */
export function mayMoveOn (request: Request, err: unknown): boolean {
  const method = request.method.toUpperCase()
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return true
  if (new URL(request.url).pathname === '/auth/token') return true
  if (request.headers.has('idempotency-key')) return true
  return transportCodes(err).some((code) => NOT_CONNECTED.has(code))
}

/**
 * fetch over `servers` (base URLs, tried in order, starting from the one that answered last). Throws the
 * last transport error when none answered.
 */
export function failoverFetch (servers: readonly string[], doFetch: Fetch = async (req) => await fetch(req)): Fetch {
  if (servers.length === 0) throw new TypeError('failoverFetch needs at least one server URL')
  let preferred = 0
  return async (request) => {
    let lastError: unknown
    for (let k = 0; k < servers.length; k++) {
      const i = (preferred + k) % servers.length
      // A clone each time: the body of a request that went to a dead server cannot be sent again.
      const attempt = await rebaseRequest(servers.length > 1 ? request.clone() : request, servers[i])
      try {
        const response = await doFetch(attempt)
        preferred = i
        return response
      } catch (err) {
        lastError = err
        // An abort is the caller's decision, not a dead server.
        if (request.signal.aborted || !mayMoveOn(request, err)) throw err
      }
    }
    throw lastError
  }
}
