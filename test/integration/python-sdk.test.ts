// The Python SDK (python/simutrador) against a real listening server: its unittest suite (python/tests) runs
// in a child interpreter and each Python test is reported here as one assertion; the tests that need this
// side (kill -9 and restart a server process, read the server's log) ask over a JSON-lines control channel.
// Then parity: examples/sma_crossover.py and examples/sma-crossover.ts on the same sessions (daily through
// the CLI, `simulate run` of the .py included, a 1m quarter through both SDKs) give byte-identical results
// and the same fills. And the CLI's interpreter lookup. Without an interpreter that has websockets the file skips with one line, unless
// REQUIRE_SERVICES=1 (CI, whose .ci/run installs python3-websockets), which fails instead.
import t, { type Test } from 'tap'
import { spawn, execFile } from 'node:child_process'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { buildApp, loggerOptions } from '../../server/app.js'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { UsageError } from '../../client/cli/errors.js'
import { describeProbe, findPython, pythonSdkDir, type PythonProbe } from '../../client/cli/python-strategy.js'
import { createStrategy } from '../../examples/sma-crossover.js'
import { KEYS, testConfig, tokenFor } from '../fixtures/app.js'
import { childEnv } from '../fixtures/child-env.js'
import { freshSchema, postgresUnreachable } from '../fixtures/postgres.js'
import { runCli, tempDir } from '../fixtures/cli.js'
import { startServer, type ServerProcess } from '../fixtures/server-process.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const PYTHON_DIR = join(ROOT, 'python')
const QUARTER = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1m' as const }

