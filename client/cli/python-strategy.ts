// `simutrador simulate run strategy.py`: finds a Python interpreter that has the websockets package (--python,
// then $SIMUTRADOR_PYTHON, then python3 on PATH, then /usr/bin/python3, which on Debian sees python3-websockets
// when a python3 earlier on PATH does not) and runs the Python SDK's runner (`python -m simutrador run`) with
// the session, the run options, the server URLs and the API key. The runner prints the progress bar and the
// results table itself; its exit code is the command's. The package's own python/ folder goes first on
// PYTHONPATH, so the SDK that ships with this CLI is the one that runs.
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { handleInterrupt, UsageError } from './errors.js'

/** Oldest Python the SDK supports (python/pyproject.toml's requires-python). */
const MIN_PYTHON: readonly [number, number] = [3, 11]
const PROBE_TIMEOUT_MS = 15_000

/** One interpreter to try and who asked for it. */
export interface PythonCandidate { readonly command: string, readonly source: '--python' | 'SIMUTRADOR_PYTHON' | 'default' }

/** What trying it found: usable, or why not. */
export interface PythonProbe {
  readonly candidate: PythonCandidate
  readonly usable: boolean
  /** sys.executable and the versions, when the interpreter ran. */
  readonly executable?: string
  readonly version?: string
  readonly websockets?: string
  readonly problem?: string
}

/** The interpreters to try, in order, without repeats. */
export function pythonCandidates (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): PythonCandidate[] {
  const list: PythonCandidate[] = []
  if (flag !== undefined && flag !== '') list.push({ command: flag, source: '--python' })
  const named = env.SIMUTRADOR_PYTHON
  if (named !== undefined && named !== '') list.push({ command: named, source: 'SIMUTRADOR_PYTHON' })
  list.push({ command: 'python3', source: 'default' }, { command: '/usr/bin/python3', source: 'default' })
  return list.filter((c, i) => list.findIndex((o) => o.command === c.command) === i)
}

// Prints what the CLI needs to know, as one JSON line; never fails on a missing websockets.
const PROBE = [
  'import json, sys',
  'try:\n import websockets\n w = getattr(websockets, "__version__", "?")\nexcept Exception:\n w = None',
  'print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3], "websockets": w}))'
].join('\n')

/** Runs `candidate` once to see whether it is Python ≥ 3.11 with websockets. */
export async function probePython (candidate: PythonCandidate): Promise<PythonProbe> {
  return await new Promise((resolve) => {
    execFile(candidate.command, ['-c', PROBE], { timeout: PROBE_TIMEOUT_MS, env: { ...process.env, PYTHONPATH: '' } }, (err, stdout) => {
      if (err !== null) {
        const code = (err as NodeJS.ErrnoException).code
        resolve({ candidate, usable: false, problem: code === 'ENOENT' ? 'not found' : `does not run (${err.message.split('\n')[0]})` })
        return
      }
      let found: { executable?: unknown, version?: unknown, websockets?: unknown }
      try {
        found = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof found
      } catch {
        resolve({ candidate, usable: false, problem: 'is not a Python interpreter' })
        return
      }
      const executable = typeof found.executable === 'string' ? found.executable : candidate.command
      const version = typeof found.version === 'string' ? found.version : '?'
      const [major, minor] = version.split('.').map(Number)
      const base = { candidate, executable, version }
      if (!(major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]))) {
        resolve({ ...base, usable: false, problem: `is Python ${version}; the SDK needs ${MIN_PYTHON.join('.')} or newer` })
      } else if (typeof found.websockets !== 'string') {
        resolve({ ...base, usable: false, problem: 'lacks the websockets package' })
      } else {
        resolve({ ...base, websockets: found.websockets, usable: true })
      }
    })
  })
}

/** How a probe reads in messages: `python3 (/usr/local/bin/python3, Python 3.11.7)`, or just its name. */
export function describeProbe (p: PythonProbe, withVersion = true): string {
  const name = p.candidate.source === 'default' ? p.candidate.command : `${p.candidate.source} ${p.candidate.command}`
  const where = p.executable !== undefined && p.executable !== p.candidate.command ? `${p.executable}, ` : ''
  return withVersion && p.version !== undefined ? `${name} (${where}Python ${p.version})` : name
}

