// Intraday CSV (docs/market-data.md "CSV layout"): every timestamp form accepted and refused, the trading day
// of an instant per market, the rows a file must not hold, and both folder layouts through the CSV source.
import t from 'tap'
import { parseIntradayCsv, parseTimestamp, tradingDayAt } from '../../../server/market-data/sources/csv-intraday.js'
import { CsvBarSource } from '../../../server/market-data/sources/csv.js'
import { createBarSources } from '../../../server/market-data/sources/index.js'

const iso = (ms: number | string): string => typeof ms === 'string' ? ms : new Date(ms).toISOString()

t.test('timestamps: ISO 8601 with Z or an offset, and integer epochs', async (t) => {
  const cases: Array<[string, string]> = [
    ['2023-01-03T14:30:00Z', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03T14:30:00z', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03 09:30:00-05:00', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03T09:30:00-0500', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03T09:30-05', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03T20:00:00+05:30', '2023-01-03T14:30:00.000Z'],
    ['2023-01-03T14:30:00.250Z', '2023-01-03T14:30:00.250Z'],
    ['2023-01-03T14:30:00.123456789+00:00', '2023-01-03T14:30:00.123Z'],
    ['1672756200', '2023-01-03T14:30:00.000Z'],
    ['1672756200000', '2023-01-03T14:30:00.000Z']
  ]
  for (const [raw, want] of cases) t.equal(iso(parseTimestamp(raw)), want, raw)
})

t.test('a timestamp without a zone, an impossible time or another form is refused, saying why', async (t) => {
  t.match(parseTimestamp('2023-01-03 09:30:00'), /has no time zone: add Z or an offset/)
  t.match(parseTimestamp('2023-01-03T09:30'), /has no time zone/)
  t.match(parseTimestamp('2023-02-30T09:30:00Z'), /is not a real date and time/)
  t.match(parseTimestamp('2023-01-03T24:00:00Z'), /is not a real date and time/)
  for (const raw of ['20230103', '2023-01-03', '03/01/2023 09:30', '-1672756200', '1672756200.5', '']) {
    t.match(parseTimestamp(raw), /is not a timestamp \(ISO 8601 with a zone, or epoch seconds or milliseconds\)/, `'${raw}'`)
  }
})

t.test('the trading day of an instant: New York date (NYSE), the 17:00 New York roll (forex), UTC (crypto)', async (t) => {
  const at = Date.parse('2023-01-04T02:00:00Z') // 21:00 on 3 January in New York
  t.equal(tradingDayAt('nyse', at), 20230103)
  t.equal(tradingDayAt('crypto', at), 20230104)
  t.equal(tradingDayAt('forex', at), 20230104, 'after 17:00 New York: the next day\'s session')
  t.equal(tradingDayAt('forex', Date.parse('2023-01-03T21:59:00Z')), 20230103, '16:59 New York')
  t.equal(tradingDayAt('nyse', Date.parse('2023-07-03T23:30:00Z')), 20230703, 'summer: 19:30 EDT')
})

const parse = (text: string, timeframe: '1m' | '1h' = '1m'): ReturnType<typeof parseIntradayCsv> =>
  parseIntradayCsv(text, 'X.csv', 'X', timeframe, (ms) => tradingDayAt('nyse', ms))

t.test('rows in any order come out sorted by time; Polygon\'s t,o,h,l,c,v (epoch ms) and a missing volume are read', async (t) => {
  const s = parse('t,o,h,l,c,v\n1672756260000,2,3,1,2.5,20\n1672756200000,1,2,0.5,1.5,10\n')
  t.same(Array.from(s.time, iso), ['2023-01-03T14:30:00.000Z', '2023-01-03T14:31:00.000Z'])
  t.same([Array.from(s.open), Array.from(s.volume), Array.from(s.day)], [[1, 2], [10, 20], [20230103, 20230103]])
  t.same(Array.from(parse('timestamp,open,high,low,close\n2023-01-03T14:30:00Z,1,2,0.5,1.5\n').volume), [0])
})

t.test('each bad row is refused with the file, the line and the problem', async (t) => {
  const H = 'datetime,open,high,low,close,volume\n'
  const cases: Array<[string, string, ('1m' | '1h')?]> = [
    [`${H}2023-01-03 09:30:00,1,2,0.5,1.5,10\n`, "X.csv:2: timestamp '2023-01-03 09:30:00' has no time zone: add Z or an offset such as -05:00, or write epoch seconds"],
    [`${H}2023-01-03T14:30:00Z,1,2,0.5,1.5\n`, 'X.csv:2: expected 6 fields, found 5'],
    [`${H}2023-01-03T14:30:00Z,1,0.5,2,1.5,10\n`, 'X.csv:2: high 0.5 is below low 2'],
    [`${H}2023-01-03T14:30:00Z,x,2,0.5,1.5,10\n`, "X.csv:2: open 'x' is not a number"],
    [`${H}2023-01-03T14:30:00Z,1,2,0.5,1.5,10\n2023-01-03T09:30:00-05:00,1,2,0.5,1.5,10\n`, 'X.csv:3: two bars at 2023-01-03T14:30:00.000Z'],
    [`${H}2023-01-03T14:30:00Z,1,2,0.5,1.5,10\n2023-01-03T14:30:30Z,1,2,0.5,1.5,10\n`, 'X.csv:3: bars 30 s apart (2023-01-03T14:30:00.000Z, 2023-01-03T14:30:30.000Z): closer than one 1m bar; is the file in its timeframe\'s folder?'],
    [`${H}2023-01-03T14:30:00Z,1,2,0.5,1.5,10\n2023-01-03T14:31:00Z,1,2,0.5,1.5,10\n`, 'X.csv:3: bars 60 s apart (2023-01-03T14:30:00.000Z, 2023-01-03T14:31:00.000Z): closer than one 1h bar; is the file in its timeframe\'s folder?', '1h']
  ]
  for (const [text, message, tf] of cases) t.throws(() => parse(text, tf), { name: 'AppError', error_code: 'INTERNAL_ERROR', message, details: { file: 'X.csv' } }, message)
  t.throws(() => parse('open,high,low,close\n'), { message: /X\.csv:1: missing column 'date'/ })
})

/** 09:30 … 09:30+n−1 minutes New York (winter) on a day, one CSV row each: open = minute index, ±0.5. */
function minuteRows (date: string, n: number, zone = 'Z'): string {
  const base = Date.parse(`${date}T14:30:00Z`)
  return Array.from({ length: n }, (_, i) => {
    const ts = zone === 'epoch' ? String((base + i * 60_000) / 1000) : new Date(base + i * 60_000).toISOString().replace('.000Z', zone === 'Z' ? 'Z' : zone)
    return `${ts},${i},${i + 0.5},${i - 0.5},${i + 0.25},${10 + i}`
  }).join('\n')
}
const HEADER = 'timestamp,open,high,low,close,volume\n'

t.test('a 1min/{SYMBOL}.csv file: listed with its range, minutes sliced by day, hours aggregated from them', async (t) => {
  const dir = t.testdir({ '1min': { 'AAPL.csv': `${HEADER}${minuteRows('2023-01-03', 120)}\n${minuteRows('2023-01-04', 90, 'epoch')}\n` } })
  const src = new CsvBarSource(dir)
  await src.init()
  t.same(src.listSymbols().map((e) => [e.symbol, e.source, e.timeframes]), [['AAPL', 'csv', [
    { timeframe: '1h', first_date: '2023-01-03', last_date: '2023-01-04' },
    { timeframe: '1m', first_date: '2023-01-03', last_date: '2023-01-04' }
  ]]])
  const minutes = await src.loadSeries('AAPL', '1m', '2023-01-04', '2023-01-04')
  t.equal(minutes.length, 90)
  t.equal(iso(minutes.time[0]), '2023-01-04T14:30:00.000Z')
  const hours = await src.loadSeries('AAPL', '1h', '2023-01-03', '2023-01-03')
  t.same(Array.from(hours.time, iso), ['2023-01-03T14:30:00.000Z', '2023-01-03T15:30:00.000Z'], 'buckets from the 09:30 open')
  t.same([Array.from(hours.open), Array.from(hours.high), Array.from(hours.low), Array.from(hours.close), Array.from(hours.volume)],
    [[0, 60], [59.5, 119.5], [-0.5, 59.5], [59.25, 119.25], [60 * 10 + 1770, 60 * 70 + 1770]])
  await t.rejects(src.loadSeries('AAPL', '1d', '2023-01-03', '2023-01-03'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { available_timeframes: ['1h', '1m'] } }, 'no daily file: no daily bars')
})

t.test('day files 1min/{SYMBOL}/{YYYY-MM-DD}.csv (the Parquet layout\'s): listed by name, read when loaded', async (t) => {
  const dir = t.testdir({
    'MSFT.csv': 'Date,Open,High,Low,Close,Volume\n2023-01-03,10,12,9,11,5\n',
    '1m': { MSFT: { '2023-01-03.csv': `${HEADER}${minuteRows('2023-01-03', 3, '-00:00')}\n`, '2023-01-05.csv': `${HEADER}${minuteRows('2023-01-05', 2)}\n`, 'notes.txt': 'x', '2023-02-30.csv': 'not a day' } },
    '1h': { MSFT: { '2023-01-03.csv': `${HEADER}2023-01-03T14:30:00Z,1,2,0.5,1.5,7\n2023-01-03T15:30:00Z,2,3,1.5,2.5,8\n` } }
  })
  const src = new CsvBarSource(dir)
  await src.init()
  t.same(src.listSymbols()[0].timeframes, [
    { timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-03' },
    { timeframe: '1h', first_date: '2023-01-03', last_date: '2023-01-03' },
    { timeframe: '1m', first_date: '2023-01-03', last_date: '2023-01-05' }
  ])
  const minutes = await src.loadSeries('MSFT', '1m', '2023-01-01', '2023-01-31')
  t.same([minutes.length, Array.from(minutes.day)], [5, [20230103, 20230103, 20230103, 20230105, 20230105]])
  const hours = await src.loadSeries('MSFT', '1h', '2023-01-03', '2023-01-03')
  t.same(Array.from(hours.volume), [7, 8], 'the hourly files, not minutes aggregated')
})

t.test('one symbol\'s files twice for a timeframe, or two daily files, stop the start naming them', async (t) => {
  const both = t.testdir({ '1min': { 'AAPL.csv': `${HEADER}${minuteRows('2023-01-03', 2)}\n`, AAPL: { '2023-01-03.csv': `${HEADER}${minuteRows('2023-01-03', 2)}\n` } } })
  await t.rejects(new CsvBarSource(both).init(), { error_code: 'INTERNAL_ERROR', message: /AAPL already has 1m files/ })
  const daily = t.testdir({ 'AAPL.csv': 'Date,Open,High,Low,Close\n2023-01-03,1,2,0.5,1\n', daily: { 'AAPL.csv': 'Date,Open,High,Low,Close\n2023-01-03,1,2,0.5,1\n' } })
  await t.rejects(new CsvBarSource(daily).init(), { message: /a second daily file for AAPL/ })
  const bad = t.testdir({ '1min': { 'AAPL.csv': `${HEADER}2023-01-03 09:30:00,1,2,0.5,1.5,1\n` } })
  await t.rejects(new CsvBarSource(bad).init(), { message: /1min\/AAPL\.csv:2: timestamp '2023-01-03 09:30:00' has no time zone/ }, 'a bad row of a symbol file stops the start')
})

t.test('a forex pair from the manifest takes its days from the 17:00 New York roll', async (t) => {
  const dir = t.testdir({
    'manifest.json': JSON.stringify({ EURUSD: { asset_class: 'forex', market: 'FOREX' } }),
    '1min': { 'EURUSD.csv': `${HEADER}2023-01-03T21:59:00Z,1.05,1.06,1.04,1.055,0\n2023-01-03T22:00:00Z,1.05,1.06,1.04,1.055,0\n` }
  })
  const src = new CsvBarSource(dir)
  await src.init()
  t.same(Array.from((await src.loadSeries('EUR/USD', '1m', '2023-01-01', '2023-01-31')).day), [20230103, 20230104])
})

t.test('a data folder with only timeframe folders of CSV files is the CSV source', async (t) => {
  const dir = t.testdir({ '1min': { 'AAPL.csv': `${HEADER}${minuteRows('2023-01-03', 2)}\n` } })
  t.same(createBarSources({ dataDir: dir, demo: false }).map((s) => s.kind), ['csv'])
  t.throws(() => createBarSources({ dataDir: t.testdir({ misc: { 'a.txt': 'x' } }), demo: false }), { message: /holds neither a candles\/ folder \(Parquet\) nor \*\.csv files or timeframe folders/ })
})

t.test('the start banner\'s line names each source loaded, where, and what it holds', async (t) => {
  const { describeSources } = await import('../../../server/market-data/describe-sources.js')
  const dir = t.testdir({ 'MSFT.csv': 'Date,Open,High,Low,Close\n2023-01-03,1,2,0.5,1\n', '1min': { 'AAPL.csv': `${HEADER}${minuteRows('2023-01-03', 2)}\n` } })
  const sources = createBarSources({ dataDir: dir, now: () => Date.parse('2025-06-15T12:00:00Z') })
  for (const s of sources) await s.init()
  const demo = sources[1].listSymbols().length
  t.equal(describeSources(sources), `CSV files in ${dir} (2 symbols; 1d, 1h, 1m) + demo (synthetic, ${demo} symbols)`)
  t.equal(describeSources(sources.slice(1)), `demo (synthetic, ${demo} symbols)`)
  t.equal(describeSources([]), 'none')
})
