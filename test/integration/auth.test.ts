// Token exchange and every JWT attack, over a real listening server, on REST and on the WebSocket upgrade.
import t from 'tap'
import { listen, KEYS, tokenFor, forgeJwt, validClaims, TestSocket, refusedUpgrade } from '../fixtures/app.js'

t.test('auth over real HTTP and WebSocket', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)

  t.test('a valid API key is exchanged for a bearer token with the contract fields', async (t) => {
    const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEYS.alice } })
    t.equal(res.status, 200)
    const body = await res.json() as Record<string, unknown>
    t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'plan', 'token_type', 'user_id'])
    t.match(body, { token_type: 'Bearer', expires_in: 3600, user_id: 'alice', plan: 'free' })
    const claims = JSON.parse(Buffer.from(String(body.access_token).split('.')[1], 'base64url').toString()) as Record<string, unknown>
    t.match(claims, { sub: 'alice', plan: 'free', iss: 'simutrador', aud: 'simutrador-api' })
    t.equal((claims.exp as number) - (claims.iat as number), 3600)
  })

  t.test('a wrong API key is 401 INVALID_API_KEY', async (t) => {
    const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'nope-nope-nope-nope' } })
    t.equal(res.status, 401)
    t.match(await res.json(), { error_code: 'INVALID_API_KEY' })
  })

  t.test('a missing API key is 401 INVALID_API_KEY', async (t) => {
    const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST' })
    t.equal(res.status, 401)
    t.match(await res.json(), { error_code: 'INVALID_API_KEY' })
  })

  t.test('/me answers the token owner with plan limits', async (t) => {
    const token = await tokenFor(baseUrl, KEYS.dev)
    const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 200)
    t.match(await res.json(), { user_id: 'dev', plan: 'professional', limits: { concurrent_sessions: 10, ws_connections: 10 } })
  })

  t.test('token and per-user responses are never cacheable (RFC 6749 §5.1), errors of the exchange included', async (t) => {
    const token = await tokenFor(baseUrl, KEYS.dev)
    const answers: Array<[string, Response]> = [
      ['POST /auth/token 200', await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': KEYS.dev } })],
      ['POST /auth/token 401', await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'nope-nope-nope-nope' } })],
      ['POST /auth/token without a key', await fetch(`${baseUrl}/auth/token`, { method: 'POST' })],
      ['GET /me 200', await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${token}` } })],
      ['GET /me 401', await fetch(`${baseUrl}/me`)],
      ['GET /sessions 200', await fetch(`${baseUrl}/sessions`, { headers: { authorization: `Bearer ${token}` } })],
      ['GET /sessions/{id} 404', await fetch(`${baseUrl}/sessions/sess_doesnotexist0000`, { headers: { authorization: `Bearer ${token}` } })]
    ]
    for (const [name, res] of answers) {
      t.equal(res.headers.get('cache-control'), 'no-store', `${name}: Cache-Control`)
      t.equal(res.headers.get('pragma'), 'no-cache', `${name}: Pragma`)
      await res.arrayBuffer()
    }
    const health = await fetch(`${baseUrl}/health`)
    t.equal(health.headers.get('cache-control'), null, 'a public answer without a credential is left alone')
    await health.arrayBuffer()
  })

  const attacks: Array<[string, string, string]> = [
    ['alg none', forgeJwt(validClaims(), { alg: 'none' }), 'UNAUTHORIZED'],
    ['wrong signature', forgeJwt(validClaims(), { secret: 'another-secret-another-secret-another-secret' }), 'UNAUTHORIZED'],
    ['expired', forgeJwt(validClaims({ iat: 1000, exp: 2000 })), 'TOKEN_EXPIRED'],
    ['wrong issuer', forgeJwt(validClaims({ iss: 'evil' })), 'UNAUTHORIZED'],
    ['wrong audience', forgeJwt(validClaims({ aud: 'other-api' })), 'UNAUTHORIZED'],
    ['missing plan claim', forgeJwt(validClaims({ plan: undefined })), 'UNAUTHORIZED'],
    ['missing exp claim', forgeJwt(validClaims({ exp: undefined })), 'UNAUTHORIZED'],
    ['unknown plan', forgeJwt(validClaims({ plan: 'platinum' })), 'UNAUTHORIZED'],
    ['HS512 with the right secret', forgeJwt(validClaims(), { alg: 'HS512' }), 'UNAUTHORIZED'],
    ['an empty subject', forgeJwt(validClaims({ sub: '' })), 'UNAUTHORIZED'],
    ['a subject that is not a user id', forgeJwt(validClaims({ sub: 'dev/../alice' })), 'UNAUTHORIZED'],
    ['a 65-character subject', forgeJwt(validClaims({ sub: 'a'.repeat(65) })), 'UNAUTHORIZED'],
    ['a numeric subject', forgeJwt(validClaims({ sub: 42 })), 'UNAUTHORIZED'],
    ['malformed', 'not.a.jwt', 'UNAUTHORIZED'],
    ['garbage', 'x', 'UNAUTHORIZED']
  ]

  for (const [name, token, code] of attacks) {
    t.test(`REST refuses a token with ${name} (${code})`, async (t) => {
      const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${token}` } })
      t.equal(res.status, 401)
      t.match(await res.json(), { error_code: code })
    })
    t.test(`the WebSocket upgrade refuses a token with ${name} (401, no 101)`, async (t) => {
      t.equal(await refusedUpgrade(`${wsUrl}?token=${encodeURIComponent(token)}`), 401)
    })
  }

  t.test('the forged-token helper is sound: a well-formed token with the right secret is accepted', async (t) => {
    const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${forgeJwt(validClaims())}` } })
    t.equal(res.status, 200)
  })

  t.test('a subject at the edges of the user-id pattern is accepted (64 characters, . @ - _)', async (t) => {
    for (const sub of ['a'.repeat(64), 'first.last@example-org_1']) {
      const res = await fetch(`${baseUrl}/me`, { headers: { authorization: `Bearer ${forgeJwt(validClaims({ sub }))}` } })
      t.equal(res.status, 200, sub)
      t.match(await res.json(), { user_id: sub })
    }
  })

  t.test('the WebSocket upgrade without any token is 401', async (t) => {
    t.equal(await refusedUpgrade(wsUrl), 401)
  })

  t.test('the WebSocket accepts the token in the Authorization header too', async (t) => {
    const token = await tokenFor(baseUrl, KEYS.dev)
    const s = await TestSocket.open(wsUrl, { authorization: `Bearer ${token}` })
    t.teardown(() => { s.close() })
    t.match((await s.next('connection_ready')).data, { user_id: 'dev' })
  })
})