let python: PythonProbe | undefined
try {
  python = (await findPython(undefined)).python
} catch (err) {
  const why = err instanceof Error ? err.message : String(err)
  if (process.env.REQUIRE_SERVICES === '1') t.fail(`the Python SDK tests need Python ≥ 3.11 with websockets (REQUIRE_SERVICES=1): ${why}`)
  else t.pass('Python SDK cases', { skip: `${why}; REQUIRE_SERVICES=1 fails instead` })
}
if (python !== undefined) {
  const interpreter = python.executable ?? python.candidate.command
  t.comment(`Python SDK tests with ${describeProbe(python)}, websockets ${python.websockets ?? '?'}`)

  /** A listening app whose log keeps the strategy errors it reports (the traceback goes there only). */
  async function listenLogging (t: Test): Promise<{ baseUrl: string, strategyLogs: Array<Record<string, unknown>> }> {
    const strategyLogs: Array<Record<string, unknown>> = []
    const stream = new Writable({
      write (chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line.includes('strategy reported an error')) strategyLogs.push(JSON.parse(line) as Record<string, unknown>)
        done()
      }
    })
    const app = await buildApp(testConfig({ LOG_LEVEL: 'info' }), { logger: { ...(loggerOptions('info') as object), stream } })
    t.teardown(() => app.close())
    return { baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }), strategyLogs }
  }

  t.test('the Python SDK suite (python/tests, unittest) over a real server', async (t) => {
    const { baseUrl, strategyLogs } = await listenLogging(t)
    // The killed server keeps its state in the machine's PostgreSQL (a schema of its own) when it answers,
    // else in an embedded one (a state folder: slower to start, several seconds more per start when loaded).
    const serverEnv = await postgresUnreachable() === undefined ? { DATABASE_URL: (await freshSchema(t)).url } : { SIMUTRADOR_STATE_DIR: join(await tempDir(t), 'state') }
    // Started now, so that its start (several seconds on a loaded machine) overlaps the tests before it.
    const first = startServer(t, serverEnv)
    first.catch(() => {})
    let server: ServerProcess | undefined
    let restarting: Promise<void> = Promise.resolve()

    // What the Python tests ask this side for; each answer is one JSON line on the child's stdin.
    const t0 = performance.now()
    const answer = async (req: Record<string, unknown>): Promise<Record<string, unknown>> => {
      t.comment(`control ${String(req.control)} at ${Math.round(performance.now() - t0)} ms`)
      switch (req.control) {
        case 'server_process':
          server ??= await first
          return { url: server.baseUrl }
        case 'kill': {
          await restarting
          const dead = server
          if (dead === undefined) throw new Error('no server process to kill')
          await dead.stop('SIGKILL')
          // Back on the same port and state, while the SDK is already trying to reconnect.
          restarting = (async () => { server = await startServer(t, { ...serverEnv, PORT: new URL(dead.baseUrl).port }) })()
          return {}
        }
        case 'strategy_log': {
          const entry = strategyLogs.find((l) => l.session_id === req.session_id)
          if (entry === undefined) throw new Error(`no strategy error logged for ${String(req.session_id)}`)
          return { stack: entry.stack, message: entry.msg }
        }
        default: throw new Error(`unknown control ${String(req.control)}`)
      }
    }

    const child = spawn(interpreter, ['tests/run_json.py'], {
      cwd: PYTHON_DIR,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: childEnv({ PYTHONPATH: PYTHON_DIR, SIMUTRADOR_TEST_URL: baseUrl, SIMUTRADOR_TEST_API_KEY: KEYS.ent, SIMUTRADOR_TEST_FREE_API_KEY: KEYS.bob, SIMUTRADOR_TEST_CONTROL: '1', PYTHONDONTWRITEBYTECODE: '1' })
    })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.stdin.on('error', () => {}) // a child that died: its exit code below says so
    const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
    let reported = 0
    let summary: Record<string, number> | undefined
    for await (const line of createInterface({ input: child.stdout })) {
      let msg: Record<string, any>
      try { msg = JSON.parse(line) as Record<string, any> } catch { t.comment(`python: ${line}`); continue }
      if (typeof msg.control === 'string') {
        const reply = await answer(msg).then((r) => ({ ok: true, ...r }), (err: unknown) => ({ ok: false, error: String(err) }))
        child.stdin.write(`${JSON.stringify(reply)}\n`)
      } else if (typeof msg.test === 'string') {
        reported++
        const name = `${msg.test as string} (${String(msg.ms)} ms)`
        if (msg.status === 'pass') t.pass(name)
        else if (msg.status === 'skip') t.pass(name, { skip: String(msg.details) })
        else t.fail(name, { diag: { status: msg.status, details: msg.details } })
      } else if (msg.summary !== undefined) {
        summary = msg.summary as Record<string, number>
      }
    }
    child.stdin.end()
    const code = await exited
    await restarting
    t.equal(code, 0, `the suite passed${stderr !== '' ? `; stderr:\n${stderr.slice(-4000)}` : ''}`)
    t.ok(summary !== undefined && summary.run === reported && reported >= 30, `every test reported (${reported})`)
    t.equal(summary?.skipped, 0, 'none skipped: the server and the control channel were there')
  })

  /** The same interpreter without its site packages: a Python that lacks websockets. */
  async function pythonWithoutWebsockets (t: Test): Promise<string> {
    const bare = join(await tempDir(t), 'python-without-websockets')
    await writeFile(bare, `#!/bin/sh\nexec ${interpreter} -S "$@"\n`)
    await chmod(bare, 0o755)
    return bare
  }

  t.test('parity, daily: the Python and TypeScript SMA examples through the CLI', async (t) => {
    const { baseUrl } = await listenLogging(t)
    const configDir = await tempDir(t)
    const session = ['--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29']
    const env = { SIMUTRADOR_API_KEY: KEYS.dev, SIMUTRADOR_PYTHON: interpreter }
    const bare = await pythonWithoutWebsockets(t)
    const ts = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', ...session], { url: baseUrl, configDir, env })
    const py = await runCli(['simulate', 'run', 'examples/sma_crossover.py', ...session, '--python', bare], { url: baseUrl, configDir, env })
    t.equal(ts.code, 0, `the TypeScript example ran${ts.code !== 0 ? `: ${ts.stderr}` : ''}`)
    t.equal(py.code, 0, `the Python example ran${py.code !== 0 ? `: ${py.stderr}` : ''}`)
    const idOf = (out: string): string => /^Session +(\S+) /m.exec(out)?.[1] ?? ''
    const [tsId, pyId] = [idOf(ts.stdout), idOf(py.stdout)]
    t.ok(tsId !== '' && pyId !== '' && tsId !== pyId, 'two sessions')
    t.equal(py.stdout.replace(pyId, 'SESSION'), ts.stdout.replace(tsId, 'SESSION'), 'the same results table, character for character')
    t.match(py.stderr, /100% {2}250\/250 ticks/, 'the Python runner\'s progress')
    t.match(py.stderr, new RegExp(`^note: --python ${bare} lacks the websockets package; using ${interpreter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      'the --python interpreter lacks websockets: the CLI says so and runs SIMUTRADOR_PYTHON\'s')
    await sameRun(t, baseUrl, tsId, pyId)
  })

  t.test('parity, a 1m quarter (24,180 ticks): the examples through both SDKs', async (t) => {
    const { baseUrl } = await listenLogging(t)
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
    t.teardown(() => client.close())
    await client.connect()
    const tsRun = await runStrategy(client, createStrategy(), { session: QUARTER })
    const py = await new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
      execFile(interpreter, ['-m', 'simutrador', 'run', 'examples/sma_crossover.py', '--symbols', 'AAPL', '--start', QUARTER.start_date, '--end', QUARTER.end_date, '--timeframe', '1m', '--json'], {
        cwd: ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024, env: childEnv({ PYTHONPATH: PYTHON_DIR, SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev })
      }, (err, stdout, stderr) => { resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }) })
    })
    t.equal(py.code, 0, `the Python runner ran${py.code !== 0 ? `: ${py.stderr}` : ''}`)
    const out = JSON.parse(py.stdout) as { session: { session_id: string }, results: { metrics: { bars_processed: number } } }
    t.equal(out.results.metrics.bars_processed, 24_180)
    t.equal(tsRun.ticks, 24_180)
    await sameRun(t, baseUrl, tsRun.session.session_id, out.session.session_id)
  })

  t.test('the CLI\'s interpreter lookup names each one it passed over and the packages to install', async (t) => {
    const bare = await pythonWithoutWebsockets(t)
    const missing = join(await tempDir(t), 'no-such-python')

    const thrown = await findPython(undefined, {}, [{ command: missing, source: '--python' }, { command: bare, source: 'SIMUTRADOR_PYTHON' }]).then(() => undefined, (err: unknown) => err)
    t.ok(thrown instanceof UsageError)
    const err = thrown as UsageError
    t.match(err.message, `--python ${missing} not found`)
    t.match(err.message, new RegExp(`SIMUTRADOR_PYTHON ${bare} \\(.*Python 3\\.\\d+\\.\\d+\\) lacks the websockets package`))
    t.match(err.hint, /apt-get install python3-websockets/, 'names the Debian package')
    t.match(err.hint, /pip install websockets/, 'and the pip one')

    const found = await findPython(bare, { SIMUTRADOR_PYTHON: missing })
    t.same(found.skipped.slice(0, 2).map((p) => p.candidate.source), ['--python', 'SIMUTRADOR_PYTHON'], 'the named ones first, then python3 and /usr/bin/python3')
    t.equal(found.python.candidate.source, 'default')
    t.equal(pythonSdkDir(), PYTHON_DIR)
  })
}

/** The two runs' results (byte for byte, session ids aside) and fills are the same. */
async function sameRun (t: Test, baseUrl: string, a: string, b: string): Promise<void> {
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string): Promise<string> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).text()
  const plain = (text: string, id: string): string => text.replaceAll(id, 'SESSION').replaceAll(id.slice(-6), 'SID6')
  t.equal(plain(await get(`/sessions/${b}/results`), b), plain(await get(`/sessions/${a}/results`), a), 'GET …/results: byte-identical')
  const fills = async (id: string): Promise<string[]> => {
    const out: string[] = []
    for (let after = 0; ;) {
      const page = JSON.parse(await get(`/sessions/${id}/events?after_seq=${after}&limit=1000`)) as { events: Array<{ type: string, data: unknown }>, has_more: boolean }
      for (const e of page.events) if (e.type === 'execution_report') out.push(plain(JSON.stringify(e.data), id))
      after += page.events.length
      if (!page.has_more) return out
    }
  }
  const [fa, fb] = [await fills(a), await fills(b)]
  t.ok(fa.length > 2, `the strategy traded (${fa.length} fills)`)
  t.same(fb, fa, 'the same fills: ids, quantities, prices, times, commissions')
}
