// The initial-capital rule of a new session, in one place for the session manager and the CLI wizard: below
// the minimum is the plan's INSUFFICIENT_CAPITAL, above the maximum CAPITAL_ABOVE_MAXIMUM (both 422).
import { AppError } from '../app-error.js'
import { formatMoney, parseDecimal, type Fixed } from '../money.js'
import { MAX_INITIAL_CAPITAL, MIN_INITIAL_CAPITAL } from '../plans.js'

const MIN_CAPITAL = parseDecimal(MIN_INITIAL_CAPITAL)
const MAX_CAPITAL = parseDecimal(MAX_INITIAL_CAPITAL)

/**
 * The error for a capital outside [MIN, MAX], or undefined when it is allowed (the bounds themselves are):
 * one message naming both bounds, and details naming the field, the bound crossed (`limit`), both bounds
 * and the value.
 */
export function capitalOutOfRange (value: Fixed): AppError | undefined {
  if (value >= MIN_CAPITAL && value <= MAX_CAPITAL) return undefined
  const min = formatMoney(MIN_CAPITAL)
  const max = formatMoney(MAX_CAPITAL)
  return new AppError(value < MIN_CAPITAL ? 'INSUFFICIENT_CAPITAL' : 'CAPITAL_ABOVE_MAXIMUM', `initial_capital must be from ${min} to ${max} (got ${formatMoney(value)})`, {
    field: 'initial_capital',
    fields: ['initial_capital'],
    limit: value < MIN_CAPITAL ? min : max,
    min,
    max,
    value: formatMoney(value)
  })
}
