// Routes validated WebSocket messages to the handler each feature registers for its message type.
// Validators are compiled once per type (TypeCompiler) from the same TypeBox schemas the REST routes use.
import type { Static, TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { AppError } from '../app-error.js'
import { valueErrorMessage, valueErrorsOnce } from '../validation-messages.js'
import { messageCost } from './message-costs.js'
import type { WsConnection } from './connection.js'
import { repliesFirst } from './reply-first.js'

/** Which error message a failure becomes: `session_error` for session operations, `error` otherwise. */
export type HandlerFamily = 'session' | 'simulation' | 'system'

export interface WsHandlerContext {
  readonly conn: WsConnection
  readonly requestId: string | undefined
  /** Send a reply that echoes the request's `request_id`. */
  reply: (type: string, data: unknown) => void
  /**
   * Give back the tokens this message took from the user's rate bucket (its whole cost, at most once per message).
   * Called by lockstep handlers when the message moved the run forward (a tick_ack that advanced it, an
   * order_batch the run accepted), so a strategy's own pace never drains its bucket: the run's flow control
   * already bounds those messages, and only messages that do no useful work are rate limited. `tokens`: give
   * back only that many (default: the whole cost).
   */
  refund: (tokens?: number) => void
}

export interface WsHandlerSpec<S extends TSchema> {
  type: string
  schema: S
  family: HandlerFamily
  handle: (ctx: WsHandlerContext, data: Static<S>) => void | Promise<void>
}

export interface CompiledHandler {
  spec: WsHandlerSpec<TSchema>
  check: TypeCheck<TSchema>
  hasDefaults: boolean
  /** Tokens of the message bucket a message of this type takes (message-costs.ts). */
  cost: number
}

function hasDefaultKeyword (schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object') return false
  if (Object.prototype.hasOwnProperty.call(schema, 'default')) return true
  return Object.values(schema as Record<string, unknown>).some(hasDefaultKeyword)
}

/** Validation lists at most this many errors, each field and message cut to a bounded length. */
const MAX_ERRORS = 20
const MAX_ERROR_PART_CHARS = 160
/** The error's `message` stays under this many characters (the whole reply under ~16 KB). */
const MAX_ERROR_MESSAGE_CHARS = 4096

function clip (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

export class WsDispatcher {
  readonly #handlers = new Map<string, CompiledHandler>()
  readonly #references: TSchema[]

  /** `references`: every $id'd schema a message schema may `Type.Ref`. */
  constructor (references: TSchema[]) {
    this.#references = references
  }

  register<S extends TSchema> (spec: WsHandlerSpec<S>): void {
    if (this.#handlers.has(spec.type)) throw new Error(`WebSocket handler for '${spec.type}' registered twice`)
    // Session operations change sessions: their reply goes out before the pushes of that change.
    const handle = spec.family === 'session' ? repliesFirst(spec.handle) : spec.handle
    this.#handlers.set(spec.type, {
      spec: { ...spec, handle } as unknown as WsHandlerSpec<TSchema>,
      check: TypeCompiler.Compile(spec.schema, this.#references),
      hasDefaults: hasDefaultKeyword(spec.schema),
      cost: messageCost(spec.type)
    })
  }

  get types (): string[] { return [...this.#handlers.keys()].sort() }

  /** The handler registered for `type`, if any. */
  find (type: string): CompiledHandler | undefined { return this.#handlers.get(type) }

  /** The handler registered for `type`; UNKNOWN_MESSAGE_TYPE otherwise. */
  lookup (type: string): CompiledHandler {
    const handler = this.#handlers.get(type)
    if (handler === undefined) {
      throw new AppError('UNKNOWN_MESSAGE_TYPE', `Unknown message type '${type}'`, { type, supported_types: this.types })
    }
    return handler
  }

  /**
   * Validate (and default, in place) `data` for `handler`, which must be the message's own parsed data;
   * VALIDATION_FAILED naming at most 20 fields otherwise.
   * The compiled check runs first, on the value as sent: it stops at the first failure, whereas defaulting
   * walks the whole value (about 200 ms for 10,000 invalid orders). Defaults are applied to a valid value, or to
   * an invalid one only when every failure is a missing property that a default would fill.
   */
  validate (handler: CompiledHandler, data: unknown): unknown {
    const value: unknown = data === undefined ? {} : data
    if (handler.check.Check(value)) return handler.hasDefaults ? this.#withDefaults(handler, value) : value
    if (handler.hasDefaults && onlyDefaultableErrors(handler.check, value)) {
      const defaulted = this.#withDefaults(handler, value)
      if (handler.check.Check(defaulted)) return defaulted
      this.#fail(handler, defaulted, false)
    }
    this.#fail(handler, value, handler.hasDefaults)
  }

  /**
   * Defaults applied in place: `value` is the message's own freshly parsed data (nothing else holds it), so the
   * structuredClone that used to precede this (about as costly as the defaulting itself) bought nothing.
   */
  #withDefaults (handler: CompiledHandler, value: unknown): unknown {
    return Value.Default(handler.spec.schema, this.#references, value)
  }

  /** Throws VALIDATION_FAILED listing the first errors (lazily: the Errors iterator is never run to its end). */
  #fail (handler: CompiledHandler, value: unknown, skipDefaultable: boolean): never {
    const errors: Array<{ field: string, message: string }> = []
    for (const e of valueErrorsOnce(handler.check.Errors(value))) {
      // Not applied (another error makes the message invalid anyway), so not the client's mistake.
      if (skipDefaultable && isDefaultable(e)) continue
      errors.push({
        field: clip(['data', ...e.path.split('/').filter((p) => p.length > 0)].join('.'), MAX_ERROR_PART_CHARS),
        message: clip(valueErrorMessage(e), MAX_ERROR_PART_CHARS)
      })
      if (errors.length >= MAX_ERRORS) break
    }
    const fields = [...new Set(errors.map((e) => e.field))]
    const message = clip(`Invalid '${handler.spec.type}' message: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, MAX_ERROR_MESSAGE_CHARS)
    throw new AppError('VALIDATION_FAILED', message, { fields, errors })
  }
}

/** A required property that is missing but has a default: defaulting fixes it. */
function isDefaultable (e: ValueError): boolean {
  return e.type === ValueErrorType.ObjectRequiredProperty && e.schema !== null && typeof e.schema === 'object' && Object.prototype.hasOwnProperty.call(e.schema, 'default')
}

/** Whether defaulting could make `value` valid: every error (of the first 100) is a defaultable missing property. */
function onlyDefaultableErrors (check: TypeCheck<TSchema>, value: unknown): boolean {
  let n = 0
  for (const e of check.Errors(value)) {
    if (!isDefaultable(e)) return false
    if (++n >= 100) return true
  }
  return true
}
