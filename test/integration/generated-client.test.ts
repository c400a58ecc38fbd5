// The generated openapi-fetch client end to end: API key → token exchange, caching, refresh before expiry,
// retry once on 401 — over real fetch against a listening server, and over app.inject.
import t from 'tap'
import { createSimutradorClient } from '../../generated-client/index.js'
import { build, listen, KEYS, forgeJwt, validClaims } from '../fixtures/app.js'

t.test('over real HTTP: the API key is exchanged once and the token reused', async (t) => {
  const { baseUrl } = await listen(t)
  const seen: string[] = []
  const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, fetch: async (req) => { seen.push(new URL(req.url).pathname); return await fetch(req) } })
  const first = await client.GET('/me')
  t.equal(first.response.status, 200)
  t.equal(first.data?.user_id, 'dev')
  const health = await client.GET('/health')
  t.equal(health.data?.status, 'ok')
  t.same(seen, ['/auth/token', '/me', '/health'])
})

t.test('a token about to expire is refreshed before the request', async (t) => {
  const { baseUrl } = await listen(t)
  let clock = Date.now()
  const seen: string[] = []
  const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, now: () => clock, fetch: async (req) => { seen.push(new URL(req.url).pathname); return await fetch(req) } })
  await client.GET('/me')
  clock += 3600_000 - 10_000 // inside the 30 s refresh margin
  await client.GET('/me')
  t.same(seen, ['/auth/token', '/me', '/auth/token', '/me'])
})

t.test('a 401 (token revoked/expired server-side) refreshes the token and retries once', async (t) => {
  const { baseUrl } = await listen(t)
  const expired = forgeJwt(validClaims({ iat: 1000, exp: 2000 }))
  const seen: string[] = []
  // The cache believes the stale token is fresh (clock far in the past), so only the 401 reveals it.
  const client = createSimutradorClient({ baseUrl, apiKey: KEYS.dev, accessToken: expired, now: () => 0, fetch: async (req) => { seen.push(`${req.method} ${new URL(req.url).pathname}`); return await fetch(req) } })
  const res = await client.GET('/me')
  t.equal(res.response.status, 200)
  t.equal(res.data?.user_id, 'dev')
  t.same(seen, ['GET /me', 'POST /auth/token', 'GET /me'])
})

t.test('without an API key a 401 is returned as a typed error, not retried', async (t) => {
  const { baseUrl } = await listen(t)
  const client = createSimutradorClient({ baseUrl, accessToken: forgeJwt(validClaims({ iat: 1000, exp: 2000 })) })
  const res = await client.GET('/me')
  t.equal(res.response.status, 401)
  t.equal(res.error?.error_code, 'TOKEN_EXPIRED')
})

t.test('a bad API key surfaces the server error code', async (t) => {
  const { baseUrl } = await listen(t)
  const client = createSimutradorClient({ baseUrl, apiKey: 'not-a-real-key-000' })
  const err: unknown = await client.GET('/me').then(() => undefined, (e: unknown) => e)
  t.match(err, { error_code: 'INVALID_API_KEY', status: 401 })
})

t.test('the client runs over app.inject with a custom fetch', async (t) => {
  const app = await build(t)
  const client = createSimutradorClient({
    baseUrl: 'http://simutrador.test',
    apiKey: KEYS.alice,
    fetch: async (req) => {
      const res = await app.inject({ method: req.method as 'GET', url: new URL(req.url).pathname + new URL(req.url).search, headers: Object.fromEntries(req.headers), payload: req.body === null ? undefined : Buffer.from(await req.arrayBuffer()) })
      return new Response(res.body, { status: res.statusCode, headers: res.headers as Record<string, string> })
    }
  })
  const me = await client.GET('/me')
  t.equal(me.data?.plan, 'free')
})
