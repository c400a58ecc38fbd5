// The dashboard's one WebSocket (`/ws/simulate`): typed frames from schemas/ (via the SDK's message maps),
// session pushes, `subscribe_session` watchers, and reconnection with backoff that re-subscribes, so a
// dropped connection resumes the live view. Requests are answered by `request_id`.
import type { ClientMessageMap, ServerFrame, ServerMessageMap } from '../../client/messages.js'
import { currentToken } from './auth.js'

export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'closed'
type Handler<K extends keyof ServerMessageMap> = (data: ServerMessageMap[K], frame: ServerFrame<K>) => void

const PING_EVERY_MS = 60_000

export class LiveConnection {
  #ws: WebSocket | undefined
  #state: LiveState = 'closed'
  #wanted = false
  #attempt = 0
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #pingTimer: ReturnType<typeof setInterval> | undefined
  #handlers = new Map<string, Set<(data: unknown, frame: ServerFrame) => void>>()
  #stateListeners = new Set<(s: LiveState) => void>()
  #pending = new Map<string, { resolve: (f: ServerFrame) => void, reject: (e: Error) => void }>()
  #nextId = 1
  /** Sessions watched with subscribe_session: re-subscribed after every reconnect. */
  readonly watched = new Set<string>()

  get state (): LiveState { return this.#state }

  on<K extends keyof ServerMessageMap> (type: K, fn: Handler<K>): () => void {
    let set = this.#handlers.get(type)
    if (set === undefined) { set = new Set(); this.#handlers.set(type, set) }
    const h = fn as (data: unknown, frame: ServerFrame) => void
    set.add(h)
    return () => { set.delete(h) }
  }

  onState (fn: (s: LiveState) => void): () => void {
    this.#stateListeners.add(fn)
    return () => { this.#stateListeners.delete(fn) }
  }

  #setState (s: LiveState): void {
    this.#state = s
    for (const fn of this.#stateListeners) fn(s)
  }

  start (): void {
    if (this.#wanted) return
    this.#wanted = true
    void this.#open()
  }

  stop (): void {
    this.#wanted = false
    clearTimeout(this.#retryTimer)
    clearInterval(this.#pingTimer)
    this.watched.clear()
    this.#ws?.close(1000, 'signed out')
    this.#ws = undefined
    this.#setState('closed')
  }

  /** Close and reopen now (a renewed token; tests use it to simulate a drop). */
  reconnect (): void { this.#ws?.close(4000, 'reconnect') }

  async #open (): Promise<void> {
    this.#setState(this.#attempt === 0 ? 'connecting' : 'reconnecting')
    let token: string
    try { token = await currentToken() } catch { this.#scheduleRetry(); return }
    if (!this.#wanted) return
    const url = new URL('/ws/simulate', location.href)
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
    url.searchParams.set('token', token)
    const ws = new WebSocket(url)
    this.#ws = ws
    ws.addEventListener('message', (ev) => { this.#receive(ev.data) })
    ws.addEventListener('close', () => {
      if (this.#ws !== ws) return
      clearInterval(this.#pingTimer)
      for (const p of this.#pending.values()) p.reject(new Error('The live connection dropped'))
      this.#pending.clear()
      this.#ws = undefined
      if (this.#wanted) this.#scheduleRetry()
    })
  }

  #scheduleRetry (): void {
    this.#setState('reconnecting')
    const delay = Math.min(10_000, 500 * 2 ** this.#attempt)
    this.#attempt++
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => { void this.#open() }, delay)
  }

  #receive (raw: unknown): void {
    if (typeof raw !== 'string') return
    let frame: ServerFrame
    try { frame = JSON.parse(raw) as ServerFrame } catch { return }
    if (frame.type === 'connection_ready') {
      this.#attempt = 0
      this.#setState('open')
      clearInterval(this.#pingTimer)
      this.#pingTimer = setInterval(() => { this.send('ping', {}) }, PING_EVERY_MS)
      for (const id of this.watched) void this.request('subscribe_session', { session_id: id }).catch(() => undefined)
    }
    // `token_expiring` needs no answer here: auth.ts renews the token before expiry and then calls reconnect().
    const pending = frame.request_id !== undefined ? this.#pending.get(frame.request_id) : undefined
    if (pending !== undefined && frame.request_id !== undefined) {
      this.#pending.delete(frame.request_id)
      if (frame.type === 'error' || frame.type === 'session_error') pending.reject(new Error(frame.data.message))
      else pending.resolve(frame)
    }
    for (const fn of this.#handlers.get(frame.type) ?? []) fn(frame.data, frame)
  }

  send<K extends keyof ClientMessageMap> (type: K, data: ClientMessageMap[K], requestId?: string): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false
    this.#ws.send(JSON.stringify({ type, data, ...(requestId !== undefined ? { request_id: requestId } : {}) }))
    return true
  }

  /** Send and await the frame answering it (rejects on `error`/`session_error` or a drop). */
  async request<K extends keyof ClientMessageMap> (type: K, data: ClientMessageMap[K]): Promise<ServerFrame> {
    const id = `d${this.#nextId++}`
    return await new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (!this.send(type, data, id)) { this.#pending.delete(id); reject(new Error('The live connection is not open')) }
    })
  }

  /** Watch a run's events (it must be running or paused); kept across reconnects until unwatch. */
  async watch (sessionId: string): Promise<void> {
    this.watched.add(sessionId)
    if (this.#state !== 'open') return
    try {
      await this.request('subscribe_session', { session_id: sessionId })
    } catch (err) {
      this.watched.delete(sessionId)
      throw err
    }
  }

  unwatch (sessionId: string): void {
    if (this.watched.delete(sessionId)) this.send('unsubscribe_session', { session_id: sessionId })
  }
}

export const live = new LiveConnection()
