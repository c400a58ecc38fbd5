// Benchmark of the pure simulation core: replay throughput (bar-events per second) on 1,000,000 bars
// without orders and with an in-process SMA-crossover strategy, and the memory of one running session
// of 10 symbols × one year of minute bars. Run: npx tsx scripts/bench/engine.ts
import v8 from 'node:v8'
import vm from 'node:vm'
import { emptySeries, type BarSeries } from '../../server/market-data/bar-series.js'
import { NO_STEP, SimulationEngine, type EngineEvent } from '../../server/simulation/engine.js'

const BARS_PER_DAY = 390 // NYSE regular session in minutes
const DAY_MS = 86_400_000

v8.setFlagsFromString('--expose_gc')
const gc = vm.runInNewContext('gc') as () => void

/** Deterministic random walk (LCG), so every run replays the same market. */
function syntheticSeries (symbol: string, bars: number, seed: number): BarSeries {
  const s = emptySeries(symbol, '1m', bars)
  let state = seed >>> 0
  const rnd = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 4294967296
  }
  let price = 100
  const t0 = Date.UTC(2023, 0, 3, 14, 30)
  for (let i = 0; i < bars; i++) {
    const dayIndex = Math.floor(i / BARS_PER_DAY)
    const time = t0 + dayIndex * DAY_MS + (i % BARS_PER_DAY) * 60_000
    const d = new Date(time)
    const open = price
    const close = Math.max(1, open * (1 + (rnd() - 0.5) * 0.004))
    s.time[i] = time
    s.day[i] = d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()
    s.open[i] = Math.round(open * 100) / 100
    s.close[i] = Math.round(close * 100) / 100
    s.high[i] = Math.round(Math.max(open, close) * (1 + rnd() * 0.001) * 100) / 100
    s.low[i] = Math.round(Math.min(open, close) * (1 - rnd() * 0.001) * 100) / 100
    s.volume[i] = 1000 + Math.floor(rnd() * 50_000)
    price = close
  }
  return s
}

function makeEngine (series: BarSeries[], frequency: 'on_demand' | 'every_fill' = 'on_demand'): SimulationEngine {
  return new SimulationEngine({
    sessionId: 'bench',
    series,
    initialCapital: '1000000',
    settings: { commission_per_share: 0.005, slippage_bps: 2 },
    accountUpdateFrequency: frequency,
    includeBars: false
  })
}

function replayWithoutOrders (series: BarSeries[]): { seconds: number, events: number } {
  const engine = makeEngine(series)
  let events = 0
  const t0 = process.hrtime.bigint()
  for (let ev = engine.step(); ev !== null; ev = engine.step()) events += ev.length
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, events }
}

/**
 * How the replay is driven: `stepInto` is the runner's path (events into a reused array, the step's index;
 * no tick object), `stepInto+tickJson` adds rendering each tick's frame as the runner sends it, `step` is
 * the convenience API (a tick object and an array per step).
 */
type Drive = 'stepInto' | 'stepInto+tickJson' | 'step'

