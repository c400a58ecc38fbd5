// `X-API-Key` on every authenticated REST route, as Alpaca's API takes its key headers: the key is checked
// server-side on each request (no token needed), a wrong one is INVALID_API_KEY and counts in the same
// failure throttle as POST /auth/token, a valid one is counted by the user's plan limit like a bearer request,
// the key never reaches the logs, and openapi.yaml declares the scheme on every such route (Swagger's
// Authorize with the key works for /sessions).
import t from 'tap'
import { Writable } from 'node:stream'
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { buildApp, loggerOptions } from '../../server/app.js'
import { listen, KEYS, testConfig, tokenFor } from '../fixtures/app.js'

const VALID = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }

async function request (base: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number, json: any, headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers }
}

t.test('REST with X-API-Key: the key\'s user, without a token', async (t) => {
  const { baseUrl } = await listen(t)
  const created = await request(baseUrl, 'POST', '/sessions', { 'x-api-key': KEYS.dev }, VALID)
  t.equal(created.status, 201, JSON.stringify(created.json))
  const id = created.json.session_id as string
  const listed = await request(baseUrl, 'GET', '/sessions', { 'x-api-key': KEYS.dev })
  t.equal(listed.status, 200)
  t.ok(listed.json.sessions.some((s: { session_id: string }) => s.session_id === id), 'listed for the key\'s user')
  const token = await tokenFor(baseUrl, KEYS.dev)
  t.equal((await request(baseUrl, 'GET', `/sessions/${id}`, { authorization: `Bearer ${token}` })).status, 200, 'the same user as the key\'s token')
  t.equal((await request(baseUrl, 'GET', `/sessions/${id}`, { 'x-api-key': KEYS.alice })).json.error_code, 'SESSION_NOT_FOUND', 'another key is another user')
  t.equal((await request(baseUrl, 'GET', '/me', { 'x-api-key': KEYS.ent })).json.user_id, 'ent', '/me too')
  t.equal((await request(baseUrl, 'GET', '/market-data/symbols/AAPL', { 'x-api-key': KEYS.dev })).status, 200, 'and market data')
  t.equal((await request(baseUrl, 'POST', `/sessions/${id}/start`, { 'x-api-key': KEYS.dev }, { flow_control: false })).status, 200, 'and simulation control')
})

t.test('a bad key is INVALID_API_KEY; a bearer token, when sent, is what counts', async (t) => {
  const { baseUrl } = await listen(t)
  const bad = await request(baseUrl, 'GET', '/sessions', { 'x-api-key': 'not-a-key-not-a-key-000' })
  t.equal(bad.status, 401)
  t.equal(bad.json.error_code, 'INVALID_API_KEY')
  t.equal(bad.json.message, 'Invalid API key')
  const none = await request(baseUrl, 'GET', '/sessions', {})
  t.equal(none.json.error_code, 'UNAUTHORIZED', 'neither: the bearer token is missing, as before')
  const both = await request(baseUrl, 'GET', '/sessions', { authorization: 'Bearer nope', 'x-api-key': KEYS.dev })
  t.equal(both.json.error_code, 'UNAUTHORIZED', 'an invalid bearer token is not rescued by a key')
})

t.test('wrong keys on any route count in the one failure throttle of /auth/token', async (t) => {
  const { baseUrl } = await listen(t, { AUTH_FAILURES_PER_MINUTE: '3' })
  t.equal((await request(baseUrl, 'POST', '/auth/token', { 'x-api-key': 'guess-0-guess-guess' })).status, 401)
  t.equal((await request(baseUrl, 'GET', '/sessions', { 'x-api-key': 'guess-1-guess-guess' })).status, 401)
  t.equal((await request(baseUrl, 'GET', '/me', { 'x-api-key': 'guess-2-guess-guess' })).status, 401)
  const blocked = await request(baseUrl, 'GET', '/sessions', { 'x-api-key': 'guess-3-guess-guess' })
  t.equal(blocked.status, 429)
  t.equal(blocked.json.error_code, 'RATE_LIMIT_EXCEEDED')
  t.ok(Number(blocked.headers.get('retry-after')) >= 1, 'with Retry-After')
  t.equal((await request(baseUrl, 'POST', '/auth/token', { 'x-api-key': 'guess-4-guess-guess' })).status, 429, 'the exchange is throttled too')
  t.equal((await request(baseUrl, 'GET', '/sessions', { 'x-api-key': KEYS.dev })).status, 200, 'a valid key from the address still works')
})

t.test('requests with the key are counted by the user\'s plan limit, with bearer requests', async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.alice)
  const first = await request(baseUrl, 'GET', '/me', { authorization: `Bearer ${token}` })
  const second = await request(baseUrl, 'GET', '/me', { 'x-api-key': KEYS.alice })
  t.equal(first.headers.get('x-ratelimit-limit'), '120', 'the free plan\'s requests_per_minute')
  t.equal(Number(second.headers.get('x-ratelimit-remaining')), Number(first.headers.get('x-ratelimit-remaining')) - 1, 'one bucket for the user')
})

t.test('the key is never logged, valid or not', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done() } })
  const app = await buildApp(testConfig({ LOG_LEVEL: 'trace' }), { logger: { ...(loggerOptions('trace') as object), stream } })
  t.teardown(() => app.close())
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  await request(base, 'POST', '/sessions', { 'x-api-key': KEYS.dev }, VALID)
  await request(base, 'GET', '/sessions', { 'x-api-key': 'wrong-key-that-must-not-be-logged' })
  await request(base, 'GET', '/sessions?x=1', { 'x-api-key': KEYS.dev })
  const log = lines.join('')
  t.ok(lines.length > 3, `${lines.length} log lines were written`)
  for (const secret of [KEYS.dev, 'wrong-key-that-must-not-be-logged']) t.notOk(log.includes(secret), `the log does not contain ${secret.slice(0, 12)}…`)
})

t.test('openapi.yaml declares the key on every route that takes a bearer token', async (t) => {
  const spec = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>>
    components: { securitySchemes: Record<string, { description?: string }> }
  }
  const ops = Object.entries(spec.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const))
  const withBearer = ops.filter(([, op]) => op.security?.some((s) => 'bearerAuth' in s) === true)
  t.ok(withBearer.length > 20, `${withBearer.length} routes take a bearer token`)
  for (const [name, op] of withBearer) t.ok(op.security?.some((s) => 'apiKey' in s), `${name} takes the key too`)
  t.same(spec.paths['/sessions'].get.security, [{ bearerAuth: [] }, { apiKey: [] }], 'either one authorizes /sessions')
  t.match(spec.components.securitySchemes.apiKey.description, /every REST route/)
})
