// The `simutrador session` commands as a user runs them: a child process without a terminal against a real
// server, config directory in a temp dir. The workflow, config files, idempotent retries, and how server
// refusals (with their error codes and suggestions) are printed and exit 1.
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, KEYS } from '../fixtures/app.js'
import { cliWithKey, json, loggedInCli, tempDir, type Teardown } from '../fixtures/cli.js'

interface SessionOut { session_id: string, state: string, symbols: string[], initial_capital: string, timeframe: string, metadata: Record<string, unknown> }

t.test('simutrador session', async (t) => {
  const { baseUrl } = await listen(t)

  const loggedIn = async (t: Teardown, key: string = KEYS.dev): ReturnType<typeof loggedInCli> => await loggedInCli(t, baseUrl, key)
  const withKey = async (t: Teardown, key: string = KEYS.dev): ReturnType<typeof cliWithKey> => await cliWithKey(t, baseUrl, key)

  t.test('session create → status → list → delete', async (t) => {
    const { cli } = await loggedIn(t)
    const created = await cli(['session', 'create', '--symbols', 'AAPL,msft', '--start', '2023-01-03', '--end', '2023-06-30', '--capital', '250000', '--metadata', '{"strategy":"sma"}', '--json'])
    t.equal(created.code, 0, created.stderr)
    const s = json<SessionOut>(created)
    t.match(s, { state: 'ready', symbols: ['AAPL', 'MSFT'], initial_capital: '250000', metadata: { strategy: 'sma' } })

    const status = await cli(['session', 'status', s.session_id])
    t.equal(status.code, 0)
    t.match(status.stdout, new RegExp(`Session\\s+${s.session_id}\\nState\\s+ready`))

    const [table, ready, running] = await Promise.all([cli(['session', 'list']), cli(['session', 'list', '--state', 'ready', '--json']), cli(['session', 'list', '--state', 'running', '--json'])])
    t.match(table.stdout, /^SESSION\s+STATE\s+SYMBOLS/)
    t.match(table.stdout, new RegExp(`${s.session_id}\\s+ready\\s+AAPL,MSFT\\s+2023-01-03\\.\\.2023-06-30`))
    t.ok(json<SessionOut[]>(ready).some((x) => x.session_id === s.session_id))
    t.same(json(running), [])

    const del = await cli(['session', 'delete', s.session_id])
    t.equal(del.code, 0)
    t.equal(del.stdout, `Deleted session ${s.session_id}.\n`)
    const gone = await cli(['session', 'status', s.session_id])
    t.equal(gone.code, 1)
    t.match(gone.stderr, `SESSION_NOT_FOUND: Session ${s.session_id} not found`)
  })

  t.test('session create --config reads JSON and YAML; flags override the file', async (t) => {
    const { cli } = await withKey(t, KEYS.ent)
    const dir = await tempDir(t)
    const jsonFile = join(dir, 'session.json')
    const yamlFile = join(dir, 'session.yaml')
    await writeFile(jsonFile, JSON.stringify({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', initial_capital: 20000, timeframe: '1h' }))
    // Unquoted YAML dates parse as dates; the CLI sends them as YYYY-MM-DD.
    await writeFile(yamlFile, 'symbols: [eurusd, BTC-USD]\nstart_date: 2023-02-01\nend_date: 2023-02-28\ninitial_capital: "50000.50"\nmetadata:\n  strategy: breakout\n')
    const [fromJson, fromYaml] = await Promise.all([
      cli(['session', 'create', '--config', jsonFile, '--json']),
      cli(['session', 'create', '-c', yamlFile, '--capital', '75000', '--json'])
    ])
    t.equal(fromJson.code, 0, fromJson.stderr)
    t.match(json<SessionOut>(fromJson), { symbols: ['AAPL'], timeframe: '1h', initial_capital: '20000' })
    t.equal(fromYaml.code, 0, fromYaml.stderr)
    t.match(json<SessionOut>(fromYaml), { symbols: ['EUR/USD', 'BTC/USD'], initial_capital: '75000', metadata: { strategy: 'breakout' } })
  })

  t.test('an invalid config file is a usage error naming the field', async (t) => {
    const { cli } = await withKey(t)
    const file = join(await tempDir(t), 'bad.yaml')
    await writeFile(file, 'symbols: [AAPL]\nstart_date: "2023-1-3"\nend_date: "2023-06-30"\nleverage: 10\n')
    const r = await cli(['session', 'create', '--config', file])
    t.equal(r.code, 2)
    t.match(r.stderr, /VALIDATION_FAILED[\s\S]*start_date/)
  })

  t.test('INVALID_SYMBOL: verdicts and suggestions on stderr, exit 1; --json prints the error body', async (t) => {
    const { cli } = await withKey(t)
    const args = ['session', 'create', '--symbols', 'AAPX,MSFT', '--start', '2023-01-03', '--end', '2023-06-30']
    const [text, asJson] = await Promise.all([cli(args), cli([...args, '--json'])])
    t.equal(text.code, 1)
    t.match(text.stderr, /AAPX\s+-\s+INVALID_SYMBOL/)
    t.match(text.stderr, /^INVALID_SYMBOL: .*AAPX/m)
    t.match(text.stderr, /AAPX: did you mean AAPL\?/)
    t.equal(asJson.code, 1)
    t.match(json(asJson), { error_code: 'INVALID_SYMBOL', details: { invalid_symbols: ['AAPX'], suggestions: { AAPX: ['AAPL'] } } })
  })

  t.test('a server-side refusal prints its error code and exits 1 (capital out of range, SESSION_LIMIT_EXCEEDED)', async (t) => {
    const { cli } = await withKey(t, KEYS.bob)
    const base = ['session', 'create', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-06-30']
    const poor = await cli([...base, '--capital', '500'])
    t.equal(poor.code, 1)
    t.match(poor.stderr, /^INSUFFICIENT_CAPITAL: initial_capital must be from 1000\.00 to 10000000\.00 \(got 500\.00\)/)
    const rich = await cli([...base, '--capital', '20000000'])
    t.equal(rich.code, 1)
    t.match(rich.stderr, /^CAPITAL_ABOVE_MAXIMUM: initial_capital must be from 1000\.00 to 10000000\.00 \(got 20000000\.00\)/)
    const first = await cli([...base, '--json'])
    t.equal(first.code, 0, first.stderr)
    const second = await cli(base)
    t.equal(second.code, 1)
    t.match(second.stderr, /^SESSION_LIMIT_EXCEEDED: [\s\S]*limit_name: concurrent_sessions/)
  })

  t.test('the same --idempotency-key returns the same session instead of a second one', async (t) => {
    const { cli } = await withKey(t, KEYS.ent)
    const args = ['session', 'create', '--symbols', 'MSFT', '--start', '2023-01-03', '--end', '2023-02-28', '--idempotency-key', `cli-${Date.now()}`, '--json']
    const a = json<SessionOut>(await cli(args))
    const b = json<SessionOut>(await cli(args))
    t.equal(b.session_id, a.session_id)
  })
})
