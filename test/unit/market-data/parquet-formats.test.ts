// Every Parquet layout and cell encoding the data-manager source accepts (docs/market-data.md "Parquet
// layout", ARCHITECTURE.md §6): folder spellings per timeframe, `date`/`timestamp`/`datetime` columns as
// DATE, TIMESTAMP (ms/µs), raw integer epochs and ISO strings, optional volume, forex daily days, and the
// files it must refuse or skip. Each test pins one rule so changing the rule fails it.
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ParquetBarSource, cellToEpochMs } from '../../../server/market-data/sources/parquet.js'

type Cell = number | string | null | { $date: number } | { $bigint: string }
interface Column { name: string, element: Record<string, unknown>, data: Cell[] }
interface ParquetFile { filename: string, columns: Column[] }

// Zoneless strings must read as UTC whatever the machine's zone: run in a zone far from UTC so that a
// local-time reading would show (the CI machine is UTC, where the two agree).
process.env.TZ = 'Asia/Tokyo'

const WRITER = fileURLToPath(new URL('./fixtures/write-parquet-columns.mjs', import.meta.url))

/** Writes every file in one plain-node child (see the writer for why). */
function write (files: ParquetFile[]): void {
  for (const f of files) mkdirSync(dirname(f.filename), { recursive: true })
  execFileSync(process.execPath, [WRITER, JSON.stringify(files)], { env: { PATH: process.env.PATH ?? '' } })
}

