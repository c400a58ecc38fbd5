// `simutrador market symbols | validate`: browse the symbol catalogue and check symbols and dates before
// creating a session. The verdict printer, the validation error and the catalogue check of the wizard's symbols
// are shared with `session create`.
import { Option, type Command } from 'commander'
import type { Schemas } from '../../../generated-client/index.js'
import { authedClient, contextFrom, unwrap, type AuthedClient, type GlobalOptions } from '../api.js'
import { OperationError, UsageError } from '../errors.js'
import { formatTable, printJson, printLine } from '../output.js'

type Validation = Schemas['MarketDataValidation']

export function registerMarketCommands (program: Command): void {
  const market = program.command('market').description('Browse the symbol catalogue and validate symbols and dates')

  market.command('symbols')
    .description('List available symbols with their markets and date ranges')
    .addOption(new Option('--asset-class <class>', 'only this asset class').choices(['stock', 'forex', 'crypto']))
    .addOption(new Option('--market <market>', 'only this market').choices(['NYSE', 'NASDAQ', 'FOREX', 'CRYPTO']))
    .option('--search <text>', 'case-insensitive match on symbol and name')
    .option('--limit <n>', 'at most this many (default 100)')
    .action(async (opts: { assetClass?: Schemas['AssetClass'], market?: Schemas['Market'], search?: string, limit?: string }, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const limit = opts.limit === undefined ? undefined : Number(opts.limit)
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`--limit: '${opts.limit}' is not a positive integer`)
      const { client, persist } = await authedClient(ctx)
      const list = unwrap(await client.GET('/market-data/symbols', {
        params: { query: { ...(opts.assetClass !== undefined ? { asset_class: opts.assetClass } : {}), ...(opts.market !== undefined ? { market: opts.market } : {}), ...(opts.search !== undefined ? { q: opts.search } : {}), ...(limit !== undefined ? { limit } : {}) } }
      }))
      await persist()
      if (ctx.json) { printJson(list); return }
      if (list.symbols.length === 0) { printLine('No matching symbols.'); return }
      printLine(formatTable(
        ['SYMBOL', 'NAME', 'CLASS', 'MARKET', 'DAILY DATA', 'TIMEFRAMES', 'SOURCE'],
        list.symbols.map((s) => {
          const daily = s.timeframes.find((tf) => tf.timeframe === '1d')
          return [s.symbol, s.name, s.asset_class, s.market, daily !== undefined ? `${daily.first_date}..${daily.last_date}` : '-', s.timeframes.map((tf) => tf.timeframe).join(','), s.synthetic ? `${s.source} (synthetic)` : s.source]
        })
      ))
      if (list.total > list.symbols.length) printLine(`… ${list.total - list.symbols.length} more (use --limit or --search)`)
    })

  market.command('validate')
    .description('Check that symbols exist and have data for the dates (exit 1 when not)')
    .requiredOption('--symbols <list>', 'comma-separated symbols')
    .requiredOption('--start <date>', 'first day, YYYY-MM-DD')
    .requiredOption('--end <date>', 'last day, YYYY-MM-DD')
    .addOption(new Option('--timeframe <tf>', 'bar size').choices(['1d', '1h', '1m']).default('1d'))
    .action(async (opts: { symbols: string, start: string, end: string, timeframe: Schemas['Timeframe'] }, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const symbols = opts.symbols.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
      if (symbols.length === 0) throw new UsageError('--symbols: at least one symbol')
      const { client, persist } = await authedClient(ctx)
      const verdict = unwrap(await client.POST('/market-data/validate', { body: { symbols, start_date: opts.start, end_date: opts.end, timeframe: opts.timeframe } }))
      await persist()
      if (ctx.json) {
        printJson(verdict)
        if (!verdict.valid) process.exitCode = 1
        return
      }
      printVerdicts(verdict, verdict.valid ? process.stdout : process.stderr)
      if (!verdict.valid) throw validationError(verdict)
      printLine('Valid.')
    })
}

/** Per-symbol verdicts and the date-range verdict as a table. */
export function printVerdicts (v: Validation, out: NodeJS.WritableStream): void {
  const rows = v.symbols.map((s) => [
    s.input,
    s.symbol ?? '-',
    s.valid ? 'ok' : (s.error_code ?? 'invalid'),
    s.first_date !== undefined && s.last_date !== undefined ? `${s.first_date}..${s.last_date}` : '-',
    s.trading_sessions !== undefined ? String(s.trading_sessions) : '-',
    [s.valid ? '' : (s.message ?? ''), s.suggestions !== undefined && s.suggestions.length > 0 ? `did you mean ${s.suggestions.join(', ')}?` : ''].filter(Boolean).join('; ')
  ])
  out.write(`${formatTable(['INPUT', 'SYMBOL', 'VERDICT', 'DATA', 'SESSIONS', 'NOTE'], rows)}\n`)
  const d = v.date_range
  out.write(`Dates ${d.start_date} → ${d.end_date} (${d.timeframe}): ${d.valid ? ['ok', d.trading_sessions !== undefined ? `${d.trading_sessions} trading sessions` : '', d.estimated_ticks !== undefined ? `~${d.estimated_ticks} ticks` : ''].filter(Boolean).join(', ') : `${d.error_code ?? 'invalid'}: ${d.message ?? ''}`}\n`)
}

/** The first problem as an OperationError, with every symbol's suggestions in its details. */
export function validationError (v: Validation): OperationError {
  const first = v.errors[0]
  const suggestions = Object.fromEntries(v.symbols.filter((s) => !s.valid && s.suggestions !== undefined).map((s) => [s.input, s.suggestions ?? []]))
  return new OperationError({
    error_code: first?.error_code ?? 'VALIDATION_FAILED',
    message: v.errors.length > 1 ? `${first?.message ?? 'Validation failed'} (and ${v.errors.length - 1} more)` : (first?.message ?? 'Validation failed'),
    details: { ...(first?.details ?? {}), ...(Object.keys(suggestions).length > 0 ? { suggestions } : {}), ...(v.errors.length > 1 ? { errors: v.errors } : {}) }
  })
}

/** Symbols looked up at once by `unknownSymbols` (a wizard answer has at most the plan's few symbols). */
const LOOKUPS_AT_ONCE = 4

/**
 * The server's word on the symbols the catalogue does not know (`INVALID_SYMBOL: Unknown symbol 'AAPX' (did
 * you mean AAPL?)`, one line each), or undefined when it knows them all. Any other failure (server down,
 * rate limited) is left to the create, which reports it: the prompt does not block on it.
 */
export async function unknownSymbols (client: AuthedClient['client'], symbols: readonly string[]): Promise<string | undefined> {
  const refused: string[] = []
  for (let i = 0; i < symbols.length; i += LOOKUPS_AT_ONCE) {
    const batch = symbols.slice(i, i + LOOKUPS_AT_ONCE)
    const answers = await Promise.all(batch.map(async (symbol) => {
      try {
        return await client.GET('/market-data/symbols/{symbol}', { params: { path: { symbol } } })
      } catch {
        return undefined
      }
    }))
    for (const answer of answers) {
      const e = answer?.error as { error_code?: unknown, message?: unknown } | undefined
      if (e?.error_code === 'INVALID_SYMBOL' && typeof e.message === 'string') refused.push(`INVALID_SYMBOL: ${e.message}`)
    }
  }
  return refused.length === 0 ? undefined : refused.join('\n')
}