/**
 * The first usable interpreter and the ones passed over before it; a UsageError naming each one tried and
 * what it lacks when none will do.
 */
export async function findPython (flag: string | undefined, env: NodeJS.ProcessEnv = process.env, candidates = pythonCandidates(flag, env)): Promise<{ python: PythonProbe, skipped: PythonProbe[] }> {
  const skipped: PythonProbe[] = []
  for (const candidate of candidates) {
    const probe = await probePython(candidate)
    if (probe.usable) return { python: probe, skipped }
    skipped.push(probe)
  }
  throw new UsageError(
    `no Python interpreter with the websockets package to run the strategy: ${skipped.map((p) => `${describeProbe(p)} ${p.problem ?? ''}`).join('; ')}`,
    'Install websockets for one of them: `apt-get install python3-websockets` (Debian, Ubuntu) or `python3 -m pip install websockets` (pip),\n' +
      'or name an interpreter that has it with --python PATH or SIMUTRADOR_PYTHON.'
  )
}

/** The folder holding the Python package (`python/simutrador`), from the sources or from dist/. */
export function pythonSdkDir (from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'python', 'simutrador', '__init__.py'))) return join(dir, 'python')
    if (dirname(dir) === dir) throw new UsageError('the Python SDK (python/simutrador) is missing from this installation of simutrador')
  }
}

/** What `simulate run` passes on to the Python runner. */
export interface PythonRunOptions {
  /** A ready session's id, or the checked CreateSessionBody of a new one. */
  session: string | Record<string, unknown>
  window: number
  flowControl: boolean
  accountUpdates: string
  json: boolean
}

/**
 * `simulate run FILE.py`: the interpreter (saying, unless --json, which named ones were passed over), then
 * the runner with the session and run options; resolves its exit code.
 */
export async function runPythonFile (file: string, opts: PythonRunOptions, where: { flag: string | undefined, servers: string[], apiKey: () => Promise<string> }): Promise<number> {
  const { python, skipped } = await findPython(where.flag)
  const command = python.executable ?? python.candidate.command
  if (skipped.some((p) => p.candidate.source !== 'default') && !opts.json) {
    process.stderr.write(`note: ${skipped.map((p) => `${describeProbe(p, false)} ${p.problem ?? ''}`).join('; ')}; using ${command}\n`)
  }
  const args = [
    ...(typeof opts.session === 'string' ? ['--session', opts.session] : ['--body', JSON.stringify(opts.session)]),
    '--window', String(opts.window), ...(opts.flowControl ? [] : ['--no-flow-control']), '--account-updates', opts.accountUpdates,
    ...(opts.json ? ['--json'] : [])
  ]
  return await runPythonStrategy(file, { python: command, args, servers: where.servers, apiKey: await where.apiKey() })
}

export interface PythonRun {
  python: string
  /** Arguments after `-m simutrador run STRATEGY_FILE`. */
  args: string[]
  servers: string[]
  apiKey: string
}

/**
 * Runs the strategy file with the Python runner, its output going straight to this terminal; resolves the
 * runner's exit code. Ctrl-C reaches both processes from the terminal: this one waits for the runner to
 * stop (it exits 130) instead of exiting first. A SIGTERM to this process is passed on.
 */
export async function runPythonStrategy (file: string, run: PythonRun): Promise<number> {
  const sdk = pythonSdkDir()
  const path = process.env.PYTHONPATH
  const child = spawn(run.python, ['-m', 'simutrador', 'run', file, ...run.args, ...run.servers.flatMap((u) => ['--url', u])], {
    stdio: 'inherit',
    env: { ...process.env, PYTHONPATH: path !== undefined && path !== '' ? `${sdk}${delimiter}${path}` : sdk, SIMUTRADOR_API_KEY: run.apiKey }
  })
  const giveBackCtrlC = handleInterrupt(() => {})
  const onTerm = (): void => { child.kill('SIGTERM') }
  process.once('SIGTERM', onTerm)
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => { reject(new UsageError(`cannot start ${run.python}: ${err.message}`)) })
      child.once('exit', (code, signal) => { resolve(code ?? (signal === 'SIGINT' ? 130 : 1)) })
    })
  } finally {
    giveBackCtrlC()
    process.off('SIGTERM', onTerm)
  }
}
