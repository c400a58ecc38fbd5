// Memory of a finished run (issue 8 item 2): a long headless run keeps only its results once it has
// completed. Its engine, bars and (past the per-user budget) event log are released, measured as heap
// after GC; its results equal those of a run that kept everything.
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Heap used after full collections (a few, so finalisers and weak maps settle). */
async function heapAfterGc (): Promise<number> {
  for (let i = 0; i < 3; i++) { gc(); await sleep(20) }
  return process.memoryUsage().heapUsed
}

// 4 months of 1m bars of one crypto symbol, around the clock: 172,800 ticks and as many logged frames.
const LONG = { symbols: ['BTC/USD'], start_date: '2023-01-01', end_date: '2023-04-30', timeframe: '1m' }
const MB = 1 << 20

async function runHeadless (t: Tap, env: Record<string, string>): Promise<{ results: any, heapGrowth: number, firstPage: { status: number, body: any } }> {
  const { baseUrl } = await listen(t, env)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const rest = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    return { status: res.status, body: await res.json() }
  }
  // Warm the data path once (first loads build caches that are not the run's), then measure.
  const warm = await rest('POST', '/sessions', { ...LONG, end_date: '2023-01-02' })
  await rest('POST', `/sessions/${warm.body.session_id as string}/start`, { flow_control: false })
  const before = await heapAfterGc()
  const created = await rest('POST', '/sessions', LONG)
  t.equal(created.status, 201)
  const id = created.body.session_id as string
  t.equal((await rest('POST', `/sessions/${id}/start`, { flow_control: false })).status, 200)
  let state = 'running'
  for (let i = 0; i < 1200 && state !== 'completed'; i++) {
    await sleep(50)
    state = (await rest('GET', `/sessions/${id}`)).body.state
  }
  t.equal(state, 'completed')
  const results = await rest('GET', `/sessions/${id}/results`)
  t.equal(results.status, 200)
  const after = await heapAfterGc()
  const firstPage = await rest('GET', `/sessions/${id}/events?after_seq=0&limit=1`)
  return { results: results.body, heapGrowth: after - before, firstPage }
}

/** What runHeadless needs of a tap test. */
interface Tap { equal: (found: unknown, wanted: unknown) => unknown, teardown: (fn: () => unknown) => void }

t.test('a completed long run keeps its results, not its log, engine or bars', async (t) => {
  const bounded = await runHeadless(t, { EVENT_LOG_USER_BYTES: String(8 * MB) })
  t.ok(bounded.heapGrowth < 40 * MB, `heap after completion + GC grew ${(bounded.heapGrowth / MB).toFixed(1)} MB (< 40 MB)`)
  t.equal(bounded.firstPage.status, 410, 'the released log answers EVENTS_EXPIRED')
  t.equal(bounded.firstPage.body.error_code, 'EVENTS_EXPIRED')

  const kept = await runHeadless(t, { EVENT_LOG_MAX_BYTES_PER_RUN: String(4096 * MB), EVENT_LOG_USER_BYTES: String(4096 * MB) })
  t.equal(kept.firstPage.status, 200, 'with retention unbounded the whole log is there')
  t.equal(kept.firstPage.body.events[0].sequence_id, 1)
  const strip = (r: any): unknown => ({ ...r, session_id: undefined })
  t.same(strip(bounded.results), strip(kept.results), 'the same results as a run that kept everything')
  t.ok(JSON.stringify(bounded.results).length > 1000, 'the results are substantial (equity curve, metrics)')
})
