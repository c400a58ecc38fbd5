// Runs survive a restart on the embedded default (issue 19 item 2): no JWT_SECRET, no SIMUTRADOR_API_KEYS,
// PGlite in a temporary state folder. The generated development key and signing secret are kept in the
// folder (0600), so a server stopped mid-run (kill -9, or SIGTERM) and started again at once prints the same
// key and accepts the tokens it issued: `simutrador simulate run` reconnects, says where it resumed, and ends
// with the results of an uninterrupted run. A key that no longer works after the restart ends the CLI with
// INVALID_API_KEY saying why, not CLIENT_CLOSED. A paused run is re-attached with `simulate run --session`.
import t from 'tap'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tokenFor } from '../fixtures/app.js'
import { runCli, spawnCli, tempDir, type CliEnv } from '../fixtures/cli.js'
import { call } from '../fixtures/rest.js'
import { startServer, type ServerProcess } from '../fixtures/server-process.js'

// A first start creates the database; then several restarts and CLI runs: minutes on a loaded host.
t.setTimeout(600_000)

const RUN = ['simulate', 'run', 'test/fixtures/strategies/slow-sma.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29']
/** The default configuration: nothing configured but the state folder (and a free port). */
const DEFAULTS = { JWT_SECRET: undefined, SIMUTRADOR_API_KEYS: undefined, LOG_LEVEL: 'info' }

/** The run's results (GET …/results) as compared across runs: the session id differs, and so do the order ids made from it. */
async function results (server: ServerProcess, key: string, cliOut: string): Promise<unknown> {
  const id = /^Session\s+(sess_\w+) /m.exec(cliOut)?.[1]
  if (id === undefined) throw new Error(`no session in the CLI's report:\n${cliOut}`)
  const res = await call(server.baseUrl, await tokenFor(server.baseUrl, key), 'GET', `/sessions/${id}/results`)
  return JSON.parse(JSON.stringify(res.json).replaceAll(id, 'S').replaceAll(id.slice(-6), 'S6'))
}

function devKey (server: ServerProcess): string {
  const m = /^ {4}(sk_dev_\S+)$/m.exec(server.output())
  if (m === null) throw new Error(`no development key in the banner:\n${server.output()}`)
  return m[1]
}

t.test('embedded default: a run survives kill -9 and SIGTERM of its server; the key is kept in the state folder', async (top) => {
  const t = top
  const dir = await mkdtemp(join(tmpdir(), 'st-default-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const env = { ...DEFAULTS, SIMUTRADOR_STATE_DIR: dir }
  let server = await startServer(t, env)
  const port = new URL(server.baseUrl).port
  const key = devKey(server)
  t.match(server.output(), new RegExp(`Development API key \\(user 'dev', plan 'professional'\\), kept in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dev-secrets\\.json: it survives restarts`), 'the banner says where the key is kept')
  t.equal((await stat(join(dir, 'dev-secrets.json'))).mode & 0o777, 0o600, 'the credentials file is readable by its owner only')
  const cli: CliEnv = { url: server.baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: key } }

  const baseline = await runCli(RUN, cli)
  t.equal(baseline.code, 0, baseline.stderr)
  const expected = await results(server, key, baseline.stdout)

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    await t.test(`${signal} mid-run, restarted at once: the CLI reconnects and ends with the uninterrupted results`, async (t) => {
      const run = spawnCli(RUN, cli)
      await run.waitFor(/100\/250 ticks/)
      await server.stop(signal)
      // Owned by the whole test, not this subtest: the next subtest uses it.
      server = await startServer(top, { ...env, PORT: port })
      t.equal(devKey(server), key, 'the restarted server prints the same key')
      const done = await run.exit
      t.equal(done.code, 0, done.stderr)
      t.match(done.stderr, /^reconnected, resumed at step \d+$/m, 'the CLI says where the run resumed')
      t.notMatch(done.stderr, /CLIENT_CLOSED/)
      t.same(await results(server, key, done.stdout), expected, 'results equal the uninterrupted run\'s')
    })
  }

  await t.test('a key that no longer works after the restart ends the run with INVALID_API_KEY saying why', async (t) => {
    const run = spawnCli(RUN, cli)
    await run.waitFor(/100\/250 ticks/)
    await server.stop('SIGKILL')
    // New development credentials: the old key and its tokens are refused.
    await rm(join(dir, 'dev-secrets.json'))
    server = await startServer(top, { ...env, PORT: port })
    t.not(devKey(server), key, 'a new key')
    const done = await run.exit
    t.equal(done.code, 1)
    t.match(done.stderr, /^(INVALID_API_KEY|UNAUTHORIZED): Could not reconnect: .*no longer accepts this client's credentials/m)
    t.notMatch(done.stdout + done.stderr, /CLIENT_CLOSED/)
  })
  await server.stop('SIGTERM')
})
