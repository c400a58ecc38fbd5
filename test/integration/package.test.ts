// The installable package (issue 12), as a user gets it: `npm pack` of the current sources, `npm install` of
// the tarball into a fresh project outside the repository, then from that project only:
//   - the installed `simutrador-server` bin (compiled dist/, no tsx) serves the API and the dashboard;
//   - a script imports SessionClient/runStrategy from 'simutrador' and the REST client from
//     'simutrador/client' and runs a strategy against that server;
//   - the installed `simutrador` CLI prints its version and runs .ts, .js and .cjs strategies, also from a
//     folder whose package.json has no "type", and a .py strategy with the Python SDK it ships (python/);
//   - tsc checks a .ts file against the installed .d.ts files;
//   - the install prints no EBADENGINE and lists no install script of the package (npm 11).
// The tarball is packed from a copy of the repository (its files as git sees them, the built dashboard, the
// repo's node_modules linked) whose dist/ is built here, so the test runs the current sources and never
// rebuilds the repository's own dist/ under a test that is using it.
import t, { type Test } from 'tap'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { childEnv } from '../fixtures/child-env.js'
import { API_KEYS_ENV, JWT_SECRET, KEYS } from '../fixtures/app.js'
import { tempDir } from '../fixtures/cli.js'
import { findPython } from '../../client/cli/python-strategy.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

if (spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0) t.plan(0, 'npm is not available')
else t.test('the packed package, installed in a fresh project', packageTests)

interface Run { code: number, stdout: string, stderr: string }

/** Runs a command to its end (never throws: the result carries the exit code and both streams). */
async function run (file: string, args: string[], opts: { cwd: string, env?: Record<string, string | undefined>, timeoutMs?: number }): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: childEnv({ npm_config_update_notifier: 'false', ...opts.env }), timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

function ok (t: Test, r: Run, what: string): void {
  if (r.code !== 0) t.fail(`${what} exited ${r.code}`, { stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) })
}

async function packageTests (t: Test): Promise<void> {
  const tmp = await tempDir(t)
  const staging = join(tmp, 'simutrador')
  const project = join(tmp, 'my-bot')

  await t.test('npm pack gives a tarball of the compiled package only', async (t) => {
    t.ok(existsSync(join(ROOT, 'dashboard/dist/index.html')), 'the dashboard is built (npm ci does it)')
    const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT })
    ok(t, listed, 'git ls-files')
    for (const rel of listed.stdout.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)))) {
      await cp(join(ROOT, rel), join(staging, rel))
    }
    await cp(join(ROOT, 'dashboard/dist'), join(staging, 'dashboard/dist'), { recursive: true })
    await symlink(join(ROOT, 'node_modules'), join(staging, 'node_modules'), 'dir')

    // What prepare does after the dashboard: tsc into dist/ (the dashboard was copied above, already built).
    const build = await run(process.execPath, ['--import', import.meta.resolve('tsx'), 'scripts/build.ts'], { cwd: staging })
    ok(t, build, 'npm run build')
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: staging })
    ok(t, pack, 'npm pack')
    const [info] = JSON.parse(pack.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    const files = info.files.map((f) => f.path)
    t.equal(files.filter((f) => !/^(dist\/|bin\/|dashboard\/dist\/|python\/simutrador\/[a-z_]+\.py$|python\/simutrador\/py\.typed$|python\/pyproject\.toml$|python\/README\.md$|package\.json$|README\.md$)/.test(f)).join(', '), '',
      'nothing outside dist/, bin/, dashboard/dist/, the Python SDK, package.json and README.md')
    t.equal(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f)).join(', '), '', 'no TypeScript sources, only .d.ts')
    for (const needed of ['bin/simutrador.js', 'bin/simutrador-server.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/generated-client/index.d.ts',
      'dist/generated-client/schema.d.ts', 'dist/server/main.js', 'dist/server/adapters/sql/migrations/001_init.sql', 'dashboard/dist/index.html',
      'python/simutrador/__init__.py', 'python/simutrador/runner.py', 'python/simutrador/py.typed', 'python/pyproject.toml']) {
      t.ok(files.includes(needed), `the tarball holds ${needed}`)
    }
    t.notOk(files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.startsWith('dist/scripts/') || f.startsWith('python/tests/')), 'no tests or scripts')

    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'my-bot', version: '1.0.0', private: true, type: 'module' }, null, 2))
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info.filename)], { cwd: project })
    ok(t, install, 'npm install of the tarball')
    t.ok(existsSync(join(project, 'node_modules/simutrador/dist/client/index.js')), 'installed')
    // Clean on the Node the README names: no dependency that wants a newer Node (cookie@2 via fastify's
    // light-my-request wants 22), and no install-time script of the package itself for npm 11 to flag.
    const said = `${install.stdout}\n${install.stderr}`
    t.notMatch(said, /EBADENGINE/, 'no EBADENGINE warning')
    t.notMatch(said, /simutrador@[^\s]* \(/, 'no install script of simutrador listed (npm 11: install scripts not yet covered by allowScripts)')
    t.notMatch(said, /prepare:/, 'no prepare script listed')
  })

  const bin = (name: string): string => join(project, 'node_modules/.bin', name)

  await t.test('the installed CLI prints its version', async (t) => {
    const r = await run(bin('simutrador'), ['--version'], { cwd: project })
    ok(t, r, 'simutrador --version')
    t.equal(r.stdout.trim(), VERSION)
  })

  // The installed server, started by its bin from the project: compiled code, state in memory.
  const server = spawn(bin('simutrador-server'), [], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', JWT_SECRET, SIMUTRADOR_API_KEYS: API_KEYS_ENV, SIMUTRADOR_STATE_DIR: ':memory:', DATABASE_URL: undefined, REDIS_URL: undefined })
  })
  const exited = new Promise<void>((resolve) => { server.once('exit', () => { resolve() }) })
  t.teardown(async () => { if (server.exitCode === null && server.signalCode === null) { server.kill('SIGKILL'); await exited } })
  let output = ''
  server.stdout.on('data', (c: Buffer) => { output += c.toString() })
  server.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the installed server did not listen within 120 s:\n${output}`)) }, 120_000)
    server.stdout.on('data', () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (m !== null) { clearTimeout(timer); resolve(m[1]) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`the installed server exited:\n${output}`)) })
  })

  await t.test('the installed server serves the API and the packaged dashboard', async (t) => {
    const page = await fetch(`${baseUrl}/`)
    t.equal(page.status, 200)
    t.match(await page.text(), /<title>SimuTrador dashboard<\/title>/, 'the dashboard page')
    const health = await fetch(`${baseUrl}/health`)
    t.equal(health.status, 200)
  })

  await t.test("a script imports 'simutrador' and 'simutrador/client' and runs a strategy", async (t) => {
    await writeFile(join(project, 'bot.mjs'), `
