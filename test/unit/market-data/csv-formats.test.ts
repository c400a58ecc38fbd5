// Every CSV variant the file source accepts (docs/market-data.md "CSV layout") and every row it must refuse,
// plus manifest.json and file-name identity rules shared with the Parquet source (file-catalog.ts).
// One rule per test, so changing how a format is read fails the test that names it.
import t from 'tap'
import { CsvBarSource, parseCsvBars } from '../../../server/market-data/sources/csv.js'
import { describeFileSymbol, fileSymbolInfo, readManifest } from '../../../server/market-data/sources/file-catalog.js'
import { createBarSources } from '../../../server/market-data/sources/index.js'

const ROWS = '2023-01-03,130.28,130.9,124.17,125.07,124.216301,112117500\n2023-01-04,126.89,128.66,125.08,126.36,125.497498,89113600\n'

async function load (dir: string, symbol = 'AAPL'): Promise<{ src: CsvBarSource, s: Awaited<ReturnType<CsvBarSource['loadSeries']>> }> {
  const src = new CsvBarSource(dir)
  await src.init()
  return { src, s: await src.loadSeries(symbol, '1d', '2023-01-01', '2023-12-31') }
}

const parse = (text: string): ReturnType<typeof parseCsvBars> => parseCsvBars(text, 'X.csv', 'X', 'nyse')

t.test('every documented header spelling maps to its column', async (t) => {
  const headers: Array<[string, string]> = [
    ['Yahoo', 'Date,Open,High,Low,Close,Adj Close,Volume'],
    ['snake case', 'date,open,high,low,close,adj_close,volume'],
    ['adjclose, vol', 'DATE,OPEN,HIGH,LOW,CLOSE,ADJCLOSE,VOL'],
    ['adjusted close', 'Day,Open,High,Low,Close,Adjusted Close,Volume'],
    ['adjusted_close, wolumen', 'Data,Otwarcie,Najwyzszy,Najnizszy,Zamkniecie,adjusted_close,Wolumen'],
    ['one letter', 'date,o,h,l,c,adj close,v'],
    ['quoted', '"Date","Open","High","Low","Close","Adj Close","Volume"'],
    ['Stooq bulk brackets', '<DATE>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<ADJ CLOSE>,<VOL>'],
    ['spaces around names', ' Date , Open , High , Low , Close , Adj Close , Volume ']
  ]
  for (const [name, header] of headers) {
    const s = parse(`${header}\n${ROWS}`)
    t.same([Array.from(s.open), Array.from(s.high), Array.from(s.low), Array.from(s.close), Array.from(s.adjClose!), Array.from(s.volume)], [
      [130.28, 126.89], [130.9, 128.66], [124.17, 125.08], [125.07, 126.36], [124.216301, 125.497498], [112117500, 89113600]
    ], name)
  }
})

t.test('columns are found by name in any order; unknown columns are ignored', async (t) => {
  const s = parse('Ticker,Volume,Close,Low,High,Open,Date,Note\nAAPL,500,4,1,5,2,2023-01-03,hello\n')
  t.same([s.open[0], s.high[0], s.low[0], s.close[0], s.volume[0], s.day[0]], [2, 5, 1, 4, 500, 20230103])
  t.equal(s.adjClose, undefined, 'no Adj Close column, no adjusted series')
})

t.test('of two columns with the same meaning the first is used', async (t) => {
  const s = parse('Date,Open,High,Low,Close,Volume,Vol\n2023-01-03,1,2,0.5,1.5,100,999\n')
  t.equal(s.volume[0], 100)
})

t.test('a byte-order mark, CRLF line ends, quoted fields and blank lines are tolerated', async (t) => {
  const s = parse('\uFEFFDate,Open,High,Low,Close,Volume\r\n"2023-01-03","1","2","0.5","1.5","100"\r\n\r\n2023-01-04, 1.5 , 2.5 , 1 , 2 , 200 \r\n\r\n')
  t.same(Array.from(s.day), [20230103, 20230104])
  t.same(Array.from(s.close), [1.5, 2])
  t.same(Array.from(s.volume), [100, 200])
})

t.test('dates: ISO, a timestamp (its date part), and compact yyyymmdd', async (t) => {
  const s = parse('Date,Open,High,Low,Close\n2023-01-03 00:00:00,1,2,0.5,1\n2023-01-04T16:00:00-05:00,1,2,0.5,2\n20230105,1,2,0.5,3\n')
  t.same(Array.from(s.day), [20230103, 20230104, 20230105])
  t.same(Array.from(s.close), [1, 2, 3])
  t.same(Array.from(s.time, (x) => new Date(x).toISOString()), ['2023-01-03T14:30:00.000Z', '2023-01-04T14:30:00.000Z', '2023-01-05T14:30:00.000Z'], 'a daily bar is stamped at its regular open, whatever time the file wrote')
})

