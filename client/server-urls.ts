// The server URLs a client may use: one URL, or a list naming several instances of one service (they share
// the database, Redis and the JWT secret, so a token from one is good on all). A list is checked up front,
// each entry is turned into the HTTP base (token exchange, REST) and the WebSocket URL, and UrlRotation
// decides which entry the next attempt goes to.

const WS_PATH = '/ws/simulate'

/** One server URL as given, with the two addresses derived from it. */
export interface ServerUrl {
  /** As the caller wrote it (what events and errors show). */
  readonly url: string
  /** http(s) base for the token exchange and REST; a ws(s) URL maps to http(s) on the same host. */
  readonly http: string
  /** The WebSocket endpoint on the same host; http(s) maps to ws(s). */
  readonly ws: string
}

const HTTP_OF: Readonly<Record<string, string>> = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }
const WS_OF: Readonly<Record<string, string>> = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }

/**
 * Check `input` (one URL or a non-empty list) and derive each entry's addresses. Throws a TypeError naming
 * the bad entry, so a typo fails at construction instead of as a connection error later.
 */
export function parseServerUrls (input: string | readonly string[], name = 'url'): ServerUrl[] {
  const list = typeof input === 'string' ? [input] : input
  if (!Array.isArray(list) || list.length === 0) throw new TypeError(`${name}: expected a server URL or a non-empty list of them`)
  return list.map((raw, i) => {
    const where = typeof input === 'string' ? name : `${name}[${i}]`
    if (typeof raw !== 'string') throw new TypeError(`${where}: expected a string, got ${raw === null ? 'null' : typeof raw}`)
    let parsed: URL
    try {
      parsed = new URL(raw)
    } catch {
      throw new TypeError(`${where}: '${raw}' is not a URL (e.g. http://127.0.0.1:8003)`)
    }
    const httpProtocol = HTTP_OF[parsed.protocol]
    const wsProtocol = WS_OF[parsed.protocol]
    if (httpProtocol === undefined || wsProtocol === undefined) throw new TypeError(`${where}: '${raw}' must be an http://, https://, ws:// or wss:// URL`)
    // Paths resolve from the host's root, as they always have: '/auth/token' and '/ws/simulate'.
    const http = new URL('/', parsed)
    http.protocol = httpProtocol
    const ws = new URL(WS_PATH, parsed)
    ws.protocol = wsProtocol
    return { url: raw, http: http.toString(), ws: ws.toString() }
  })
}

/**
 * `request` sent to `base`'s host instead: same path, query, method, headers and body. The token cache and
 * the REST client build requests against the first URL; this moves them to the one being tried.
 */
export async function rebaseRequest (request: Request, base: string): Promise<Request> {
  const from = new URL(request.url)
  const to = new URL(`${from.pathname}${from.search}`, base)
  if (to.href === from.href) return request
  // The body is read into memory: a stream could be sent only once, and these are small JSON bodies.
  const body = request.body === null ? undefined : await request.clone().arrayBuffer()
  return new Request(to, { method: request.method, headers: request.headers, body, signal: request.signal, redirect: request.redirect })
}

/**
 * Which URL the client uses: the first connect walks the list in order from the first entry; every
 * reconnect attempt moves on to the next entry, wrapping around (round robin), so a client whose instance
 * died lands on another one instead of waiting for the dead one to come back.
 */
export class UrlRotation<T> {
  #index = 0

  constructor (readonly entries: readonly T[]) {
    if (entries.length === 0) throw new TypeError('UrlRotation needs at least one entry')
  }

  /** The entry the next (or current) connection uses. */
  get current (): T { return this.entries[this.#index] }

  /** Its position in the list. */
  get index (): number { return this.#index }

  /** Back to the first entry (a first connect starts there). */
  reset (): T {
    this.#index = 0
    return this.current
  }

  /** Move to the next entry, after the last one back to the first; returns it. */
  advance (): T {
    this.#index = (this.#index + 1) % this.entries.length
    return this.current
  }
}
