// `simutrador simulate run STRATEGY_FILE …`: loads a strategy module (it exports `createStrategy()`; a .py
// file is handed to the Python SDK's runner instead, python-strategy.ts),
// creates a session from the flags (or uses --session), runs it over the WebSocket SDK with a progress bar,
// and prints the results table (metrics from GET /sessions/{id}/results). A strategy that throws ends the
// run in state error; its stack is printed and the command exits 1. With several --url the run reconnects
// to the next instance when its connection drops, and resumes there.
import { Option, type Command } from 'commander'
import { SessionClient } from '../../session-client.js'
import { isStrategyError, runStrategy } from '../../strategy-runner.js'
import { authedClient, contextFrom, resolveApiKey, unwrap, type GlobalOptions } from '../api.js'
import { StrategyFailedError, UsageError } from '../errors.js'
import { formatFields, printJson, printLine, progressBar } from '../output.js'
import { runPythonFile } from '../python-strategy.js'
import { rejectionLines } from '../rejections.js'
import { loadStrategy } from '../strategy-loader.js'
import { addSessionBodyOptions, checked, sessionBodyFrom, type SessionBodyFlags } from './session.js'
import { resultsFields } from './session-run.js'

interface RunFlags extends SessionBodyFlags {
  session?: string
  window: string
  flowControl: boolean
  accountUpdates: 'every_fill' | 'every_tick' | 'on_demand'
  python?: string
  verbose?: boolean
}

export function registerSimulateCommands (program: Command): void {
  const simulate = program.command('simulate').description('Run a strategy against a session')

  addSessionBodyOptions(simulate.command('run')
    .description('Run STRATEGY_FILE (a .js, .mjs or .ts module exporting createStrategy(), or a .py file defining a simutrador.Strategy, from any folder) to the end of a new or existing session')
    .argument('<strategy_file>', 'e.g. examples/sma-crossover.ts or examples/sma_crossover.py'))
    .option('--session <session_id>', 'an existing session instead of a new one: a ready one is started; a paused or running one (after a server restart, a crash of this command, or a pause) is re-attached and goes on from its current step')
    .option('--window <n>', 'ticks the server may send ahead of your acks (1 = lockstep)', '1')
    .option('--no-flow-control', 'stream as fast as the socket drains (no acks)')
    .addOption(new Option('--account-updates <when>', 'account snapshots').choices(['every_fill', 'every_tick', 'on_demand']).default('every_fill'))
    .option('--verbose', 'after the results, list every rejected order with its reason (the count by error code is always printed)')
    .option('--python <path>', 'for a .py strategy: the Python interpreter (≥ 3.11 with websockets; default $SIMUTRADOR_PYTHON, then python3, then /usr/bin/python3)')
    .addHelpText('after', `
Examples:
  simutrador simulate run examples/sma-crossover.ts --symbols AAPL --start 2023-01-03 --end 2023-12-29
  simutrador simulate run examples/sma_crossover.py --symbols AAPL --start 2023-01-03 --end 2023-12-29
  simutrador simulate run examples/sma-crossover.ts --session sess_3kT9xQ2mVb7Lw1Rz   # re-attach a paused run`)
    .action(async (file: string, flags: RunFlags, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const window = Number(flags.window)
      if (!Number.isInteger(window) || window < 1 || window > 1000) throw new UsageError(`--window: '${flags.window}' must be an integer 1..1000`)
      let session: string | ReturnType<typeof checked>
      if (flags.session !== undefined) {
        session = flags.session
      } else {
        const body = await sessionBodyFrom(flags)
        const missing = (['symbols', 'start_date', 'end_date'] as const).filter((k) => body[k] === undefined)
        if (missing.length > 0) throw new UsageError(`missing ${missing.map((k) => ({ symbols: '--symbols', start_date: '--start', end_date: '--end' })[k]).join(', ')} (or pass --session)`)
        session = checked(body)
      }
      if (file.toLowerCase().endsWith('.py')) {
        const run = { session, window, flowControl: flags.flowControl, accountUpdates: flags.accountUpdates, json: ctx.json }
        process.exitCode = await runPythonFile(file, run, { flag: flags.python, servers: ctx.servers, apiKey: async () => (await resolveApiKey(ctx)).apiKey })
        return
      }
      const strategy = await loadStrategy(file)
      const { apiKey } = await resolveApiKey(ctx)
      // The whole list: the SDK connects to the first that answers and moves on to the next after a drop.
      const client = new SessionClient({ url: ctx.servers, apiKey })
      const tty = process.stderr.isTTY && !ctx.json
      let lastDecile = -1
      try {
        await client.connect()
        const run = await runStrategy(client, strategy, {
          session,
          start: { flow_control: flags.flowControl, max_pending_ticks: window, account_update_frequency: flags.accountUpdates, include_bars: true },
          progressEveryTicks: 100,
          onResume: ({ step, reconnected, session_id: id }) => {
            if (ctx.json) return
            process.stderr.write(`${tty ? '\n' : ''}${reconnected ? 'reconnected' : `attached to ${id}`}, resumed at step ${step}\n`)
          },
          onProgress: ({ ticks, total, session_id: id }) => {
            if (ctx.json) return
            const f = total === 0 ? 1 : ticks / total
            if (tty) {
              process.stderr.write(`\r${id}  ${progressBar(f, 30)}  ${ticks}/${total} ticks`)
            } else if (Math.floor(f * 10) > lastDecile) {
              lastDecile = Math.floor(f * 10)
              process.stderr.write(`${id}  ${progressBar(f, 30)}  ${ticks}/${total} ticks\n`)
            }
          }
        }).catch((err: unknown) => {
          // The strategy's own exception (the run is now in state error on the server): print its stack.
          if (isStrategyError(err)) throw new StrategyFailedError(file, err)
          throw err
        })
        if (tty) process.stderr.write('\n')
        const { client: rest, persist } = await authedClient(ctx)
        const id = run.session.session_id
        const [results, rejected] = await Promise.all([
          rest.GET('/sessions/{id}/results', { params: { path: { id } } }).then(unwrap),
          rest.GET('/sessions/{id}/orders', { params: { path: { id }, query: { status: 'rejected' } } }).then(unwrap)
        ])
        await persist()
        if (ctx.json) { printJson({ session: run.session, results, rejected_orders: rejected.orders }); return }
        printLine()
        printLine(formatFields(resultsFields(run.session, results, run.ticks)))
        for (const line of rejectionLines(rejected.orders, flags.verbose === true)) printLine(line)
      } finally {
        await client.close()
      }
    })
}
