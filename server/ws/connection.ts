// One authenticated WebSocket connection: parses frames (prototype-poisoning safe), validates the envelope,
// hands messages to the dispatcher and maps every failure to an `error`/`session_error` reply, so a bad
// message or a throwing handler never closes the connection or touches other connections.
import secureJson from 'secure-json-parse'
import type { WebSocket } from 'ws'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyBaseLogger } from 'fastify'
import { ClientEnvelope, type WsErrorData } from '../../schemas/ws-messages.js'
import { AppError, isAppError } from '../app-error.js'
import type { AuthUser } from '../plugins/auth.js'
import type { HandlerFamily, WsDispatcher, WsHandlerContext } from './dispatcher.js'

const checkEnvelope = TypeCompiler.Compile(ClientEnvelope)

let nextConnectionId = 1
/** A client this far ahead of its asynchronous replies is flooding; it is told so and disconnected. */
const MAX_QUEUED_MESSAGES = 10_000

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

/** The context a handler gets; a class so no closure is made per message. */
class HandlerContext implements WsHandlerContext {
  constructor (readonly conn: WsConnection, readonly requestId: string | undefined) {}
  reply (type: string, data: unknown): void {
    this.conn.send(type, data, this.requestId === undefined ? {} : { request_id: this.requestId })
  }
}

export class WsConnection {
  readonly id = nextConnectionId++
  readonly user: AuthUser
  readonly socket: WebSocket
  readonly #dispatcher: WsDispatcher
  readonly #log: FastifyBaseLogger
  readonly #closeListeners: Array<() => void> = []
  #lastActivity = Date.now()
  /** Settles when the message being handled asynchronously is done; later messages queue meanwhile. */
  #pending: Promise<void> | undefined
  readonly #queue: Array<[Buffer, boolean]> = []

  constructor (socket: WebSocket, user: AuthUser, dispatcher: WsDispatcher, log: FastifyBaseLogger) {
    this.socket = socket
    this.user = user
    this.#dispatcher = dispatcher
    this.#log = log
    socket.on('message', (raw, isBinary) => { this.#receive(raw as Buffer, isBinary) })
    socket.once('close', () => { for (const l of this.#closeListeners.splice(0)) l() })
  }

  get open (): boolean { return this.socket.readyState === this.socket.OPEN }
  get lastActivity (): number { return this.#lastActivity }
  /** Bytes queued in the socket and not yet sent: the backpressure signal for streaming. */
  get bufferedAmount (): number { return this.socket.bufferedAmount }

  onClose (listener: () => void): void { this.#closeListeners.push(listener) }

  send (type: string, data: unknown, opts: SendOptions = {}): boolean {
    if (!this.open) return false
    const frame: Record<string, unknown> = { type, data }
    if (opts.request_id !== undefined) frame.request_id = opts.request_id
    frame.timestamp = new Date().toISOString()
    if (opts.sequence_id !== undefined) frame.sequence_id = opts.sequence_id
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /** Hold writes until uncork(), so a burst of frames leaves in one write. */
  cork (): void { (this.socket as unknown as { _socket?: { cork: () => void } })._socket?.cork() }
  uncork (): void { (this.socket as unknown as { _socket?: { uncork: () => void } })._socket?.uncork() }

  /** Send a pre-serialised frame (event-log replay, fan-out to watchers). */
  sendRaw (frame: string): boolean {
    if (!this.open) return false
    this.socket.send(frame)
    return true
  }

  sendError (err: AppError, requestId: string | undefined, family: HandlerFamily): void {
    if (family === 'session') {
      this.send('session_error', err.toBody(), { request_id: requestId })
      return
    }
    const retryAfter = err.details?.retry_after_seconds
    const data: WsErrorData = {
      error_code: err.error_code,
      message: err.message,
      error_type: ERROR_TYPES[err.error_code] ?? 'domain',
      severity: err.statusCode >= 500 ? 'error' : 'warning',
      recoverable: err.statusCode < 500,
      ...(typeof retryAfter === 'number' ? { retry_after_ms: retryAfter * 1000 } : {}),
      ...(requestId !== undefined ? { failed_request_id: requestId } : {}),
      ...(err.details !== undefined ? { details: err.details } : {})
    }
    this.send('error', data, { request_id: requestId })
  }

  close (code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED || this.socket.readyState === this.socket.CLOSING) return
    this.socket.close(code, reason)
  }

  /**
   * Messages are handled strictly in arrival order: while an asynchronous handler is pending, later messages
   * wait. Without this an order_batch (async) could be overtaken by the tick_ack sent after it (sync), and the
   * order would be tried on a later bar — a run's result would depend on TCP chunking.
   */
  #receive (raw: Buffer, isBinary: boolean): void {
    this.#lastActivity = Date.now()
    if (this.#pending !== undefined) {
      if (this.#queue.length >= MAX_QUEUED_MESSAGES) {
        this.sendError(new AppError('RATE_LIMIT_EXCEEDED', `More than ${MAX_QUEUED_MESSAGES} messages waiting; slow down`, { retry_after_seconds: 1 }), undefined, 'system')
        this.close(1008, 'too many queued messages')
        return
      }
      this.#queue.push([raw, isBinary])
      return
    }
    this.#onMessage(raw, isBinary)
  }

  #drain (): void {
    this.#pending = undefined
    while (this.#pending === undefined) {
      const next = this.#queue.shift()
      if (next === undefined) return
      this.#onMessage(next[0], next[1])
    }
  }

  #onMessage (raw: Buffer, isBinary: boolean): void {
    let requestId: string | undefined
    let family: HandlerFamily = 'system'
    try {
      if (isBinary) throw new AppError('INVALID_MESSAGE', 'Binary frames are not supported; send JSON text')
      let parsed: unknown
      try {
        parsed = secureJson.parse(raw.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' })
      } catch {
        throw new AppError('INVALID_MESSAGE', 'Message is not valid JSON (or contains __proto__/constructor keys)')
      }
      if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { request_id?: unknown }).request_id === 'string') {
        requestId = (parsed as { request_id: string }).request_id.slice(0, 128)
      }
      if (!checkEnvelope.Check(parsed)) {
        const first = checkEnvelope.Errors(parsed).First()
        const field = first === undefined ? '' : first.path.replace(/^\//, '').replace(/\//g, '.')
        throw new AppError('INVALID_MESSAGE', `Invalid message envelope${field.length > 0 ? `: ${field} ${first?.message ?? ''}` : ''}`, { fields: field.length > 0 ? [field] : [] })
      }
      const envelope = parsed
      const handler = this.#dispatcher.lookup(envelope.type)
      family = handler.spec.family
      const data = this.#dispatcher.validate(handler, envelope.data)
      const result = handler.spec.handle(new HandlerContext(this, requestId), data)
      if (result instanceof Promise) {
        const rid = requestId
        const fam = family
        this.#pending = result.then(() => { this.#drain() }, (err: unknown) => { this.#fail(err, rid, fam); this.#drain() })
      }
    } catch (err) {
      this.#fail(err, requestId, family)
    }
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