const DOUBLE = { type: 'DOUBLE' }
const DATE = { type: 'INT32', converted_type: 'DATE' }
const TS_MS = { type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' }
const TS_US = { type: 'INT64', converted_type: 'TIMESTAMP_MICROS' }
const INT64 = { type: 'INT64' }
const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8' }

const ms = (iso: string): number => Date.parse(iso)
const dates = (isos: string[]): Cell[] => isos.map((d) => ({ $date: ms(d.length === 10 ? `${d}T00:00:00Z` : d) }))

/** open = close − 0.5, high = close + 1, low = close − 1, volume 1000 + i (INT64, read back as bigint). */
function ohlcv (closes: number[], withVolume = true): Column[] {
  const cols: Column[] = [
    { name: 'open', element: DOUBLE, data: closes.map((c) => c - 0.5) },
    { name: 'high', element: DOUBLE, data: closes.map((c) => c + 1) },
    { name: 'low', element: DOUBLE, data: closes.map((c) => c - 1) },
    { name: 'close', element: DOUBLE, data: closes }
  ]
  if (withVolume) cols.push({ name: 'volume', element: INT64, data: closes.map((_, i) => ({ $bigint: String(1000 + i) })) })
  return cols
}

function daily (dir: string, folder: string, symbol: string, days: string[], closes: number[]): ParquetFile {
  return { filename: join(dir, 'candles', folder, `${symbol}.parquet`), columns: [{ name: 'date', element: DATE, data: dates(days) }, ...ohlcv(closes)] }
}

/** `count` minute bars from `startIso`, closes base, base + 0.01, … */
function minutes (dir: string, folder: string, symbol: string, day: string, startIso: string, count: number, base: number): ParquetFile {
  const t0 = ms(startIso)
  return {
    filename: join(dir, 'candles', folder, symbol, `${day}.parquet`),
    columns: [
      { name: 'date', element: TS_MS, data: Array.from({ length: count }, (_, i) => ({ $date: t0 + i * 60_000 })) },
      ...ohlcv(Array.from({ length: count }, (_, i) => Math.round((base + i / 100) * 100) / 100))
    ]
  }
}

async function source (dir: string): Promise<ParquetBarSource> {
  const src = new ParquetBarSource(dir)
  await src.init()
  return src
}

const iso = (msList: Float64Array): string[] => Array.from(msList, (x) => new Date(x).toISOString())

t.test('cellToEpochMs: Date cells, integer epochs by magnitude, ISO strings (UTC without a zone)', async (t) => {
  const at = ms('2023-01-03T14:30:00Z')
  t.equal(cellToEpochMs(new Date(at)), at, 'DATE / TIMESTAMP cells arrive as Date')
  t.equal(cellToEpochMs(at / 1000), at, 'seconds')
  t.equal(cellToEpochMs(BigInt(at / 1000)), at, 'seconds as an INT64 bigint')
  t.equal(cellToEpochMs(at), at, 'milliseconds')
  t.equal(cellToEpochMs(at * 1000), at, 'microseconds')
  t.equal(cellToEpochMs(BigInt(at) * 1_000_000n), at, 'nanoseconds')
  // The magnitude boundaries: 1e11 s would be year 5138, so from 1e11 on a number is ms (1973); likewise µs from 1e14, ns from 1e17.
  t.equal(cellToEpochMs(99_999_999_999), 99_999_999_999_000, 'just below 1e11 is seconds')
  t.equal(cellToEpochMs(1e11), 1e11, '1e11 is milliseconds')
  t.equal(cellToEpochMs(1e14), 1e11, '1e14 is microseconds')
  t.equal(cellToEpochMs(1e17), 1e11, '1e17 is nanoseconds')
  t.equal(cellToEpochMs(-86_400), -86_400_000, 'a pre-1970 epoch in seconds by its magnitude')
  t.equal(cellToEpochMs('2023-01-03'), ms('2023-01-03T00:00:00Z'), 'a date string is UTC midnight')
  t.equal(cellToEpochMs(' 2023-01-03 14:30:00 '), at, 'a zoneless timestamp with a space is UTC')
  t.equal(cellToEpochMs('2023-01-03T14:30:00'), at, 'a zoneless ISO timestamp is UTC')
  t.equal(cellToEpochMs('2023-01-03T09:30:00-05:00'), at, 'an explicit offset is honoured')
  t.equal(cellToEpochMs('2023-01-03 14:30:00Z'), at, 'Z with a space separator')
  for (const bad of [null, undefined, true, {}, 'yesterday']) t.ok(Number.isNaN(cellToEpochMs(bad)), `${String(bad)} is not an instant`)
})

t.test('every documented folder spelling of each timeframe is found (case-insensitive)', async (t) => {
  const layouts: Array<{ daily?: string, minute?: string, hour?: string }> = [
    { daily: 'daily', minute: '1min', hour: '1h' },
    { daily: '1d', minute: '1m', hour: '60min' },
    { daily: '1day', minute: '1minute', hour: '1hour' },
    { daily: 'Day', minute: 'MINUTE', hour: 'hour' },
    { daily: 'DAILY', hour: '60m' }
  ]
  const root = t.testdir({})
  const dirs = layouts.map((_, k) => join(root, `layout-${k}`))
  const files: ParquetFile[] = []
  layouts.forEach((l, k) => {
    const dir = dirs[k]
    if (l.daily !== undefined) files.push(daily(dir, l.daily, 'AAPL', ['2023-01-03', '2023-01-04'], [125, 126]))
    if (l.minute !== undefined) files.push(minutes(dir, l.minute, 'AAPL', '2023-01-05', '2023-01-05T14:30:00Z', 3, 127))
    if (l.hour !== undefined) files.push(minutes(dir, l.hour, 'AAPL', '2023-01-06', '2023-01-06T14:30:00Z', 2, 128))
  })
  write(files)
  for (const [k, l] of layouts.entries()) {
    const [e] = (await source(dirs[k])).listSymbols()
    const expected = [{ timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-04' }, { timeframe: '1h', first_date: '2023-01-06', last_date: '2023-01-06' }]
    if (l.minute !== undefined) expected.push({ timeframe: '1m', first_date: '2023-01-05', last_date: '2023-01-05' })
    t.same(e.timeframes, expected, JSON.stringify(l))
  }
})

t.test('an hourly folder is served as written, not re-aggregated from minutes', async (t) => {
  const dir = t.testdir({})
  write([
    minutes(dir, '1min', 'AAPL', '2023-01-03', '2023-01-03T14:30:00Z', 120, 100),
    // Hourly file with prices unrelated to the minutes: only a direct read returns them.
    { filename: join(dir, 'candles', '1h', 'AAPL', '2023-01-03.parquet'), columns: [{ name: 'date', element: TS_MS, data: dates(['2023-01-03T14:30:00Z', '2023-01-03T15:30:00Z']) }, ...ohlcv([500, 501])] }
  ])
  const src = await source(dir)
  const h = await src.loadSeries('AAPL', '1h', '2023-01-03', '2023-01-03')
  t.same(Array.from(h.close), [500, 501])
  t.equal(h.timeframe, '1h')
  const m = await src.loadSeries('AAPL', '1m', '2023-01-03', '2023-01-03')
  t.equal(m.length, 120, 'the minutes are still there')
})

t.test('the date column may be named timestamp or datetime, and typed TIMESTAMP_MICROS, INT64 epoch or string', async (t) => {
  const dir = t.testdir({})
  const days = ['2023-01-03', '2023-01-04', '2023-01-05']
  const secs = days.map((d) => ({ $bigint: String(ms(`${d}T00:00:00Z`) / 1000) }))
  write([
    { filename: join(dir, 'candles', 'daily', 'TS.parquet'), columns: [{ name: 'timestamp', element: TS_US, data: dates(days) }, ...ohlcv([1, 2, 3])] },
    { filename: join(dir, 'candles', 'daily', 'DT.parquet'), columns: [{ name: 'datetime', element: INT64, data: secs }, ...ohlcv([1, 2, 3])] },
    { filename: join(dir, 'candles', 'daily', 'STR.parquet'), columns: [{ name: 'date', element: STRING, data: days }, ...ohlcv([1, 2, 3])] },
    { filename: join(dir, 'candles', 'daily', 'ISO.parquet'), columns: [{ name: 'date', element: STRING, data: days.map((d) => `${d} 00:00:00`) }, ...ohlcv([1, 2, 3])] }
  ])
  const src = await source(dir)
  for (const sym of ['TS', 'DT', 'STR', 'ISO']) {
    const s = await src.loadSeries(sym, '1d', '2023-01-01', '2023-01-31')
    t.same(Array.from(s.day), [20230103, 20230104, 20230105], `${sym}: trading days`)
    t.same(Array.from(s.close), [1, 2, 3], `${sym}: closes`)
    t.same(Array.from(s.volume), [1000, 1001, 1002], `${sym}: INT64 volume read as numbers`)
  }
})

t.test('volume is optional: a missing column or a null cell means 0', async (t) => {
  const dir = t.testdir({})
  write([
    { filename: join(dir, 'candles', 'daily', 'NOVOL.parquet'), columns: [{ name: 'date', element: DATE, data: dates(['2023-01-03', '2023-01-04']) }, ...ohlcv([10, 11], false)] },
    {
      filename: join(dir, 'candles', 'daily', 'NULLVOL.parquet'),
      columns: [{ name: 'date', element: DATE, data: dates(['2023-01-03', '2023-01-04']) }, ...ohlcv([10, 11], false), { name: 'volume', element: { type: 'DOUBLE', repetition_type: 'OPTIONAL' }, data: [null, 7] }]
    }
  ])
  const src = await source(dir)
  t.same(Array.from((await src.loadSeries('NOVOL', '1d', '2023-01-03', '2023-01-04')).volume), [0, 0])
  t.same(Array.from((await src.loadSeries('NULLVOL', '1d', '2023-01-03', '2023-01-04')).volume), [0, 7])
})

t.test('rows out of order are served sorted by time, every column moved together', async (t) => {
  const dir = t.testdir({})
  write([{ filename: join(dir, 'candles', 'daily', 'AAPL.parquet'), columns: [{ name: 'date', element: DATE, data: dates(['2023-01-05', '2023-01-03', '2023-01-04']) }, ...ohlcv([3, 1, 2])] }])
  const src = await source(dir)
  t.same(src.listSymbols()[0].timeframes, [{ timeframe: '1d', first_date: '2023-01-03', last_date: '2023-01-05' }])
  const s = await src.loadSeries('AAPL', '1d', '2023-01-01', '2023-01-31')
  t.same(Array.from(s.day), [20230103, 20230104, 20230105])
  t.same(Array.from(s.close), [1, 2, 3])
  t.same(Array.from(s.open), [0.5, 1.5, 2.5])
  t.same(Array.from(s.high), [2, 3, 4])
  t.same(Array.from(s.low), [0, 1, 2])
  t.same(Array.from(s.volume), [1001, 1002, 1000], 'volume travels with its row')
})

t.test('a forex daily bar: a midnight-UTC date is that day; a 17:00 New York stamp opens the next day', async (t) => {
  const dir = t.testdir({})
  write([
    daily(dir, 'daily', 'C:EURUSD', ['2023-01-03', '2023-01-04'], [1.06, 1.07]),
    { filename: join(dir, 'candles', 'daily', 'C:GBPUSD.parquet'), columns: [{ name: 'date', element: TS_MS, data: dates(['2023-01-02T22:00:00Z', '2023-01-03T22:00:00Z']) }, ...ohlcv([1.2, 1.21])] }
  ])
  const src = await source(dir)
  const eur = src.listSymbols().find((e) => e.symbol === 'EUR/USD')!
  t.match(eur, { asset_class: 'forex', market: 'FOREX', currency: 'USD' }, 'the C: prefix makes it forex')
  t.ok(eur.aliases.includes('C:EURUSD'))
  t.same(Array.from((await src.loadSeries('EUR/USD', '1d', '2023-01-01', '2023-01-31')).day), [20230103, 20230104])
  const gbp = await src.loadSeries('GBP/USD', '1d', '2023-01-01', '2023-01-31')
  t.same(Array.from(gbp.day), [20230103, 20230104], 'Monday 17:00 New York starts Tuesday\'s forex day')
  t.same(iso(gbp.time), ['2023-01-02T22:00:00.000Z', '2023-01-03T22:00:00.000Z'], 'time is the file\'s instant')
})

t.test('a stock daily bar stamped at its 09:30 New York open keeps its UTC date', async (t) => {
  const dir = t.testdir({})
  write([{ filename: join(dir, 'candles', 'daily', 'AAPL.parquet'), columns: [{ name: 'date', element: TS_MS, data: dates(['2023-01-03T14:30:00Z', '2023-01-04T14:30:00Z']) }, ...ohlcv([1, 2])] }])
  t.same(Array.from((await (await source(dir)).loadSeries('AAPL', '1d', '2023-01-04', '2023-01-04')).close), [2])
})

t.test('a range of more day files than are read at once returns every day, in order', async (t) => {
  const dir = t.testdir({})
  const days = ['2023-01-03', '2023-01-04', '2023-01-05', '2023-01-06', '2023-01-09', '2023-01-10', '2023-01-11', '2023-01-12', '2023-01-13', '2023-01-17', '2023-01-18']
  write(days.map((d, k) => minutes(dir, '1min', 'AAPL', d, `${d}T14:30:00Z`, 2, 100 + k)))
  const src = await source(dir)
  const m = await src.loadSeries('AAPL', '1m', '2023-01-04', '2023-01-17')
  const inRange = days.slice(1, 10)
  t.equal(m.length, inRange.length * 2)
  t.same([...new Set(m.day)], inRange.map((d) => Number(d.replaceAll('-', ''))), 'the first and last file are outside the range')
  t.same(Array.from(m.close).filter((_, i) => i % 2 === 0), inRange.map((_, k) => 101 + k), 'each day\'s own bars, in day order')
  t.ok(m.time.every((x, i) => i === 0 || x > m.time[i - 1]), 'strictly increasing time')
})

t.test('files that are not day files are skipped when indexing a symbol\'s folder', async (t) => {
  const dir = t.testdir({ candles: { '1min': { 'README.txt': 'not a symbol folder', AAPL: { 'notes.txt': 'x', '2023-02-30.parquet': 'not a real day', '20230104.parquet': 'compact name is not the layout' } } } })
  write([minutes(dir, '1min', 'AAPL', '2023-01-03', '2023-01-03T14:30:00Z', 2, 100)])
  const src = await source(dir)
  t.same(src.listSymbols().map((e) => [e.symbol, e.timeframes]), [['AAPL', [
    { timeframe: '1h', first_date: '2023-01-03', last_date: '2023-01-03' },
    { timeframe: '1m', first_date: '2023-01-03', last_date: '2023-01-03' }
  ]]])
})

t.test('a symbol without a timeframe\'s files refuses that timeframe with INVALID_DATE_RANGE', async (t) => {
  const dir = t.testdir({})
  write([daily(dir, 'daily', 'DAYONLY', ['2023-01-03'], [1]), minutes(dir, '1min', 'MINONLY', '2023-01-03', '2023-01-03T14:30:00Z', 2, 1)])
  const src = await source(dir)
  t.same(src.listSymbols().map((e) => [e.symbol, e.timeframes.map((x) => x.timeframe)]), [['DAYONLY', ['1d']], ['MINONLY', ['1h', '1m']]])
  await t.rejects(src.loadSeries('DAYONLY', '1m', '2023-01-03', '2023-01-03'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { symbol: 'DAYONLY', timeframe: '1m' } })
  await t.rejects(src.loadSeries('DAYONLY', '1h', '2023-01-03', '2023-01-03'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { timeframe: '1h' } })
  await t.rejects(src.loadSeries('MINONLY', '1d', '2023-01-03', '2023-01-03'), { name: 'AppError', error_code: 'INVALID_DATE_RANGE', details: { timeframe: '1d' } })
  await t.rejects(src.loadSeries('NOPE', '1d', '2023-01-03', '2023-01-03'), { name: 'AppError', error_code: 'INVALID_SYMBOL', details: { invalid_symbols: ['NOPE'] } })
})

t.test('an empty daily file lists no daily data', async (t) => {
  const dir = t.testdir({})
  write([daily(dir, 'daily', 'EMPTY', [], [])])
  t.same((await source(dir)).listSymbols(), [])
})

t.test('bad Parquet content stops the load naming the file (and row)', async (t) => {
  const root = t.testdir({ corrupt: { candles: { daily: { 'AAPL.parquet': 'this is not parquet' } } } })
  const corrupt = join(root, 'corrupt')
  await t.rejects(source(corrupt), { error_code: 'INTERNAL_ERROR', message: /AAPL\.parquet: cannot read Parquet/ })

  const nullPrice = join(root, 'nullPrice')
  write([{
    filename: join(nullPrice, 'candles', 'daily', 'AAPL.parquet'),
    columns: [{ name: 'date', element: DATE, data: dates(['2023-01-03', '2023-01-04']) }, ...ohlcv([1, 2]).filter((c) => c.name !== 'high'), { name: 'high', element: { type: 'DOUBLE', repetition_type: 'OPTIONAL' }, data: [3, null] }]
  }])
  await t.rejects(source(nullPrice), { error_code: 'INTERNAL_ERROR', message: /AAPL\.parquet:2: row 2 has a missing or non-numeric price/, details: { line: 2 } })

  const noDate = join(root, 'noDate')
  write([{ filename: join(noDate, 'candles', 'daily', 'AAPL.parquet'), columns: [{ name: 'when', element: DATE, data: dates(['2023-01-03']) }, ...ohlcv([1])] }])
  await t.rejects(source(noDate), { message: /AAPL\.parquet:1: row 1 has no valid 'date'/ })

  const badMinute = join(root, 'badMinute')
  write([{ filename: join(badMinute, 'candles', '1min', 'AAPL', '2023-01-03.parquet'), columns: [{ name: 'date', element: STRING, data: ['soon'] }, ...ohlcv([1])] }])
  const src = await source(badMinute)
  await t.rejects(src.loadSeries('AAPL', '1m', '2023-01-03', '2023-01-03'), { message: /2023-01-03\.parquet:1: row 1 has no valid 'date'/ }, 'an intraday file is checked when it is loaded')
})

t.test('manifest.json is read from the data folder or candles/, the data folder winning', async (t) => {
  const dir = t.testdir({})
  write([daily(dir, 'daily', 'AAPL', ['2023-01-03'], [1]), daily(dir, 'daily', 'BTCUSD', ['2023-01-03'], [1])])
  writeFileSync(join(dir, 'candles', 'manifest.json'), JSON.stringify({ AAPL: { name: 'from candles', market: 'NASDAQ' }, BTCUSD: { asset_class: 'crypto' } }))
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ AAPL: { name: 'from the data folder', market: 'NASDAQ' } }))
  const src = await source(dir)
  const bySymbol = Object.fromEntries(src.listSymbols().map((e) => [e.symbol, e]))
  t.match(bySymbol.AAPL, { name: 'from the data folder', market: 'NASDAQ' })
  t.match(bySymbol['BTC/USD'], { asset_class: 'crypto', market: 'CRYPTO', currency: 'USD' }, 'candles/manifest.json alone still applies')
  const btc = await src.loadSeries('BTC/USD', '1d', '2023-01-03', '2023-01-03')
  t.equal(btc.length, 1, 'the canonical symbol loads the BTCUSD file')
})
