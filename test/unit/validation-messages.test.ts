// One mistake, one wording: the REST validator (Ajv, as routes build it) and TypeCompiler (as the WebSocket
// dispatcher and the services check) describe each kind of schema failure in the same words.
import t from 'tap'
import { Type, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { StringEnum } from '../../schemas/common.js'
import { buildValidator } from '../../server/validation.js'
import { ajvIssueMessage, mustBeOneOf, valueErrorMessage, valueErrorsOnce } from '../../server/validation-messages.js'

type Validate = ((data: unknown) => boolean) & { errors?: Array<{ keyword?: string, message?: string, params?: Record<string, unknown> }> | null }

function restMessages (schema: TSchema, value: unknown): string[] {
  const factory = buildValidator({} as never, {} as never)
  const validate = factory({ schema, method: 'POST', url: '/x', httpPart: 'body' } as never) as unknown as Validate
  t.notOk(validate(structuredClone(value)), 'REST refuses it')
  return (validate.errors ?? []).map(ajvIssueMessage)
}

function wsMessages (schema: TSchema, value: unknown): string[] {
  return [...valueErrorsOnce(TypeCompiler.Compile(schema).Errors(value))].map(valueErrorMessage)
}

const obj = (a: TSchema): TSchema => Type.Object({ a }, { additionalProperties: false })

const cases: Array<[string, TSchema, unknown, string]> = [
  ['a missing property', obj(Type.String()), {}, "must have required property 'a'"],
  ['an unknown property', obj(Type.String()), { a: 'x', b: 1 }, 'unknown property'],
  ['a wrong type (string)', obj(Type.String()), { a: 1 }, 'must be string'],
  ['a wrong type (number)', obj(Type.Number()), { a: 'x' }, 'must be number'],
  ['a wrong type (integer)', obj(Type.Integer()), { a: 1.5 }, 'must be integer'],
  ['a wrong type (boolean)', obj(Type.Boolean()), { a: 1 }, 'must be boolean'],
  ['a wrong type (object)', obj(Type.Object({})), { a: 1 }, 'must be object'],
  ['a wrong type (array)', obj(Type.Array(Type.String())), { a: 1 }, 'must be array'],
  ['a wrong type (null)', obj(Type.Null()), { a: 1 }, 'must be null'],
  ['too short a string', obj(Type.String({ minLength: 2 })), { a: 'x' }, 'must NOT have fewer than 2 characters'],
  ['too long a string', obj(Type.String({ maxLength: 2 })), { a: 'xyz' }, 'must NOT have more than 2 characters'],
  ['a pattern', obj(Type.String({ pattern: '^[a-z]+$' })), { a: 'X' }, 'must match pattern "^[a-z]+$"'],
  ['a described pattern', obj(Type.String({ pattern: '^\\d{4}$', description: 'A year, YYYY' })), { a: '23' }, 'must match pattern "^\\d{4}$" (A year, YYYY)'],
  ['too few items', obj(Type.Array(Type.String(), { minItems: 1 })), { a: [] }, 'must NOT have fewer than 1 items'],
  ['too many items', obj(Type.Array(Type.String(), { maxItems: 1 })), { a: ['x', 'y'] }, 'must NOT have more than 1 items'],
  ['a minimum', obj(Type.Number({ minimum: 0 })), { a: -1 }, 'must be >= 0'],
  ['a maximum', obj(Type.Number({ maximum: 1000 })), { a: 1001 }, 'must be <= 1000'],
  ['an exclusive minimum', obj(Type.Number({ exclusiveMinimum: 0 })), { a: 0 }, 'must be > 0'],
  ['an exclusive maximum', obj(Type.Number({ exclusiveMaximum: 1 })), { a: 1 }, 'must be < 1'],
  ['an integer minimum', obj(Type.Integer({ minimum: 1 })), { a: 0 }, 'must be >= 1'],
  ['an integer maximum', obj(Type.Integer({ maximum: 100 })), { a: 101 }, 'must be <= 100'],
  ['an integer exclusive minimum', obj(Type.Integer({ exclusiveMinimum: 0 })), { a: 0 }, 'must be > 0'],
  ['an integer exclusive maximum', obj(Type.Integer({ exclusiveMaximum: 5 })), { a: 5 }, 'must be < 5'],
  ['a constant', obj(Type.Literal(true)), { a: false }, 'must be equal to constant'],
  ['an enumeration', obj(StringEnum(['1d', '1h', '1m'])), { a: '5m' }, 'must be one of 1d, 1h, 1m']
]

for (const [name, schema, value, message] of cases) {
  t.test(`${name}: "${message}" over both`, async (t) => {
    t.same(restMessages(schema, value), [message], 'REST')
    t.same(wsMessages(schema, value), [message], 'WebSocket')
  })
}

t.test('a union ends with the same summary line over both', async (t) => {
  const schema = obj(Type.Union([Type.Number(), Type.String()]))
  t.equal(restMessages(schema, { a: true }).at(-1), 'must match a schema in anyOf')
  t.same(wsMessages(schema, { a: true }), ['must match a schema in anyOf'])
})

t.test('an escaped property name is named as sent', async (t) => {
  const schema = Type.Object({ 'a/b~c': Type.String() })
  t.same(wsMessages(schema, {}), ["must have required property 'a/b~c'"])
})

t.test('other failures keep TypeBox\'s own words', async (t) => {
  const schema = Type.Array(Type.Number(), { uniqueItems: true })
  t.same(wsMessages(schema, [1, 1]), [[...TypeCompiler.Compile(schema).Errors([1, 1])][0].message])
  t.equal(mustBeOneOf(['buy', 'sell']), 'must be one of buy, sell')
  t.equal(ajvIssueMessage({ keyword: 'x' }), 'invalid')
})
