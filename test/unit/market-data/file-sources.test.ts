import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MarketDataService } from '../../../server/market-data/market-data-service.js'
import { CsvBarSource } from '../../../server/market-data/sources/csv.js'
import { ParquetBarSource } from '../../../server/market-data/sources/parquet.js'
import { createBarSources } from '../../../server/market-data/sources/index.js'

const now = (): number => Date.parse('2025-06-15T12:00:00Z')

const YAHOO = `Date,Open,High,Low,Close,Adj Close,Volume
2023-01-03,130.279999,130.899994,124.169998,125.070000,124.216301,112117500
2023-01-04,126.889999,128.660004,125.080002,126.360001,125.497498,89113600
2023-01-05,127.129997,127.769997,124.760002,125.019997,124.166649,80962700
`

t.test('CSV prices are served exactly as written', async (t) => {
  const dir = t.testdir({ 'AAPL.csv': YAHOO })
  const src = new CsvBarSource(dir)
  await src.init()
  const s = await src.loadSeries('AAPL', '1d', '2023-01-01', '2023-01-31')
  t.equal(s.length, 3)
  t.same(Array.from(s.close), [125.07, 126.360001, 125.019997])
  t.equal(s.volume[0], 112117500)
  t.equal(new Date(s.time[0]).toISOString(), '2023-01-03T14:30:00.000Z')
})

t.test('adjusted: true scales OHLC by Adj Close / Close', async (t) => {
  const dir = t.testdir({ 'AAPL.csv': YAHOO })
  const src = new CsvBarSource(dir)
  await src.init()
  const s = await src.loadSeries('AAPL', '1d', '2023-01-03', '2023-01-03', { adjusted: true })
  const f = 124.216301 / 125.07
  t.equal(s.close[0], 124.216301)
  t.equal(s.open[0], Math.round(130.279999 * f * 1e6) / 1e6)
  t.equal(s.volume[0], 112117500)
})

