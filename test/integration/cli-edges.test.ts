// The `simutrador` CLI's rules at their edges, as a user runs it (a child process without a terminal against
// a real server): flag and file checks that must be usage errors (exit 2), which stored token a command may
// reuse and that a renewed one is saved, a corrupt credentials file, how an errored session and a long
// symbol list are shown, and market commands' limits and --json exit codes.
import t from 'tap'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { listen, KEYS, forgeJwt, validClaims } from '../fixtures/app.js'
import { cliWithKey, json, loggedInCli, runCli, tempDir } from '../fixtures/cli.js'

interface StoredFile { servers: Record<string, { api_key: string, access_token: string, expires_at: string, user_id: string }> }

t.test('simutrador CLI edges', async (t) => {
  const { baseUrl } = await listen(t)

  t.test('usage errors (exit 2): a non-http server, bad numbers, non-object metadata and config, --window and --limit bounds', async (t) => {
    const { cli } = await cliWithKey(t, baseUrl, KEYS.dev)
    const dir = await tempDir(t)
    const listFile = join(dir, 'list.yaml')
    await writeFile(listFile, '- AAPL\n- MSFT\n')
    const create = ['session', 'create', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-02-28']
    const sim = ['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-02-28']
    const cases: Array<[string[], RegExp]> = [
      [['session', 'list', '--server', 'ftp://127.0.0.1:21'], /--server: 'ftp:\/\/127\.0\.0\.1:21' must be an http:\/\/ or https:\/\/ URL/],
      [['session', 'list', '--server', 'not a url'], /--server: 'not a url' is not a URL/],
      [[...create, '--slippage-bps', 'abc'], /--slippage-bps: 'abc' is not a number/],
      [[...create, '--volume-participation', ' '], /--volume-participation: ' ' is not a number/],
      [[...create, '--metadata', '[1,2]'], /--metadata: must be a JSON object/],
      [[...create, '--metadata', '{oops'], /--metadata: not valid JSON/],
      [['session', 'create', '--config', listFile], /must contain an object with session fields/],
      [['session', 'create', '--config', join(dir, 'missing.json')], /--config: cannot read .*missing\.json/],
      [[...sim, '--window', '0'], /--window: '0' must be an integer 1\.\.1000/],
      [[...sim, '--window', '1001'], /--window: '1001' must be an integer 1\.\.1000/],
      [['market', 'symbols', '--limit', '0'], /--limit: '0' is not a positive integer/]
    ]
    const results = await Promise.all(cases.map(async ([args]) => await cli(args)))
    for (const [i, r] of results.entries()) {
      t.equal(r.code, 2, `${cases[i][0].join(' ')} exits 2`)
      t.match(r.stderr, cases[i][1])
      t.equal(r.stdout, '', 'nothing on stdout')
    }
  })

  t.test('a stored token is reused only with its own key; a renewed token is saved', async (t) => {
    const { cli, env } = await loggedInCli(t, baseUrl, KEYS.dev)
    const file = join(env.configDir, 'credentials.json')
    // Another user's key on the command line: the stored (dev) token must not be sent with it.
    const other = json<{ user_id: string, source: string }>(await cli(['auth', 'status', '--api-key', KEYS.alice, '--json']))
    t.match(other, { user_id: 'alice', source: /api key/ })
    // An empty SIMUTRADOR_API_KEY counts as unset: the stored login is used.
    const empty = await runCli(['auth', 'status', '--json'], { ...env, env: { SIMUTRADOR_API_KEY: '' } })
    t.match(json(empty), { user_id: 'dev', source: 'stored login' })

    // The stored token has expired: the command renews it from the stored key and saves the new one.
    const stored = JSON.parse(await readFile(file, 'utf8')) as StoredFile
    const expired = forgeJwt(validClaims({ iat: 1000, exp: 2000 }))
    stored.servers[baseUrl].access_token = expired
    stored.servers[baseUrl].expires_at = new Date(2000_000).toISOString()
    await writeFile(file, JSON.stringify(stored))
    const list = await cli(['session', 'list', '--json'])
    t.equal(list.code, 0, list.stderr)
    const after = (JSON.parse(await readFile(file, 'utf8')) as StoredFile).servers[baseUrl]
    t.not(after.access_token, expired, 'the renewed token replaced the expired one')
    t.ok(Date.parse(after.expires_at) > Date.now(), `with its expiry ${after.expires_at}`)
    t.equal(after.api_key, KEYS.dev, 'the key is kept')
  })

  t.test('a corrupt credentials file reads as empty: login works and rewrites it; logout keeps other servers', async (t) => {
    const configDir = join(await tempDir(t), 'cfg')
    await mkdir(configDir, { recursive: true })
    const file = join(configDir, 'credentials.json')
    await writeFile(file, '{ this is not json')
    const env = { url: baseUrl, configDir }
    const login = await runCli(['auth', 'login', '--api-key', KEYS.dev], env)
    t.equal(login.code, 0, login.stderr)
    const stored = JSON.parse(await readFile(file, 'utf8')) as StoredFile
    t.same(Object.keys(stored.servers), [baseUrl])
    stored.servers['http://other.example:8003'] = { ...stored.servers[baseUrl] }
    await writeFile(file, JSON.stringify(stored))
    const [out, again] = [await runCli(['auth', 'logout'], env), await runCli(['auth', 'logout', '--json'], env)]
    t.equal(out.code, 0)
    t.match(json(again), { logged_out: false })
    t.same(Object.keys((JSON.parse(await readFile(file, 'utf8')) as StoredFile).servers), ['http://other.example:8003'], 'the other server’s login stays')
  })

  t.test('session status of an errored run shows the error; list abbreviates long symbol lists', async (t) => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent })
    t.teardown(() => client.close())
    await client.connect()
    let sessionId = ''
    await runStrategy(client, { onTick (tick) { sessionId = tick.session_id; if (tick.sequence_id === 3) throw new Error('bad signal at tick 3') } }, {
      session: { symbols: ['AAPL', 'MSFT', 'GOOGL', 'AMZN'], start_date: '2023-01-03', end_date: '2023-01-31' }
    }).catch(() => {})
    const three = await client.createSession({ symbols: ['AAPL', 'MSFT', 'GOOGL'], start_date: '2023-01-03', end_date: '2023-01-31' })
    const { cli } = await cliWithKey(t, baseUrl, KEYS.ent)
    const [status, list] = await Promise.all([cli(['session', 'status', sessionId]), cli(['session', 'list'])])
    t.equal(status.code, 0, status.stderr)
    t.match(status.stdout, /^State\s+error$/m)
    t.match(status.stdout, /^Error\s+bad signal at tick 3$/m)
    t.notMatch(status.stdout, /^Progress/m, 'no progress bar for a run that is over without completing')
    t.match(list.stdout, new RegExp(`^${sessionId}\\s+error\\s+AAPL,MSFT,GOOGL,\\+1\\s`, 'm'), 'four symbols: three and a count')
    t.match(list.stdout, new RegExp(`^${three.session_id}\\s+ready\\s+AAPL,MSFT,GOOGL\\s`, 'm'), 'three symbols: all of them')
  })

  t.test('market: --limit shows how many more; validate --json exits 1 on an invalid request', async (t) => {
    const { cli } = await cliWithKey(t, baseUrl, KEYS.dev)
    const [limited, invalid] = await Promise.all([
      cli(['market', 'symbols', '--limit', '2']),
      cli(['market', 'validate', '--symbols', 'AAPX', '--start', '2023-01-03', '--end', '2023-02-28', '--json'])
    ])
    t.equal(limited.code, 0, limited.stderr)
    const rows = limited.stdout.trimEnd().split('\n')
    t.equal(rows.length, 4, 'header, two symbols, and the remainder line')
    t.match(rows[3], /^… \d+ more \(use --limit or --search\)$/)
    t.equal(invalid.code, 1, 'an invalid verdict is a failure, in JSON too')
    t.match(json(invalid), { valid: false, symbols: [{ input: 'AAPX', valid: false, suggestions: ['AAPL'] }] })
  })
})
