// Lockstep ticks/s of the Python SDK beside the TypeScript SDK (issue 22): the real app listening on
// 127.0.0.1 in this process, and the SMA 10/30 example strategy in a CHILD process, the same strategy in
// each language: examples/sma-crossover.ts through runStrategy (client/strategy-runner.ts), and
// examples/sma_crossover.py through run_strategy (python/simutrador/runner.py). AAPL 1m 2023-01-03..2023-07-14
// (51,690 ticks, the workload of e2e-ticks.ts), lockstep (max_pending_ticks 1), include_bars, every_fill.
// Rounds interleave the two clients; each run prints ticks/s, the client's CPU per tick, and the server's
// (this process's) CPU per tick. Figures only; nothing asserts timing.
//
// Run:      npx tsx scripts/bench/python-lockstep.ts [--rounds=3] [--end=2023-07-14] [--python=/usr/bin/python3]
// Profile:  npx tsx scripts/bench/python-lockstep.ts --rounds=1 --profile   (the Python client under cProfile, top 25)
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { findPython } from '../../client/cli/python-strategy.js'
import { createStrategy } from '../../examples/sma-crossover.js'
import { benchUsers, cpuSince, int, isWorker, listenApp, machineLine, serveWorker, WorkerProcess, type CpuSpent } from './lib.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SYMBOL = 'AAPL'
const START = '2023-01-03'

interface RunArgs { baseUrl: string, key: string, end: string }
/** What each client reports: its run, measured around run_strategy / runStrategy (session create included). */
interface ClientRun { ticks: number, wall_ms: number, cpu_ms: number, final_equity: string, orders: number }

async function typescriptRun (args: RunArgs): Promise<ClientRun> {
  const client = new SessionClient({ url: args.baseUrl, apiKey: args.key })
  await client.connect()
  try {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const run = await runStrategy(client, createStrategy(), { session: { symbols: [SYMBOL], start_date: START, end_date: args.end, timeframe: '1m' } })
    const wall = performance.now() - t0
    return { ticks: run.ticks, wall_ms: wall, cpu_ms: cpuSince(cpu0).totalMs, final_equity: run.complete.final_equity, orders: run.orders_sent }
  } finally {
    await client.close()
  }
}

// The Python side: the example strategy through the SDK's runner, one JSON line out.
const PYTHON_CLIENT = `
import asyncio, json, sys, time
from simutrador import SessionClient, run_strategy
from simutrador.loader import load_strategy

async def main(url, key, end, profile):
    strategy = load_strategy("examples/sma_crossover.py")
    async with SessionClient(url, api_key=key) as client:
        c0, t0 = time.process_time(), time.perf_counter()
        run = await run_strategy(client, strategy, {"symbols": ["${SYMBOL}"], "start_date": "${START}", "end_date": end, "timeframe": "1m"})
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"ticks": run.ticks, "wall_ms": wall * 1000, "cpu_ms": cpu * 1000, "final_equity": str(run.results.final_equity), "orders": run.orders_sent}))

profile = len(sys.argv) > 4
if profile:
    import cProfile, pstats, io
    prof = cProfile.Profile()
    prof.enable()
asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], profile))
if profile:
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    sys.stderr.write(out.getvalue())
`

async function pythonRun (python: string, args: RunArgs, profile: boolean): Promise<ClientRun> {
  return await new Promise((resolve, reject) => {
    execFile(python, ['-c', PYTHON_CLIENT, args.baseUrl, args.key, args.end, ...(profile ? ['profile'] : [])], {
      cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PYTHONPATH: `${ROOT}python` }
    }, (err, stdout, stderr) => {
      if (err !== null) { reject(new Error(`python client failed: ${err.message}\n${stderr}`)); return }
      if (profile) process.stdout.write(stderr)
      resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ClientRun)
    })
  })
}

function line (label: string, r: ClientRun, server: CpuSpent): string {
  const rate = r.ticks / (r.wall_ms / 1000)
  return `  ${label.padEnd(11)} ${int(r.ticks)} ticks in ${(r.wall_ms / 1000).toFixed(2)} s → ${int(rate).padStart(6)} ticks/s; ` +
    `client CPU ${(1000 * r.cpu_ms / r.ticks).toFixed(1)} µs/tick, server CPU ${(1000 * server.totalMs / r.ticks).toFixed(1)} µs/tick; ` +
    `${r.orders} orders, final equity ${r.final_equity}`
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const opt = (name: string, fallback: string): string => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
  const rounds = Number(opt('rounds', '3'))
  const end = opt('end', '2023-07-14')
  const profile = argv.includes('--profile')
  const flag = argv.find((a) => a.startsWith('--python='))?.slice('--python='.length)
  const { python } = await findPython(flag)
  const interpreter = python.executable ?? python.candidate.command
  console.log(machineLine())
  console.log(`server in pid ${process.pid}; clients in child processes: TypeScript (node ${process.version}) and Python ${python.version ?? '?'} ` +
    `(${interpreter}, websockets ${python.websockets ?? '?'}); ${SYMBOL} 1m ${START}..${end}, lockstep`)
  const users = benchUsers(4, 'pylock')
  const { app, baseUrl } = await listenApp(users)
  const worker = new WorkerProcess(fileURLToPath(import.meta.url))
  const ratios: number[] = []
  try {
    // Warm-up (JIT, the demo walk, the interpreters' imports): one week each, not reported.
    await worker.call<ClientRun>('ts', { baseUrl, key: users[0].key, end: '2023-01-09' } satisfies RunArgs)
    await pythonRun(interpreter, { baseUrl, key: users[1].key, end: '2023-01-09' }, false)
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round} of ${rounds}: ${machineLine().replace(/^.*load average/, 'load average')}`)
      let cpu0 = process.cpuUsage()
      const ts = await worker.call<ClientRun>('ts', { baseUrl, key: users[2].key, end } satisfies RunArgs, 600_000)
      console.log(line('TypeScript', ts, cpuSince(cpu0)))
      cpu0 = process.cpuUsage()
      const py = await pythonRun(interpreter, { baseUrl, key: users[3].key, end }, profile)
      console.log(line('Python', py, cpuSince(cpu0)))
      const ratio = (py.ticks / py.wall_ms) / (ts.ticks / ts.wall_ms)
      ratios.push(ratio)
      console.log(`  Python ÷ TypeScript: ${(100 * ratio).toFixed(0)} %${py.final_equity === ts.final_equity ? ' (same final equity)' : ` (final equity DIFFERS: ${py.final_equity} vs ${ts.final_equity})`}`)
    }
    console.log(`\nsummary: Python lockstep at ${ratios.map((r) => `${(100 * r).toFixed(0)} %`).join(', ')} of the TypeScript SDK's ticks/s (goal ≥ 60 %); ` +
      'backtrader, in-process with no network, is quoted at ~8,000 bars/s for this strategy')
  } finally {
    await worker.close()
    await app.close()
  }
}

if (isWorker()) {
  serveWorker({ ts: async (args) => await typescriptRun(args as RunArgs) })
} else {
  await main()
}
