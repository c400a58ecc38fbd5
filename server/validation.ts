// Request validation policy shared by every route. Bodies are validated exactly as WebSocket messages are
// (no type coercion, unknown properties rejected, defaults applied), so a payload valid over one transport is
// valid over the other; querystrings and params coerce strings to numbers/booleans, as URLs require.
//
// Bounded work: every part is first checked by a validator that stops at the first error, so a 1 MB body of
// invalid items costs one failed check, not one per item. Only when the value is small (≤ 16 KB as JSON) is
// it checked again by a validator that lists every problem, for a helpful answer. The error handler then
// lists at most 20 of them (plugins/errors.ts).
import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>
type FactoryArgs = Parameters<ValidatorFactory>
type CompilerArgs = Parameters<ReturnType<ReturnType<typeof AjvCompiler>>>[0]
type RouteValidator = ReturnType<ReturnType<ValidatorFactory>>

/** Values whose JSON is at most this long get every problem listed; larger ones only the first. */
export const FULL_LISTING_MAX_BYTES = 16 * 1024

/** Set on an errors array (as Fastify hands it to the error handler) when validation stopped at the first error. */
export const VALIDATION_STOPPED_EARLY = Symbol.for('simutrador.validation.stoppedEarly')

// verbose: issues carry their schema, so a failed pattern can name what it stands for (validation-messages.ts).
const BASE = { removeAdditional: false, useDefaults: true, strictNumbers: true, strict: false, verbose: true } as const

interface AjvValidate {
  (data: unknown, context?: unknown): boolean
  errors?: unknown[] | null
  schemaEnv?: unknown
}

/** A `schemaController.compilersFactory.buildValidator` choosing the Ajv instances by HTTP part. */
export const buildValidator: ValidatorFactory = (externalSchemas: FactoryArgs[0], options: FactoryArgs[1]) => {
  const factory = AjvCompiler()
  const external = externalSchemas as Parameters<ReturnType<typeof AjvCompiler>>[0]
  const plugins = (options as { plugins?: [] }).plugins ?? []
  const compiler = (coerceTypes: false | 'array', allErrors: boolean): ReturnType<ReturnType<typeof AjvCompiler>> =>
    factory(external, { customOptions: { ...BASE, coerceTypes, allErrors }, plugins })
  const body = { fast: compiler(false, false), full: compiler(false, true) }
  const url = { fast: compiler('array', false), full: compiler('array', true) }
  return (route) => {
    const def = route as unknown as CompilerArgs
    const pair = route.httpPart === 'body' ? body : url
    return boundedValidator(pair.fast(def) as AjvValidate, pair.full(def) as AjvValidate) as unknown as RouteValidator
  }
}

/**
 * Runs `fast` (stops at the first error); on failure of a small value, `full` (every error) for the list.
 * Behaves as an Ajv validate function for Fastify: returns a boolean, sets `errors`, and exposes `schemaEnv`
 * so Fastify passes the parent object that lets Ajv coerce a root value.
 */
export function boundedValidator (fast: AjvValidate, full: AjvValidate): AjvValidate {
  const validate: AjvValidate = (data: unknown, context?: unknown): boolean => {
    if (fast(data, context)) {
      validate.errors = null
      return true
    }
    let errors = [...(fast.errors ?? [])]
    let stoppedEarly = true
    if (jsonSizeAtMost(data, FULL_LISTING_MAX_BYTES) && !full(data, context)) {
      errors = [...(full.errors ?? errors)]
      stoppedEarly = false
    }
    if (stoppedEarly) Object.defineProperty(errors, VALIDATION_STOPPED_EARLY, { value: true })
    validate.errors = errors
    return false
  }
  if (fast.schemaEnv !== undefined) validate.schemaEnv = fast.schemaEnv
  return validate
}

/** True when the validation errors Fastify reports are only the first of possibly many. */
export function validationStoppedEarly (errors: unknown): boolean {
  return typeof errors === 'object' && errors !== null && (errors as Record<symbol, unknown>)[VALIDATION_STOPPED_EARLY] === true
}

/**
 * Whether `value` serialises to at most `limit` characters of JSON (approximately: escapes are not
 * counted). Walks iteratively and stops as soon as the budget is spent, so it costs O(limit) at most.
 */
export function jsonSizeAtMost (value: unknown, limit: number): boolean {
  let size = 0
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const v = pending.pop()
    if (typeof v === 'string') size += v.length + 2
    else if (v === null || v === undefined || typeof v !== 'object') size += String(v).length
    else if (Array.isArray(v)) {
      size += 2 + v.length
      if (size > limit) return false
      for (const item of v) pending.push(item)
    } else {
      size += 2
      for (const k in v) {
        size += k.length + 4
        if (size > limit) return false
        pending.push((v as Record<string, unknown>)[k])
      }
    }
    if (size > limit) return false
  }
  return true
}
