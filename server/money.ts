// Exact money: fixed-point decimals held as bigint units of 1e-8, so cash never drifts the way floats do.
// Wire money is a decimal string (schemas/common.ts Money); input may be a number or a decimal string.
import { AppError } from './app-error.js'

/** A decimal amount scaled by 10^8 (one unit = 0.00000001). */
export type Fixed = bigint

export const SCALE_DIGITS = 8
const SCALE = 10n ** BigInt(SCALE_DIGITS)
const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/

export const ZERO: Fixed = 0n

/** Parse a decimal string exactly; more than 8 fractional digits are rounded half-even. */
export function parseDecimal (text: string, field = 'amount'): Fixed {
  const m = DECIMAL_RE.exec(text.trim())
  if (m === null) {
    throw new AppError('VALIDATION_FAILED', `${field} must be a decimal number`, { field, value: text })
  }
  const negative = m[1] === '-'
  const intPart = BigInt(m[2])
  const frac = m[3] ?? ''
  let units = intPart * SCALE
  if (frac.length <= SCALE_DIGITS) {
    units += BigInt(frac.padEnd(SCALE_DIGITS, '0'))
  } else {
    const kept = BigInt(frac.slice(0, SCALE_DIGITS))
    const rest = frac.slice(SCALE_DIGITS)
    units += roundHalfEvenDigits(kept, rest)
  }
  return negative ? -units : units
}

function roundHalfEvenDigits (kept: bigint, rest: string): bigint {
  const first = rest.charCodeAt(0) - 48
  const tailNonZero = /[1-9]/.test(rest.slice(1))
  if (first > 5 || (first === 5 && (tailNonZero || kept % 2n === 1n))) return kept + 1n
  return kept
}

/** Money input from the wire: a JSON number (its shortest decimal form) or a decimal string. */
export function parseMoney (value: number | string, field = 'amount'): Fixed {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new AppError('VALIDATION_FAILED', `${field} must be a finite number`, { field })
    }
    return parseDecimal(numberToDecimalString(value), field)
  }
  return parseDecimal(value, field)
}

/** fromNumber's integer path: below this magnitude, and units of 1e-8 as a double. */
const FAST_LIMIT = 1e7
const UNITS = 1e8

/**
 * A float price (e.g. from a bar) as the exact decimal its shortest representation denotes. Below 1e7 a
 * double's spacing (≤ 2⁻²⁹) is under half a unit, so a value with at most 8 decimals is exactly the integer
 * nearest value × 1e8 — confirmed by dividing back (a correctly rounded division that gives the value
 * again). Anything else (more decimals, larger, NaN) takes the decimal-string path.
 */
export function fromNumber (value: number): Fixed {
  if (value < FAST_LIMIT && value > -FAST_LIMIT) {
    const units = Math.round(value * UNITS)
    if (units / UNITS === value) return BigInt(units)
  }
  return parseDecimal(numberToDecimalString(value))
}

function numberToDecimalString (value: number): string {
  const s = String(value)
  if (!/e/i.test(s)) return s
  // Exponent form: toFixed with enough digits, then drop trailing zeros.
  return value.toFixed(20).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')
}

export function fromInteger (n: number | bigint): Fixed {
  return BigInt(n) * SCALE
}

/** Multiply two fixed amounts, rounding half-even back to 8 decimals. */
export function mul (a: Fixed, b: Fixed): Fixed {
  return divRoundHalfEven(a * b, SCALE)
}

/** Divide, rounding half-even to 8 decimals. */
export function div (a: Fixed, b: Fixed): Fixed {
  if (b === 0n) throw new RangeError('division by zero')
  return divRoundHalfEven(a * SCALE, b)
}

function divRoundHalfEven (num: bigint, den: bigint): bigint {
  const negative = (num < 0n) !== (den < 0n)
  const n = num < 0n ? -num : num
  const d = den < 0n ? -den : den
  let q = n / d
  const r = n % d
  const twice = r * 2n
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n
  return negative ? -q : q
}

/** Round to `digits` decimals (half-even), e.g. cents. */
export function round (a: Fixed, digits: number): Fixed {
  const step = 10n ** BigInt(SCALE_DIGITS - digits)
  return divRoundHalfEven(a, step) * step
}

export function toNumber (a: Fixed): number {
  return Number(a) / UNITS
}

/** Decimal string with at least `minDecimals` fractional digits and no float artefacts. */
export function formatMoney (a: Fixed, minDecimals = 2): string {
  // Amounts below 2⁵³ units (90 million) in double arithmetic, which is exact on integers in that range
  // (a larger amount converts to a double that is not a safe integer).
  const units = Number(a)
  if (Number.isSafeInteger(units)) return formatUnits(units, minDecimals)
  const negative = a < 0n
  const abs = negative ? -a : a
  const intPart = abs / SCALE
  let frac = (abs % SCALE).toString().padStart(SCALE_DIGITS, '0').replace(/0+$/, '')
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, '0')
  const body = frac.length > 0 ? `${intPart}.${frac}` : `${intPart}`
  return negative && abs !== 0n ? `-${body}` : body
}

function formatUnits (units: number, minDecimals: number): string {
  const abs = units < 0 ? -units : units
  let frac = abs % UNITS
  const intPart = (abs - frac) / UNITS
  let digits = SCALE_DIGITS
  while (frac !== 0 && frac % 10 === 0) { frac /= 10; digits-- }
  let text = frac === 0 ? '' : String(frac).padStart(digits, '0')
  if (text.length < minDecimals) text = text.padEnd(minDecimals, '0')
  const body = text.length > 0 ? `${intPart}.${text}` : `${intPart}`
  return units < 0 ? `-${body}` : body
}

export function min (a: Fixed, b: Fixed): Fixed { return a < b ? a : b }
export function max (a: Fixed, b: Fixed): Fixed { return a > b ? a : b }
export function abs (a: Fixed): Fixed { return a < 0n ? -a : a }