t.test('a daily bar is stamped at its market\'s open: crypto 00:00 UTC, forex 17:00 New York the day before', async (t) => {
  const text = 'Date,Open,High,Low,Close\n2023-07-03,1,2,0.5,1\n'
  t.equal(new Date(parseCsvBars(text, 'B.csv', 'BTC/USD', 'crypto').time[0]).toISOString(), '2023-07-03T00:00:00.000Z')
  t.equal(new Date(parseCsvBars(text, 'E.csv', 'EUR/USD', 'forex').time[0]).toISOString(), '2023-07-02T21:00:00.000Z', 'summer: 17:00 EDT')
  t.equal(new Date(parseCsvBars(text, 'A.csv', 'AAPL', 'nyse').time[0]).toISOString(), '2023-07-03T13:30:00.000Z', 'summer: 09:30 EDT')
})

t.test('volume: a missing column or an empty cell is 0; anything else must be a number', async (t) => {
  t.same(Array.from(parse('Date,Open,High,Low,Close,Volume\n2023-01-03,1,2,0.5,1.5,\n').volume), [0])
  t.throws(() => parse('Date,Open,High,Low,Close,Volume\n2023-01-03,1,2,0.5,1.5,n/a\n'), { error_code: 'INTERNAL_ERROR', message: "X.csv:2: volume 'n/a' is not a number" })
})

t.test('Yahoo all-null rows are skipped; a partly null row is refused', async (t) => {
  const s = parse('Date,Open,High,Low,Close,Adj Close,Volume\n2023-01-03,null,null,null,null,null,null\n2023-01-04,1,2,0.5,1.5,1.4,10\n')
  t.same(Array.from(s.day), [20230104])
  t.throws(() => parse('Date,Open,High,Low,Close,Volume\n2023-01-03,null,2,0.5,1.5,10\n'), { message: "X.csv:2: open 'null' is not a number" })
  t.throws(() => parse('Date,Open,High,Low,Close,Volume\n2023-01-03,1,2,0.5,null,10\n'), { message: "X.csv:2: close 'null' is not a number" })
})

t.test('each malformed row is refused with the file, the line and the problem', async (t) => {
  const H = 'Date,Open,High,Low,Close,Adj Close,Volume\n'
  const cases: Array<[string, string]> = [
    [`${H}2023-01-03,1,2,0.5,1.5,1.4\n`, 'X.csv:2: expected 7 fields, found 6'],
    [`${H}2023-01-03,,2,0.5,1.5,1.4,1\n`, "X.csv:2: open '' is not a number"],
    [`${H}2023-01-03,1,2,0.5,1.5,abc,1\n`, "X.csv:2: adj close 'abc' is not a number"],
    [`${H}2023-01-03,1,2,0.5,Infinity,1.4,1\n`, "X.csv:2: close 'Infinity' is not a number"],
    [`${H}2023-01-03,1,2,0.5,1.5,1.4,1\n2023-01-04,1,0.5,2,1.5,1.4,1\n`, 'X.csv:3: high 0.5 is below low 2'],
    [`${H}03/01/2023,1,2,0.5,1.5,1.4,1\n`, "X.csv:2: invalid date '03/01/2023'"],
    [`${H}2023-01-04,1,2,0.5,1.5,1.4,1\n2023-01-03,1,2,0.5,1.5,1.4,1\n2023-01-04,1,2,0.5,1.6,1.4,1\n`, 'X.csv:4: duplicate date 2023-01-04']
  ]
  for (const [text, message] of cases) t.throws(() => parse(text), { name: 'AppError', error_code: 'INTERNAL_ERROR', message, details: { file: 'X.csv' } }, message)
  t.same(Array.from(parse(`${H}2023-01-03,1,1,1,1,1,1\n`).close), [1], 'a flat bar (high = low) is fine')
})

t.test('a missing required column is refused on line 1, naming it; other delimiters are not guessed', async (t) => {
  for (const need of ['date', 'open', 'high', 'low', 'close']) {
    const header = ['Date', 'Open', 'High', 'Low', 'Close'].filter((h) => h.toLowerCase() !== need).join(',')
    t.throws(() => parse(`${header}\n`), { error_code: 'INTERNAL_ERROR', message: new RegExp(`^X\\.csv:1: missing column '${need}' in header`), details: { line: 1 } }, need)
  }
  // A semicolon (European spreadsheet) or tab export is one unknown column: refused, never misread.
  t.throws(() => parse('Date;Open;High;Low;Close\n2023-01-03;1;2;0,5;1,5\n'), { message: /X\.csv:1: missing column 'date' in header \(Date;Open;High;Low;Close\)/ })
  t.throws(() => parse('Date\tOpen\tHigh\tLow\tClose\n2023-01-03\t1\t2\t0.5\t1.5\n'), { message: /missing column 'date'/ })
})

