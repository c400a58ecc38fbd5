// One authenticated WebSocket connection: parses frames (depth-capped, prototype-poisoning safe), validates the
// envelope, hands messages to the dispatcher and maps every failure to an `error`/`session_error` reply, so a
// bad message or a throwing handler never closes the connection or touches other connections. It also keeps
// the connection bounded and fair (docs/limits-websocket.md): one outbound byte budget shared by every frame
// (slow consumers are closed 4008), a per-plan message bucket (RATE_LIMIT_EXCEEDED, then 1008 for sustained
// abuse), a cap on messages waiting to be handled (TCP backpressure), and a per-turn message budget so one
// connection's burst cannot starve the others.
import type { WebSocket } from 'ws'
import type { FastifyBaseLogger } from 'fastify'
import type { WsErrorData } from '../../schemas/ws-messages.js'
import { AppError, isAppError } from '../app-error.js'
import type { AuthUser } from '../plugins/auth.js'
import type { CompiledHandler, HandlerFamily, WsDispatcher, WsHandlerContext } from './dispatcher.js'
import type { MessageBucket } from './message-bucket.js'
import { textFrame } from './text-frames.js'
import { plainTickAck } from './tick-ack-fast-path.js'
import { assertNoNulIn, parseEnvelope, peekRequestId, REQUEST_ID_PEEK_CHARS } from './inbound-message.js'

let nextConnectionId = 1

export const CLOSE_POLICY = 1008
export const CLOSE_SLOW_CONSUMER = 4008
/** Backstop only: the in-flight cap pauses reading long before this (one TCP chunk can overshoot the cap). */
const MAX_QUEUED_MESSAGES = 10_000
/** Messages handled per event-loop turn before the rest wait for the next turn (setImmediate). */
const TURN_BUDGET_MESSAGES = 32
const TURN_BUDGET_MS = 2
/** While over its backlog budget, how often a connection checks whether the client caught up. */
const DRAIN_POLL_MS = 50
/** A slow consumer's close frame sits behind its backlog; past this the socket is destroyed. */
const CLOSE_GRACE_MS = 2000
/** More than `burst` refused messages within this window is sustained abuse: 1008. */
const ABUSE_WINDOW_MS = 10_000

const ERROR_TYPES: Partial<Record<string, WsErrorData['error_type']>> = {
  INVALID_MESSAGE: 'protocol',
  UNKNOWN_MESSAGE_TYPE: 'protocol',
  VALIDATION_FAILED: 'validation',
  UNAUTHORIZED: 'auth',
  TOKEN_EXPIRED: 'auth',
  RATE_LIMIT_EXCEEDED: 'rate_limit',
  CONNECTION_LIMIT_EXCEEDED: 'rate_limit',
  INTERNAL_ERROR: 'internal'
}

export interface SendOptions { request_id?: string, sequence_id?: number }

/** The bounds of one connection: config (backlog, depth) and the user's plan (bucket, in-flight). */
export interface ConnectionBounds {
  /** Outbound bytes queued (socket.bufferedAmount) above which reading stops; 2× closes at once. */
  maxBacklogBytes: number
  /** Over budget this long → closed 4008 slow_consumer. */
  slowConsumerMs: number
  maxJsonDepth: number
  /** The user's message bucket on this instance (shared by the user's connections: message-bucket.ts). */
  bucket: MessageBucket
  /** Messages received and not yet handled before reading stops. */
  requestsInFlight: number
}

/** What the connection counts (prom-client counters satisfy this; the connection never sees the registry). */
export interface ConnectionCounters {
  slowConsumerCloses: { inc: () => void }
  rateLimitCloses: { inc: () => void }
  messagesThrottled: { inc: (labels: { reason: 'rate_limited' | 'push_dropped' }) => void }
}

const NO_COUNTERS: ConnectionCounters = { slowConsumerCloses: { inc () {} }, rateLimitCloses: { inc () {} }, messagesThrottled: { inc () {} } }

/** The context a handler gets; a class so no closure is made per message. */
class HandlerContext implements WsHandlerContext {
  #refunded = false
  constructor (readonly conn: WsConnection, readonly requestId: string | undefined, readonly cost: number) {}
  reply (type: string, data: unknown): void {
    this.conn.send(type, data, this.requestId === undefined ? {} : { request_id: this.requestId })
  }