import { SessionClient, runStrategy, SessionError } from 'simutrador'
import { createSimutradorClient } from 'simutrador/client'

const url = process.env.SIMUTRADOR_URL
const apiKey = process.env.SIMUTRADOR_API_KEY
const client = new SessionClient({ url, apiKey })
await client.connect()
let ticks = 0
const run = await runStrategy(client, {
  onTick () {
    ticks++
    if (ticks === 1) return [{ symbol: 'MSFT', side: 'buy', type: 'market', quantity: 7 }]
    if (ticks === 4) return [{ symbol: 'MSFT', side: 'sell', type: 'market', quantity: 7 }]
    return []
  }
}, { session: { symbols: ['MSFT'], start_date: '2023-03-01', end_date: '2023-03-15', timeframe: '1d' } })
await client.close()
const rest = createSimutradorClient({ baseUrl: url, apiKey })
const { data, error } = await rest.GET('/sessions/{id}/results', { params: { path: { id: run.session.session_id } } })
if (error !== undefined) throw new Error(JSON.stringify(error))
console.log(JSON.stringify({ ticks: run.ticks, sessionErrorIsClass: typeof SessionError === 'function', results: data }))
`)
    const r = await run(process.execPath, ['bot.mjs'], { cwd: project, env: { SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev } })
    ok(t, r, 'node bot.mjs')
    const out = JSON.parse(r.stdout) as { ticks: number, sessionErrorIsClass: boolean, results: { completed: boolean, trades: Array<{ symbol: string, quantity: number }> } }
    t.equal(out.ticks, 11, 'every trading day of 1–15 March 2023')
    t.equal(out.results.completed, true)
    t.match(out.results.trades, [{ symbol: 'MSFT', quantity: 7 }], 'the strategy’s trade, read back through simutrador/client')
    t.ok(out.sessionErrorIsClass)
  })

  await t.test('the installed CLI runs a .ts strategy of the project', async (t) => {
    await writeFile(join(project, 'strategy.ts'), `import type { Strategy, StrategyOrder } from 'simutrador'