t.test('the folder: *.csv (any case) files only, a header-only file lists nothing', async (t) => {
  const dir = t.testdir({
    'AAPL.CSV': `Date,Open,High,Low,Close,Adj Close,Volume\n${ROWS}`,
    'EMPTY.csv': 'Date,Open,High,Low,Close\n',
    'notes.txt': 'not data',
    'MSFT.csv.bak': 'garbage'
  })
  const { src, s } = await load(dir)
  t.same(src.listSymbols().map((e) => e.symbol), ['AAPL'])
  t.equal(s.length, 2)
})

t.test('loading: unknown symbols and intraday timeframes are refused; adjusted without Adj Close is raw', async (t) => {
  const dir = t.testdir({ 'MSFT.csv': 'Date,Open,High,Low,Close,Volume\n2023-01-03,10,12,9,11,5\n' })
  const src = new CsvBarSource(dir)
  await src.init()
  await t.rejects(src.loadSeries('NOPE', '1d', '2023-01-01', '2023-01-31'), { name: 'AppError', error_code: 'INVALID_SYMBOL', details: { invalid_symbols: ['NOPE'] } })
  for (const tf of ['1h', '1m'] as const) {
    await t.rejects(src.loadSeries('MSFT', tf, '2023-01-01', '2023-01-31'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { symbol: 'MSFT', timeframe: tf, available_timeframes: ['1d'] } })
  }
  const raw = await src.loadSeries('MSFT', '1d', '2023-01-01', '2023-01-31', { adjusted: true })
  t.same([raw.open[0], raw.close[0]], [10, 11])
  t.equal((await src.loadSeries('MSFT', '1d', '2023-01-04', '2023-01-31')).length, 0, 'a range after the data is empty')
})

t.test('adjusted prices: OHLC scaled by Adj Close / Close per row, a zero close left unscaled', async (t) => {
  const dir = t.testdir({ 'AAPL.csv': 'Date,Open,High,Low,Close,Adj Close,Volume\n2023-01-03,10,12,8,10,5,100\n2023-01-04,1,2,0,0,0,7\n' })
  const src = new CsvBarSource(dir)
  await src.init()
  const a = await src.loadSeries('AAPL', '1d', '2023-01-01', '2023-01-31', { adjusted: true })
  t.same([Array.from(a.open), Array.from(a.high), Array.from(a.low), Array.from(a.close), Array.from(a.volume)], [[5, 1], [6, 2], [4, 0], [5, 0], [100, 7]])
  const raw = await src.loadSeries('AAPL', '1d', '2023-01-01', '2023-01-31')
  t.same(Array.from(raw.close), [10, 0], 'without adjusted the prices are as written')
})

t.test('file names: C: and X: prefixes pick forex and crypto; other names are NYSE stocks', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['C:EURUSD', { symbol: 'EUR/USD', asset_class: 'forex', market: 'FOREX', currency: 'USD', name: 'EUR/USD' }],
    ['c:usdjpy', { symbol: 'USD/JPY', asset_class: 'forex', market: 'FOREX', currency: 'JPY' }],
    ['X:BTCUSD', { symbol: 'BTC/USD', asset_class: 'crypto', market: 'CRYPTO', currency: 'USD' }],
    ['X:ETHUSDT', { symbol: 'ETH/USDT', asset_class: 'crypto', currency: 'USDT' }],
    ['brk_b', { symbol: 'BRK.B', asset_class: 'stock', market: 'NYSE', currency: 'USD' }],
    ['CX', { symbol: 'CX', asset_class: 'stock', market: 'NYSE' }]
  ]
  for (const [file, expected] of cases) t.match(describeFileSymbol(file, {}), expected, file)
})

t.test('the manifest: market implies the asset class, asset class implies the market; currency and name override', async (t) => {
  const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
    [{ market: 'FOREX' }, { symbol: 'EUR/USD', asset_class: 'forex', market: 'FOREX' }],
    [{ market: 'CRYPTO' }, { symbol: 'EUR/USD', asset_class: 'crypto', market: 'CRYPTO' }],
    [{ asset_class: 'forex' }, { asset_class: 'forex', market: 'FOREX', currency: 'USD' }],
    [{ asset_class: 'crypto' }, { asset_class: 'crypto', market: 'CRYPTO' }],
    [{ market: 'NASDAQ', name: 'Not a pair', currency: 'EUR' }, { symbol: 'EURUSD', asset_class: 'stock', market: 'NASDAQ', name: 'Not a pair', currency: 'EUR' }]
  ]
  for (const [entry, expected] of cases) t.match(describeFileSymbol('EURUSD', { EURUSD: entry }), expected, JSON.stringify(entry))
})

