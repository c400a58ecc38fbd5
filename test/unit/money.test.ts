import t from 'tap'
import { parseMoney, formatMoney, mul, div, round, fromNumber, parseDecimal } from '../../server/money.js'
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
