// A finished run's results on the session page: the statistics (2 decimals, exact on hover), a price chart per
// symbol with the fills as small arrows (fill-markers.ts caps them), the paged trades table and monthly returns.
import type { Schemas } from '../../generated-client/index.js'
import type { SignedIn } from './auth.js'
import { PriceChart } from './charts.js'
import { monthlyReturns } from './decimate.js'
import { h } from './dom.js'
import { MAX_MARKERS } from './display-limits.js'
import type { FillMarker } from './fill-markers.js'
import { exact, formatCount, formatPercent } from './format.js'
import { signed } from './live-view.js'
import { METRIC_ROWS } from './metric-rows.js'
import { tradesTable } from './trades-table.js'

type Session = Schemas['Session']
type Results = Schemas['SimulationResults']
type Trade = Schemas['TradeRecord']

/** What the results view needs from its page: the signed-in client, and a call that reports an unreachable server. */
export interface ResultsContext {
  me: SignedIn
  session: Session
  reachable: <T>(what: string, call: () => Promise<T>) => Promise<T | undefined>
  alive: () => boolean
}

function statistics (r: Results): HTMLElement {
  return h('div', { class: 'table-wrap stats-wrap' }, h('table', { class: 'data stats', id: 'stats-table' },
    h('caption', {}, r.completed ? 'Statistics' : 'Statistics (run stopped early)'),
    h('tbody', {}, METRIC_ROWS.map(([key, label, fmt]) => h('tr', { 'data-metric': key },
      h('th', { scope: 'row' }, label), h('td', { title: exact(r.metrics[key]) }, fmt(r.metrics[key] as never)))))))
}

/** Every fill of `symbol`'s trades: each trade's entry, and its exit unless it was still open at the end. */
function fillsOf (trades: readonly Trade[], symbol: string): FillMarker[] {
  return trades.filter((t) => t.symbol === symbol).flatMap((t) => [
    { time: t.entry_time, side: t.direction === 'long' ? 'buy' : 'sell', price: t.avg_entry_price, quantity: t.quantity },
    ...(t.open_at_end ? [] : [{ time: t.exit_time, side: t.direction === 'long' ? 'sell' : 'buy', price: t.avg_exit_price, quantity: t.quantity }])
  ] as FillMarker[])
}

async function drawPrice (ctx: ResultsContext, symbol: string, block: HTMLElement, trades: readonly Trade[]): Promise<PriceChart | undefined> {
  const s = ctx.session
  const el = block.querySelector('.chart') as HTMLElement
  const tip = block.querySelector('.chart-tooltip') as HTMLElement
  const note = block.querySelector('p.hint') as HTMLElement
  const query = { start: s.start_date, end: s.end_date, timeframe: s.timeframe === '1m' ? '1h' as const : s.timeframe }
  const res = await ctx.reachable(`load ${symbol} bars`, async () => await ctx.me.client.GET('/market-data/bars/{symbol}', { params: { path: { symbol }, query } }))
  if (!ctx.alive() || res === undefined) return undefined
  const { data, error } = res
  if (data === undefined) { note.textContent = `Could not load ${symbol} bars: ${error?.message ?? 'unknown error'}`; return undefined }
  const fills = fillsOf(trades, symbol)
  const chart = new PriceChart(el, tip)
  const drawn = chart.set(data.bars, fills)
  block.dataset.fills = String(fills.length)
  block.dataset.markersDrawn = String(drawn)
  const merged = drawn < fills.length ? ` in ${formatCount(drawn)} markers (one per bar, neighbouring bars merged past ${MAX_MARKERS}; hover one for its fills)` : ' (hover a marker for its fill)'
  note.textContent = `${formatCount(data.bars.length)} ${data.timeframe} bars${data.truncated ? ' (truncated)' : ''}${data.synthetic ? ', synthetic demo data' : ''}; ${formatCount(fills.length)} fills marked${merged}.`
  return chart
}

function monthly (r: Results): HTMLElement[] {
  const months = monthlyReturns(r.equity_curve, r.metrics.initial_capital)
  return [
    h('h2', {}, 'Monthly returns'),
    h('p', { class: 'hint' }, 'Computed here from the daily equity closes (month-end equity over the previous month-end, the first month over the initial capital).'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'monthly-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Month'), h('th', { scope: 'col' }, 'Return'))),
      h('tbody', {}, months.map((m) => h('tr', {}, h('td', {}, m.month), h('td', {}, signed(formatPercent(m.return_pct), m.return_pct)))))))
  ]
}

/** Fills `section` with the results; returns the charts to remove when the page goes. */
export function renderResults (section: HTMLElement, ctx: ResultsContext, r: Results): Array<{ remove: () => void }> {
  const charts: Array<{ remove: () => void }> = []
  const priceBlocks = ctx.session.symbols.map((symbol) => {
    const block = h('div', { class: 'price', 'data-symbol': symbol }, h('h3', {}, symbol),
      h('div', { class: 'chart-box' },
        h('div', { class: 'chart', role: 'img', 'aria-label': `${symbol} price with buy and sell markers` }),
        h('div', { class: 'chart-tooltip', role: 'tooltip', hidden: true })),
      h('p', { class: 'hint' }, `Loading ${symbol} bars…`))
    void drawPrice(ctx, symbol, block, r.trades).then((c) => { if (c !== undefined) charts.push(c) })
    return block
  })
  section.replaceChildren(
    h('h2', { id: 'results-h' }, 'Results'), statistics(r),
    h('h2', {}, 'Price and fills'),
    h('p', { class: 'hint' }, '▲ buys, ▼ sells (net, per bar), ● as many of each: the entries and exits of the trades below.'),
    ...priceBlocks,
    tradesTable(r.session_id, r.trades),
    ...monthly(r))
  section.hidden = false
  return charts
}