  refund (tokens = this.cost): void {
    if (this.#refunded) return
    this.#refunded = true
    this.conn.refundTokens(Math.min(tokens, this.cost))
  }
}

interface RawSocket { cork: () => void, uncork: () => void, on: (event: string, listener: () => void) => void, prependListener: (event: string, listener: () => void) => void }

/** What #write needs of ws's internals to write frames itself (see there). */
interface RawFrames { socket: { write: (chunk: Buffer) => boolean }, sender: { _bufferedBytes: number } }

/** The socket and sender behind `socket` when frames may bypass ws's sender: no extension (compression) negotiated. */
function rawFramesOf (socket: WebSocket): RawFrames | undefined {
  const ws = socket as unknown as { _socket?: RawFrames['socket'], _sender?: RawFrames['sender'], _extensions?: Record<string, unknown> }
  if (ws._socket === undefined || ws._sender === undefined || typeof ws._sender._bufferedBytes !== 'number') return undefined
  if (ws._extensions === undefined || Object.keys(ws._extensions).length > 0) return undefined
  return { socket: ws._socket, sender: ws._sender }
}

export class WsConnection {
  readonly id = nextConnectionId++
  readonly user: AuthUser
  readonly socket: WebSocket
  readonly #dispatcher: WsDispatcher
  readonly #log: FastifyBaseLogger
  readonly #bounds: ConnectionBounds
  readonly #counters: ConnectionCounters
  readonly #raw: RawSocket | undefined
  readonly #rawFrames: RawFrames | undefined
  readonly #closeListeners: Array<() => void> = []
  /** The tick_ack handler, when one is registered (the fast path calls it directly). */
  readonly #tickAck: CompiledHandler | undefined
  #lastActivity = Date.now()

  // Inbound: strict arrival order. A message waits in the queue while an asynchronous handler is pending,
  // while the connection is over its outbound budget, or once this turn's budget is used.
  /** Settles when the message being handled asynchronously is done. */
  #pending: Promise<void> | undefined
  readonly #queue: Array<[Buffer, boolean]> = []
  #queueHead = 0
  /** Messages handled synchronously since the last TCP chunk (reset per chunk: lockstep never reaches the budget). */
  #burst = 0
  #drainScheduled = false
  #inFlightFull = false
  #readPaused = false

  // Refusals by the message bucket (bounds.bucket), for the abuse close.
  #refusedInWindow = 0
  #refusalWindowStart = 0

  // Outbound budget.
  #overBudget = false
  #slowTimer: NodeJS.Timeout | undefined
  #pollTimer: NodeJS.Timeout | undefined
  /** Decided to close (slow consumer or abuse): nothing more is sent or handled. */
  #closing = false