export function createStrategy (): Strategy {
  let ticks = 0
  return {
    onTick (): StrategyOrder[] {
      ticks++
      if (ticks === 2) return [{ symbol: 'AAPL', side: 'buy', type: 'market', quantity: 4 }]
      if (ticks === 5) return [{ symbol: 'AAPL', side: 'sell', type: 'market', quantity: 4 }]
      return []
    }
  }
}
`)
    const r = await run(bin('simutrador'), ['simulate', 'run', 'strategy.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-01-13', '--json'],
      { cwd: project, env: { SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev, SIMUTRADOR_CONFIG_DIR: join(project, '.config'), NO_COLOR: '1' } })
    ok(t, r, 'simutrador simulate run strategy.ts')
    const out = JSON.parse(r.stdout) as { results: { completed: boolean, trades: Array<{ symbol: string, quantity: number }> } }
    t.equal(out.results.completed, true)
    t.match(out.results.trades, [{ symbol: 'AAPL', quantity: 4 }])
  })

  await t.test('the installed CLI runs .js, .cjs and .ts strategies from a folder whose package.json has no type', async (t) => {
    // No tsx loader in this process (the compiled CLI): Node reads the .js as an ES module by its syntax.
    const legacy = join(project, 'legacy')
    await mkdir(legacy)
    await writeFile(join(legacy, 'package.json'), JSON.stringify({ name: 'legacy-strategies', version: '1.0.0' }))
    const body = (qty: number): string => `{
  let ticks = 0
  return { onTick () { ticks++; return ticks === 1 ? [{ symbol: 'AAPL', side: 'buy', type: 'market', quantity: ${qty} }] : ticks === 3 ? [{ symbol: 'AAPL', side: 'sell', type: 'market', quantity: ${qty} }] : [] } }
}`
    await writeFile(join(legacy, 'esm.js'), `export function createStrategy () ${body(5)}\n`)
    await writeFile(join(legacy, 'common.cjs'), `module.exports.createStrategy = function () ${body(6)}\n`)
    await writeFile(join(legacy, 'typed.ts'), `import type { Strategy } from 'simutrador'\nexport default function (): Strategy ${body(8)}\n`)
    for (const [file, qty] of [['esm.js', 5], ['common.cjs', 6], ['typed.ts', 8]] as const) {
      const r = await run(bin('simutrador'), ['simulate', 'run', file, '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-01-13', '--json'],
        { cwd: legacy, env: { SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev, SIMUTRADOR_CONFIG_DIR: join(project, '.config'), NO_COLOR: '1' } })
      ok(t, r, `simutrador simulate run ${file}`)
      const out = JSON.parse(r.stdout) as { results: { trades: Array<{ symbol: string, quantity: number }> } }
      t.match(out.results.trades, [{ symbol: 'AAPL', quantity: qty }], `${file} ran (${qty} shares)`)
      t.notMatch(r.stderr, /require\(\) ES Module|ERR_/, `${file}: no module-system error`)
    }
  })

  await t.test('the installed CLI runs a .py strategy with the Python SDK it ships', async (t) => {
    const python = await findPython(undefined).catch((err: unknown) => err)
    if (python instanceof Error) {
      if (process.env.REQUIRE_SERVICES === '1') t.fail(`needs a Python with websockets (REQUIRE_SERVICES=1): ${python.message}`)
      else t.pass('.py strategy', { skip: python.message })
      return
    }
    await writeFile(join(project, 'bot.py'), `from simutrador import Bar, Strategy


class Bot(Strategy):
    def on_bar(self, bar: Bar) -> None:
        if bar.step == 2:
            self.buy(bar.symbol, 9)
        if bar.step == 5:
            self.sell(bar.symbol, 9)
`)
    const r = await run(bin('simutrador'), ['simulate', 'run', 'bot.py', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-01-13', '--json'],
      { cwd: project, env: { SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev, SIMUTRADOR_CONFIG_DIR: join(project, '.config'), PYTHONPATH: undefined } })
    ok(t, r, 'simutrador simulate run bot.py')
    const out = JSON.parse(r.stdout) as { results: { completed: boolean, trades: Array<{ symbol: string, quantity: number }> } }
    t.equal(out.results.completed, true)
    t.match(out.results.trades, [{ symbol: 'AAPL', quantity: 9 }], 'the Python strategy\'s trade')
  })

  await t.test('a .ts file type-checks against the installed .d.ts files', async (t) => {
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ['typed.ts']
    }))
    await writeFile(join(project, 'typed.ts'), `import { SessionClient, runStrategy, type Strategy, type TickData } from 'simutrador'
import { createSimutradorClient, type Schemas } from 'simutrador/client'

const strategy: Strategy = {
  onTick (tick: TickData) {
    const close: number | undefined = Object.values(tick.bars ?? {})[0]?.close
    return close === undefined ? [] : [{ symbol: 'AAPL', side: 'buy', type: 'limit', quantity: 1, limit_price: close.toFixed(2) }]
  }
}
// @ts-expect-error a side is 'buy' or 'sell': the types are real, not any
const wrong: Strategy = { onTick: () => [{ symbol: 'AAPL', side: 'hold', type: 'market', quantity: 1 }] }

export async function main (url: string, apiKey: string): Promise<number> {
  const client = new SessionClient({ url, apiKey })
  const run = await runStrategy(client, strategy, { session: { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' } })
  const rest = createSimutradorClient({ baseUrl: url, apiKey })
  const { data } = await rest.GET('/sessions/{id}/results', { params: { path: { id: run.session.session_id } } })
  const trades: Schemas['TradeRecord'][] = data?.trades ?? []
  // @ts-expect-error the REST client knows its paths
  await rest.GET('/no-such-path')
  return trades.length + run.ticks + (wrong === undefined ? 0 : 1)
}
`)
    const r = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: project })
    t.equal(r.code, 0, `tsc --noEmit passes:\n${r.stdout}${r.stderr}`)
  })
}
