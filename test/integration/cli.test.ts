// The `simutrador` CLI as a user runs it: a child process without a terminal against a real server, its
// config directory in a temp dir. Covers help, usage errors (exit 2), auth login/status/logout, the market
// commands and an unreachable server. The session commands are in cli-session.test.ts.
import t from 'tap'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, KEYS } from '../fixtures/app.js'
import { cliWithKey, json, loggedInCli, runCli, tempDir, type Teardown } from '../fixtures/cli.js'

t.test('simutrador CLI', async (t) => {
  const { baseUrl } = await listen(t)

  const loggedIn = async (t: Teardown, key: string = KEYS.dev): ReturnType<typeof loggedInCli> => await loggedInCli(t, baseUrl, key)
  const withKey = async (t: Teardown, key: string = KEYS.dev): ReturnType<typeof cliWithKey> => await cliWithKey(t, baseUrl, key)

  t.test('--help works at every level and exits 0', async (t) => {
    const env = { url: baseUrl, configDir: await tempDir(t) }
    const [top, create, market] = await Promise.all([runCli(['--help'], env), runCli(['session', 'create', '--help'], env), runCli(['market', 'validate', '--help'], env)])
    t.equal(top.code, 0)
    t.match(top.stdout, /auth[\s\S]*session[\s\S]*market/)
    t.equal(create.code, 0)
    t.match(create.stdout, /--config <file>/)
    t.equal(market.code, 0)
    t.match(market.stdout, /--symbols <list>/)
  })

  t.test('usage errors exit 2: unknown command, unknown option, bad choice, missing flags without a terminal', async (t) => {
    const env = { url: baseUrl, configDir: await tempDir(t) }
    const results = await Promise.all([
      runCli(['sesion', 'list'], env),
      runCli(['session', 'list', '--colour'], env),
      runCli(['session', 'list', '--state', 'flying'], env),
      runCli(['session', 'create', '--symbols', 'AAPL'], env)
    ])
    t.same(results.map((r) => r.code), [2, 2, 2, 2])
    t.match(results[0].stderr, /unknown command 'sesion'/)
    t.match(results[2].stderr, /Allowed choices are initializing, ready, running, paused, completed, error/)
    t.match(results[3].stderr, /missing --start, --end/)
  })

  t.test('auth login stores the key and token in a 0600 file inside a 0700 directory', async (t) => {
    const configDir = join(await tempDir(t), 'nested', 'config')
    const r = await runCli(['auth', 'login', '--api-key', KEYS.dev], { url: baseUrl, configDir })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ as dev \(plan professional\)/)
    const file = join(configDir, 'credentials.json')
    t.equal((await stat(file)).mode & 0o777, 0o600)
    t.equal((await stat(configDir)).mode & 0o777, 0o700)
    const stored = JSON.parse(await readFile(file, 'utf8')) as { servers: Record<string, { api_key: string, access_token: string, user_id: string }> }
    t.match(stored.servers[baseUrl], { api_key: KEYS.dev, user_id: 'dev', access_token: /^ey/ })
  })

  t.test('auth login takes the key from SIMUTRADOR_API_KEY', async (t) => {
    const r = await runCli(['auth', 'login', '--json'], { url: baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.alice } })
    t.equal(r.code, 0, r.stderr)
    t.match(json(r), { server: baseUrl, user_id: 'alice', plan: 'free' })
  })

  t.test('auth login without a key and without a terminal is a usage error', async (t) => {
    const r = await runCli(['auth', 'login'], { url: baseUrl, configDir: await tempDir(t) })
    t.equal(r.code, 2)
    t.match(r.stderr, /no API key[\s\S]*--api-key/)
  })

  t.test('auth login with a wrong key exits 1 with INVALID_API_KEY and stores nothing', async (t) => {
    const configDir = await tempDir(t)
    const r = await runCli(['auth', 'login', '--api-key', 'wrong_key_wrong_key_0000'], { url: baseUrl, configDir })
    t.equal(r.code, 1)
    t.match(r.stderr, /^INVALID_API_KEY: /)
    await t.rejects(stat(join(configDir, 'credentials.json')), { code: 'ENOENT' })
  })

  t.test('auth status shows the stored login; logout forgets it', async (t) => {
    const { cli } = await loggedIn(t)
    const status = await cli(['auth', 'status'])
    t.equal(status.code, 0, status.stderr)
    t.match(status.stdout, /User\s+dev\nPlan\s+professional/)
    const asJson = json<{ user_id: string, limits: { concurrent_sessions: number } }>(await cli(['auth', 'status', '--json']))
    t.match(asJson, { user_id: 'dev', limits: { concurrent_sessions: 10 } })
    const out = await cli(['auth', 'logout'])
    t.equal(out.code, 0)
    t.match(out.stdout, /Logged out of/)
    const after = await cli(['auth', 'status'])
    t.equal(after.code, 1)
    t.match(after.stderr, /^UNAUTHORIZED: Not logged in to /)
  })

  t.test('market symbols filters by asset class and search', async (t) => {
    const { cli } = await withKey(t)
    const [forex, search] = await Promise.all([cli(['market', 'symbols', '--asset-class', 'forex', '--json']), cli(['market', 'symbols', '--search', 'apple'])])
    const list = json<{ symbols: Array<{ asset_class: string }> }>(forex)
    t.ok(list.symbols.length > 0)
    t.ok(list.symbols.every((s) => s.asset_class === 'forex'))
    t.equal(search.code, 0)
    t.match(search.stdout, /^SYMBOL\s+NAME[\s\S]*\nAAPL\s+Apple Inc\./)
  })

  t.test('market validate: 0 with verdicts when valid, 1 with the error when not', async (t) => {
    const { cli } = await withKey(t)
    const [ok, bad] = await Promise.all([
      cli(['market', 'validate', '--symbols', 'AAPL,eurusd', '--start', '2023-01-03', '--end', '2023-03-31']),
      cli(['market', 'validate', '--symbols', 'AAPL', '--start', '2023-03-01', '--end', '2023-01-01'])
    ])
    t.equal(ok.code, 0)
    t.match(ok.stdout, /eurusd\s+EUR\/USD\s+ok/)
    t.match(ok.stdout, /Valid\.\n$/)
    t.equal(bad.code, 1)
    t.match(bad.stderr, /^INVALID_DATE_RANGE: /m)
  })

  t.test('an unreachable server is CONNECTION_FAILED, exit 1', async (t) => {
    const r = await runCli(['session', 'list', '--api-key', KEYS.dev, '--server', 'http://127.0.0.1:9'], { url: baseUrl, configDir: await tempDir(t) })
    t.equal(r.code, 1)
    t.match(r.stderr, /^CONNECTION_FAILED: Cannot reach http:\/\/127\.0\.0\.1:9/)
  })
})