  constructor (socket: WebSocket, user: AuthUser, dispatcher: WsDispatcher, log: FastifyBaseLogger, bounds: ConnectionBounds, counters: ConnectionCounters = NO_COUNTERS) {
    this.socket = socket
    this.user = user
    this.#dispatcher = dispatcher
    this.#log = log
    this.#bounds = bounds
    this.#counters = counters
    const tickAck = dispatcher.find('tick_ack')
    this.#tickAck = tickAck !== undefined && !tickAck.hasDefaults && bounds.maxJsonDepth >= 2 ? tickAck : undefined
    this.#raw = (socket as unknown as { _socket?: RawSocket })._socket
    this.#rawFrames = rawFramesOf(socket)
    socket.on('message', (raw, isBinary) => { this.#receive(raw as Buffer, isBinary) })
    // ws emits every message of a TCP chunk synchronously from its own 'data' listener, registered before
    // this one: so this runs once the chunk is done, which is where a new turn's budget starts. The replies
    // to one chunk's messages leave in one write (corked): a flood of tiny messages, each refused or answered,
    // otherwise costs a write syscall per message.
    this.#raw?.prependListener('data', () => { this.#raw?.cork() })
    this.#raw?.on('data', () => { this.#burst = 0; this.#raw?.uncork() })
    this.#raw?.on('drain', () => { if (this.#overBudget) this.#checkDrained() })
    socket.once('close', () => {
      this.#stopBacklogTimers()
      this.#queue.length = 0
      this.#queueHead = 0
      for (const l of this.#closeListeners.splice(0)) l()
    })
  }

  get open (): boolean { return this.socket.readyState === this.socket.OPEN && !this.#closing }
  get lastActivity (): number { return this.#lastActivity }
  /** Bytes queued in the socket and not yet sent: the backpressure signal for streaming. */
  get bufferedAmount (): number { return this.socket.bufferedAmount }
  /** True while the outbound backlog is over budget (reading is paused, session pushes are dropped). */
  get overBudget (): boolean { return this.#overBudget }
  /** True while the socket is not read (over budget, or at the in-flight cap). */
  get readingPaused (): boolean { return this.#readPaused }
  /** Messages received and waiting to be handled. */
  get waitingMessages (): number { return this.#queue.length - this.#queueHead }

  onClose (listener: () => void): void { this.#closeListeners.push(listener) }

  send (type: string, data: unknown, opts: SendOptions = {}): boolean {
    if (!this.open) return false
    // A dashboard's session pushes are dropped, not queued, for a connection that is not keeping up: the
    // next push or a get_session brings it up to date.
    if (this.#overBudget && opts.request_id === undefined && (type === 'session_updated' || type === 'session_deleted')) {
      this.#counters.messagesThrottled.inc({ reason: 'push_dropped' })
      return false
    }
    const frame: Record<string, unknown> = { type, data }
    if (opts.request_id !== undefined) frame.request_id = opts.request_id
    frame.timestamp = new Date().toISOString()
    if (opts.sequence_id !== undefined) frame.sequence_id = opts.sequence_id
    return this.#write(JSON.stringify(frame))
  }

  /** Hold writes until uncork(), so a burst of frames leaves in one write. */
  cork (): void { this.#raw?.cork() }
  uncork (): void { this.#raw?.uncork() }

  /** Send a pre-serialised frame (event-log replay, fan-out to watchers). */
  sendRaw (frame: string): boolean {
    if (!this.open) return false
    return this.#write(frame)
  }

  sendError (err: AppError, requestId: string | undefined, family: HandlerFamily): void {
    if (family === 'session') {
      this.send('session_error', err.toBody(), { request_id: requestId })
      return
    }
    const retryAfterMs = err.details?.retry_after_ms
    const retryAfter = err.details?.retry_after_seconds
    const data: WsErrorData = {
      error_code: err.error_code,
      message: err.message,
      error_type: ERROR_TYPES[err.error_code] ?? 'domain',
      severity: err.statusCode >= 500 ? 'error' : 'warning',
      recoverable: err.statusCode < 500,
      ...(typeof retryAfterMs === 'number' ? { retry_after_ms: retryAfterMs } : typeof retryAfter === 'number' ? { retry_after_ms: retryAfter * 1000 } : {}),
      ...(requestId !== undefined ? { failed_request_id: requestId } : {}),
      ...(err.details !== undefined ? { details: err.details } : {})
    }
    this.send('error', data, { request_id: requestId })
  }

  close (code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED || this.socket.readyState === this.socket.CLOSING) return
    this.socket.close(code, reason)
  }

  /** Give a message's tokens back to the bucket (WsHandlerContext.refund). */
  refundTokens (n: number): void { this.#bounds.bucket.refund(n) }

  // ── outbound ─────────────────────────────────────────────────────────────────────────────────────────

  #write (frame: string): boolean {
    // Straight to the TCP socket, as ws would write it, while nothing of ws's own is queued (its sender queues
    // only while compressing, which a connection without extensions never does): one encoding pass and one
    // chunk per frame (text-frames.ts). Order with ws's frames is kept: both write to the socket at once.
    const raw = this.#rawFrames
    if (raw !== undefined && raw.sender._bufferedBytes === 0 && this.socket.readyState === this.socket.OPEN) raw.socket.write(textFrame(frame))
    else this.socket.send(frame)
    const backlog = this.socket.bufferedAmount
    if (backlog > this.#bounds.maxBacklogBytes) this.#onOverBudget(backlog)
    return true
  }

  #onOverBudget (backlog: number): void {
    if (backlog > 2 * this.#bounds.maxBacklogBytes) { this.#closeSlowConsumer(backlog); return }
    if (this.#overBudget) return
    this.#overBudget = true
    this.#updateReading()
    this.#slowTimer = setTimeout(() => { this.#closeSlowConsumer(this.socket.bufferedAmount) }, this.#bounds.slowConsumerMs)
    this.#pollTimer = setInterval(() => { this.#checkDrained() }, DRAIN_POLL_MS)
    this.#slowTimer.unref(); this.#pollTimer.unref()
  }

  #checkDrained (): void {
    if (!this.#overBudget || this.#closing || this.socket.bufferedAmount > this.#bounds.maxBacklogBytes) return
    this.#overBudget = false
    this.#stopBacklogTimers()
    this.#updateReading()
    this.#drain()
  }

  #stopBacklogTimers (): void {
    clearTimeout(this.#slowTimer); clearInterval(this.#pollTimer)
    this.#slowTimer = undefined; this.#pollTimer = undefined
  }

  /**
   * Nothing more is sent: the close frame is queued behind the backlog, which a client that does not read
   * never receives, so the socket is destroyed after a grace period (ws's closeTimeout usually does it first).
   */
  #closeSlowConsumer (backlog: number): void {
    if (this.#closing) return
    this.#closing = true
    this.#stopBacklogTimers()
    this.#counters.slowConsumerCloses.inc()
    this.#log.warn({ connection: this.id, user_id: this.user.user_id, backlog_bytes: backlog }, 'WebSocket slow consumer closed')
    this.close(CLOSE_SLOW_CONSUMER, 'slow_consumer')
    // Read again so the client's close frame (if it ever answers) completes the handshake.
    if (this.#readPaused) { this.#readPaused = false; this.socket.resume() }
    setTimeout(() => { this.socket.terminate() }, CLOSE_GRACE_MS).unref()
  }

  // ── inbound ──────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Messages are handled strictly in arrival order: while an asynchronous handler is pending, later messages
   * wait. Without this an order_batch (async) could be overtaken by the tick_ack sent after it (sync), and the
   * order would be tried on a later bar — a run's result would depend on TCP chunking. The common case (one
   * message per turn, synchronous handler) goes straight through: no queue, no allocation, no setImmediate.
   */
  #receive (raw: Buffer, isBinary: boolean): void {
    const now = Date.now()
    this.#lastActivity = now
    if (this.#closing) return
    if (this.#pending !== undefined || this.#overBudget || this.#queueHead < this.#queue.length || this.#burst >= TURN_BUDGET_MESSAGES) {
      this.#enqueue(raw, isBinary)
      return
    }
    this.#burst++
    this.#handle(raw, isBinary, now)
  }

  #enqueue (raw: Buffer, isBinary: boolean): void {
    const waiting = this.#queue.length - this.#queueHead
    if (waiting >= MAX_QUEUED_MESSAGES) {
      this.#closeForAbuse(`More than ${MAX_QUEUED_MESSAGES} messages waiting`)
      return
    }
    this.#queue.push([raw, isBinary])
    if (!this.#inFlightFull && waiting + 1 >= this.#bounds.requestsInFlight) {
      this.#inFlightFull = true
      this.#updateReading()
    }
    this.#scheduleDrain()
  }

  /** Continue the queue on a later turn (other connections' I/O runs in between). */
  #scheduleDrain (): void {
    if (this.#drainScheduled || this.#pending !== undefined || this.#overBudget) return
    this.#drainScheduled = true
    setImmediate(() => { this.#drainScheduled = false; this.#burst = 0; this.#drain() })
  }

  #drain (): void {
    if (this.#pending !== undefined || this.#overBudget || this.#closing) return
    const deadline = performance.now() + TURN_BUDGET_MS
    const now = Date.now()
    let handled = 0
    this.#raw?.cork() // this turn's replies leave in one write
    while (this.#queueHead < this.#queue.length) {
      if (handled >= TURN_BUDGET_MESSAGES || (handled > 0 && performance.now() > deadline)) {
        this.#scheduleDrain()
        break
      }
      const next = this.#queue[this.#queueHead]
      this.#queue[this.#queueHead++] = undefined as unknown as [Buffer, boolean]
      handled++
      this.#handle(next[0], next[1], now)
      if (this.#pending !== undefined || this.#overBudget || this.#closing) break
    }
    this.#raw?.uncork()
    if (this.#queueHead >= this.#queue.length) { this.#queue.length = 0; this.#queueHead = 0 }
    if (this.#inFlightFull && (this.#queue.length - this.#queueHead) * 2 < this.#bounds.requestsInFlight) {
      this.#inFlightFull = false
      this.#updateReading()
    }
  }

  /** Reading stops (TCP backpressure on the client) while over the backlog budget or at the in-flight cap. */
  #updateReading (): void {
    const pause = (this.#overBudget || this.#inFlightFull) && !this.#closing
    if (pause === this.#readPaused) return
    this.#readPaused = pause
    if (pause) this.socket.pause()
    else this.socket.resume()
  }

  /** RATE_LIMIT_EXCEEDED for a message that needed `cost` tokens (`type`, once known), or 1008 when sustained. */
  #refuse (raw: Buffer, now: number, cost = 1, type?: string): void {
    const { bucket } = this.#bounds
    const { perSecond: rate, burst } = bucket
    this.#counters.messagesThrottled.inc({ reason: 'rate_limited' })
    if (now - this.#refusalWindowStart > ABUSE_WINDOW_MS) { this.#refusalWindowStart = now; this.#refusedInWindow = 0 }
    if (++this.#refusedInWindow > burst) {
      this.#closeForAbuse(`More than ${burst} messages refused within ${ABUSE_WINDOW_MS / 1000} s`)
      return
    }
    const retryAfterMs = bucket.retryAfterMs(cost, now)
    const requestId = peekRequestId(raw.toString('utf8', 0, REQUEST_ID_PEEK_CHARS))
    const costly = type !== undefined ? { message_type: type, cost } : {}
    // Built directly rather than through AppError: a flood is refused thousands of times a second, and an
    // Error captures a stack trace each time.
    const data: WsErrorData = {
      error_code: 'RATE_LIMIT_EXCEEDED',
      message: `More than ${rate} message tokens per second (burst ${burst}) on plan '${this.user.plan}'${type !== undefined ? `; '${type}' costs ${cost}` : ''}; retry in ${retryAfterMs} ms`,
      error_type: 'rate_limit',
      severity: 'warning',
      recoverable: true,
      retry_after_ms: retryAfterMs,
      ...(requestId !== undefined ? { failed_request_id: requestId } : {}),
      details: { limit: rate, burst, limit_name: 'ws_messages_per_second', retry_after_ms: retryAfterMs, ...costly }
    }
    this.send('error', data, { request_id: requestId })
  }

  #closeForAbuse (message: string): void {
    if (this.#closing) return
    this.send('connection_closing', { reason: 'rate_limit', message, close_code: CLOSE_POLICY })
    this.#closing = true
    this.#stopBacklogTimers()
    this.#counters.rateLimitCloses.inc()
    this.#log.warn({ connection: this.id, user_id: this.user.user_id }, `WebSocket closed for abuse: ${message}`)
    this.close(CLOSE_POLICY, 'rate_limit')
  }

  #handle (raw: Buffer, isBinary: boolean, now: number): void {
    // One token before anything is parsed, so a flood of any kind is refused at the cost of a peek; the rest of
    // an expensive type's cost (message-costs.ts) once its type is known.
    if (!this.#bounds.bucket.take(1, now)) { this.#refuse(raw, now); return }
    // Lockstep's one message per tick, in the exact shape the SDK sends: no parse, no schema walk (see
    // tick-ack-fast-path.ts); any other shape takes the full path below.
    if (!isBinary && this.#tickAck !== undefined) {
      const ack = plainTickAck(raw)
      if (ack !== undefined) {
        const cost = this.#tickAck.cost
        if (cost > 1 && !this.#bounds.bucket.take(cost - 1, now)) { this.#refuse(raw, now, cost, 'tick_ack'); return }
        this.#invoke(this.#tickAck, ack, undefined)
        return
      }
    }
    const seen: { requestId?: string | undefined } = {}
    let family: HandlerFamily = 'system'
    try {
      if (isBinary) throw new AppError('INVALID_MESSAGE', 'Binary frames are not supported; send JSON text')
      const text = raw.toString('utf8')
      const envelope = parseEnvelope(text, this.#bounds.maxJsonDepth, seen)
      const handler = this.#dispatcher.lookup(envelope.type)
      family = handler.spec.family
      if (handler.cost > 1 && !this.#bounds.bucket.take(handler.cost - 1, now)) { this.#refuse(raw, now, handler.cost, envelope.type); return }
      assertNoNulIn(text, envelope)
      const data = this.#dispatcher.validate(handler, envelope.data)
      this.#invoke(handler, data, seen.requestId)
    } catch (err) {
      this.#fail(err, seen.requestId, family)
    }
  }

  /** Runs a validated message's handler; its failure (thrown or rejected) becomes the error reply. */
  #invoke (handler: CompiledHandler, data: unknown, requestId: string | undefined): void {
    const family = handler.spec.family
    try {
      const result = handler.spec.handle(new HandlerContext(this, requestId, handler.cost), data)
      if (result instanceof Promise) {
        this.#pending = result.then(() => { this.#settled() }, (err: unknown) => { this.#fail(err, requestId, family); this.#settled() })
      }
    } catch (err) {
      this.#fail(err, requestId, family)
    }
  }

  #settled (): void {
    this.#pending = undefined
    this.#drain()
  }

  #fail (err: unknown, requestId: string | undefined, family: HandlerFamily): void {
    if (isAppError(err)) {
      this.sendError(err, requestId, family)
      return
    }
    this.#log.error({ err, connection: this.id }, 'WebSocket handler failed')
    this.sendError(new AppError('INTERNAL_ERROR', 'Internal Server Error'), requestId, family)
  }
}
