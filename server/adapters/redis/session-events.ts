// SessionEvents across instances over Redis pub/sub. Each instance:
// - delivers its own events to its own listeners at once (as LocalSessionEvents does), so the origin never
//   depends on Redis for them, and publishes them on one prefixed channel tagged with a random origin id;
// - subscribes to that channel on one dedicated connection and delivers every message whose origin is not
//   itself. So each event reaches every instance's listeners exactly once, the origin included.
// Bounded: one subscriber connection per instance whatever the number of users or sockets; a message is
// one event (kind, user id, the session as the wire shows it: metadata is capped at 16 KiB, so a message is
// at most ~17 KiB). Pub/sub keeps nothing: a message published while an instance's subscriber is
// disconnected never reaches it, and a publish while Redis is down is lost. Neither undoes the change (it
// is committed in the store, and the next read shows it); the loss is logged once per outage, not per event.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import { LocalSessionEvents } from '../memory/local-session-events.js'
import type { SessionEvent, SessionEventKind, SessionEvents, SessionListener } from '../../ports/session-events.js'
import type { RedisBus } from './connection.js'

type Log = Pick<FastifyBaseLogger, 'warn' | 'info'>

/** How long start-up waits for the subscription before going on without it (it completes on reconnect). */
const SUBSCRIBE_WAIT_MS = 5000
const KINDS = new Set<SessionEventKind>(['created', 'updated', 'state_changed', 'deleted', 'expired'])

interface Envelope { readonly o: string, readonly e: SessionEvent }

export interface RedisSessionEventsOptions {
  /** Channel name under the bus's prefix (default `session-events`). */
  channel?: string
  onListenerError?: (err: unknown, event: SessionEvent) => void
}

export class RedisSessionEvents implements SessionEvents {
  readonly #bus: RedisBus
  readonly #log: Log
  readonly #local: LocalSessionEvents
  /** Per process, not INSTANCE_ID: two instances misconfigured with one id still each get the other's events. */
  readonly #origin = randomUUID()
  readonly #channel: string
  readonly #subscriber: Redis
  readonly #subscribed: Promise<void>
  /** Events that could not be published since the last successful publish (0: none lost). */
  #lost = 0

  constructor (bus: RedisBus, log: Log, options: RedisSessionEventsOptions = {}) {
    this.#bus = bus
    this.#log = log
    this.#local = new LocalSessionEvents(options.onListenerError)
    this.#channel = bus.channel(options.channel ?? 'session-events')
    this.#subscriber = bus.dedicated('session-events')
    this.#subscriber.on('message', (channel: string, message: string) => { this.#receive(channel, message) })
    // Queued until the connection is up; ioredis subscribes again by itself after every reconnect.
    this.#subscribed = this.#subscriber.subscribe(this.#channel).then(() => undefined)
    this.#subscribed.catch(() => undefined)
  }

  publish (event: SessionEvent): void {
    this.#local.publish(event)
    const envelope: Envelope = { o: this.#origin, e: event }
    this.#bus.client.publish(this.#channel, JSON.stringify(envelope)).then(() => {
      if (this.#lost === 0) return
      this.#log.info({ lost: this.#lost }, 'session events reach the other instances again')
      this.#lost = 0
    }, (err: unknown) => {
      if (this.#lost++ === 0) {
        this.#log.warn({ err: err instanceof Error ? err.message : String(err) },
          'Redis unavailable: session pushes to other instances are lost until it is back (the changes themselves are stored)')
      }
    })
  }

  subscribe (listener: SessionListener): () => void {
    return this.#local.subscribe(listener)
  }

  async ready (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => { resolve('late') }, SUBSCRIBE_WAIT_MS) })
    const outcome = await Promise.race([this.#subscribed.then(() => 'ok' as const, () => 'failed' as const), late])
    clearTimeout(timer)
    if (outcome !== 'ok') this.#log.warn('not yet subscribed to session events of other instances; pushes from them start once Redis answers')
  }

  async close (): Promise<void> {
    await this.#local.close()
    this.#subscriber.disconnect()
  }

  #receive (channel: string, message: string): void {
    if (channel !== this.#channel) return
    let envelope: Envelope
    try {
      envelope = JSON.parse(message) as Envelope
    } catch {
      return
    }
    if (envelope?.o === this.#origin || !isEvent(envelope?.e)) return
    this.#local.publish(envelope.e)
  }
}

/** Enough of the shape for the listeners not to trip: the channel is ours, but Redis is shared. */
function isEvent (e: unknown): e is SessionEvent {
  if (typeof e !== 'object' || e === null) return false
  const { kind, user_id: userId, session } = e as Record<string, unknown>
  return typeof kind === 'string' && KINDS.has(kind as SessionEventKind) && typeof userId === 'string' &&
    typeof session === 'object' && session !== null && typeof (session as { session_id?: unknown }).session_id === 'string'
}
