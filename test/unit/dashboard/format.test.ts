// The dashboard's formatting: money and percentages to 2 decimals, rounded on the decimal string (never
// through a float), grouped in thousands; ratios as percentages; CSV fields quoted and defused.
import t from 'tap'
import { csvField, exact, formatCount, formatMoney, formatNumber, formatPercent, formatPrice, formatProgress, formatQuantity, formatRatio, formatTime, groupDigits, roundDecimal, signOf, toCsv } from '../../../dashboard/src/format.js'

t.test('decimal strings round half away from zero on their digits, exactly', async (t) => {
  t.equal(roundDecimal('1.005', 2), '1.01', 'a float would give 1.00')
  t.equal(roundDecimal('89312.628175', 2), '89312.63')
  t.equal(roundDecimal('-1234.565', 2), '-1234.57')
  t.equal(roundDecimal('-0.004', 2), '0.00', 'no negative zero')
  t.equal(roundDecimal('9.999', 2), '10.00')
  t.equal(roundDecimal('100000', 2), '100000.00')
  t.equal(roundDecimal('0.5', 0), '1')
  t.equal(roundDecimal('12345678901234567890.123456789', 2), '12345678901234567890.12', 'beyond a double\'s digits')
  t.equal(roundDecimal('n/a', 2), 'n/a', 'anything else is shown as sent')
})

t.test('money: 2 decimals and thousands separators', async (t) => {
  t.equal(formatMoney('100000'), '100,000.00')
  t.equal(formatMoney('89312.628175'), '89,312.63')
  t.equal(formatMoney('-11194.975875'), '-11,194.98')
  t.equal(formatMoney('0.025'), '0.03')
  t.equal(groupDigits('-1234567.891'), '-1,234,567.891')
  t.equal(groupDigits('not a number'), 'not a number')
})

t.test('prices: 2 decimals, 4 below 10 (forex)', async (t) => {
  t.equal(formatPrice('258.64926'), '258.65')
  t.equal(formatPrice('1.083456'), '1.0835')
  t.equal(formatPrice('1234.5'), '1,234.50')
})

t.test('numbers, percentages and ratios: 2 decimals; counts whole; quantities as they are', async (t) => {
  t.equal(formatNumber(-6.4157158613), '-6.42')
  t.equal(formatNumber(12345.5), '12,345.50')
  t.equal(formatNumber(1e-7), '0.00')
  t.equal(formatNumber(null), '—')
  t.equal(formatNumber(Number.NaN), 'NaN')
  t.equal(formatPercent(-28.1378295366), '-28.14 %', 'the CAGR of the issue')
  t.equal(formatPercent(null), '—')
  t.equal(formatRatio(0.6666666667), '66.67 %', 'the win rate of the issue')
  t.equal(formatRatio(null), '—')
  t.equal(formatCount(7800), '7,800')
  t.equal(formatQuantity(0.12345678), '0.12345678')
  t.equal(formatQuantity(1500), '1,500')
  t.equal(exact(-28.1378295366), '-28.1378295366', 'the exact value for the title')
  t.equal(exact(null), undefined)
})

t.test('progress is a whole percent, clamped', async (t) => {
  t.equal(formatProgress(0.426), '42 %')
  t.equal(formatProgress(1.5), '100 %')
  t.equal(formatProgress(-1), '0 %')
})

t.test('timestamps read as UTC minutes; other text is unchanged', async (t) => {
  t.equal(formatTime('2023-01-03T14:30:00.000Z'), '2023-01-03 14:30 UTC')
  t.equal(formatTime('2023-01-03T14:30:00.000Z', false), '2023-01-03 14:30', 'in a column headed UTC')
  t.equal(formatTime('yesterday'), 'yesterday')
})

t.test('sign of a decimal string or number (shown with +/− and colour)', async (t) => {
  t.equal(signOf('12.5'), 'positive')
  t.equal(signOf('-0.01'), 'negative')
  t.equal(signOf('0.00'), 'zero')
})

t.test('CSV: quoted when needed, formulas defused, CRLF rows, values as sent', async (t) => {
  t.equal(csvField('AAPL'), 'AAPL')
  t.equal(csvField('a,b'), '"a,b"')
  t.equal(csvField('say "hi"'), '"say ""hi"""')
  t.equal(csvField('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"')
  t.equal(csvField('-12.50'), '-12.50', 'a negative money string is data, not a formula')
  t.equal(csvField('89312.628175'), '89312.628175', 'every digit: the export is not rounded')
  t.equal(csvField(null), '')
  t.equal(csvField(true), 'true')
  t.equal(toCsv(['a', 'b'], [['1', 2], ['x\ny', false]]), 'a,b\r\n1,2\r\n"x\ny",false\r\n')
})
