// Intraday ticks name the market session of their bar from the market's calendar (pre_market, regular,
// after_hours), so a strategy fed extended-hours bars (Parquet data) can tell them apart.
import t from 'tap'
import { SimulationEngine } from '../../../server/simulation/engine.js'
import { marketSessionAt } from '../../../server/market-data/calendar.js'
import { emptySeries } from '../../../server/market-data/bar-series.js'
import type { TickData } from '../../../schemas/simulation.js'

const WIRE = { pre: 'pre_market', regular: 'regular', after: 'after_hours', closed: 'closed' } as const

/** Minute bars of AAPL on 2023-01-03 at the given UTC times (New York is UTC−5 in January). */
function barsAt (times: string[]): ReturnType<typeof emptySeries> {
  const s = emptySeries('AAPL', '1m', times.length)
  times.forEach((iso, i) => {
    s.time[i] = Date.parse(iso)
    s.day[i] = 20230103
    s.open[i] = s.high[i] = s.low[i] = s.close[i] = 100
    s.volume[i] = 1000
  })
  return s
}

function ticks (engine: SimulationEngine): TickData[] {
  const out: TickData[] = []
  for (let ev = engine.step(); ev !== null; ev = engine.step()) for (const e of ev) if (e.type === 'tick') out.push(e.data)
  return out
}

t.test('pre-market, regular and after-hours minutes are labelled from the NYSE calendar', async (t) => {
  const series = barsAt(['2023-01-03T13:00:00.000Z', '2023-01-03T14:30:00.000Z', '2023-01-03T21:15:00.000Z'])
  const engine = new SimulationEngine({ sessionId: 's', series: [series], initialCapital: '10000', marketSessionAt: (_i, ms) => WIRE[marketSessionAt('NYSE', ms)] })
  t.same(ticks(engine).map((k) => k.market_session), ['pre_market', 'regular', 'after_hours'])
})

t.test('without a calendar every tick says regular', async (t) => {
  const series = barsAt(['2023-01-03T13:00:00.000Z', '2023-01-03T21:15:00.000Z'])
  const engine = new SimulationEngine({ sessionId: 's', series: [series], initialCapital: '10000' })
  t.same(ticks(engine).map((k) => k.market_session), ['regular', 'regular'])
})
