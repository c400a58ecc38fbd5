import t from 'tap'
import { parseMoney, formatMoney, mul, div, round, fromNumber, fromInteger, parseDecimal, min, max, abs, toNumber } from '../../server/money.js'
import { AppError } from '../../server/app-error.js'

t.test('sums of cents stay exact where floats drift', async (t) => {
  let cash = parseMoney('0')
  for (let i = 0; i < 10; i++) cash += parseMoney(0.1)
  t.equal(formatMoney(cash), '1.00')
})

t.test('number and string inputs parse to the same amount', async (t) => {
  t.equal(parseMoney(100000), parseMoney('100000.00'))
  t.equal(formatMoney(parseMoney(1e-7)), '0.0000001')
})

t.test('multiplication rounds half-even at 8 decimals', async (t) => {
  t.equal(formatMoney(mul(parseMoney('0.005'), parseMoney('3'))), '0.015')
  t.equal(formatMoney(mul(parseMoney('0.00000001'), parseMoney('0.5'))), '0.00')
  t.equal(formatMoney(mul(parseMoney('0.00000003'), parseMoney('0.5'))), '0.00000002')
  t.equal(formatMoney(mul(parseMoney('-2.5'), parseMoney('4'))), '-10.00')
})

t.test('division and rounding', async (t) => {
  t.equal(formatMoney(div(parseMoney('10'), parseMoney('4'))), '2.50')
  t.equal(formatMoney(round(parseMoney('2.345'), 2)), '2.34')
  t.equal(formatMoney(round(parseMoney('2.355'), 2)), '2.36')
  t.throws(() => div(1n, 0n), RangeError)
})

t.test('float prices convert through their shortest decimal form', async (t) => {
  t.equal(formatMoney(fromNumber(101.37), 0), '101.37')
  t.equal(formatMoney(fromNumber(1.23456789123), 0), '1.23456789')
})

t.test('bad input is a VALIDATION_FAILED AppError', async (t) => {
  t.throws(() => parseDecimal('1e5', 'initial_capital'), AppError)
  t.throws(() => parseMoney(Number.NaN), new AppError('VALIDATION_FAILED', 'amount must be a finite number', { field: 'amount' }))
})

t.test('more than 8 decimals round half-even: ties to the even digit, anything past a 5 up, signs mirrored', async (t) => {
  t.equal(formatMoney(parseDecimal('0.123456785')), '0.12345678', 'tie, 8 even: stays')
  t.equal(formatMoney(parseDecimal('0.123456775')), '0.12345678', 'tie, 7 odd: up')
  t.equal(formatMoney(parseDecimal('0.1234567850001')), '0.12345679', 'past the tie: up')
  t.equal(formatMoney(parseDecimal('0.123456784999')), '0.12345678', 'under the tie: down')
  t.equal(formatMoney(parseDecimal('-0.123456775')), '-0.12345678')
  t.equal(formatMoney(parseDecimal('0.999999995')), '1.00', 'the carry reaches the integer part')
})

t.test('tiny float inputs in exponent form are read exactly, then rounded half-even', async (t) => {
  t.equal(parseMoney(5e-9), 0n, '0.000000005: tie to even 0')
  t.equal(parseMoney(1.5e-8), 2n, '0.000000015: tie to even 2')
  t.equal(parseMoney(2.5e-8), 2n, '0.000000025: tie to even 2')
  t.equal(parseMoney(1.2e-7), 12n)
})

function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return 'did not throw'
}

t.test('malformed decimals are refused with the field named; surrounding spaces are allowed', async (t) => {
  for (const bad of ['abc', '', '1.', '.5', '+1', '1,5', '1e21', '--1', '0x10']) {
    t.match(thrown(() => parseDecimal(bad, 'price')), { error_code: 'VALIDATION_FAILED', details: { field: 'price', value: bad } }, JSON.stringify(bad))
  }
  t.equal(parseDecimal(' 12.5 '), parseMoney(12.5))
  t.match(thrown(() => parseMoney(Number.POSITIVE_INFINITY, 'notional')), { error_code: 'VALIDATION_FAILED', details: { field: 'notional' } })
  t.match(thrown(() => parseMoney(1e21)), { error_code: 'VALIDATION_FAILED' }, 'a float too large for a plain decimal is refused, not mangled')
})

