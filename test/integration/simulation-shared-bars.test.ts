// Bars are shared across runs (issue 9, bounded memory): runs of the same symbol, timeframe and range hold
// one loaded series and one merged timeline, loaded once, released with the last run that holds them, never
// written to, and the events of runs that share them are those of a run alone. Over real HTTP and WebSocket.
import t from 'tap'
import { createHash } from 'node:crypto'
import v8 from 'node:v8'
import vm from 'node:vm'
import type { BarSeries } from '../../server/market-data/bar-series.js'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const MB = 1 << 20

/** Heap plus array buffers (where the bars live) after full collections. */
async function memoryAfterGc (): Promise<number> {
  for (let i = 0; i < 3; i++) { gc(); await sleep(20) }
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

function digest (s: BarSeries): string {
  const h = createHash('sha256')
  for (const a of [s.time, s.day, s.open, s.high, s.low, s.close, s.volume]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  return h.digest('hex')
}

async function setup (t: Tap): Promise<{ app: Awaited<ReturnType<typeof listen>>['app'], wsUrl: string, token: string, rest: Rest }> {
  const { app, baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest: Rest = async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  return { app, wsUrl, token, rest }
}

type Rest = (method: string, path: string, body?: unknown) => Promise<{ status: number, body: any }>
interface Tap { teardown: (fn: () => unknown) => void }

async function created (rest: Rest, body: Record<string, unknown>): Promise<string> {
  const res = await rest('POST', '/sessions', { timeframe: '1m', ...body })
  if (res.status !== 201) throw new Error(JSON.stringify(res.body))
  return res.body.session_id as string
}

/** Started over REST with flow control and no strategy connection: the run stays live, waiting for acks. */
async function startIdle (rest: Rest, id: string): Promise<void> {
  const res = await rest('POST', `/sessions/${id}/start`, { flow_control: true })
  if (res.status !== 200) throw new Error(`start ${id}: ${res.status} ${JSON.stringify(res.body)}`)
}

const MARCH = { start_date: '2023-03-01', end_date: '2023-03-31' }

t.test('runs of one symbol, timeframe and range share one series and timeline, released with the last run', async (t) => {
  const { app, rest } = await setup(t)
  const series = (): unknown => app.marketData.sharedSeries.stats()
  const timelines = (): unknown => app.simulation.timelineStats

  const a1 = await created(rest, { symbols: ['AAPL'], ...MARCH })
  const a2 = await created(rest, { symbols: ['AAPL'], ...MARCH })
  const both = await created(rest, { symbols: ['AAPL', 'MSFT'], ...MARCH })
  const later = await created(rest, { symbols: ['AAPL'], start_date: '2023-03-15', end_date: '2023-04-14' })
  const daily = await created(rest, { symbols: ['AAPL'], ...MARCH, timeframe: '1d' })

  // Two runs started at once: one load, two holders.
  await Promise.all([startIdle(rest, a1), startIdle(rest, a2)])
  t.same(series(), { entries: 1, references: 2, loads: 1, shared: 1 }, 'AAPL 1m March loaded once for two runs')
  t.same(timelines(), { entries: 1, references: 2, loads: 1, shared: 1 }, 'and merged into one timeline')

  await startIdle(rest, both)
  t.same(series(), { entries: 2, references: 4, loads: 2, shared: 2 }, 'AAPL+MSFT shares AAPL, loads MSFT')
  t.same(timelines(), { entries: 2, references: 3, loads: 2, shared: 1 }, 'another symbol list is another timeline')
  await startIdle(rest, later)
  await startIdle(rest, daily)
  t.same(series(), { entries: 4, references: 6, loads: 4, shared: 2 }, 'an overlapping range and another timeframe load on their own')

  // A finished run lets go; the others keep the bars.
  t.equal((await rest('POST', `/sessions/${a1}/cancel`)).status, 200)
  t.match(series(), { entries: 4, references: 5 })
  t.equal((await rest('DELETE', `/sessions/${a2}`)).status, 204)
  t.match(series(), { entries: 4, references: 4 }, 'AAPL March is still held by the two-symbol run')
  t.match(timelines(), { entries: 3, references: 3 }, 'the single-symbol March timeline went with its last run')
  t.equal((await rest('DELETE', `/sessions/${both}`)).status, 204)
  t.equal((await rest('POST', `/sessions/${later}/cancel`)).status, 200)
  t.equal((await rest('POST', `/sessions/${daily}/cancel`)).status, 200)
  t.match(series(), { entries: 0, references: 0 }, 'no run holds bars: none are cached')
  t.match(timelines(), { entries: 0, references: 0 })
  t.equal(app.simulation.activeRuns, 3, 'the finished runs are still there (results), without bars')
  t.equal((await rest('GET', `/sessions/${a1}/results`)).status, 200)
})

t.test('a failed start holds nothing', async (t) => {
  const { app, rest } = await setup(t)
  const id = await created(rest, { symbols: ['AAPL'], ...MARCH })
  await startIdle(rest, id)
  t.equal((await rest('POST', `/sessions/${id}/start`, {})).status, 409, 'a second start is refused')
  t.match(app.marketData.sharedSeries.stats(), { entries: 1, references: 1 }, 'and took no second hold')
  t.equal((await rest('DELETE', `/sessions/${id}`)).status, 204)
  t.match(app.marketData.sharedSeries.stats(), { entries: 0, references: 0 })
})

t.test('runs sharing bars give the events of a run alone, and never write to the bars', async (t) => {
  const { app, wsUrl, token, rest } = await setup(t)
  const WEEK = { symbols: ['AAPL'], start_date: '2023-03-06', end_date: '2023-03-10' }
  const run = async (): Promise<string> => {
    const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
    t.teardown(() => { ws.close() })
    await ws.next('connection_ready')
    const id = await created(rest, WEEK)
    await ws.request('start_simulation', { session_id: id, flow_control: true, max_pending_ticks: 1 })
    const out: string[] = []
    for (;;) {
      const m = await ws.next()
      if (m.type === 'tick' && m.data.sequence_id === 3) {
        await ws.request('order_batch', { session_id: id, batch_id: 'b', orders: [{ order_id: 'l1', symbol: 'AAPL', side: 'buy', type: 'limit', price: '155.5', quantity: 7, time_in_force: 'gtc' }] })
      }
      if (m.type === 'tick' && m.data.sequence_id === 500) {
        await ws.request('order_batch', { session_id: id, batch_id: 'c', orders: [{ order_id: 'm1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 3 }] })
      }
      if (m.type === 'tick') ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
      if (m.sequence_id !== undefined) out.push(JSON.stringify({ type: m.type, seq: m.sequence_id, data: { ...m.data, session_id: undefined } }))
      if (m.type === 'simulation_complete') { ws.close(); return out.join('\n') }
    }
  }
  // The test holds the series too, so it sees the very arrays the runs replay.
  const held = await app.marketData.acquireSeries('AAPL', '1m', WEEK.start_date, WEEK.end_date)
  const before = digest(held.value)
  const [x, y] = await Promise.all([run(), run()])
  t.match(app.marketData.sharedSeries.stats(), { entries: 1, loads: 1 }, 'both runs replayed the series the test holds')
  t.equal(digest(held.value), before, 'the shared bars are unchanged after two runs with fills')
  held.release()
  t.equal(app.marketData.sharedSeries.stats().entries, 0)
  const alone = await run()
  t.equal(app.marketData.sharedSeries.stats().loads, 2, 'the lone run loaded its own copy')
  t.ok((x.match(/"type":"execution_report"/g) ?? []).length >= 2, 'both orders filled')
  t.ok(x.length > 100_000)
  t.equal(x, y, 'two runs sharing bars: byte-identical event data')
  t.equal(x, alone, 'and identical to a run with bars of its own')
})

t.test('heap: concurrent runs of one year of minute bars hold the bars once', async (t) => {
  const { app, rest } = await setup(t)
  const YEAR = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-12-29' }
  const N = 8
  // Warm the data path (demo daily walk, code) with another range, then measure from an empty cache.
  const warm = await created(rest, { symbols: ['AAPL'], start_date: '2022-01-03', end_date: '2022-01-31' })
  await startIdle(rest, warm)
  t.equal((await rest('DELETE', `/sessions/${warm}`)).status, 204)
  const ids: string[] = []
  for (let i = 0; i < N; i++) ids.push(await created(rest, YEAR))
  const before = await memoryAfterGc()
  for (const id of ids) await startIdle(rest, id)
  const during = await memoryAfterGc()
  t.match(app.marketData.sharedSeries.stats(), { entries: 1, references: N })
  // One year of AAPL minutes is ~97,000 bars: ~5 MB of series and ~3 MB of timeline, plus ~0.8 MB of
  // per-run equity curve. A copy per run would be ~9 MB a run (~70 MB for 8).
  const grew = during - before
  t.ok(grew < 30 * MB, `${N} running sessions of the same year of 1m bars: +${(grew / MB).toFixed(1)} MB heap+buffers (< 30 MB)`)
  for (const id of ids) t.equal((await rest('DELETE', `/sessions/${id}`)).status, 204)
  const after = await memoryAfterGc()
  t.ok(after - before < 4 * MB, `after deleting them: ${((after - before) / MB).toFixed(1)} MB (< 4 MB)`)
  t.match(app.marketData.sharedSeries.stats(), { entries: 0, references: 0 })
})
