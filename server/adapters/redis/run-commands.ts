// Commands to a run's owner over Redis pub/sub (ports/run-registry.ts): each instance listens on
// `runs:cmd:<instance>` and hears its replies on `runs:reply:<instance>`, through one subscriber connection.
// PUBLISH answers how many subscribers got the message, so a command to an instance that is gone fails at
// once ('absent') instead of waiting for its timeout. Pub/sub delivers at most once: a lost command or reply
// is a timeout, and the caller answers 503 BUS_UNAVAILABLE (commands are safe to retry: the owner logs
// inputs once, in order).
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { NoAnswerError, type RunCommand, type RunCommands, type RunReply } from '../../ports/run-registry.js'
import type { RedisBus } from './connection.js'

interface Envelope { id: string, from: string, command?: RunCommand, reply?: RunReply }

interface Waiting { resolve: (reply: RunReply) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }

export class RedisRunCommands implements RunCommands {
  readonly #bus: RedisBus
  readonly #instanceId: string
  readonly #onError: (err: unknown) => void
  readonly #sub: Redis
  readonly #waiting = new Map<string, Waiting>()
  #handler: ((command: RunCommand) => Promise<RunReply>) | undefined

  private constructor (bus: RedisBus, instanceId: string, onError: (err: unknown) => void) {
    this.#bus = bus
    this.#instanceId = instanceId
    this.#onError = onError
    this.#sub = bus.dedicated('run-commands')
    this.#sub.on('message', (channel: string, text: string) => { this.#message(channel, text) })
  }

  /** Subscribes (waiting for the subscription, so replies to this instance's first commands are heard). */
  static async open (bus: RedisBus, instanceId: string, onError: (err: unknown) => void): Promise<RedisRunCommands> {
    const commands = new RedisRunCommands(bus, instanceId, onError)
    await commands.#sub.subscribe(commands.#commandChannel(instanceId), commands.#replyChannel(instanceId))
    return commands
  }

  serve (handler: (command: RunCommand) => Promise<RunReply>): void { this.#handler = handler }

  async call (instanceId: string, command: RunCommand, timeoutMs: number): Promise<RunReply> {
    const id = randomUUID()
    const reply = new Promise<RunReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new NoAnswerError('timeout', `instance ${instanceId} did not answer ${command.op} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiting.set(id, { resolve, reject, timer })
    })
    let heard: number
    try {
      heard = await this.#bus.client.publish(this.#commandChannel(instanceId), JSON.stringify({ id, from: this.#instanceId, command } satisfies Envelope))
    } catch (err) {
      this.#settle(id)?.reject(new NoAnswerError('bus', `the bus is unavailable: ${err instanceof Error ? err.message : String(err)}`))
      return await reply
    }
    if (heard === 0) this.#settle(id)?.reject(new NoAnswerError('absent', `instance ${instanceId} is not listening`))
    return await reply
  }

  async close (): Promise<void> {
    for (const id of [...this.#waiting.keys()]) this.#settle(id)?.reject(new NoAnswerError('bus', 'the instance is closing'))
    this.#sub.disconnect()
  }

  #commandChannel (instanceId: string): string { return this.#bus.channel(`runs:cmd:${instanceId}`) }
  #replyChannel (instanceId: string): string { return this.#bus.channel(`runs:reply:${instanceId}`) }

  #settle (id: string): Waiting | undefined {
    const w = this.#waiting.get(id)
    if (w === undefined) return undefined
    this.#waiting.delete(id)
    clearTimeout(w.timer)
    return w
  }

  #message (channel: string, text: string): void {
    let envelope: Envelope
    try {
      envelope = JSON.parse(text) as Envelope
    } catch (err) {
      this.#onError(err)
      return
    }
    if (channel === this.#replyChannel(this.#instanceId)) {
      if (envelope.reply !== undefined) this.#settle(envelope.id)?.resolve(envelope.reply)
      return
    }
    const handler = this.#handler
    const command = envelope.command
    if (handler === undefined || command === undefined) return
    handler(command).then(async (reply) => {
      await this.#bus.client.publish(this.#replyChannel(envelope.from), JSON.stringify({ id: envelope.id, from: this.#instanceId, reply } satisfies Envelope))
    }).catch(this.#onError)
  }
}
