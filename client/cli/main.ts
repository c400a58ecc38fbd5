// The `simutrador` command line (bin/simutrador.js runs this file): auth, session and market commands over
// the generated REST client. Exit codes: 0 ok, 1 the operation failed (server error, network), 2 usage,
// 130 interrupted (Ctrl-C, or a cancelled prompt).
import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import { asOperationError, collect, DEFAULT_SERVER, describeServers, type GlobalOptions } from './api.js'
import { registerAuthCommands } from './commands/auth.js'
import { registerMarketCommands } from './commands/market.js'
import { registerSessionCommands } from './commands/session.js'
import { registerSimulateCommands } from './commands/simulate.js'
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, InterruptedError, interruptCommand, OperationError, StrategyFailedError, UsageError } from './errors.js'
import { printOperationError, printStrategyError, printUsageError } from './output.js'

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string }

export function buildProgram (): Command {
  const program = new Command()
  program
    .name('simutrador')
    .description('Command-line client of the SimuTrador trading-simulation server')
    .version(version)
    .option('--url <url>', `server base URL; repeat it to name several instances of one service, tried in order (env SIMUTRADOR_URL, comma-separated; default ${DEFAULT_SERVER})`, collect)
    .option('--server <url>', 'the older name of --url (repeatable too)', collect)
    .option('--api-key <key>', 'API key for this command (env SIMUTRADOR_API_KEY; default: the stored login)')
    .option('--json', 'machine-readable output (errors too, as {error_code, message, details})')
    // Settings below are copied to every subcommand created afterwards.
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Getting started:
  npm start                                   # prints a development API key
  simutrador auth login --api-key sk_dev_…
  simutrador session create --symbols AAPL,MSFT --start 2023-01-03 --end 2023-06-30
  simutrador session list
  simutrador simulate run examples/sma-crossover.ts --symbols AAPL --start 2023-01-03 --end 2023-12-29

Several instances of one service (requests go to the first that answers; a run moves on when its
instance drops):
  simutrador session list --url http://10.0.0.1:8003 --url http://10.0.0.2:8003
  SIMUTRADOR_URL=http://10.0.0.1:8003,http://10.0.0.2:8003 simutrador simulate run …

Exit codes: 0 ok, 1 the operation failed, 2 usage error, 130 interrupted (Ctrl-C).
Config dir: $SIMUTRADOR_CONFIG_DIR, else $XDG_CONFIG_HOME/simutrador, else ~/.config/simutrador.`)
  registerAuthCommands(program)
  registerSessionCommands(program)
  registerMarketCommands(program)
  registerSimulateCommands(program)
  return program
}

/** Run with `argv` (without node and script) and resolve with the exit code. */
export async function run (argv: string[]): Promise<number> {
  const program = buildProgram()
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv, { from: 'user' })
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end through exitOverride too; commander has already printed them.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK
      return EXIT_USAGE
    }
    if (err instanceof InterruptedError) {
      if (err.message !== '') process.stderr.write(`${err.message}\n`)
      return EXIT_INTERRUPTED
    }
    if (err instanceof UsageError) {
      printUsageError(err)
      return EXIT_USAGE
    }
    if (err instanceof StrategyFailedError) {
      printStrategyError(err, json)
      return EXIT_FAILURE
    }
    const op = err instanceof OperationError ? err : asOperationError(err, describeServers(program.opts<GlobalOptions>()))
    if (op !== undefined) {
      printOperationError(op, json)
      return EXIT_FAILURE
    }
    printOperationError(new OperationError({ error_code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) }), json)
    if (process.env.SIMUTRADOR_DEBUG !== undefined && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
    return EXIT_FAILURE
  }
}

// Ctrl-C anywhere: one line and exit 130, never a stack. A command that must clean up first (watch) takes
// it with handleInterrupt and ends through InterruptedError instead.
process.on('SIGINT', () => {
  if (interruptCommand()) return
  process.stderr.write('\nInterrupted\n')
  process.exit(EXIT_INTERRUPTED)
})

process.exitCode = await run(process.argv.slice(2))