t.test('readManifest: keys are case-insensitive, non-string names ignored, null entries allowed', async (t) => {
  const dir = t.testdir({ 'manifest.json': JSON.stringify({ aapl: { market: 'NASDAQ', name: 42, currency: 7 }, msft: null }) })
  const m = await readManifest(dir)
  t.same(m.AAPL, { asset_class: undefined, market: 'NASDAQ', name: undefined, currency: undefined })
  t.same(m.MSFT, { asset_class: undefined, market: undefined, name: undefined, currency: undefined })
  t.match(describeFileSymbol('AAPL', m), { market: 'NASDAQ', name: 'AAPL', currency: 'USD' })
  t.same(await readManifest(t.testdir({})), {}, 'no manifest, no entries')
})

t.test('readManifest refuses what it cannot trust, naming the file', async (t) => {
  const root = t.testdir({
    json: { 'manifest.json': '{ "AAPL": ' },
    array: { 'manifest.json': '[]' },
    scalar: { 'manifest.json': '"AAPL"' },
    nil: { 'manifest.json': 'null' },
    cls: { 'manifest.json': JSON.stringify({ AAPL: { asset_class: 'bond' } }) },
    market: { 'manifest.json': JSON.stringify({ AAPL: { market: 'LSE' } }) }
  })
  const expect: Record<string, RegExp> = {
    json: /manifest\.json: invalid JSON/,
    array: /manifest\.json: expected an object of symbol/,
    scalar: /manifest\.json: expected an object of symbol/,
    nil: /manifest\.json: expected an object of symbol/,
    cls: /manifest\.json: AAPL: asset_class must be stock, forex or crypto/,
    market: /manifest\.json: AAPL: market must be NYSE, NASDAQ, FOREX or CRYPTO/
  }
  for (const [name, message] of Object.entries(expect)) await t.rejects(readManifest(`${root}/${name}`), { error_code: 'INTERNAL_ERROR', message, details: { line: null } }, name)
  await t.rejects(new CsvBarSource(`${root}/cls`).init(), { message: /asset_class must be/ }, 'a CSV folder with a bad manifest does not load')
})

t.test('a file symbol spelled unlike any alias stays an accepted alias of its entry', async (t) => {
  const brk = fileSymbolInfo('brk_b', {}, 'csv', [])
  t.equal(brk.symbol, 'BRK.B')
  t.same(brk.aliases, ['BRK-B', 'BRK/B', 'BRK_B'])
  t.same(fileSymbolInfo('brk-b', {}, 'csv', []).aliases, ['BRK-B', 'BRK/B'], 'not listed twice')
  t.same(fileSymbolInfo('AAPL', {}, 'csv', []).aliases, [], 'the canonical spelling is no alias')
  t.match(fileSymbolInfo('EURUSD', { EURUSD: { asset_class: 'forex' } }, 'parquet', []), { symbol: 'EUR/USD', aliases: ['EURUSD', 'C:EURUSD', 'EUR-USD', 'EUR_USD'], synthetic: false, source: 'parquet' })
})

t.test('the data folder must exist and be a folder; a candles file is not the Parquet layout', async (t) => {
  const root = t.testdir({ 'plain-file': 'x', csvish: { candles: 'a file, not a folder', 'AAPL.csv': `Date,Open,High,Low,Close\n${ROWS.split('\n')[0].split(',').slice(0, 5).join(',')}\n` } })
  for (const dir of [`${root}/missing`, `${root}/plain-file`]) {
    t.throws(() => createBarSources({ dataDir: dir }), { name: 'AppError', error_code: 'INTERNAL_ERROR', message: `Market-data directory ${dir} does not exist`, details: { data_dir: dir } })
  }
  t.same(createBarSources({ dataDir: `${root}/csvish`, demo: false }).map((s) => s.kind), ['csv'])
  t.same(createBarSources({ dataDir: '' }).map((s) => s.kind), ['demo'], 'an empty setting means no data folder')
})

t.test('manifest currency is taken when it is a string; a pair-less crypto file quotes in USD', async (t) => {
  const m = await readManifest(t.testdir({ 'manifest.json': JSON.stringify({ SAP: { market: 'NYSE', currency: 'EUR' } }) }))
  t.equal(m.SAP.currency, 'EUR')
  t.match(describeFileSymbol('sap', m), { symbol: 'SAP', currency: 'EUR' })
  t.match(describeFileSymbol('doge', { DOGE: { asset_class: 'crypto' } }), { symbol: 'DOGE', asset_class: 'crypto', currency: 'USD' })
})
