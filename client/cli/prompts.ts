// Interactive input for terminal users (@clack/prompts): the API key prompt and the session wizard.
// Only called when stdin and stdout are terminals; scripts get usage errors instead of a hanging prompt.
import { cancel, intro, isCancel, outro, password, select, text } from '@clack/prompts'
import type { CreateSessionBody } from '../../schemas/sessions.js'
import { OperationError } from './errors.js'

function orCancel<T> (value: T): Exclude<T, symbol> {
  if (isCancel(value)) {
    cancel('Cancelled.')
    throw new OperationError({ error_code: 'CANCELLED', message: 'Cancelled by the user' })
  }
  return value as Exclude<T, symbol>
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

export async function promptApiKey (): Promise<string> {
  return orCancel(await password({
    message: 'API key (printed by `npm start`)',
    validate: (v) => (v === undefined || v.trim().length < 16 ? 'An API key has at least 16 characters' : undefined)
  })).trim()
}

/** Ask for what the flags and config file left out; `known` pre-fills the answers. */
export async function sessionWizard (known: Partial<CreateSessionBody>): Promise<Partial<CreateSessionBody>> {
  intro('New simulation session')
  const symbols = known.symbols ?? orCancel(await text({
    message: 'Symbols (comma-separated)',
    placeholder: 'AAPL,MSFT',
    validate: (v) => (v === undefined || v.split(',').map((s) => s.trim()).filter(Boolean).length === 0 ? 'At least one symbol' : undefined)
  })).split(',').map((s) => s.trim()).filter(Boolean)
  const start = known.start_date ?? orCancel(await text({ message: 'Start date', initialValue: '2023-01-03', validate: (v) => (v !== undefined && DATE.test(v) ? undefined : 'YYYY-MM-DD') }))
  const end = known.end_date ?? orCancel(await text({ message: 'End date', initialValue: '2023-12-29', validate: (v) => (v !== undefined && DATE.test(v) ? undefined : 'YYYY-MM-DD') }))
  const timeframe = known.timeframe ?? orCancel(await select<NonNullable<CreateSessionBody['timeframe']>>({
    message: 'Bar size',
    options: [{ value: '1d', label: 'daily' }, { value: '1h', label: 'hourly' }, { value: '1m', label: 'one minute' }]
  }))
  const capital = known.initial_capital ?? orCancel(await text({
    message: 'Initial capital',
    initialValue: '100000',
    validate: (v) => (v !== undefined && /^\d+(\.\d+)?$/.test(v) ? undefined : 'A decimal amount, e.g. 100000')
  }))
  outro('Validating and creating…')
  return { ...known, symbols, start_date: start, end_date: end, timeframe, initial_capital: capital }
}
