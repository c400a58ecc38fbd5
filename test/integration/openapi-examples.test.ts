// Swagger UI works on the first click (issue 12): every request body documented in openapi.yaml carries an
// example that the real API accepts as it stands, every schema example is valid against its own schema, and
// enumerations are `enum` lists (what Swagger UI shows as allowed values), not anyOf of constants.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { allSchemas } from '../../schemas/index.js'
import { listen, tokenFor, KEYS } from '../fixtures/app.js'

interface Operation { operationId: string, requestBody?: { required?: boolean, content: Record<string, { example?: unknown, examples?: unknown }> } }
interface Document { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, unknown> } }

const doc = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Document

/** Every documented operation with a request body: method, path template, operationId and its JSON example. */
const withBodies = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item)
  .filter(([, op]) => op.requestBody !== undefined)
  .map(([method, op]) => ({ method: method.toUpperCase(), path, operationId: op.operationId, example: op.requestBody?.content['application/json']?.example })))

t.test('every request body in openapi.yaml has an example', async (t) => {
  t.ok(withBodies.length >= 5, `${withBodies.length} operations with a body`)
  for (const op of withBodies) t.not(op.example, undefined, `${op.operationId} has an example`)
})

t.test('every documented request body example is accepted (2xx) by a real listening server', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, json: text.length > 0 ? JSON.parse(text) : null }
  }
  const newSession = async (): Promise<string> => {
    const created = await call('POST', '/sessions', { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30' })
    return created.json.session_id as string
  }
  // What each operation needs before its example can apply: the path parameters of a suitable session.
  const prepare: Record<string, () => Promise<Record<string, string>>> = {
    createSession: async () => ({}),
    validateMarketData: async () => ({}),
    updateSession: async () => ({ id: await newSession() }),
    startSimulation: async () => ({ id: await newSession() }),
    submitOrders: async () => {
      // A run waiting for its first tick_ack (flow control on, no WebSocket attached) takes orders.
      const id = await newSession()
      t.equal((await call('POST', `/sessions/${id}/start`)).status, 200)
      return { id }
    },
    replaceOrder: async () => {
      // A working limit order (ord-1) to replace, in a run waiting for its first tick_ack.
      const id = await newSession()
      t.equal((await call('POST', `/sessions/${id}/start`)).status, 200)
      const ack = await call('POST', `/sessions/${id}/orders`, { batch_id: 'b', orders: [{ order_id: 'ord-1', symbol: 'AAPL', side: 'buy', type: 'limit', price: 100, quantity: 10, time_in_force: 'gtc' }] })
      t.same(ack.json.accepted_orders, ['ord-1'])
      return { id, order_id: 'ord-1' }
    }
  }
  for (const op of withBodies) {
    const setup = prepare[op.operationId]
    if (setup === undefined) {
      t.fail(`no preparation for ${op.operationId}: add one so its example is run`)
      continue
    }
    const params = await setup()
    const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => params[name])
    const res = await call(op.method, path, op.example)
    t.ok(res.status >= 200 && res.status < 300, `${op.method} ${op.path} with its example: ${res.status} ${res.status >= 300 ? JSON.stringify(res.json) : ''}`)
    if (op.operationId === 'validateMarketData') t.equal(res.json.valid, true, 'the example validates as a usable request')
    if (op.operationId === 'submitOrders') t.same(res.json.rejected_orders, [], 'the example order is accepted, not rejected')
    if (op.operationId === 'replaceOrder') t.match(res.json, { order_id: 'ord-1-r1', replaces: 'ord-1', status: 'accepted' }, 'the example replaces the order')
  }
})

t.test('every example in a registered schema is valid against that schema', async (t) => {
  let checked = 0
  for (const schema of allSchemas) {
    for (const example of (schema as TSchema & { examples?: unknown[] }).examples ?? []) {
      t.ok(Value.Check(schema, allSchemas, example), `${String(schema.$id)} example: ${[...Value.Errors(schema, allSchemas, example)].map((e) => `${e.path} ${e.message}`).join('; ')}`)
      checked++
    }
  }
  t.ok(checked >= 10, `${checked} schema examples checked`)
})

t.test('response examples are realistic: a session shows the defaults a user gets', async (t) => {
  const session = (doc.components.schemas.Session as { examples: Array<Record<string, unknown>> }).examples[0]
  t.match(session, { slippage_bps: 5, commission_per_share: '0.005', initial_capital: '100000.00', timeframe: '1d', state: 'ready' })
})

t.test('enumerations are enum lists in openapi.yaml, with their allowed values', async (t) => {
  const schemas = doc.components.schemas as Record<string, { type?: string, enum?: string[], anyOf?: unknown }>
  t.same(schemas.Timeframe.enum, ['1d', '1h', '1m'])
  t.same(schemas.OrderSide.enum, ['buy', 'sell'])
  t.same(schemas.OrderType.enum, ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'])
  t.same(schemas.TimeInForce.enum, ['day', 'gtc', 'ioc', 'fok', 'opg', 'cls'])
  t.same(schemas.SessionState.enum, ['initializing', 'ready', 'running', 'paused', 'completed', 'error'])
  for (const name of ['Timeframe', 'OrderSide', 'OrderType', 'TimeInForce', 'SessionState', 'OrderState', 'ErrorCode']) {
    t.equal(schemas[name].type, 'string', `${name} is a string enum`)
    t.equal(schemas[name].anyOf, undefined, `${name} is not an anyOf`)
  }
  // Nowhere in the document is an enumeration spelled as an anyOf of single constants.
  const constUnions: string[] = []
  JSON.stringify(doc, (key, value: unknown) => {
    const anyOf = (value as { anyOf?: Array<{ enum?: unknown[], const?: unknown }> } | null)?.anyOf
    if (Array.isArray(anyOf) && anyOf.every((s) => s.const !== undefined || (Array.isArray(s.enum) && s.enum.length === 1))) constUnions.push(key)
    return value
  })
  t.same(constUnions, [], 'no anyOf of constants')
})

t.test('POST /sessions/{id}/start declares its body optional', async (t) => {
  t.equal(doc.paths['/sessions/{id}/start'].post.requestBody?.required, false)
  t.equal(doc.paths['/sessions'].post.requestBody?.required, true)
})
