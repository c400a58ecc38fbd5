// The typed REST client's auth middleware and token cache at their edges, over real fetch against a
// listening server: concurrent requests share one key exchange, a token whose expiry cannot be read is
// used until the server refuses it, the token endpoint itself is never wrapped, what the cache exposes,
// and a server that does not answer. tokenExpiry is a pure function and is checked directly.
import t from 'tap'
import { createSimutradorClient, tokenExpiry } from '../../generated-client/index.js'
import { buildApp } from '../../server/app.js'
import { listen, KEYS, forgeJwt, validClaims, testConfig } from '../fixtures/app.js'

/** A fetch that records `METHOD /path` of every request, then sends it for real. */
function recording (): { seen: string[], fetch: (req: Request) => Promise<Response> } {
  const seen: string[] = []
  return { seen, fetch: async (req) => { seen.push(`${req.method} ${new URL(req.url).pathname}`); return await fetch(req) } }
}

t.test('tokenExpiry reads exp (seconds) as epoch ms, and undefined for anything else', async (t) => {
  t.equal(tokenExpiry(forgeJwt({ exp: 2_000_000_000 })), 2_000_000_000_000)
  t.equal(tokenExpiry('not-a-jwt'), undefined, 'no payload part')
  t.equal(tokenExpiry('a.!!!notbase64json.c'), undefined, 'a payload that is not JSON')
  t.equal(tokenExpiry(forgeJwt({ exp: '2030-01-01' })), undefined, 'exp that is not a number')
  t.equal(tokenExpiry(forgeJwt({ sub: 'dev' })), undefined, 'no exp')
})

t.test('auth middleware and token cache', async (t) => {
  const { baseUrl } = await listen(t)

  t.test('concurrent first requests share one key exchange', async (t) => {
    const rec = recording()
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, fetch: rec.fetch })
    const results = await Promise.all(Array.from({ length: 5 }, async () => await client.GET('/me')))
    t.same(results.map((r) => r.response.status), [200, 200, 200, 200, 200])
    t.equal(rec.seen.filter((s) => s === 'POST /auth/token').length, 1, 'one exchange for five requests')
  })

  t.test('peek() shows the exchanged token and its expiry from expires_in', async (t) => {
    const now = 1_700_000_000_000
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, now: () => now })
    t.equal(client.tokens.peek(), undefined, 'nothing before the first request')
    await client.GET('/me')
    const cached = client.tokens.peek()
    t.match(cached, { token: /^ey/ })
    t.equal(cached?.expiresAt, now + 3600 * 1000, 'expires_in seconds after the exchange')
    client.tokens.invalidate()
    t.equal(client.tokens.peek(), undefined, 'invalidate() forgets it')
  })

  t.test('a token given up front is used without an exchange, with its own expiry', async (t) => {
    const exp = Math.floor(Date.now() / 1000) + 600
    const token = forgeJwt(validClaims({ exp }))
    const rec = recording()
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, accessToken: token, fetch: rec.fetch })
    t.same(client.tokens.peek(), { token, expiresAt: exp * 1000 })
    t.equal((await client.GET('/me')).data?.user_id, 'dev')
    t.same(rec.seen, ['GET /me'])
  })

  t.test('a token whose expiry cannot be read is used until the server refuses it, then renewed once', async (t) => {
    const rec = recording()
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, accessToken: 'opaque-token', fetch: rec.fetch })
    t.equal(client.tokens.peek()?.expiresAt, Number.POSITIVE_INFINITY)
    const me = await client.GET('/me')
    t.equal(me.data?.user_id, 'dev')
    t.same(rec.seen, ['GET /me', 'POST /auth/token', 'GET /me'])
  })

  t.test('a larger refresh margin renews earlier', async (t) => {
    let clock = Date.now()
    const rec = recording()
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, refreshMarginSec: 600, now: () => clock, fetch: rec.fetch })
    await client.GET('/me')
    clock += 3600_000 - 700_000 // 700 s left: outside a 600 s margin
    await client.GET('/me')
    clock += 200_000 // 500 s left: inside it
    await client.GET('/me')
    t.same(rec.seen, ['POST /auth/token', 'GET /me', 'GET /me', 'POST /auth/token', 'GET /me'])
  })

  t.test('the token endpoint itself is sent as is, without a token', async (t) => {
    const rec = recording()
    const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, fetch: rec.fetch })
    const res = await client.POST('/auth/token', { params: { header: { 'x-api-key': KEYS.alice } } })
    t.equal(res.data?.user_id, 'alice')
    t.same(rec.seen, ['POST /auth/token'], 'no exchange of the client’s own key first')
  })

  t.test('without a key or a token no Authorization is sent: 401 UNAUTHORIZED', async (t) => {
    const client = createSimutradorClient({ baseUrl })
    const res = await client.GET('/me')
    t.equal(res.response.status, 401)
    t.equal(res.error?.error_code, 'UNAUTHORIZED')
  })
})

t.test('a server that does not answer: fetch fails, and the client works once the server is back', async (t) => {
  const { app, baseUrl } = await listen(t)
  const port = Number(new URL(baseUrl).port)
  const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev })
  t.equal((await client.GET('/me')).response.status, 200)
  await app.close()
  const err: unknown = await client.GET('/me').then(() => undefined, (e: unknown) => e)
  t.match(err, { name: 'TypeError', message: 'fetch failed' }, 'what the CLI turns into CONNECTION_FAILED')
  const again = await buildApp(testConfig(), { logger: false })
  t.teardown(() => again.close())
  await again.listen({ port, host: '127.0.0.1' })
  t.equal((await client.GET('/me')).data?.user_id, 'dev', 'the cached token is still good on a server with the same secret')
})