t.test('without a manifest a CSV symbol is a US stock on NYSE', async (t) => {
  const dir = t.testdir({ 'brk-b.csv': YAHOO })
  const src = new CsvBarSource(dir)
  await src.init()
  const [e] = src.listSymbols()
  t.same({ symbol: e.symbol, asset_class: e.asset_class, market: e.market, synthetic: e.synthetic, source: e.source }, { symbol: 'BRK.B', asset_class: 'stock', market: 'NYSE', synthetic: false, source: 'csv' })
  t.same(e.timeframes, [{ timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-05' }])
})

t.test('manifest.json names asset class, market and name; Stooq headers are understood', async (t) => {
  const stooq = 'Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie\n2023-01-02,1.0705,1.0713,1.0651,1.0670\n2023-01-03,1.0670,1.0683,1.0519,1.0545\n'
  const dir = t.testdir({
    'EURUSD.csv': stooq,
    'manifest.json': JSON.stringify({ EURUSD: { asset_class: 'forex', market: 'FOREX', name: 'Euro / Dollar' } })
  })
  const src = new CsvBarSource(dir)
  await src.init()
  const [e] = src.listSymbols()
  t.equal(e.symbol, 'EUR/USD')
  t.equal(e.market, 'FOREX')
  t.equal(e.name, 'Euro / Dollar')
  const s = await src.loadSeries('EUR/USD', '1d', '2023-01-01', '2023-01-31')
  t.equal(s.volume[0], 0, 'no volume column means zero volume')
  t.equal(new Date(s.time[0]).toISOString(), '2023-01-01T22:00:00.000Z', 'forex day starts 17:00 New York the day before')
})

t.test('a malformed row is refused naming the file and line', async (t) => {
  const dir = t.testdir({ 'MSFT.csv': 'Date,Open,High,Low,Close,Volume\n2023-01-03,1,2,0.5,1.5,100\n2023-01-04,1,abc,0.5,1.5,100\n' })
  const src = new CsvBarSource(dir)
  await t.rejects(src.init(), { name: 'AppError', message: /MSFT\.csv:3: high 'abc' is not a number/ })
})

t.test('an invalid date in a CSV row is refused with its line', async (t) => {
  const dir = t.testdir({ 'MSFT.csv': 'Date,Open,High,Low,Close,Volume\n2023-02-30,1,2,0.5,1.5,100\n' })
  await t.rejects(new CsvBarSource(dir).init(), { message: /MSFT\.csv:2: invalid date/ })
})

t.test('Stooq bulk files: <DATE> as compact yyyymmdd is read as that calendar day', async (t) => {
  // Days across a month and a year boundary, out of order in the file: 2022-12-30, 2023-01-03, 2023-02-01.
  const bulk = [
    '<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>',
    'AAPL.US,D,20230103,000000,130.28,130.9,124.17,125.07,112117500,0',
    'AAPL.US,D,20221230,000000,128.41,129.95,127.43,129.93,77034209,0',
    'AAPL.US,D,20230201,000000,143.97,146.61,141.32,145.43,77663600,0'
  ].join('\n') + '\n'
  const dir = t.testdir({ 'AAPL.csv': bulk })
  const src = new CsvBarSource(dir)
  await src.init()
  t.same(src.listSymbols()[0].timeframes, [{ timeframe: '1d', first_date: '2022-12-30', last_date: '2023-02-01' }])
  const s = await src.loadSeries('AAPL', '1d', '2022-12-01', '2023-02-28')
  t.same(Array.from(s.time, (ms) => new Date(ms).toISOString()), ['2022-12-30T14:30:00.000Z', '2023-01-03T14:30:00.000Z', '2023-02-01T14:30:00.000Z'], 'sorted, each at its day\'s 09:30 New York open')
  t.same(Array.from(s.close), [129.93, 125.07, 145.43])
  t.same(Array.from(s.volume), [77034209, 112117500, 77663600], '<VOL> is the volume')
  const jan = await src.loadSeries('AAPL', '1d', '2023-01-03', '2023-01-31')
  t.same(Array.from(jan.close), [125.07], 'a range selects by the compact date')
})

t.test('an impossible compact date is refused with its line, not shifted to another day', async (t) => {
  for (const bad of ['20230230', '20231301', '2023013', '202301031']) {
    const dir = t.testdir({ 'MSFT.csv': `<DATE>,<OPEN>,<HIGH>,<LOW>,<CLOSE>\n20230103,1,2,0.5,1.5\n${bad},1,2,0.5,1.5\n` })
    await t.rejects(new CsvBarSource(dir).init(), { message: new RegExp(`MSFT\\.csv:3: invalid date '${bad}'`) }, bad)
  }
})

t.test('a CSV symbol overrides the demo symbol of the same name; other demo symbols remain', async (t) => {
  const dir = t.testdir({ 'AAPL.csv': YAHOO })
  const svc = new MarketDataService({ dataDir: dir, now })
  await svc.init()
  const aapl = svc.getSymbol('AAPL')
  t.equal(aapl.source, 'csv')
  t.equal(aapl.synthetic, false)
  t.equal(svc.getSymbol('MSFT').source, 'demo')
  const bars = await svc.getBars('AAPL', { start: '2023-01-01', end: '2023-12-31' })
  t.equal(bars.bars.length, 3)
  t.equal(bars.synthetic, false)
  t.equal(svc.validate({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-06', timeframe: '1d' }).valid, false, 'beyond the file\'s last day')
  t.equal(svc.validate({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-05', timeframe: '1m' }).valid, false, 'no minute data in CSV')
})

interface ParquetFixture {
  filename: string
  dateType: 'DATE' | 'TIMESTAMP'
  dates: number[]
  closes: number[]
}

/** Writes fixtures through a plain-node child (see fixtures/write-parquet.mjs for why). */
function writeParquet (fixtures: ParquetFixture[]): void {
  const spec = fixtures.map((f) => ({
    filename: f.filename,
    dateType: f.dateType,
    dates: f.dates,
    open: f.closes.map((c) => c - 0.5),
    high: f.closes.map((c) => c + 1),
    low: f.closes.map((c) => c - 1),
    close: f.closes,
    volume: f.closes.map((_, i) => 1000 + i)
  }))
  execFileSync(process.execPath, [fileURLToPath(new URL('./fixtures/write-parquet.mjs', import.meta.url)), JSON.stringify(spec)], { env: { PATH: process.env.PATH ?? '' } })
}

function parquetDir (t: Test): string {
  const dir = t.testdir({})
  mkdirSync(join(dir, 'candles', 'daily'), { recursive: true })
  mkdirSync(join(dir, 'candles', '1min', 'AAPL'), { recursive: true })
  const fixtures: ParquetFixture[] = [{
    filename: join(dir, 'candles', 'daily', 'AAPL.parquet'),
    dateType: 'DATE',
    dates: ['2023-01-03', '2023-01-04', '2023-01-05'].map((d) => Date.parse(`${d}T00:00:00Z`)),
    closes: [125, 126, 127]
  }]
  // Two minute files: timestamps from 09:30 New York (14:30Z in January).
  for (const [date, base] of [['2023-01-03', 125], ['2023-01-04', 126]] as const) {
    const t0 = Date.parse(`${date}T14:30:00Z`)
    const dates = Array.from({ length: 120 }, (_, i) => t0 + i * 60_000)
    fixtures.push({ filename: join(dir, 'candles', '1min', 'AAPL', `${date}.parquet`), dateType: 'TIMESTAMP', dates, closes: dates.map((_, i) => base + i / 100) })
  }
  writeParquet(fixtures)
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ AAPL: { market: 'NASDAQ', name: 'Apple Inc.' } }))
  return dir
}

t.test('Parquet daily files with a DATE column are read with hyparquet', async (t) => {
  const src = new ParquetBarSource(parquetDir(t))
  await src.init()
  const s = await src.loadSeries('AAPL', '1d', '2023-01-01', '2023-01-31')
  t.equal(s.length, 3)
  t.same(Array.from(s.close), [125, 126, 127])
  t.equal(s.day[0], 20230103)
  t.equal(s.volume[2], 1002)
})

t.test('Parquet catalogue entries carry per-timeframe availability and the manifest', async (t) => {
  const src = new ParquetBarSource(parquetDir(t))
  await src.init()
  const [e] = src.listSymbols()
  t.equal(e.market, 'NASDAQ')
  t.equal(e.source, 'parquet')
  t.same(e.timeframes, [
    { timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-05' },
    { timeframe: '1h', first_date: '2023-01-03', last_date: '2023-01-04' },
    { timeframe: '1m', first_date: '2023-01-03', last_date: '2023-01-04' }
  ])
})

t.test('Parquet minute files (TIMESTAMP column) load per day in range', async (t) => {
  const src = new ParquetBarSource(parquetDir(t))
  await src.init()
  const m = await src.loadSeries('AAPL', '1m', '2023-01-04', '2023-01-04')
  t.equal(m.length, 120)
  t.equal(new Date(m.time[0]).toISOString(), '2023-01-04T14:30:00.000Z')
  t.equal(m.day[0], 20230104)
  t.equal(m.close[119], 126 + 119 / 100)
})

t.test('Parquet hourly bars are aggregated from minutes when there is no hourly folder', async (t) => {
  const src = new ParquetBarSource(parquetDir(t))
  await src.init()
  const h = await src.loadSeries('AAPL', '1h', '2023-01-03', '2023-01-03')
  t.equal(h.length, 2)
  t.equal(h.open[0], 125 - 0.5)
  t.equal(h.close[0], 125 + 59 / 100)
  t.equal(h.volume[0], Array.from({ length: 60 }, (_, i) => 1000 + i).reduce((a, b) => a + b))
})

t.test('createBarSources picks Parquet for candles/, CSV for *.csv, and keeps the demo last', async (t) => {
  const kinds = (dir: string): string[] => createBarSources({ dataDir: dir, now }).map((s) => s.kind)
  t.same(kinds(parquetDir(t)), ['parquet', 'demo'])
  t.same(kinds(t.testdir({ 'X.csv': YAHOO })), ['csv', 'demo'])
  t.same(createBarSources({ dataDir: t.testdir({ 'X.csv': YAHOO }), demo: false }).map((s) => s.kind), ['csv'])
  t.throws(() => createBarSources({ dataDir: t.testdir({ 'readme.txt': 'x' }) }), { name: 'AppError', error_code: 'INTERNAL_ERROR' })
})
