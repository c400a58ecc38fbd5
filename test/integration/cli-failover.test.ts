// The CLI with several server URLs (instances of one service), over real sockets. First the REST fetch it
// uses (failover-fetch.ts): a request moves on only when no answer came, and only when repeating it is safe;
// then the real `simutrador` process: --url repeated (or a comma-separated SIMUTRADOR_URL) for REST
// commands, the login stored under each URL, and `simulate run` handing the list to the SDK.
import t from 'tap'
import { createServer, type IncomingMessage } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { failoverFetch } from '../../client/cli/failover-fetch.js'
import { listen, KEYS } from '../fixtures/app.js'
import { json, runCli, tempDir } from '../fixtures/cli.js'
import { deadUrl } from '../fixtures/dead-port.js'

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * An HTTP server that records each request (method, path, body) and answers with `status`, or, with
 * `reset`, reads the whole request and then destroys the connection without answering: a server dying
 * after the request reached it.
 */
async function recordingServer (t: Teardown, opts: { status?: number, reset?: boolean } = {}): Promise<{ url: string, seen: Array<{ method: string, path: string, body: string }> }> {
  const seen: Array<{ method: string, path: string, body: string }> = []
  const srv = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') })
      if (opts.reset === true) { req.socket.destroy(); return }
      res.statusCode = opts.status ?? 200
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ served_by: 'recorder' }))
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { srv.closeAllConnections(); srv.close(() => { resolve() }) }))
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, seen }
}

/** The real fetch, recording which URL each attempt went to. */
function tracedFetch (): { fetch: (req: Request) => Promise<Response>, urls: string[] } {
  const urls: string[] = []
  return { urls, fetch: async (req) => { urls.push(req.url); return await fetch(req) } }
}

async function rejectionOf (p: Promise<unknown>): Promise<Error> {
  try { await p } catch (err) { return err as Error }
  throw new Error('expected a rejection')
}

