// How a schema failure is worded, the same over REST (Ajv) and WebSocket (TypeCompiler): both validate
// from the same TypeBox schemas, so a wrong value reads the same whichever transport carried it.
import type { ValueError } from '@sinclair/typebox/errors'

/** "must be one of 1d, 1h, 1m": the allowed values of an enumeration, in schema order. */
export function mustBeOneOf (values: readonly unknown[]): string {
  return `must be one of ${values.map(String).join(', ')}`
}

/** The message of one Ajv issue (REST). */
export function ajvIssueMessage (issue: { keyword?: string, message?: string, params?: Record<string, unknown> }): string {
  if (issue.keyword === 'additionalProperties') return 'unknown property'
  const allowed = issue.params?.allowedValues
  if (issue.keyword === 'enum' && Array.isArray(allowed)) return mustBeOneOf(allowed)
  return issue.message ?? 'invalid'
}

/** The message of one TypeBox value error (WebSocket messages and service-side checks). */
export function valueErrorMessage (error: ValueError): string {
  const allowed = (error.schema as { enum?: unknown }).enum
  return Array.isArray(allowed) ? mustBeOneOf(allowed) : error.message
}
