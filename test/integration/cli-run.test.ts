// `simutrador session start | pause | resume | cancel | results | watch` as a user runs them: the real CLI
// as a child process (no terminal) against a real listening server. Results are checked against the REST
// body the server returns, money in tables at 2 decimals and at full precision in --json and CSV; watch
// follows a live run over the WebSocket and exits 0 / 1 / 130 as the run finishes, is cancelled, or the
// user presses Ctrl-C.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { cliWithKey, json, spawnCli as spawnChild, tempDir, type Cli, type RunningCli, type Teardown } from '../fixtures/cli.js'
import { formatMoney } from '../../client/cli/output.js'

interface Results {
  completed: boolean
  metrics: { final_equity: string, initial_capital: string, total_commission: string, realized_pnl: string, total_trades: number, bars_processed: number }
  trades: Array<Record<string, unknown>>
  equity_curve: Array<Record<string, unknown>>
}

/** The compiled CLI as a child whose output is read while it runs (watch), with its exit code when it ends. */
function spawnCli (args: string[], url: string, configDir: string, key: string): RunningCli {
  return spawnChild(args, { url, configDir, env: { SIMUTRADOR_API_KEY: key }, compiled: true })
}

t.test('simutrador session start/pause/resume/cancel/results/watch', async (t) => {
  const { baseUrl } = await listen(t)
  const withKey = async (t: Teardown, key: string = KEYS.dev): Promise<Cli> => (await cliWithKey(t, baseUrl, key)).cli
  const create = async (cli: Cli, extra: string[] = []): Promise<string> => {
    const r = await cli(['session', 'create', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-03-31', '--capital', '25000.125', '--json', ...extra])
    if (r.code !== 0) throw new Error(r.stderr)
    return json<{ session_id: string }>(r).session_id
  }
  const restResults = async (id: string, key: string = KEYS.dev): Promise<Results> => {
    const res = await fetch(`${baseUrl}/sessions/${id}/results`, { headers: { authorization: `Bearer ${await tokenFor(baseUrl, key)}` } })
    return await res.json() as Results
  }

  t.test('a strategy run: results table at 2 decimals, --json and CSV at full precision, --out writes a file', async (t) => {
    const cli = await withKey(t)
    const run = await cli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29', '--capital', '100000.005', '--json'])
    t.equal(run.code, 0, run.stderr)
    const id = json<{ session: { session_id: string } }>(run).session.session_id
    const expected = await restResults(id)
    t.ok(expected.trades.length > 0, 'the strategy traded')

    const table = await cli(['session', 'results', id])
    t.equal(table.code, 0, table.stderr)
    t.match(table.stdout, new RegExp(`^Session\\s+${id} \\(AAPL, 2023-01-03 → 2023-12-29, 1d\\)`))
    t.match(table.stdout, /^Initial capital\s+100000\.00$/m, 'money at 2 decimals (half-even: .005 → .00)')
    t.match(table.stdout, new RegExp(`^Final equity\\s+${formatMoney(expected.metrics.final_equity).replace('.', '\\.')}$`, 'm'))
    t.match(table.stdout, new RegExp(`^Commission\\s+${formatMoney(expected.metrics.total_commission).replace('.', '\\.')}$`, 'm'))
    t.match(table.stdout, new RegExp(`^Trades\\s+${expected.metrics.total_trades} closed \\(`, 'm'))
    for (const line of table.stdout.split('\n').filter((l) => /^(Initial capital|Final equity|Realized P&L|Commission) /.test(l))) {
      t.match(line, /\s-?\d+\.\d{2}$/, `${line.split(/\s{2,}/)[0]} has 2 decimals`)
    }

    const asJson = await cli(['session', 'results', id, '--json'])
    t.same(json(asJson), expected, '--json is the server body as it is (full precision)')

    const trades = await cli(['session', 'results', id, '--csv', 'trades'])
    t.equal(trades.code, 0, trades.stderr)
    const lines = trades.stdout.split('\r\n')
    t.equal(lines.pop(), '', 'ends with CRLF')
    t.equal(lines[0], 'trade_id,symbol,direction,quantity,entry_time,exit_time,avg_entry_price,avg_exit_price,gross_pnl,commission,net_pnl,return_pct,open_at_end')
    t.equal(lines.length - 1, expected.trades.length, 'one line per trade')
    const first = expected.trades[0]
    t.equal(lines[1], Object.values(first).map(String).join(','), 'values as the server sent them')

    const file = join(await tempDir(t), 'equity.csv')
    const out = await cli(['session', 'results', id, '--csv', 'equity', '--out', file])
    t.equal(out.code, 0, out.stderr)
    t.equal(out.stdout, `Wrote ${expected.equity_curve.length} equity points to ${file}\n`)
    const csv = (await readFile(file, 'utf8')).split('\r\n')
    t.equal(csv[0], 'date,sim_time,equity,cash,drawdown_pct')
    t.equal(csv[1], Object.values(expected.equity_curve[0]).map(String).join(','))
    t.equal(csv.length - 2, expected.equity_curve.length)

    // A finished run: watch prints the table and exits 0 at once.
    const watched = await cli(['session', 'watch', id])
    t.equal(watched.code, 0, watched.stderr)
    t.match(watched.stdout, /^completed .* equity \d+\.\d{2} {2}cash \d+\.\d{2}/m)
    t.match(watched.stdout, /^Final equity\s+\d+\.\d{2}$/m)
  })

  t.test('watch follows a headless run from ready to completed; start prints the run state', async (t) => {
    const cli = await withKey(t)
    const id = await create(cli)
    const dir = await tempDir(t)
    const watcher = spawnCli(['session', 'watch', id, '--json'], baseUrl, dir, KEYS.dev)
    const text = spawnCli(['session', 'watch', id], baseUrl, dir, KEYS.dev)
    await Promise.all([watcher.waitFor(/"state":"ready"/), text.waitFor(/waiting for its run to start/)])
    const started = await cli(['session', 'start', id])
    t.equal(started.code, 0, started.stderr)
    t.match(started.stdout, new RegExp(`^Started session ${id}: (running|completed), \\d+/\\d+ ticks\\n$`))
    const r = await watcher.exit
    t.equal(r.code, 0, r.stderr)
    const updates = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { state: string, ticks: number, total_ticks: number, equity: string, cash: string })
    t.equal(updates[0].state, 'ready')
    const last = updates[updates.length - 1]
    t.match(last, { state: 'completed', equity: (await restResults(id)).metrics.final_equity })
    t.equal(last.ticks, last.total_ticks, 'every tick replayed')
    t.equal(updates.find((u) => u.state === 'ready')?.equity, '25000.125', '--json keeps full precision')
    const shown = await text.exit
    t.equal(shown.code, 0, shown.stderr)
    t.match(shown.stdout, /^completed +\[█+\] 100% {2}(\d+)\/\1 ticks {2}equity 25000\.12 {2}cash 25000\.12/m, 'the last line: done, money at 2 decimals')
    t.equal(shown.stdout.match(/^Final equity /gm)?.length, 1, 'the results table once')
  })

  t.test('pause, resume and cancel a run; watch of a cancelled run exits 1', async (t) => {
    const cli = await withKey(t)
    const id = await create(cli)
    // Flow control without a strategy: the run sends its first tick and waits, so it stays live for the test.
    const started = await cli(['session', 'start', id, '--flow-control', '--json'])
    t.equal(started.code, 0, started.stderr)
    t.match(json(started), { session_id: id, state: 'running' })

    const dir = await tempDir(t)
    const watcher = spawnCli(['session', 'watch', id], baseUrl, dir, KEYS.dev)
    await watcher.waitFor(/^running /m)

    const paused = await cli(['session', 'pause', id])
    t.equal(paused.code, 0, paused.stderr)
    t.match(paused.stdout, `Paused session ${id}: paused`)
    await watcher.waitFor(/^paused /m)
    const again = await cli(['session', 'pause', id])
    t.equal(again.code, 1)
    t.match(again.stderr, /^INVALID_STATE: /m)
    const resumed = await cli(['session', 'resume', id, '--json'])
    t.equal(resumed.code, 0, resumed.stderr)
    t.match(json(resumed), { session_id: id, state: 'running' })

    const cancelled = await cli(['session', 'cancel', id])
    t.equal(cancelled.code, 0, cancelled.stderr)
    t.match(cancelled.stdout, `Cancelled session ${id}: completed`)
    const r = await watcher.exit
    t.equal(r.code, 1, 'a cancelled run is not a success')
    t.match(r.stderr, new RegExp(`^SIMULATION_CANCELLED: Session ${id} was cancelled after \\d+/\\d+ ticks`, 'm'))
    t.notMatch(r.stderr, /\n\s+at /, 'no stack')

    const results = await cli(['session', 'results', id])
    t.equal(results.code, 0, results.stderr)
    t.match(results.stdout, /^Status\s+not finished/m)
    const later = await cli(['session', 'watch', id, '--json'])
    t.equal(later.code, 1)
    // One JSON line per update, then the error body as every command prints it with --json.
    const [update, ...body] = later.stdout.split('\n')
    t.match(JSON.parse(update), { session_id: id, state: 'completed', total_ticks: 62 })
    t.match(JSON.parse(body.join('\n')), { error_code: 'SIMULATION_CANCELLED', details: { session_id: id } }, '--json prints the error body')
  })

  t.test('Ctrl-C stops watching with exit 130 and no stack; the run goes on', async (t) => {
    const cli = await withKey(t)
    const id = await create(cli)
    t.equal((await cli(['session', 'start', id, '--flow-control'])).code, 0)
    const watcher = spawnCli(['session', 'watch', id], baseUrl, await tempDir(t), KEYS.dev)
    await watcher.waitFor(/^running /m)
    watcher.kill('SIGINT')
    const r = await watcher.exit
    t.equal(r.code, 130)
    t.equal(r.stderr, 'Interrupted\n')
    const status = await cli(['session', 'status', id, '--json'])
    t.match(json(status), { state: 'running' }, 'watching stopped, not the run')
  })

  t.test('Ctrl-C during simulate run exits 130 with one line, no stack', async (t) => {
    // Minute bars over a year: the run is still going when the signal comes.
    const runner = spawnCli(['simulate', 'run', 'examples/sma-crossover.ts', '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-12-29', '--timeframe', '1m'], baseUrl, await tempDir(t), KEYS.dev)
    await runner.waitFor(/sess_\w+ +\[/)
    runner.kill('SIGINT')
    const r = await runner.exit
    t.equal(r.code, 130)
    t.match(r.stderr, /\nInterrupted\n$/)
    t.notMatch(r.stderr, /\n\s+at /, 'no stack')
  })

  t.test('errors: unknown id, another user\'s session, bad --csv, --out without --csv, results before a run', async (t) => {
    const cli = await withKey(t)
    const bob = await withKey(t, KEYS.bob)
    for (const args of [['results'], ['watch'], ['start'], ['pause'], ['resume'], ['cancel']]) {
      const r = await cli(['session', ...args, 'sess_doesnotexist'])
      t.equal(r.code, 1, `${args[0]}: exit 1`)
      t.match(r.stderr, /^SESSION_NOT_FOUND: Session sess_doesnotexist not found/, `${args[0]}: the server's code and message`)
    }
    const mine = await create(cli)
    const [theirs, theirsWatch] = await Promise.all([bob(['session', 'results', mine, '--json']), bob(['session', 'watch', mine])])
    t.equal(theirs.code, 1)
    t.match(json(theirs), { error_code: 'SESSION_NOT_FOUND' }, 'another user\'s session does not exist for them')
    t.equal(theirsWatch.code, 1)
    t.match(theirsWatch.stderr, /^SESSION_NOT_FOUND: /)

    // Money in every table at 2 decimals, exact in --json.
    const [status, list, raw] = await Promise.all([cli(['session', 'status', mine]), cli(['session', 'list', '--state', 'ready']), cli(['session', 'status', mine, '--json'])])
    t.match(status.stdout, /^Capital\s+25000\.12$/m)
    t.match(status.stdout, /^Costs\s+commission 0\.005\/share \(min 0\.00\)/m, 'a per-share rate is not money: as the server has it')
    t.match(list.stdout, new RegExp(`^${mine}\\s+ready\\s+AAPL\\s+\\S+\\s+1d\\s+25000\\.12\\s`, 'm'))
    t.match(json(raw), { initial_capital: '25000.125' })

    const badCsv = await cli(['session', 'results', mine, '--csv', 'orders'])
    t.equal(badCsv.code, 2)
    t.match(badCsv.stderr, /argument 'orders' is invalid\. Allowed choices are trades, equity/)
    const outAlone = await cli(['session', 'results', mine, '--out', 'x.csv'])
    t.equal(outAlone.code, 2)
    t.match(outAlone.stderr, 'error: --out needs --csv trades|equity')

    const notRun = await cli(['session', 'results', mine])
    t.equal(notRun.code, 1, notRun.stdout)
    t.match(notRun.stderr, /^[A-Z_]+: /, 'the server\'s refusal, with its code')
    const twice = await cli(['session', 'start', mine])
    t.equal(twice.code, 0, twice.stderr)
    const third = await cli(['session', 'start', mine])
    t.equal(third.code, 1)
    t.match(third.stderr, /^INVALID_STATE: /)
  })
})
