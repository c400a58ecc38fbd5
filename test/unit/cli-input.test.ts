// The CLI's money display (2 decimals, half-even on the digits, never through a float), its CSV, and the
// wizard's per-answer checks, which apply the server's rules (schemas, calendar dates, capital bounds).
import t from 'tap'
import { decimalUnits, formatCsv, formatMoney, unitsToDecimal } from '../../client/cli/output.js'
import { capitalProblem, dateProblem, symbolsProblem } from '../../client/cli/prompts.js'
import { parseDate } from '../../server/market-data/dates.js'

t.test('formatMoney: exactly 2 decimals, rounded half-even on the decimal digits', async (t) => {
  const cases: Array<[string, string]> = [
    ['100000', '100000.00'], ['100000.5', '100000.50'], ['98696.40', '98696.40'], ['0.005', '0.00'], ['0.015', '0.02'],
    ['0.0150000001', '0.02'], ['0.025', '0.02'], ['0.02500000001', '0.03'], ['-39.955', '-39.96'], ['-0.004', '0.00'],
    ['164.772345', '164.77'], ['9007199254740993.125', '9007199254740993.12'], ['not money', 'not money']
  ]
  for (const [input, out] of cases) t.equal(formatMoney(input), out, input)
})

t.test('decimalUnits and unitsToDecimal: exact at 8 decimals', async (t) => {
  t.equal(decimalUnits('98696.40'), 9869640000000n)
  t.equal(decimalUnits(126.36), 12636000000n, 'a JSON number through its decimal text')
  t.equal(decimalUnits('-10'), -1000000000n)
  t.equal(decimalUnits('1e3'), undefined)
  t.equal(unitsToDecimal(9869640000000n), '98696.40')
  t.equal(unitsToDecimal(-1263600000n + 12345n), '-12.63587655')
  t.equal(unitsToDecimal((decimalUnits('0.1') ?? 0n) + (decimalUnits('0.2') ?? 0n)), '0.30', 'no float drift')
})

t.test('formatCsv: RFC 4180 quoting and CRLF lines', async (t) => {
  t.equal(formatCsv(['a', 'b'], [[1, 'x,y'], ['say "hi"', null], [true, 'two\nlines']]), 'a,b\r\n1,"x,y"\r\n"say ""hi""",\r\ntrue,"two\nlines"\r\n')
})

t.test('symbolsProblem: CreateSessionBody.symbols rules', async (t) => {
  t.equal(symbolsProblem('AAPL, msft,EUR/USD'), undefined)
  t.match(symbolsProblem(' , '), /At least one symbol/)
  t.match(symbolsProblem('AA PL'), /'AA PL' is not a symbol/)
  t.match(symbolsProblem('A'.repeat(33)), /is not a symbol: up to 32/)
  t.match(symbolsProblem(Array.from({ length: 501 }, (_, i) => `S${i}`).join(',')), /At most 500 symbols/)
})

t.test('dateProblem: the server\'s date rules at the prompt', async (t) => {
  const today = parseDate('2026-11-27') ?? 0
  t.equal(dateProblem('2023-02-28', { field: 'start_date', today }), undefined)
  t.equal(dateProblem('2024-02-29', { field: 'start_date', today }), undefined, 'leap day')
  t.match(dateProblem('2023-02-30', { field: 'start_date', today }), /start_date: 2023-02-30 is not a calendar date/)
  t.match(dateProblem('2023-2-3', { field: 'start_date', today }), /YYYY-MM-DD/)
  t.match(dateProblem('2023-13-01', { field: 'start_date', today }), /YYYY-MM-DD/)
  t.match(dateProblem('2026-11-28', { field: 'end_date', today }), /in the future \(today is 2026-11-27\)/)
  t.match(dateProblem('2023-01-02', { field: 'end_date', start: '2023-01-03', today }), /before the start date 2023-01-03/)
  t.equal(dateProblem('2023-01-03', { field: 'end_date', start: '2023-01-03', today }), undefined, 'one day is a range')
})

t.test('capitalProblem: a decimal amount within the server\'s bounds', async (t) => {
  t.equal(capitalProblem('1000'), undefined)
  t.equal(capitalProblem('10000000.00'), undefined)
  t.equal(capitalProblem(' 25000.50 '), undefined)
  t.equal(capitalProblem('999.99'), 'INSUFFICIENT_CAPITAL: initial_capital must be from 1000.00 to 10000000.00 (got 999.99)', 'the server\'s code and words')
  t.equal(capitalProblem('10000000.01'), 'CAPITAL_ABOVE_MAXIMUM: initial_capital must be from 1000.00 to 10000000.00 (got 10000000.01)')
  t.match(capitalProblem('1e5'), /A decimal amount/)
  t.match(capitalProblem('-5000'), /^INSUFFICIENT_CAPITAL: initial_capital must be from 1000\.00/)
  t.match(capitalProblem(''), /A decimal amount/)
})
