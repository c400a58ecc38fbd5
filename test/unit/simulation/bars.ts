// Test helpers for the simulation core: tiny hand-written BarSeries, order requests and engine runs.
// Not a test file (tap runs only *.test.ts).
import { emptySeries, type BarSeries } from '../../../server/market-data/bar-series.js'
import { marketSessionAt, nyOffsetMinutesAt } from '../../../server/market-data/calendar.js'
import type { Timeframe } from '../../../schemas/market-data.js'
import { SimulationEngine, type EngineEvent, type SimulationEngineOptions } from '../../../server/simulation/engine.js'
import type { MarketSession, OrderRequest } from '../../../schemas/simulation.js'

/** open, high, low, close and (optional, default 1,000,000) volume of one bar. */
export type Ohlc = readonly [number, number, number, number, number?]

const DAY_MS = 86_400_000

function dayNumber (ms: number): number {
  const d = new Date(ms)
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()
}

/** One daily bar per calendar day from `firstDay`, each starting at 14:30Z. */
export function dailySeries (symbol: string, bars: readonly Ohlc[], firstDay = '2023-01-02'): BarSeries {
  const s = emptySeries(symbol, '1d', bars.length)
  const t0 = Date.parse(`${firstDay}T14:30:00.000Z`)
  bars.forEach((b, i) => fill(s, i, t0 + i * DAY_MS, b))
  return s
}

/** Minute bars: `days[d]` are the bars of calendar day firstDay + d, from 14:30Z one minute apart. */
export function minuteSeries (symbol: string, days: ReadonlyArray<readonly Ohlc[]>, firstDay = '2023-01-02'): BarSeries {
  const s = emptySeries(symbol, '1m', days.reduce((n, d) => n + d.length, 0))
  const t0 = Date.parse(`${firstDay}T14:30:00.000Z`)
  let i = 0
  days.forEach((bars, d) => {
    bars.forEach((b, j) => fill(s, i++, t0 + d * DAY_MS + j * 60_000, b))
  })
  return s
}

/** The New York date (yyyymmdd) of an instant: the trading day of an NYSE bar, extended hours included. */
export function nyDay (ms: number): number {
  return dayNumber(ms + nyOffsetMinutesAt(ms) * 60_000)
}

/** Bars at the given start instants (ISO), their trading day the New York date unless `dayOf` says otherwise. */
export function timedSeries (symbol: string, timeframe: Timeframe, rows: ReadonlyArray<readonly [string, Ohlc]>, dayOf: (ms: number) => number = nyDay): BarSeries {
  const s = emptySeries(symbol, timeframe, rows.length)
  rows.forEach(([iso, b], i) => {
    fill(s, i, Date.parse(iso), b)
    s.day[i] = dayOf(s.time[i])
  })
  return s
}

const WIRE_SESSION = { pre: 'pre_market', regular: 'regular', after: 'after_hours', closed: 'closed' } as const

/** The engine's marketSessionAt as the server wires it: every symbol on the NYSE calendar. */
export function nyseSessionAt (_symbolIndex: number, barStartMs: number): MarketSession {
  return WIRE_SESSION[marketSessionAt('NYSE', barStartMs)]
}

function fill (s: BarSeries, i: number, time: number, b: Ohlc): void {
  s.time[i] = time
  s.day[i] = dayNumber(time)
  s.open[i] = b[0]
  s.high[i] = b[1]
  s.low[i] = b[2]
  s.close[i] = b[3]
  s.volume[i] = b[4] ?? 1_000_000
}

/** A flat bar at `p` (open = high = low = close): nothing but market orders can trade on it unless a price equals p. */
export function flat (p: number, volume?: number): Ohlc {
  return [p, p, p, p, volume]
}

export function engineFor (
  series: BarSeries | BarSeries[],
  options: Partial<SimulationEngineOptions> = {}
): SimulationEngine {
  return new SimulationEngine({
    sessionId: 'sess_test',
    series: Array.isArray(series) ? series : [series],
    initialCapital: '100000',
    includeBars: false,
    ...options,
    settings: { commission_per_share: 0, ...options.settings }
  })
}

export function order (fields: Partial<OrderRequest> & Pick<OrderRequest, 'order_id'>): OrderRequest {
  return { symbol: 'AAA', side: 'buy', type: 'market', quantity: 10, time_in_force: 'day', ...fields }
}

/** Submit orders in one best-effort batch (or atomic) and return the ack and events. */
export function submit (engine: SimulationEngine, orders: OrderRequest[], mode: 'atomic' | 'best_effort' = 'best_effort'): ReturnType<SimulationEngine['submitBatch']> {
  return engine.submitBatch({ session_id: 'sess_test', batch_id: `batch-${engine.stepsDone}`, orders, execution_mode: mode })
}

/** Step n times (or to the end) and return all events. */
export function steps (engine: SimulationEngine, n = Infinity): EngineEvent[] {
  const out: EngineEvent[] = []
  for (let i = 0; i < n; i++) {
    const ev = engine.step()
    if (ev === null) break
    out.push(...ev)
  }
  return out
}

export function executions (events: EngineEvent[]): Array<Extract<EngineEvent, { type: 'execution_report' }>['data']> {
  return events.flatMap((e) => (e.type === 'execution_report' ? [e.data] : []))
}

export function updates (events: EngineEvent[]): Array<Extract<EngineEvent, { type: 'order_update' }>['data']> {
  return events.flatMap((e) => (e.type === 'order_update' ? [e.data] : []))
}
