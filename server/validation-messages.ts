// How a schema failure is worded, the same over REST (Ajv) and WebSocket (TypeCompiler): both validate
// from the same TypeBox schemas, so a wrong value reads the same whichever transport carried it.
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'

/** "must be one of 1d, 1h, 1m": the allowed values of an enumeration, in schema order. */
export function mustBeOneOf (values: readonly unknown[]): string {
  return `must be one of ${values.map(String).join(', ')}`
}

/** A failed pattern, with what the pattern stands for when the schema describes it ("Calendar date, YYYY-MM-DD"). */
export function mustMatchPattern (pattern: unknown, description: unknown): string {
  return `must match pattern "${String(pattern)}"${typeof description === 'string' ? ` (${description})` : ''}`
}

/** The message of one Ajv issue (REST; the validators are verbose, so `parentSchema` is set). */
export function ajvIssueMessage (issue: { keyword?: string, message?: string, params?: Record<string, unknown>, parentSchema?: unknown }): string {
  if (issue.keyword === 'additionalProperties') return 'unknown property'
  const allowed = issue.params?.allowedValues
  if (issue.keyword === 'enum' && Array.isArray(allowed)) return mustBeOneOf(allowed)
  if (issue.keyword === 'pattern') return mustMatchPattern(issue.params?.pattern, (issue.parentSchema as { description?: unknown } | undefined)?.description)
  return issue.message ?? 'invalid'
}

type Bounds = Partial<Record<'minLength' | 'maxLength' | 'minItems' | 'maxItems' | 'minimum' | 'maximum' | 'exclusiveMinimum' | 'exclusiveMaximum' | 'multipleOf', number>>

/**
 * The message of one TypeBox value error (WebSocket messages and service-side checks), in Ajv's words for the
 * checks both make, so that REST and WebSocket describe one mistake alike.
 */
export function valueErrorMessage (error: ValueError): string {
  const schema = error.schema as Bounds & { enum?: unknown, pattern?: string, description?: unknown }
  if (Array.isArray(schema.enum)) return mustBeOneOf(schema.enum)
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty: return `must have required property '${lastSegment(error.path)}'`
    case ValueErrorType.ObjectAdditionalProperties: return 'unknown property'
    case ValueErrorType.String: return 'must be string'
    case ValueErrorType.Number: return 'must be number'
    case ValueErrorType.Integer: return 'must be integer'
    case ValueErrorType.Boolean: return 'must be boolean'
    case ValueErrorType.Object: return 'must be object'
    case ValueErrorType.Array: return 'must be array'
    case ValueErrorType.Null: return 'must be null'
    case ValueErrorType.StringMinLength: return `must NOT have fewer than ${schema.minLength} characters`
    case ValueErrorType.StringMaxLength: return `must NOT have more than ${schema.maxLength} characters`
    case ValueErrorType.StringPattern: return mustMatchPattern(schema.pattern, schema.description)
    case ValueErrorType.ArrayMinItems: return `must NOT have fewer than ${schema.minItems} items`
    case ValueErrorType.ArrayMaxItems: return `must NOT have more than ${schema.maxItems} items`
    case ValueErrorType.NumberMinimum: case ValueErrorType.IntegerMinimum: return `must be >= ${schema.minimum}`
    case ValueErrorType.NumberMaximum: case ValueErrorType.IntegerMaximum: return `must be <= ${schema.maximum}`
    case ValueErrorType.NumberExclusiveMinimum: case ValueErrorType.IntegerExclusiveMinimum: return `must be > ${schema.exclusiveMinimum}`
    case ValueErrorType.NumberExclusiveMaximum: case ValueErrorType.IntegerExclusiveMaximum: return `must be < ${schema.exclusiveMaximum}`
    case ValueErrorType.Literal: return 'must be equal to constant'
    case ValueErrorType.Union: return 'must match a schema in anyOf'
    default: return error.message
  }
}

/**
 * TypeBox reports a missing property twice: missing, then its absent value as the wrong type. Ajv says it
 * once; so do these (lazily: the caller may stop early).
 */
export function * valueErrorsOnce (errors: Iterable<ValueError>): Generator<ValueError> {
  const missing = new Set<string>()
  for (const e of errors) {
    if (e.type === ValueErrorType.ObjectRequiredProperty) missing.add(e.path)
    else if (missing.has(e.path)) continue
    yield e
  }
}

function lastSegment (path: string): string {
  const segment = path.slice(path.lastIndexOf('/') + 1)
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}
