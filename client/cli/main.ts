// The `simutrador` command line (bin/simutrador.js runs this file): auth, session and market commands over
// the generated REST client. Exit codes: 0 ok, 1 the operation failed (server error, network), 2 usage,
// 130 interrupted (Ctrl-C, or a cancelled prompt).
import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import { asOperationError, collect, DEFAULT_SERVER, describeServers, type GlobalOptions } from './api.js'
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, InterruptedError, interruptCommand, OperationError, StrategyFailedError, UsageError } from './errors.js'
import { printOperationError, printStrategyError, printUsageError } from './output.js'

// The package's own package.json by self-reference: the same from client/cli/ (tsx) and dist/client/cli/.
const { version } = createRequire(import.meta.url)('simutrador/package.json') as { version: string }

type Register = (program: Command) => void

/**
 * The command groups, in help order. Each module is imported only when its group is used, so that
 * `simutrador --version` or `simutrador auth status` does not load the WebSocket SDK, TypeBox or the prompts
 * (CLI start time, issue 12; scripts/bench/cli-start.ts).
 */
const COMMAND_GROUPS: Record<string, () => Promise<Register>> = {
  auth: async () => (await import('./commands/auth.js')).registerAuthCommands,
  session: async () => (await import('./commands/session.js')).registerSessionCommands,
  market: async () => (await import('./commands/market.js')).registerMarketCommands,
  simulate: async () => (await import('./commands/simulate.js')).registerSimulateCommands
}

/** Global options that take a value: their value is not the command's name. */
const VALUE_OPTIONS = new Set(['--url', '--server', '--api-key'])

/**
 * The groups `argv` needs: the one it names; none for a bare --version; all of them otherwise (help, no
 * command, or an unknown one, which commander answers with suggestions drawn from every name).
 */
export function groupsFor (argv: readonly string[]): string[] {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') break
    if (VALUE_OPTIONS.has(arg)) { i++; continue }
    if (arg.startsWith('-')) continue
    return Object.hasOwn(COMMAND_GROUPS, arg) ? [arg] : Object.keys(COMMAND_GROUPS)
  }
  const bareVersion = (argv.includes('--version') || argv.includes('-V')) && !argv.includes('--help') && !argv.includes('-h')
  return bareVersion ? [] : Object.keys(COMMAND_GROUPS)
}

/** The program with the command groups `argv` needs (all of them when `argv` is not given). */
export async function buildProgram (argv?: readonly string[]): Promise<Command> {
  const groups = argv === undefined ? Object.keys(COMMAND_GROUPS) : groupsFor(argv)
  const registers = await Promise.all(groups.map(async (g) => await COMMAND_GROUPS[g]()))
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
  for (const register of registers) register(program)
  return program
}

/** Run with `argv` (without node and script) and resolve with the exit code. */
export async function run (argv: string[]): Promise<number> {
  const program = await buildProgram(argv)
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
