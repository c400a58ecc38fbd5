// The one HTTP error mapping: every bad input gets a stable error_code and a message naming what is wrong.
import t from 'tap'
import { build, KEYS } from '../fixtures/app.js'

t.test('HTTP error mapping', async (t) => {
  const app = await build(t, { BODY_LIMIT_BYTES: '2048' })
  const token = (await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev } })).json<{ access_token: string }>().access_token

  t.test('an unknown route is 404 NOT_FOUND', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/nope?token=secret' })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { error_code: 'NOT_FOUND', message: 'Route GET /nope not found' })
  })

  t.test('a body over bodyLimit is 413 PAYLOAD_TOO_LARGE', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev, 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'y'.repeat(4000) }) })
    t.equal(res.statusCode, 413)
    t.match(res.json(), { error_code: 'PAYLOAD_TOO_LARGE' })
  })

  t.test('malformed JSON is 400 VALIDATION_FAILED', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev, 'content-type': 'application/json' }, payload: '{oops' })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { error_code: 'VALIDATION_FAILED', message: 'Body is not valid JSON' })
  })

  t.test('a body with __proto__ is refused', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev, 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { error_code: 'VALIDATION_FAILED' })
  })

  t.test('an unsupported content type is refused with a stable code', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/auth/token', headers: { 'x-api-key': KEYS.dev, 'content-type': 'text/csv' }, payload: 'a,b' })
    t.equal(res.statusCode, 415)
    t.match(res.json(), { error_code: 'VALIDATION_FAILED' })
  })

  t.test('a malformed Authorization header is 401 UNAUTHORIZED', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Token ${token}` } })
    t.equal(res.statusCode, 401)
    t.match(res.json(), { error_code: 'UNAUTHORIZED' })
  })

  t.test('responses never echo the token back', async (t) => {
    const res = await app.inject({ method: 'GET', url: `/nope?token=${token}` })
    t.notMatch(res.body, token)
  })
})
