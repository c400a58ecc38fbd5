// SIMUTRADOR_DATA_DIR end to end: a folder of CSV files (or the data-manager Parquet layout) becomes the
// catalogue, its prices are served exactly as in the files, and a session over them runs and fills at them,
// daily and minute bars alike; the start banner names what was loaded.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'
import { tempDir } from '../fixtures/cli.js'
import { startServer } from '../fixtures/server-process.js'

// Eight NYSE sessions of January 2023 (Jan 2 is the New Year holiday, observed).
const ROWS: Array<[string, number, number, number, number, number]> = [
  ['2023-01-03', 10.1, 10.9, 9.8, 10.5, 1000], ['2023-01-04', 10.55, 11.2, 10.4, 11.05, 1200],
  ['2023-01-05', 11.0, 11.1, 10.2, 10.35, 900], ['2023-01-06', 10.4, 10.8, 10.3, 10.75, 1100],
  ['2023-01-09', 10.8, 11.5, 10.7, 11.4, 1300], ['2023-01-10', 11.45, 11.6, 11.0, 11.2, 800],
  ['2023-01-11', 11.25, 12.01, 11.2, 11.99, 1500], ['2023-01-12', 12.0, 12.3, 11.7, 11.85, 1400]
]

async function csvDir (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const dir = await tempDir(t)
  const lines = ['Date,Open,High,Low,Close,Adj Close,Volume', ...ROWS.map(([d, o, h, l, c, v]) => `${d},${o},${h},${l},${c},${(c * 0.98).toFixed(4)},${v}`)]
  await writeFile(join(dir, 'ACME.csv'), `${lines.join('\n')}\n`)
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ACME: { asset_class: 'stock', market: 'NASDAQ', name: 'Acme Corp' } }))
  return dir
}

t.test('a CSV folder: catalogue, exact bars, and a run that fills at the file prices', async (t) => {
  const { baseUrl, wsUrl } = await listen(t, { SIMUTRADOR_DATA_DIR: await csvDir(t), SIMUTRADOR_DEMO_DATA: 'false' })
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()

  const list = await get('/market-data/symbols')
  t.same(list.symbols.map((s: { symbol: string }) => s.symbol), ['ACME'], 'only the file symbol with the demo off')
  t.match(list.symbols[0], { name: 'Acme Corp', market: 'NASDAQ', source: 'csv', synthetic: false })

  const bars = await get('/market-data/bars/ACME?start=2023-01-01&end=2023-01-31')
  t.same(bars.bars.map((b: any) => [b.session_date, b.open, b.high, b.low, b.close, b.volume]), ROWS, 'served exactly as in the file')

  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  const created = await ws.request('create_session', { symbols: ['acme'], start_date: '2023-01-03', end_date: '2023-01-12', slippage_bps: 0 })
  t.equal(created.data.estimated_ticks, 8)
  const id = created.data.session_id
  await ws.request('start_simulation', { session_id: id })
  let complete
  for (;;) {
    const m = await ws.next()
    if (m.type === 'tick') {
      if (m.data.sequence_id === 1) await ws.request('order_batch', { session_id: id, batch_id: 'b', orders: [{ order_id: 'buy', symbol: 'ACME', side: 'buy', type: 'market', quantity: 100 }] })
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
    }
    if (m.type === 'execution_report') t.match(m.data, { executed_price: '10.55', executed_quantity: 100, commission: '0.50', fill_reason: 'market_open' }, 'the open of the second bar, from the file')
    if (m.type === 'simulation_complete') { complete = m.data; break }
  }
  // 100000 − 100 × 10.55 − 0.50 + 100 × 11.85 (last close) = 100129.50
  t.equal(complete.final_equity, '100129.50')
})

t.test('the data-manager Parquet layout is read the same way', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'candles', 'daily'), { recursive: true })
  const spec = [{
    filename: join(dir, 'candles', 'daily', 'ACME.parquet'),
    dateType: 'DATE',
    dates: ROWS.map(([d]) => Date.parse(`${d}T00:00:00Z`)),
    open: ROWS.map((r) => r[1]),
    high: ROWS.map((r) => r[2]),
    low: ROWS.map((r) => r[3]),
    close: ROWS.map((r) => r[4]),
    volume: ROWS.map((r) => r[5])
  }]
  const writer = fileURLToPath(new URL('../unit/market-data/fixtures/write-parquet.mjs', import.meta.url))
  execFileSync(process.execPath, [writer, JSON.stringify(spec)], { env: { PATH: process.env.PATH ?? '' } })
  const { baseUrl } = await listen(t, { SIMUTRADOR_DATA_DIR: dir })
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()
  const acme = await get('/market-data/symbols/ACME')
  t.match(acme, { symbol: 'ACME', source: 'parquet', synthetic: false })
  t.ok((await get('/market-data/symbols?limit=500')).symbols.some((s: { symbol: string }) => s.symbol === 'AAPL'), 'the demo stays available beside the files')
  const bars = await get('/market-data/bars/ACME?start=2023-01-01&end=2023-01-31')
  t.same(bars.bars.map((b: any) => [b.session_date, b.open, b.high, b.low, b.close, b.volume]), ROWS)
})

