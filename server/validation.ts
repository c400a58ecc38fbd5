// Request validation policy shared by every route. Bodies are validated exactly as WebSocket messages are
// (no type coercion, unknown properties rejected, defaults applied), so a payload valid over one transport is
// valid over the other; querystrings and params coerce strings to numbers/booleans, as URLs require.
import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>
type FactoryArgs = Parameters<ValidatorFactory>
type CompilerArgs = Parameters<ReturnType<ReturnType<typeof AjvCompiler>>>[0]

const BASE = { removeAdditional: false, useDefaults: true, allErrors: true, strict: false } as const

/** A `schemaController.compilersFactory.buildValidator` choosing the Ajv instance by HTTP part. */
export const buildValidator: ValidatorFactory = (externalSchemas: FactoryArgs[0], options: FactoryArgs[1]) => {
  const factory = AjvCompiler()
  const external = externalSchemas as Parameters<ReturnType<typeof AjvCompiler>>[0]
  const plugins = (options as { plugins?: [] }).plugins ?? []
  const strictBody = factory(external, { customOptions: { ...BASE, coerceTypes: false }, plugins })
  const coercing = factory(external, { customOptions: { ...BASE, coerceTypes: 'array' }, plugins })
  return (route) => {
    const def = route as unknown as CompilerArgs
    return route.httpPart === 'body' ? strictBody(def) : coercing(def)
  }
}