/** Fast/slow SMA crossover per symbol, reading closes the way a strategy would after each tick. */
function replayWithStrategy (series: BarSeries[], frequency: 'on_demand' | 'every_fill', drive: Drive): { seconds: number, events: number, fills: number, orders: number, chars: number } {
  const engine = makeEngine(series, frequency)
  const FAST = 10
  const SLOW = 30
  const n = series.length
  const sumFast = new Float64Array(n)
  const sumSlow = new Float64Array(n)
  const seen = new Int32Array(n)
  const wasAbove = new Int8Array(n)
  const long = new Uint8Array(n)
  const index = new Map(series.map((s, i) => [s.symbol, i]))
  let events = 0
  let fills = 0
  let orders = 0
  let chars = 0
  const count = (ev: readonly EngineEvent[]): void => {
    events += ev.length
    for (const e of ev) if (e.type === 'execution_report') fills++
  }
  const strategy = (symbols: readonly string[]): void => {
    const batch = []
    for (const symbol of symbols) {
      const s = index.get(symbol) as number
      const i = seen[s]++
      const c = series[s].close
      sumFast[s] += c[i] - (i >= FAST ? c[i - FAST] : 0)
      sumSlow[s] += c[i] - (i >= SLOW ? c[i - SLOW] : 0)
      if (i + 1 < SLOW) continue
      const above = sumFast[s] / FAST > sumSlow[s] / SLOW ? 1 : -1
      if (wasAbove[s] !== 0 && above !== wasAbove[s]) {
        if (above === 1 && long[s] === 0) {
          batch.push({ order_id: `o${++orders}`, symbol, side: 'buy' as const, type: 'market' as const, quantity: 100 })
          long[s] = 1
        } else if (above === -1 && long[s] === 1) {
          batch.push({ order_id: `o${++orders}`, symbol, side: 'sell' as const, type: 'market' as const, quantity: 100 })
          long[s] = 0
        }
      }
      wasAbove[s] = above
    }
    if (batch.length > 0 && !engine.done) {
      const { ack, events: accepted } = engine.submitBatch({ session_id: 'bench', batch_id: `b${orders}`, orders: batch })
      count(accepted)
      // A rejected buy leaves us flat; keep the strategy's view in sync with the account.
      for (const r of ack.rejected_orders) {
        const o = batch.find((x) => x.order_id === r.order_id)
        if (o !== undefined) long[index.get(o.symbol) as number] = o.side === 'buy' ? 0 : 1
      }
    }
  }
  const t0 = process.hrtime.bigint()
  if (drive === 'step') {
    for (let ev = engine.step(); ev !== null; ev = engine.step()) {
      count(ev)
      const tick = ev[ev.length - 1]
      if (tick.type === 'tick') strategy(tick.data.symbols_trading)
    }
  } else {
    const render = drive === 'stepInto+tickJson'
    const ev: EngineEvent[] = []
    for (let k = engine.stepInto(ev); k !== NO_STEP; k = engine.stepInto(ev)) {
      count(ev)
      ev.length = 0
      if (k < 0) continue
      events++ // the tick
      if (render) chars += engine.tickJson(k).length
      strategy(engine.symbolsAt(k))
    }
  }
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, events, fills, orders, chars }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`
function memory (): { heap: number, rss: number, buffers: number } {
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, rss: m.rss, buffers: m.arrayBuffers }
}

// ── memory: 10 symbols × one year of minute bars (252 days × 390) ───────────────────────────────────
const YEAR = 252 * BARS_PER_DAY
const before = memory()
const ten = Array.from({ length: 10 }, (_, k) => syntheticSeries(`M${k}`, YEAR, 101 + k))
const withSeries = memory()
const engine = makeEngine(ten)
const built = memory()
for (let ev = engine.step(); ev !== null; ev = engine.step()) { /* replay to the end */ }
const replayed = memory()
console.log(`memory, 10 × ${YEAR.toLocaleString('en-US')} minute bars (${(10 * YEAR).toLocaleString('en-US')} bars):`)
console.log(`  bar series (typed arrays):        heap+buffers ${mb(withSeries.heap + withSeries.buffers - before.heap - before.buffers)}, RSS ${mb(withSeries.rss - before.rss)}`)
console.log(`  engine built (timeline, curve):   heap+buffers ${mb(built.heap + built.buffers - withSeries.heap - withSeries.buffers)}, RSS ${mb(built.rss - withSeries.rss)}`)
console.log(`  after full replay (engine alive): heap+buffers ${mb(replayed.heap + replayed.buffers - withSeries.heap - withSeries.buffers)}, RSS ${mb(replayed.rss - withSeries.rss)}`)
console.log(`  session total vs. baseline:       heap+buffers ${mb(replayed.heap + replayed.buffers - before.heap - before.buffers)}, RSS ${mb(replayed.rss - before.rss)}  (steps ${engine.totalSteps.toLocaleString('en-US')})`)
ten.length = 0

// ── throughput: 4 symbols × 250,000 minute bars = 1,000,000 bar-events ──────────────────────────────
const BARS = 250_000
const four = [0, 1, 2, 3].map((k) => syntheticSeries(`SYM${k}`, BARS, 17 + k))
const totalBars = BARS * four.length
replayWithoutOrders(four.map((s) => s)) // warm-up (JIT)
const plain = replayWithoutOrders(four)
console.log(`core replay, no orders:   ${totalBars.toLocaleString('en-US')} bars in ${plain.seconds.toFixed(3)} s → ${Math.round(totalBars / plain.seconds).toLocaleString('en-US')} bar-events/s (${plain.events.toLocaleString('en-US')} events, ${Math.round(BARS / plain.seconds).toLocaleString('en-US')} ticks/s)`)
// The engine core as the runner drives it (stepInto), then with each tick rendered, then through step():
// after a warm-up, three timed replays each; the median and the range are printed (GC pauses make one noisy).
for (const drive of ['stepInto', 'stepInto+tickJson', 'step'] as const) {
  for (const frequency of ['on_demand', 'every_fill'] as const) {
    replayWithStrategy(four, frequency, drive) // warm-up of this path
    const runs = [0, 1, 2].map(() => replayWithStrategy(four, frequency, drive)).sort((a, b) => a.seconds - b.seconds)
    const strat = runs[1]
    const rate = (seconds: number): string => Math.round(totalBars / seconds).toLocaleString('en-US')
    console.log(`core replay, SMA 10/30 (${frequency}, ${drive}): ${totalBars.toLocaleString('en-US')} bars in ${strat.seconds.toFixed(3)} s → ${rate(strat.seconds)} bar-events/s median of 3 (${rate(runs[2].seconds)}–${rate(runs[0].seconds)}); ${strat.orders.toLocaleString('en-US')} orders, ${strat.fills.toLocaleString('en-US')} fills, ${strat.events.toLocaleString('en-US')} events${strat.chars > 0 ? `, ${(strat.chars / 1e6).toFixed(1)} MB of ticks` : ''}`)
  }
}
four.length = 0