t.test('a CSV folder of minute bars (1min/{SYMBOL}.csv, timestamps with an offset or in epoch seconds) runs a 1m session', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, '1min'))
  // Two NYSE sessions of 390 minutes; bar k opens at 100 + k/100. Day one is written with New York offsets,
  // day two in epoch seconds.
  const rows: string[] = ['timestamp,open,high,low,close,volume']
  const bars: Array<[string, number, number]> = []
  for (const [d, date] of ['2023-01-03', '2023-01-04'].entries()) {
    const open = Date.parse(`${date}T14:30:00Z`)
    for (let m = 0; m < 390; m++) {
      const k = d * 390 + m
      const at = open + m * 60_000
      const o = 100 + k / 100
      const stamp = d === 0 ? new Date(at - 5 * 3_600_000).toISOString().replace('.000Z', '-05:00') : String(at / 1000)
      rows.push(`${stamp},${o.toFixed(2)},${(o + 0.05).toFixed(2)},${(o - 0.05).toFixed(2)},${(o + 0.02).toFixed(2)},${1000 + k}`)
      bars.push([new Date(at).toISOString(), Number(o.toFixed(2)), Number((o + 0.02).toFixed(2))])
    }
  }
  await writeFile(join(dir, '1min', 'ACME.csv'), `${rows.join('\n')}\n`)
  const { baseUrl, wsUrl } = await listen(t, { SIMUTRADOR_DATA_DIR: dir, SIMUTRADOR_DEMO_DATA: 'false' })
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()

  t.match(await get('/market-data/symbols/ACME'), { source: 'csv', timeframes: [{ timeframe: '1h', first_date: '2023-01-03', last_date: '2023-01-04' }, { timeframe: '1m', first_date: '2023-01-03', last_date: '2023-01-04' }] })
  const served = await get('/market-data/bars/ACME?start=2023-01-03&end=2023-01-04&timeframe=1m')
  t.same(served.bars.map((b: any) => [b.timestamp, b.open, b.close]), bars, 'every minute as in the file, at its instant')

  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  const created = await ws.request('create_session', { symbols: ['ACME'], start_date: '2023-01-03', end_date: '2023-01-04', timeframe: '1m', slippage_bps: 0 })
  t.equal(created.data.estimated_ticks, 780)
  const id = created.data.session_id
  await ws.request('start_simulation', { session_id: id })
  let ticks = 0
  let complete
  for (;;) {
    const m = await ws.next()
    if (m.type === 'tick') {
      ticks++
      if (m.data.sequence_id === 1) await ws.request('order_batch', { session_id: id, batch_id: 'b', orders: [{ order_id: 'buy', symbol: 'ACME', side: 'buy', type: 'market', quantity: 10 }] })
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
    }
    if (m.type === 'execution_report') t.match(m.data, { executed_price: '100.01', execution_time: '2023-01-03T14:31:00.000Z', fill_reason: 'market_open' }, 'the open of the second minute, from the file')
    if (m.type === 'simulation_complete') { complete = m.data; break }
  }
  t.equal(ticks, 780, 'every minute replayed')
  // 100000 − 10 × 100.01 − 0.05 commission + 10 × 107.81 (the last minute's close) = 100077.95
  t.equal(complete.final_equity, '100077.95')
})

t.test('the start banner names the market data loaded', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'ACME.csv'), `Date,Open,High,Low,Close,Volume\n${ROWS.map((r) => r.join(',')).join('\n')}\n`)
  const server = await startServer(t, { SIMUTRADOR_STATE_DIR: ':memory:', SIMUTRADOR_DATA_DIR: dir, SIMUTRADOR_DEMO_DATA: 'false' })
  t.match(server.output(), new RegExp(`^ {2}Market data: CSV files in ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(1 symbol; 1d\\)$`, 'm'))
  await server.stop('SIGTERM')
})
