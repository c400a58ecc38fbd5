// SessionClient: the SDK over the WebSocket `/ws/simulate`. It turns an API key into tokens (and refreshes
// them), correlates replies by request_id with a per-request timeout, raises SessionError for failures,
// keeps a cache of the user's sessions from what the server sends, keeps the connection alive with pings and
// reconnects with exponential backoff and full jitter when it drops. Given several URLs (instances of one
// service), the first connect takes the first that answers and every reconnect moves on to the next, so a
// client whose instance died lands on another one. Server messages are exposed as typed listeners (`on`)
// and as an async iterator (`events`). Simulation operations build on `request()`.
import { randomBytes, randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import { createTokenCache, type TokenCache } from '../generated-client/index.js'
import type { ConnectionReadyData, ServerEnvelope } from '../schemas/ws-messages.js'
import type { CreateSessionBody, ListSessionsData, Session, SessionDeleted, SessionList, SessionState } from '../schemas/sessions.js'
import type { Order, ReplaceOrderBody } from '../schemas/simulation.js'
import { SESSION_PAYLOAD_TYPES, type ClientFrame, type ClientMessageMap, type ServerMessageMap } from './messages.js'
import { SessionError } from './session-error.js'
import { BucketPause, bucketRetryAfterMs } from './rate-limit-retry.js'
import { parseServerUrls, rebaseRequest, UrlRotation, type ServerUrl } from './server-urls.js'

export { SessionError } from './session-error.js'
export type { ClientErrorCode, SessionErrorCode } from './session-error.js'
export type { ClientMessageMap, ServerMessageMap, ServerFrame } from './messages.js'

/** The server closes with these when the token expires (reconnect at once with a fresh token). */
const CLOSE_TOKEN_EXPIRED = 4001
const CLOSE_NORMAL = 1000

export interface ReconnectOptions {
  /** First backoff ceiling (ms); the n-th attempt waits a random time in [0, min(max, base·2ⁿ)]. Default 250. */
  baseDelayMs?: number
  /** Largest backoff ceiling (ms). Default 10 000. */
  maxDelayMs?: number
  /** Attempts per outage before giving up. Default unbounded. */
  maxAttempts?: number
}

export interface SessionClientOptions {
  /**
   * Server base URL, e.g. http://127.0.0.1:8003 (the WebSocket URL is derived from it; ws:// and wss:// work
   * too). A list names instances of one service: the first connect uses the first that answers, and each
   * reconnect attempt moves on to the next one (round robin), fetching its token there.
   */
  url: string | string[]
  /** API key: exchanged for tokens at connect and whenever the token is about to expire. */
  apiKey?: string
  /** A token to start with (e.g. the CLI's cached one); without `apiKey` it cannot be renewed. */
  accessToken?: string
  /** Per-request reply timeout (ms). Default 10 000. */
  requestTimeoutMs?: number
  /** Fetch a fresh token when the cached one expires within this many seconds. Default 30. */
  tokenRefreshMarginSec?: number
  /** Reconnect policy, or `false` to stay disconnected after a drop. */
  reconnect?: ReconnectOptions | false
  /** Keep-alive ping interval (ms). Default a third of the server's idle timeout. */
  pingIntervalMs?: number
  /** Custom fetch for the token exchange. */
  fetch?: (request: Request) => Promise<Response>
}

export interface RequestOptions {
  /** Reply timeout for this request (ms); defaults to the client's requestTimeoutMs. */
  timeoutMs?: number
  /**
   * True when sending the request twice is harmless (reads). If the connection drops before the reply,
   * an idempotent request is sent again after reconnecting; any other request is rejected with a retriable
   * CONNECTION_LOST, because the server may or may not have executed it.
   */
  idempotent?: boolean
}

/** Events the client itself emits, next to the server's messages. */
export interface LifecycleEventMap {
  /**
   * Authenticated and greeted (`connection_ready`); `reconnected` is false for the first connect(). `url` is
   * the server URL (as given in the options) this connection went to.
   */
  connected: { reconnected: boolean, ready: ConnectionReadyData, url: string }
  /** The socket closed; `will_reconnect` says whether the client tries again. `url`: the server it was on. */
  disconnected: { code: number, reason: string, will_reconnect: boolean, url: string }
  /**
   * A reconnect attempt to `url` is scheduled after `delay_ms`; `last_error` is why the previous attempt
   * failed.
   */
  reconnecting: { attempt: number, delay_ms: number, last_error?: string, url: string }
}

/** Everything `on()` and `events()` deliver: every server message type plus the lifecycle events. */
export interface SessionClientEventMap extends ServerMessageMap, LifecycleEventMap {}
export type SessionClientEventType = keyof SessionClientEventMap

/** One delivered event: a server frame (with its envelope fields) or a lifecycle event (local timestamp). */
export type SessionClientEvent<K extends SessionClientEventType = SessionClientEventType> = {
  [T in K]: { type: T, data: SessionClientEventMap[T], request_id?: string, timestamp: string, sequence_id?: number }
}[K]

export type SessionClientListener<K extends SessionClientEventType> = (data: SessionClientEventMap[K], event: SessionClientEvent<K>) => void

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

interface PendingRequest {
  readonly requestId: string
  readonly type: string
  readonly data: unknown
  readonly replyType: string
  readonly idempotent: boolean
  sent: boolean
  readonly resolve: (data: unknown) => void
  readonly reject: (err: SessionError) => void
  readonly timer: NodeJS.Timeout
}

type AnyListener = (data: unknown, event: SessionClientEvent) => void

interface EventSink { push: (event: SessionClientEvent) => void, end: () => void }

/** Why an attempt to open the socket failed, with what the reconnect loop needs to decide. */
class ConnectFailure extends Error {
  constructor (readonly sessionError: SessionError, readonly status: number | undefined) {
    super(sessionError.message)
  }
}

export class SessionClient {
  readonly #opts: SessionClientOptions
  readonly #tokens: TokenCache
  readonly #urls: UrlRotation<ServerUrl>
  readonly #requestTimeoutMs: number
  readonly #reconnect: Required<ReconnectOptions> | false
  readonly #idPrefix = randomBytes(4).toString('hex')
  #nextId = 1
  #state: ConnectionState = 'idle'
  #ws: WebSocket | undefined
  #ready: ConnectionReadyData | undefined
  #connecting: Promise<ConnectionReadyData> | undefined
  #lastInbound = 0
  #pingTimer: NodeJS.Timeout | undefined
  #wakeReconnect: (() => void) | undefined
  readonly #pending = new Map<string, PendingRequest>()
  /** Set after the server's message bucket refused a request: later ones wait (rate-limit-retry.ts). */
  readonly #bucketPause = new BucketPause((max) => { this.#sendWaiting(max) })
  readonly #listeners = new Map<string, Set<AnyListener>>()
  readonly #sinks = new Set<EventSink>()
  readonly #sessions = new Map<string, Session>()
  #closeError: SessionError | undefined

  constructor (opts: SessionClientOptions) {
    if (opts.apiKey === undefined && opts.accessToken === undefined) throw new TypeError('SessionClient needs an apiKey or an accessToken')
    this.#opts = opts
    this.#urls = new UrlRotation(parseServerUrls(opts.url, 'SessionClient url'))
    const doFetch = opts.fetch ?? ((req: Request) => fetch(req))
    this.#tokens = createTokenCache({
      baseUrl: this.#urls.current.http,
      ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
      ...(opts.accessToken !== undefined ? { accessToken: opts.accessToken } : {}),
      // The token comes from the instance being tried: one that does not answer fails that attempt only.
      ...(this.#urls.entries.length > 1
        ? { fetch: async (req: Request) => await doFetch(await rebaseRequest(req, this.#urls.current.http)) }
        : opts.fetch !== undefined ? { fetch: opts.fetch } : {}),
      refreshMarginSec: opts.tokenRefreshMarginSec ?? 30
    })
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 10_000
    this.#reconnect = opts.reconnect === false
      ? false
      : { baseDelayMs: opts.reconnect?.baseDelayMs ?? 250, maxDelayMs: opts.reconnect?.maxDelayMs ?? 10_000, maxAttempts: opts.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY }
  }

  /** 'idle' before connect(), 'open' when usable, 'reconnecting' during an outage, 'closed' after close(). */
  get state (): ConnectionState { return this.#state }
  /** The server's greeting of the current connection (user, plan, limits, expiry). */
  get connectionInfo (): ConnectionReadyData | undefined { return this.#ready }
  /** The user's sessions as last seen from the server (replies and pushes), by session_id. */
  get sessions (): ReadonlyMap<string, Session> { return this.#sessions }
  /** Why the client closed by itself (it gave up reconnecting: e.g. its API key was refused); undefined otherwise. */
  get closeError (): SessionError | undefined { return this.#closeError }
  /** The server URL (as given) of the current connection, or of the attempt in progress. */
  get url (): string { return this.#urls.current.url }

  /** Open the connection (token exchange, upgrade, `connection_ready`). Idempotent while open. */
  async connect (): Promise<ConnectionReadyData> {
    if (this.#state === 'closed') throw SessionError.client('CLIENT_CLOSED', 'The client was closed')
    if (this.#state === 'open' && this.#ready !== undefined) return this.#ready
    if (this.#connecting !== undefined) return await this.#connecting
    this.#state = 'connecting'
    this.#connecting = (async () => {
      try {
        const ready = await this.#openFirst()
        if (this.#state !== 'connecting') {
          // close() ran while connecting.
          this.#ws?.close(CLOSE_NORMAL, 'client closed')
          throw SessionError.client('CLIENT_CLOSED', 'The client was closed while connecting')
        }
        this.#connected(ready, false)
        return ready
      } catch (err) {
        if (this.#state === 'connecting') this.#state = 'idle'
        throw err instanceof ConnectFailure ? err.sessionError : err
      } finally {
        this.#connecting = undefined
      }
    })()
    return await this.#connecting
  }

  /**
   * Create a session; resolves with the new Session (state `ready`). Every create carries an
   * idempotency_key (random unless given), which makes it safe to re-send after a dropped connection:
   * the server answers a repeat with the session the first attempt created.
   */
  async createSession (params: CreateSessionBody, opts: RequestOptions & { idempotencyKey?: string } = {}): Promise<Session> {
    const { idempotencyKey, ...requestOpts } = opts
    return await this.request('create_session', { ...params, idempotency_key: idempotencyKey ?? randomUUID() }, 'session_created', { idempotent: true, ...requestOpts })
  }

  /** The session's current state, progress and settings. */
  async getSessionStatus (sessionId: string, opts: RequestOptions = {}): Promise<Session> {
    return await this.request('get_session', { session_id: sessionId }, 'session_info', { idempotent: true, ...opts })
  }

  /** All of the user's sessions (every page), newest first; optionally only those in `state`. */
  async listSessions (filter: { state?: SessionState } = {}, opts: RequestOptions = {}): Promise<Session[]> {
    const all: Session[] = []
    let cursor: string | undefined
    do {
      const page = await this.listSessionsPage({ ...filter, limit: 100, ...(cursor !== undefined ? { cursor } : {}) }, opts)
      all.push(...page.sessions)
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
    // A complete unfiltered listing is the truth: forget cached sessions the server no longer has.
    if (filter.state === undefined) {
      const live = new Set(all.map((s) => s.session_id))
      for (const id of this.#sessions.keys()) if (!live.has(id)) this.#sessions.delete(id)
    }
    return all
  }

  /** One page of the listing, as the server sends it (`next_cursor` for the next page). */
  async listSessionsPage (query: ListSessionsData = {}, opts: RequestOptions = {}): Promise<SessionList> {
    return await this.request('list_sessions', query, 'session_list', { idempotent: true, ...opts })
  }

  /**
   * Replace a working order (as Alpaca's replace): resolves the new order (`replaces` = orderId); the old one
   * ends `replaced`. Refused (INVALID_STATE, INVALID_ORDER, …) → rejects with the server's error, nothing changed.
   */
  async replaceOrder (sessionId: string, orderId: string, changes: ReplaceOrderBody, opts: RequestOptions = {}): Promise<Order> {
    const update = await this.request('replace_order', { session_id: sessionId, order_id: orderId, ...changes }, 'order_update', opts)
    return update.order
  }

  /** Delete a session (stopping it if running). */
  async deleteSession (sessionId: string, opts: RequestOptions = {}): Promise<SessionDeleted> {
    return await this.request('delete_session', { session_id: sessionId }, 'session_deleted', opts)
  }

  /**
   * Send `type` with `data` and resolve with the `data` of the reply of type `replyType` that echoes the
   * request_id; reject with SessionError on `session_error`/`error`, timeout or a lost connection. While the
   * client is reconnecting the request waits (its timeout running) and is sent once the connection is back.
   */
  async request<K extends keyof ClientMessageMap, R extends keyof ServerMessageMap> (
    type: K, data: ClientMessageMap[K], replyType: R, opts: RequestOptions = {}
  ): Promise<ServerMessageMap[R]> {
    if (this.#state === 'closed') throw SessionError.client('CLIENT_CLOSED', 'The client was closed')
    if (this.#state === 'idle') throw SessionError.client('NOT_CONNECTED', 'Call connect() before sending requests')
    const requestId = `${this.#idPrefix}-${this.#nextId++}`
    const timeoutMs = opts.timeoutMs ?? this.#requestTimeoutMs
    return await new Promise<ServerMessageMap[R]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId)
        reject(SessionError.client('REQUEST_TIMEOUT', `No reply to '${type}' within ${timeoutMs} ms`, { request_id: requestId }))
      }, timeoutMs)
      const pending: PendingRequest = {
        requestId,
        type,
        data,
        replyType,
        idempotent: opts.idempotent ?? false,
        sent: false,
        // The reply's type was matched against replyType, so its data is ServerMessageMap[R].
        resolve: (reply) => { resolve(reply as ServerMessageMap[R]) },
        reject,
        timer
      }
      this.#pending.set(requestId, pending)
      if (this.#state === 'open') this.#sendPending(pending)
    })
  }

  /**
   * Send a message that has no reply (e.g. an acknowledgement) on the current connection. Returns false
   * when there is no open connection: unlike request(), nothing is queued, because a late notification
   * (a stale ack) is worse than none.
   */
  send<K extends keyof ClientMessageMap> (type: K, data: ClientMessageMap[K]): boolean {
    return this.#send({ type, data })
  }

  /** Listen to one event type; returns a function that removes the listener. */
  on<K extends SessionClientEventType> (type: K, listener: SessionClientListener<K>): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) { set = new Set(); this.#listeners.set(type, set) }
    set.add(listener as unknown as AnyListener)
    return () => { this.off(type, listener) }
  }

  off<K extends SessionClientEventType> (type: K, listener: SessionClientListener<K>): void {
    this.#listeners.get(type)?.delete(listener as unknown as AnyListener)
  }

  /** The next event of `type` (matching `filter`), or a REQUEST_TIMEOUT SessionError after `timeoutMs`. */
  async once<K extends SessionClientEventType> (type: K, opts: { timeoutMs?: number, filter?: (data: SessionClientEventMap[K]) => boolean } = {}): Promise<SessionClientEventMap[K]> {
    const timeoutMs = opts.timeoutMs ?? this.#requestTimeoutMs
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(SessionError.client('REQUEST_TIMEOUT', `No '${type}' event within ${timeoutMs} ms`))
      }, timeoutMs)
      const off = this.on(type, (data) => {
        if (opts.filter !== undefined && !opts.filter(data)) return
        clearTimeout(timer)
        off()
        resolve(data)
      })
    })
  }

  /**
   * Every event from now on (server messages and lifecycle events), in arrival order, until close() or
   * `signal` aborts. Events are buffered while the consumer is busy.
   */
  events (opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<SessionClientEvent> {
    const queue: SessionClientEvent[] = []
    let waiter: ((result: IteratorResult<SessionClientEvent>) => void) | undefined
    let done = this.#state === 'closed'
    const finish = (): void => {
      if (done) return
      done = true
      this.#sinks.delete(sink)
      opts.signal?.removeEventListener('abort', finish)
      if (waiter !== undefined) { const w = waiter; waiter = undefined; w({ value: undefined, done: true }) }
    }
    const sink: EventSink = {
      push: (event) => {
        if (waiter !== undefined) { const w = waiter; waiter = undefined; w({ value: event, done: false }) } else queue.push(event)
      },
      end: finish
    }
    if (!done) this.#sinks.add(sink)
    if (opts.signal?.aborted === true) finish()
    opts.signal?.addEventListener('abort', finish)
    const iterator: AsyncIterableIterator<SessionClientEvent> = {
      next: async () => {
        const queued = queue.shift()
        if (queued !== undefined) return { value: queued, done: false }
        if (done) return { value: undefined, done: true }
        return await new Promise((resolve) => { waiter = resolve })
      },
      return: async () => { finish(); return { value: undefined, done: true } },
      [Symbol.asyncIterator]: () => iterator
    }
    return iterator
  }

  /** Close the connection for good: no reconnect; pending requests fail with CLIENT_CLOSED; iterators end. */
  async close (): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#wakeReconnect?.()
    this.#stopPing()
    this.#failPending(() => true, (p) => SessionError.client('CLIENT_CLOSED', 'The client was closed', { request_id: p.requestId }))
    const ws = this.#ws
    this.#ws = undefined
    if (ws !== undefined && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { ws.terminate(); resolve() }, 1000)
        ws.once('close', () => { clearTimeout(timer); resolve() })
        ws.close(CLOSE_NORMAL, 'client closed')
      })
    }
    this.#emit('disconnected', { code: CLOSE_NORMAL, reason: 'client closed', will_reconnect: false, url: this.#urls.current.url })
    for (const sink of [...this.#sinks]) sink.end()
  }

  // ── connection ──────────────────────────────────────────────────────────────────────────────────

  /**
   * The first connect: each URL in order until one answers. A failure the next instance could avoid (no
   * answer, a 5xx, a limit) moves on; a refusal every instance would repeat (a bad API key) ends it there.
   */
  async #openFirst (): Promise<ConnectionReadyData> {
    const failures: Array<{ url: string, failure: ConnectFailure }> = []
    for (let i = 0; i < this.#urls.entries.length; i++) {
      const target = i === 0 ? this.#urls.reset() : this.#urls.advance()
      try {
        return await this.#openRenewing()
      } catch (err) {
        if (!(err instanceof ConnectFailure)) throw err
        // close() during the walk ends it too.
        if (!err.sessionError.retriable || this.#state !== 'connecting' || this.#urls.entries.length === 1) throw err
        failures.push({ url: target.url, failure: err })
      }
    }
    const last = failures[failures.length - 1].failure
    const summary = failures.map(({ url, failure: f }) => `${url}: ${f.sessionError.error_code}: ${f.sessionError.message}`).join('; ')
    throw new ConnectFailure(new SessionError({
      error_code: last.sessionError.error_code,
      message: `None of the ${failures.length} server URLs answered (${summary})`,
      details: { ...last.sessionError.details, attempts: failures.map(({ url, failure: f }) => ({ url, error_code: f.sessionError.error_code, message: f.sessionError.message })) },
      source: 'client',
      retriable: last.sessionError.retriable,
      cause: last.sessionError
    }), last.status)
  }

  /** #open, and once more with a fresh token when the server refuses ours (rotated secret, revoked). */
  async #openRenewing (): Promise<ConnectionReadyData> {
    try {
      return await this.#open()
    } catch (err) {
      if (!(err instanceof ConnectFailure) || err.status !== 401 || this.#opts.apiKey === undefined) throw err
      this.#tokens.invalidate()
      return await this.#open()
    }
  }

  /** One attempt at the current URL: token, upgrade, `connection_ready`. Rejects with ConnectFailure. */
  async #open (): Promise<ConnectionReadyData> {
    const target = this.#urls.current
    let token: string
    try {
      token = await this.#tokens.get()
    } catch (err) {
      const code = (err as { error_code?: unknown }).error_code
      const status = (err as { status?: unknown }).status
      const serverCode = typeof code === 'string' ? code : undefined
      throw new ConnectFailure(new SessionError({
        error_code: (serverCode as SessionError['error_code'] | undefined) ?? 'CONNECTION_FAILED',
        // "fetch failed" alone does not say which of several servers did not answer.
        message: serverCode === undefined ? `Cannot get a token from ${target.http}: ${describeFetchError(err)}` : err instanceof Error ? err.message : String(err),
        source: 'client',
        // A refused key will be refused again; a server that did not answer, or failed (5xx: e.g. its
        // Redis is down), may answer later, and another instance may answer now.
        retriable: serverCode === undefined || serverCode === 'RATE_LIMIT_EXCEEDED' || (typeof status === 'number' && status >= 500),
        cause: err
      }), typeof status === 'number' ? status : undefined)
    }
    const url = `${target.ws}?token=${encodeURIComponent(token)}`
    const ws = new WebSocket(url, { handshakeTimeout: this.#requestTimeoutMs })
    return await new Promise<ConnectionReadyData>((resolve, reject) => {
      let settled = false
      const fail = (failure: ConnectFailure): void => {
        if (settled) return
        settled = true
        clearTimeout(readyTimer)
        ws.removeAllListeners('message')
        ws.terminate()
        reject(failure)
      }
      const readyTimer = setTimeout(() => {
        fail(new ConnectFailure(SessionError.client('CONNECTION_FAILED', `No connection_ready within ${this.#requestTimeoutMs} ms`), undefined))
      }, this.#requestTimeoutMs)
      ws.on('error', (err) => {
        fail(new ConnectFailure(SessionError.client('CONNECTION_FAILED', `Cannot connect to ${target.ws}: ${err.message}`, { cause: err }), undefined))
      })
      ws.once('unexpected-response', (_req, res) => {
        // The upgrade was refused with an HTTP error body ({error_code, message, details}).
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = parseJson(Buffer.concat(chunks).toString('utf8'))
          const status = res.statusCode ?? 0
          const errorCode = isRecord(body) && typeof body.error_code === 'string' ? body.error_code : 'CONNECTION_FAILED'
          const message = isRecord(body) && typeof body.message === 'string' ? body.message : `Upgrade refused with HTTP ${status}`
          const details = isRecord(body) && isRecord(body.details) ? body.details : {}
          fail(new ConnectFailure(new SessionError({ error_code: errorCode as SessionError['error_code'], message, details, source: 'client', retriable: status !== 401 || this.#opts.apiKey !== undefined }), status))
        })
      })
      ws.once('close', (code, reason) => {
        fail(new ConnectFailure(SessionError.client('CONNECTION_FAILED', `Connection closed before connection_ready (${code} ${reason.toString()})`), undefined))
      })
      ws.on('message', (raw: WebSocket.RawData) => {
        const frame = parseFrame(raw)
        if (frame === undefined) return
        if (!settled && frame.type === 'connection_ready') {
          settled = true
          clearTimeout(readyTimer)
          ws.removeAllListeners('close')
          this.#attach(ws)
          resolve(frame.data as ConnectionReadyData)
          this.#onFrame(frame)
          return
        }
        if (settled) this.#onFrame(frame)
      })
    })
  }

  /** Make an open, greeted socket the client's connection. */
  #attach (ws: WebSocket): void {
    this.#ws = ws
    this.#lastInbound = Date.now()
    ws.removeAllListeners('error')
    // Errors are followed by 'close', where the outage is handled; the listener keeps ws from throwing.
    ws.on('error', () => {})
    ws.once('close', (code, reason) => { this.#onClosed(ws, code, reason.toString()) })
  }

  #connected (ready: ConnectionReadyData, reconnected: boolean): void {
    this.#ready = ready
    this.#state = 'open'
    this.#startPing(ready)
    for (const p of this.#pending.values()) if (!p.sent) this.#sendPending(p)
    this.#emit('connected', { reconnected, ready, url: this.#urls.current.url })
  }

  #onClosed (ws: WebSocket, code: number, reason: string): void {
    if (this.#ws !== ws) return
    this.#ws = undefined
    this.#stopPing()
    if (this.#state === 'closed') return
    const willReconnect = this.#reconnect !== false
    // Sent requests whose reply is lost: reads are re-sent after reconnecting, everything else fails now.
    this.#failPending(
      (p) => p.sent && (!p.idempotent || !willReconnect),
      (p) => SessionError.client('CONNECTION_LOST', `Connection lost (${code}) before the reply to '${p.type}'; it may or may not have been applied`, { request_id: p.requestId, details: { close_code: code } })
    )
    for (const p of this.#pending.values()) p.sent = false
    if (code === CLOSE_TOKEN_EXPIRED) this.#tokens.invalidate()
    this.#emit('disconnected', { code, reason, will_reconnect: willReconnect, url: this.#urls.current.url })
    if (!willReconnect) {
      this.#state = 'closed'
      this.#failPending(() => true, (p) => SessionError.client('CONNECTION_LOST', `Connection lost (${code})`, { request_id: p.requestId }))
      for (const sink of [...this.#sinks]) sink.end()
      return
    }
    this.#state = 'reconnecting'
    void this.#reconnectLoop(code)
  }

  async #reconnectLoop (closeCode: number): Promise<void> {
    if (this.#reconnect === false) return
    const { baseDelayMs, maxDelayMs, maxAttempts } = this.#reconnect
    let lastError: SessionError | undefined
    for (let attempt = 1; this.#state === 'reconnecting'; attempt++) {
      if (attempt > maxAttempts) {
        this.#giveUp(lastError ?? SessionError.client('CONNECTION_LOST', 'Reconnect attempts exhausted'))
        return
      }
      // An expired token is an expected close: reconnect at once, to the same instance, which is alive (a
      // run it owns stays there instead of being handed over). Any other drop may mean the instance died:
      // each attempt goes to the next URL. Full jitter spreads the herd.
      const renewal = attempt === 1 && closeCode === CLOSE_TOKEN_EXPIRED
      const target = renewal ? this.#urls.current : this.#urls.advance()
      const delay = renewal ? 0 : Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)))
      this.#emit('reconnecting', { attempt, delay_ms: delay, ...(lastError !== undefined ? { last_error: `${lastError.error_code}: ${lastError.message}` } : {}), url: target.url })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.#wakeReconnect = undefined; resolve() }, delay)
        this.#wakeReconnect = () => { clearTimeout(timer); this.#wakeReconnect = undefined; resolve() }
      })
      if (this.#state !== 'reconnecting') return
      try {
        const ready = await this.#open()
        if (this.#state !== 'reconnecting') {
          // close() ran during the attempt: drop the fresh socket.
          this.#ws?.close(CLOSE_NORMAL, 'client closed')
          return
        }
        this.#connected(ready, true)
        // The server may have restarted or other clients changed things: refresh the cache.
        this.listSessions().catch(() => {})
        return
      } catch (err) {
        if (!(err instanceof ConnectFailure)) throw err
        lastError = err.sessionError
        if (err.status === 401) this.#tokens.invalidate()
        if (!err.sessionError.retriable) {
          this.#giveUp(err.sessionError)
          return
        }
      }
    }
  }

  #giveUp (err: SessionError): void {
    this.#state = 'closed'
    // A refused key or token will be refused again: most often the server restarted with other credentials.
    const refused = err.error_code === 'INVALID_API_KEY' || err.error_code === 'UNAUTHORIZED' || err.error_code === 'TOKEN_EXPIRED'
    const message = `Could not reconnect: ${err.message}` + (refused
      ? ` (${this.#urls.current.url} no longer accepts this client's credentials: a server restarted with another API key ` +
        'or JWT secret cannot resume its runs; keep its state folder, or configure the same JWT_SECRET and SIMUTRADOR_API_KEYS)'
      : '')
    this.#closeError = new SessionError({ error_code: err.error_code, message, details: err.details, source: 'client', retriable: false, cause: err })
    this.#failPending(() => true, (p) => new SessionError({ error_code: err.error_code, message, details: err.details, request_id: p.requestId, source: 'client', retriable: false }))
    this.#emit('disconnected', { code: 0, reason: `gave up reconnecting: ${err.error_code}: ${err.message}`, will_reconnect: false, url: this.#urls.current.url })
    for (const sink of [...this.#sinks]) sink.end()
  }

  #startPing (ready: ConnectionReadyData): void {
    this.#stopPing()
    // Any inbound message resets the server's idle timer; three pings per idle window survive one loss.
    const interval = this.#opts.pingIntervalMs ?? Math.max(1000, Math.floor(ready.idle_timeout_sec * 1000 / 3))
    this.#pingTimer = setInterval(() => {
      const ws = this.#ws
      if (ws === undefined || ws.readyState !== WebSocket.OPEN) return
      // No frame (not even a pong) for two intervals plus a timeout: the link is dead without a close.
      if (Date.now() - this.#lastInbound > 2 * interval + this.#requestTimeoutMs) {
        ws.terminate()
        return
      }
      this.#send({ type: 'ping', data: {} })
    }, interval)
    this.#pingTimer.unref()
  }

  #stopPing (): void {
    clearInterval(this.#pingTimer)
    this.#pingTimer = undefined
  }

  // ── frames ──────────────────────────────────────────────────────────────────────────────────────

  #send<K extends keyof ClientMessageMap> (frame: ClientFrame<K>): boolean {
    const ws = this.#ws
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false
    ws.send(JSON.stringify(frame))
    return true
  }

  /** True (and `p` waiting to be sent again) when `err` refused `p` unread (rate-limit-retry.ts). */
  #sendAgainLater (p: PendingRequest, err: ServerMessageMap['error']): boolean {
    const wait = bucketRetryAfterMs(err)
    if (wait === undefined) return false
    p.sent = false
    this.#bucketPause.refused(wait)
    return true
  }

  /** Up to `max` requests not on the wire yet, oldest first. */
  #sendWaiting (max: number): void {
    let n = 0
    for (const p of this.#pending.values()) {
      if (n >= max) return
      if (!p.sent) { this.#sendPending(p); n++ }
    }
  }

  #sendPending (p: PendingRequest): void {
    if (this.#bucketPause.holding) return
    const ws = this.#ws
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return
    ws.send(JSON.stringify({ type: p.type, data: p.data, request_id: p.requestId }))
    p.sent = true
  }

  #onFrame (frame: ServerEnvelope): void {
    this.#lastInbound = Date.now()
    if (frame.type === 'connection_ready') this.#ready = frame.data as ConnectionReadyData
    this.#updateCache(frame)
    const pending = frame.request_id === undefined ? undefined : this.#pending.get(frame.request_id)
    if (pending !== undefined) {
      if (frame.type === pending.replyType) {
        this.#settle(pending)
        pending.resolve(frame.data)
      } else if (frame.type === 'session_error') {
        this.#settle(pending)
        pending.reject(SessionError.fromSessionError(frame.data as ServerMessageMap['session_error'], pending.requestId))
      } else if (frame.type === 'error' && this.#sendAgainLater(pending, frame.data as ServerMessageMap['error'])) {
        // Refused unread by the server's message bucket: sent again when it says (within the request's timeout).
      } else if (frame.type === 'error') {
        this.#settle(pending)
        pending.reject(SessionError.fromError(frame.data as ServerMessageMap['error'], pending.requestId))
      }
    }
    // The map is a compile-time contract; at run time every frame is delivered under its own type.
    this.#deliver(frame as SessionClientEvent)
  }

  #updateCache (frame: ServerEnvelope): void {
    if ((SESSION_PAYLOAD_TYPES as readonly string[]).includes(frame.type)) {
      const session = frame.data as Session
      this.#sessions.set(session.session_id, session)
    } else if (frame.type === 'session_list') {
      for (const s of (frame.data as SessionList).sessions) this.#sessions.set(s.session_id, s)
    } else if (frame.type === 'session_deleted') {
      this.#sessions.delete((frame.data as SessionDeleted).session_id)
    } else if (frame.type === 'session_error') {
      const data = frame.data as ServerMessageMap['session_error']
      const id = data.details?.session_id
      if (data.error_code === 'SESSION_NOT_FOUND' && typeof id === 'string') this.#sessions.delete(id)
    }
  }

  #settle (p: PendingRequest): void {
    clearTimeout(p.timer)
    this.#pending.delete(p.requestId)
    this.#bucketPause.answered()
  }

  #failPending (which: (p: PendingRequest) => boolean, error: (p: PendingRequest) => SessionError): void {
    for (const p of [...this.#pending.values()]) {
      if (!which(p)) continue
      this.#settle(p)
      p.reject(error(p))
    }
  }

  #emit<K extends keyof LifecycleEventMap> (type: K, data: LifecycleEventMap[K]): void {
    this.#deliver({ type, data, timestamp: new Date().toISOString() } as SessionClientEvent)
  }

  #deliver (event: SessionClientEvent): void {
    for (const listener of [...(this.#listeners.get(event.type) ?? [])]) {
      try {
        listener(event.data, event)
      } catch (err) {
        // A throwing listener must not break request correlation or other listeners.
        process.emitWarning(`SessionClient '${event.type}' listener threw: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    for (const sink of this.#sinks) sink.push(event)
  }
}

/** `fetch failed (ECONNREFUSED)`: undici hides the reason in `cause`. */
function describeFetchError (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined
  return typeof cause?.code === 'string' ? `${message} (${cause.code})` : message
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseJson (text: string): unknown {
  try { return JSON.parse(text) } catch { return undefined }
}

/** A server frame, or undefined for anything that is not `{type: string, …}` (ignored). */
function parseFrame (raw: WebSocket.RawData): ServerEnvelope | undefined {
  const text = (Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw)).toString('utf8')
  const value = parseJson(text)
  if (!isRecord(value) || typeof value.type !== 'string') return undefined
  return value as ServerEnvelope
}