t.test('failoverFetch (the CLI\'s REST transport)', async (t) => {
  t.test('[dead, live]: the request moves to the live URL, which later requests then try first', async (t) => {
    const dead = await deadUrl()
    const live = await recordingServer(t)
    const traced = tracedFetch()
    const f = failoverFetch([dead, live.url], traced.fetch)
    const res = await f(new Request(`${dead}/sessions?limit=5`, { method: 'POST', headers: { 'idempotency-key': 'k1', 'content-type': 'application/json' }, body: '{"a":1}' }))
    t.equal(res.status, 200)
    t.same(live.seen, [{ method: 'POST', path: '/sessions?limit=5', body: '{"a":1}' }], 'method, path, query and body arrived intact')
    t.same(traced.urls, [`${dead}/sessions?limit=5`, `${live.url}/sessions?limit=5`])
    traced.urls.length = 0
    await f(new Request(`${dead}/me`))
    t.same(traced.urls, [`${live.url}/me`], 'the next request goes straight to the URL that answered')
  })

  t.test('an HTTP error is an answer: it is returned and the next URL is not asked', async (t) => {
    const failing = await recordingServer(t, { status: 503 })
    const other = await recordingServer(t)
    const res = await failoverFetch([failing.url, other.url])(new Request(`${failing.url}/sessions`))
    t.equal(res.status, 503)
    t.equal(other.seen.length, 0)
  })

  t.test('a server that dies after receiving a PATCH or DELETE: not repeated elsewhere (it may have been applied)', async (t) => {
    const dying = await recordingServer(t, { reset: true })
    const other = await recordingServer(t)
    const f = failoverFetch([dying.url, other.url])
    for (const method of ['PATCH', 'DELETE']) {
      const err = await rejectionOf(f(new Request(`${dying.url}/sessions/s1`, { method, ...(method === 'PATCH' ? { body: '{}' } : {}) })))
      t.match(err, { name: 'TypeError', message: 'fetch failed' }, method)
    }
    t.same(dying.seen.map((s) => s.method), ['PATCH', 'DELETE'], 'both reached the dying server')
    t.equal(other.seen.length, 0, 'and neither was sent again')
  })

  t.test('…but a read, the token exchange and a keyed create are repeated on the next URL', async (t) => {
    const dying = await recordingServer(t, { reset: true })
    const other = await recordingServer(t)
    const f = failoverFetch([dying.url, other.url])
    t.equal((await f(new Request(`${dying.url}/sessions`))).status, 200)
    // After a success the next request starts at `other`; a fresh fetch per case starts at the dying one.
    t.equal((await failoverFetch([dying.url, other.url])(new Request(`${dying.url}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'k' } }))).status, 200)
    t.equal((await failoverFetch([dying.url, other.url])(new Request(`${dying.url}/sessions`, { method: 'POST', headers: { 'idempotency-key': 'k2' }, body: '{"b":2}' }))).status, 200)
    t.same(other.seen.map((s) => `${s.method} ${s.path} ${s.body}`), ['GET /sessions ', 'POST /auth/token ', 'POST /sessions {"b":2}'])
  })

  t.test('a refused connection moves on whatever the method: nothing was sent', async (t) => {
    const dead = await deadUrl()
    const other = await recordingServer(t)
    const res = await failoverFetch([dead, other.url])(new Request(`${dead}/sessions/s1`, { method: 'DELETE' }))
    t.equal(res.status, 200)
    t.same(other.seen.map((s) => s.method), ['DELETE'])
  })

  t.test('no URL answers: the last transport error', async (t) => {
    const f = failoverFetch([await deadUrl(), await deadUrl()])
    const err = await rejectionOf(f(new Request('http://127.0.0.1:1/me')))
    t.match(err, { name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } })
    t.throws(() => failoverFetch([]), { name: 'TypeError' })
  })
})

t.test('the simutrador CLI with several --url', async (t) => {
  const { baseUrl } = await listen(t)
  const dead = await deadUrl()

  t.test('--help says --url is repeatable and SIMUTRADOR_URL may hold a list', async (t) => {
    const r = await runCli(['--help'], { url: baseUrl, configDir: await tempDir(t) })
    t.equal(r.code, 0)
    t.match(r.stdout, /--url <url>\s+server base URL; repeat it to name several instances/)
    t.match(r.stdout, /SIMUTRADOR_URL, comma-separated/)
    t.match(r.stdout, /--url http:\/\/10\.0\.0\.1:8003 --url http:\/\/10\.0\.0\.2:8003/)
  })

  t.test('a REST command with --url dead --url live works; so does a single --url', async (t) => {
    const configDir = await tempDir(t)
    const env = { url: dead, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } }
    const created = await runCli(['session', 'create', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-03-31', '--json', '--url', dead, '--url', baseUrl], env)
    t.equal(created.code, 0, created.stderr)
    const id = json<{ session_id: string }>(created).session_id
    const listed = await runCli(['session', 'list', '--json', '--url', baseUrl], env)
    t.equal(listed.code, 0, listed.stderr)
    t.same(json<Array<{ session_id: string }>>(listed).map((s) => s.session_id), [id])
  })

  t.test('SIMUTRADOR_URL with a comma-separated list works the same', async (t) => {
    const r = await runCli(['market', 'symbols', '--search', 'AAPL', '--json'], { url: `${dead}, ${baseUrl}`, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.dev } })
    t.equal(r.code, 0, r.stderr)
    t.match(json(r), { symbols: [{ symbol: 'AAPL' }] })
  })

  t.test('an error answer from the first URL is final: the next URL is not asked', async (t) => {
    const other = await recordingServer(t)
    const r = await runCli(['session', 'status', 'sess_does_not_exist', '--url', baseUrl, '--url', other.url], { url: baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.dev } })
    t.equal(r.code, 1)
    t.match(r.stderr, /^SESSION_NOT_FOUND: /)
    t.equal(other.seen.length, 0)
  })

  t.test('no URL answers: CONNECTION_FAILED naming all of them; a bad entry is a usage error naming its source', async (t) => {
    const other = await deadUrl()
    const configDir = await tempDir(t)
    const down = await runCli(['session', 'list', '--url', dead, '--url', other], { url: baseUrl, configDir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
    t.equal(down.code, 1)
    t.match(down.stderr, `CONNECTION_FAILED: Cannot reach any of ${dead}, ${other} (ECONNREFUSED)`)
    const badFlag = await runCli(['session', 'list', '--url', baseUrl, '--url', 'ws://127.0.0.1:1'], { url: baseUrl, configDir })
    t.equal(badFlag.code, 2)
    t.match(badFlag.stderr, "--url: 'ws://127.0.0.1:1' must be an http:// or https:// URL")
    const badEnv = await runCli(['session', 'list'], { url: `${baseUrl},nonsense`, configDir })
    t.equal(badEnv.code, 2)
    t.match(badEnv.stderr, "SIMUTRADOR_URL: 'nonsense' is not a URL")
  })

  t.test('auth login with two URLs stores the login under each; either URL alone then finds it; logout forgets both', async (t) => {
    const configDir = join(await tempDir(t), 'config')
    const env = { url: baseUrl, configDir }
    const login = await runCli(['auth', 'login', '--api-key', KEYS.alice, '--url', dead, '--url', baseUrl, '--json'], env)
    t.equal(login.code, 0, login.stderr)
    t.match(json(login), { server: dead, servers: [dead, baseUrl], user_id: 'alice' })
    const stored = JSON.parse(await readFile(join(configDir, 'credentials.json'), 'utf8')) as { servers: Record<string, { api_key: string }> }
    t.same(Object.keys(stored.servers).sort(), [baseUrl, dead].sort())
    const status = await runCli(['auth', 'status', '--url', baseUrl, '--json'], env)
    t.equal(status.code, 0, status.stderr)
    t.match(json(status), { user_id: 'alice', source: 'stored login' })
    const logout = await runCli(['auth', 'logout', '--url', dead, '--url', baseUrl, '--json'], env)
    t.match(json(logout), { logged_out: true })
    t.equal((await runCli(['auth', 'status', '--url', baseUrl], env)).code, 1, 'no login left')
  })

  t.test('simulate run --url dead --url live runs the strategy on the live server', async (t) => {
    const r = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-03-31', '--json', '--url', dead, '--url', baseUrl], { url: baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.dev } })
    t.equal(r.code, 0, r.stderr)
    const out = json<{ session: { state: string, estimated_ticks: number }, results: { metrics: { bars_processed: number } } }>(r)
    t.equal(out.session.state, 'completed')
    t.equal(out.results.metrics.bars_processed, out.session.estimated_ticks)
  })
})