t.test('negative amounts round half-even symmetrically in mul, div and round', async (t) => {
  t.equal(formatMoney(mul(parseMoney('-0.00000003'), parseMoney('0.5'))), '-0.00000002')
  t.equal(formatMoney(mul(parseMoney('-0.00000005'), parseMoney('0.5'))), '-0.00000002')
  t.equal(formatMoney(div(parseMoney('10'), parseMoney('-4'))), '-2.50')
  t.equal(formatMoney(div(parseMoney('-1'), parseMoney('3'))), '-0.33333333')
  t.equal(formatMoney(div(parseMoney('2'), parseMoney('3'))), '0.66666667')
  t.equal(formatMoney(round(parseMoney('-2.345'), 2)), '-2.34')
  t.equal(formatMoney(round(parseMoney('-2.355'), 2)), '-2.36')
})

t.test('formatMoney: at least minDecimals digits, no trailing zeros beyond, no negative zero', async (t) => {
  t.equal(formatMoney(parseMoney('5')), '5.00')
  t.equal(formatMoney(parseMoney('5'), 0), '5')
  t.equal(formatMoney(parseMoney('5.1'), 0), '5.1')
  t.equal(formatMoney(parseMoney('5.12345678'), 4), '5.12345678')
  t.equal(formatMoney(-1n), '-0.00000001')
  t.equal(formatMoney(parseMoney('-0')), '0.00')
  t.equal(formatMoney(fromInteger(-3)), '-3.00')
})

t.test('min, max, abs and toNumber', async (t) => {
  t.equal(min(1n, -2n), -2n)
  t.equal(max(1n, -2n), 1n)
  t.equal(abs(-7n), 7n)
  t.equal(abs(7n), 7n)
  t.equal(toNumber(parseMoney('101.25')), 101.25)
})

// The references: what fromNumber and formatMoney computed before their fast paths (the decimal string of a
// number, parsed; bigint division and string padding), over values a run meets and values meant to break them.
function fromNumberByString (value: number): bigint {
  const s = String(value)
  return parseDecimal(/e/i.test(s) ? value.toFixed(20).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '') : s)
}
function formatByBigint (a: bigint, minDecimals = 2): string {
  const negative = a < 0n
  const n = negative ? -a : a
  let frac = (n % 100_000_000n).toString().padStart(8, '0').replace(/0+$/, '')
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, '0')
  const body = frac.length > 0 ? `${n / 100_000_000n}.${frac}` : `${n / 100_000_000n}`
  return negative && n !== 0n ? `-${body}` : body
}

t.test('fromNumber and formatMoney equal their exact references on prices, random doubles and edges', async (t) => {
  let state = 12345
  const rnd = (): number => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296 }
  const values: number[] = [0, -0, 1e-8, -1e-8, 5e-9, 1.5e-8, 2.5e-8, 0.1 + 0.2, 1.005, 9_999_999.99999999, 1e7, 1e7 - 1e-8, -1e7, 12345678.9, 2 ** 53, 1e21, 1e-7 / 3, Number.MIN_VALUE]
  for (let i = 0; i < 200_000; i++) {
    const decimals = i % 10
    const magnitude = 10 ** Math.floor(rnd() * 9 - 2)
    const price = Math.round(rnd() * magnitude * 10 ** decimals) / 10 ** decimals
    values.push(price, -price, rnd() * magnitude, price * (1 + 0.0002), price + 0.5e-8, price * 1.0005 - price)
  }
  let mismatches = 0
  const outcome = (f: (v: number) => bigint, v: number): bigint | string => { try { return f(v) } catch (err) { return String(err) } }
  for (const v of values) if (outcome(fromNumber, v) !== outcome(fromNumberByString, v)) mismatches++
  t.equal(mismatches, 0, `fromNumber: ${values.length.toLocaleString('en-US')} values`)
  const amounts: bigint[] = [0n, 1n, -1n, 10n, 100_000_000n, -100_000_000n, 9_007_199_254_740_991n, -9_007_199_254_740_991n, 9_007_199_254_740_992n, 10n ** 30n + 7n, -(10n ** 30n)]
  for (let i = 0; i < 200_000; i++) amounts.push(BigInt(Math.floor((rnd() - 0.5) * 2 * 10 ** Math.floor(rnd() * 16))))
  let bad = 0
  for (const a of amounts) for (const d of [0, 2, 8]) if (formatMoney(a, d) !== formatByBigint(a, d)) bad++
  t.equal(bad, 0, `formatMoney: ${amounts.length.toLocaleString('en-US')} amounts × 3 minimum decimals`)
})
