// Interactive input for terminal users (@clack/prompts): the API key prompt and the session wizard.
// Only called when stdin and stdout are terminals; scripts get usage errors instead of a hanging prompt.
// Each answer is checked when it is given, with the server's own rules (the CreateSessionBody field schemas,
// the market-data date parser, the capital bounds) and, for symbols, the server's catalogue, so a wrong date
// or an unknown symbol is refused at its prompt, not at the end.
// Ctrl-C at any prompt ends the command with exit 130.
import { cancel, intro, isCancel, outro, password, select, text } from '@clack/prompts'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { DateString, MoneyInput, SymbolInput } from '../../schemas/common.js'
import { TIMEFRAMES } from '../../schemas/market-data.js'
import { CreateSessionBody } from '../../schemas/sessions.js'
import { formatDate, parseDate, utcDay } from '../../server/market-data/dates.js'
import { MAX_INITIAL_CAPITAL, MIN_INITIAL_CAPITAL } from '../../server/plans.js'
import { capitalOutOfRange } from '../../server/sessions/capital-bounds.js'
import { InterruptedError } from './errors.js'
import { decimalUnits } from './output.js'

function orCancel<T> (value: T): Exclude<T, symbol> {
  if (isCancel(value)) {
    cancel('Cancelled.')
    // clack has said it; main.ts only sets the exit code.
    throw new InterruptedError('')
  }
  return value as Exclude<T, symbol>
}

const isSymbol = TypeCompiler.Compile(SymbolInput)
const isDate = TypeCompiler.Compile(DateString)
const isMoney = TypeCompiler.Compile(MoneyInput.anyOf[1])
const MAX_SYMBOLS = CreateSessionBody.properties.symbols.maxItems ?? 500
const TIMEFRAME_LABELS: Record<typeof TIMEFRAMES[number], string> = { '1d': 'daily', '1h': 'hourly', '1m': 'one minute' }

/** The symbols of a comma-separated answer (trimmed, empty items dropped). */
export function splitSymbols (answer: string): string[] {
  return answer.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}

/** Why a symbols answer is refused (CreateSessionBody.symbols: 1..500 SymbolInput), or undefined. */
export function symbolsProblem (answer: string | undefined): string | undefined {
  const symbols = splitSymbols(answer ?? '')
  if (symbols.length === 0) return 'At least one symbol, e.g. AAPL,MSFT'
  if (symbols.length > MAX_SYMBOLS) return `At most ${MAX_SYMBOLS} symbols`
  const bad = symbols.find((s) => !isSymbol.Check(s))
  return bad === undefined ? undefined : `'${bad}' is not a symbol: up to ${SymbolInput.maxLength} letters, digits or : / . _ -`
}

/**
 * Why a date answer is refused, as the server would refuse it: the DateString pattern, then a real calendar
 * day (the market-data parser), not after `today`, and for the end date not before the start.
 */
export function dateProblem (answer: string | undefined, opts: { field: 'start_date' | 'end_date', start?: string, today?: number }): string | undefined {
  const v = (answer ?? '').trim()
  if (!isDate.Check(v)) return `${opts.field}: a date as YYYY-MM-DD, e.g. 2023-01-03`
  const day = parseDate(v)
  if (day === null) return `${opts.field}: ${v} is not a calendar date`
  const today = opts.today ?? utcDay(Date.now())
  if (day > today) return `${opts.field}: ${v} is in the future (today is ${formatDate(today)})`
  const start = opts.start !== undefined ? parseDate(opts.start) : null
  if (opts.field === 'end_date' && start !== null && day < start) return `end_date: ${v} is before the start date ${opts.start ?? ''}`
  return undefined
}

/**
 * Why a capital answer is refused: a decimal amount (MoneyInput) within the server's bounds, refused with the
 * server's own code and message (INSUFFICIENT_CAPITAL / CAPITAL_ABOVE_MAXIMUM), or undefined.
 */
export function capitalProblem (answer: string | undefined): string | undefined {
  const v = (answer ?? '').trim()
  const amount = isMoney.Check(v) ? decimalUnits(v) : undefined
  if (amount === undefined) return 'A decimal amount, e.g. 100000 or 25000.50'
  const err = capitalOutOfRange(amount)
  return err === undefined ? undefined : `${err.error_code}: ${err.message}`
}

export async function promptApiKey (): Promise<string> {
  return orCancel(await password({
    message: 'API key (printed by `npm start`)',
    validate: (v) => (v === undefined || v.trim().length < 16 ? 'An API key has at least 16 characters' : undefined)
  })).trim()
}

export interface WizardChecks {
  /** Why some of these symbols are refused by the server's catalogue (its message and suggestion), or undefined. */
  unknownSymbols?: (symbols: string[]) => Promise<string | undefined>
}

/** Ask for what the flags and config file left out; `known` pre-fills the answers. */
export async function sessionWizard (known: Partial<CreateSessionBody>, checks: WizardChecks = {}): Promise<Partial<CreateSessionBody>> {
  intro('New simulation session')
  const symbols = known.symbols ?? splitSymbols(orCancel(await text({
    message: 'Symbols (comma-separated)',
    placeholder: 'AAPL,MSFT',
    validate: async (v) => symbolsProblem(v) ?? await checks.unknownSymbols?.(splitSymbols(v ?? ''))
  })))
  const start = known.start_date ?? orCancel(await text({
    message: 'Start date (YYYY-MM-DD)',
    initialValue: '2023-01-03',
    validate: (v) => dateProblem(v, { field: 'start_date' })
  })).trim()
  const end = known.end_date ?? orCancel(await text({
    message: 'End date (YYYY-MM-DD)',
    initialValue: '2023-12-29',
    validate: (v) => dateProblem(v, { field: 'end_date', start })
  })).trim()
  const timeframe = known.timeframe ?? orCancel(await select<NonNullable<CreateSessionBody['timeframe']>>({
    message: 'Bar size',
    options: TIMEFRAMES.map((value) => ({ value, label: TIMEFRAME_LABELS[value] }))
  }))
  const capital = known.initial_capital ?? orCancel(await text({
    message: `Initial capital (${MIN_INITIAL_CAPITAL} to ${MAX_INITIAL_CAPITAL})`,
    initialValue: '100000',
    validate: capitalProblem
  })).trim()
  outro('Validating and creating…')
  return { ...known, symbols, start_date: start, end_date: end, timeframe, initial_capital: capital }
}
