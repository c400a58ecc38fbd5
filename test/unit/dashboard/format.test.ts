// The dashboard's formatting: money strings keep every digit (only separators are added), numbers print as
// the API sent them, and CSV fields are quoted and defused.
import t from 'tap'
import { csvField, formatMoney, formatNumber, formatPercent, formatProgress, formatRatio, formatTime, groupDigits, signOf, toCsv } from '../../../dashboard/src/format.js'

t.test('money strings get thousands separators and keep every decimal digit', async (t) => {
  t.equal(formatMoney('100000'), '100,000')
  t.equal(formatMoney('1234567.891234'), '1,234,567.891234')
  t.equal(formatMoney('-1234.50'), '-1,234.50')
  t.equal(formatMoney('999.99'), '999.99')
  t.equal(formatMoney('0.005'), '0.005')
  t.equal(formatMoney('+1000'), '+1,000')
  t.equal(groupDigits('not a number'), 'not a number', 'anything else is shown as sent')
  for (const s of ['100000.00', '-98765.4321', '12345678901234567890.123456789']) {
    t.equal(formatMoney(s).replace(/,/g, ''), s, `${s}: removing separators gives the API's string back`)
  }
})

t.test('numbers print their shortest round-trip digits, grouped; null is a dash', async (t) => {
  t.equal(formatNumber(1.2345678912345), '1.2345678912345')
  t.equal(formatNumber(12345.5), '12,345.5')
  t.equal(formatNumber(0), '0')
  t.equal(formatNumber(-3), '-3')
  t.equal(formatNumber(null), '—')
  t.equal(formatNumber(undefined), '—')
  t.equal(formatNumber(1e21), '1e+21', 'exponent form is left alone')
  t.equal(formatNumber(Number.NaN), 'NaN')
  t.equal(formatPercent(12.5), '12.5 %')
  t.equal(formatPercent(null), '—')
  t.equal(formatRatio(0.5), '0.5 (50 %)')
  t.equal(formatRatio(0.123456), '0.123456 (12.35 %)')
  t.equal(formatRatio(null), '—')
})

t.test('progress is a whole percent, clamped', async (t) => {
  t.equal(formatProgress(0.426), '42 %')
  t.equal(formatProgress(1), '100 %')
  t.equal(formatProgress(1.5), '100 %')
  t.equal(formatProgress(-1), '0 %')
})

t.test('timestamps read as UTC minutes; other text is unchanged', async (t) => {
  t.equal(formatTime('2023-01-03T14:30:00.000Z'), '2023-01-03 14:30 UTC')
  t.equal(formatTime('2023-01-03T21:00Z'), '2023-01-03 21:00 UTC')
  t.equal(formatTime('yesterday'), 'yesterday')
})

t.test('sign of a decimal string or number (shown with +/− and colour)', async (t) => {
  t.equal(signOf('12.5'), 'positive')
  t.equal(signOf('-0.01'), 'negative')
  t.equal(signOf('0.00'), 'zero')
  t.equal(signOf(-2), 'negative')
})

t.test('CSV: quoted when needed, formulas defused, CRLF rows, values as sent', async (t) => {
  t.equal(csvField('AAPL'), 'AAPL')
  t.equal(csvField('a,b'), '"a,b"')
  t.equal(csvField('say "hi"'), '"say ""hi"""')
  t.equal(csvField('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"')
  t.equal(csvField('-12.50'), '-12.50', 'a negative money string is data, not a formula')
  t.equal(csvField(null), '')
  t.equal(csvField(undefined), '')
  t.equal(csvField(true), 'true')
  t.equal(csvField(3.25), '3.25')
  t.equal(toCsv(['a', 'b'], [['1', 2], ['x\ny', false]]), 'a,b\r\n1,2\r\n"x\ny",false\r\n')
})
