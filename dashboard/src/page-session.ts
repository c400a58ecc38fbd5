// One session: its configuration and state, the run controls, the live view while it runs (subscribe_session:
// progress, account, positions, last fills; the equity curve re-read from /results as days close), and the
// results when it is finished (statistics, equity and drawdown, price charts with fills, trades, monthly returns).
import type { Schemas } from '../../generated-client/index.js'
import type { ServerFrame } from '../../client/messages.js'
import type { SignedIn } from './auth.js'
import { LineChart, PriceChart, toTime, type FillMarker } from './charts.js'
import { monthlyReturns } from './decimate.js'
import { confirmDialog, download, h, statusLines } from './dom.js'
import { formatMoney, formatNumber, formatPercent, formatProgress, formatTime, signOf, toCsv } from './format.js'
import { METRIC_ROWS } from './metric-rows.js'
import { live } from './live.js'
import { stateBadge } from './page-sessions.js'

type Session = Schemas['Session']
type Results = Schemas['SimulationResults']
type Trade = Schemas['TradeRecord']
type Account = Schemas['AccountSnapshot']
type Fill = Schemas['ExecutionReport']

const TRADE_COLUMNS: Array<[keyof Trade, string, 'text' | 'number' | 'money']> = [
  ['trade_id', '#', 'number'], ['symbol', 'Symbol', 'text'], ['direction', 'Direction', 'text'], ['quantity', 'Quantity', 'number'],
  ['entry_time', 'Entry', 'text'], ['exit_time', 'Exit', 'text'], ['avg_entry_price', 'Entry price', 'money'],
  ['avg_exit_price', 'Exit price', 'money'], ['commission', 'Commission', 'money'], ['net_pnl', 'Net P&L', 'money'], ['return_pct', 'Return %', 'number']
]

const LIVE_STATES = new Set(['ready', 'running', 'paused', 'initializing'])
const MAX_FILLS_SHOWN = 20
const MAX_CATCH_UP_EVENTS = 5000

function signed (text: string, value: string | number): HTMLElement {
  const sign = signOf(value)
  return h('span', { class: `num ${sign}` }, text)
}

export function sessionPage (root: HTMLElement, me: SignedIn, id: string): () => void {
  const lines = statusLines()
  const title = h('h1', {}, `Session ${id}`)
  const header = h('dl', { class: 'config' })
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Run controls' })
  const progress = h('progress', { max: 1, value: 0, id: 'run-progress', 'aria-label': 'Run progress' })
  const progressText = h('span', { id: 'run-progress-text' })
  const account = h('dl', { class: 'account', id: 'live-account' })
  const positions = h('tbody')
  const fills = h('tbody')
  const liveSection = h('section', { id: 'live', 'aria-labelledby': 'live-h', hidden: true },
    h('h2', { id: 'live-h' }, 'Live'),
    h('div', { class: 'progress-row' }, h('label', { for: 'run-progress' }, 'Progress'), progress, progressText),
    h('h3', {}, 'Account'), account,
    h('h3', {}, 'Positions'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'positions-table' }, h('thead', {}, h('tr', {}, ['Symbol', 'Quantity', 'Avg cost', 'Last', 'Market value', 'Unrealized P&L'].map((c) => h('th', { scope: 'col' }, c)))), positions)),
    h('h3', {}, 'Last fills'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'fills-table' }, h('thead', {}, h('tr', {}, ['Time', 'Symbol', 'Side', 'Quantity', 'Price', 'Commission'].map((c) => h('th', { scope: 'col' }, c)))), fills)))
  const equityEl = h('div', { class: 'chart', id: 'equity-chart', role: 'img', 'aria-label': 'Equity curve' })
  const drawdownEl = h('div', { class: 'chart', id: 'drawdown-chart', role: 'img', 'aria-label': 'Drawdown' })
  const equityNote = h('p', { class: 'hint', id: 'equity-note' })
  const chartsSection = h('section', { 'aria-labelledby': 'equity-h', hidden: true },
    h('h2', { id: 'equity-h' }, 'Equity'), equityEl, equityNote, h('h2', {}, 'Drawdown'), drawdownEl)
  const results = h('section', { id: 'results', 'aria-labelledby': 'results-h', hidden: true })
  root.append(h('div', { class: 'title-row' }, title, h('a', { href: '#/sessions' }, '← All sessions')), lines.status, lines.alert, header, controls, liveSection, chartsSection, results)

  let session: Session | undefined
  let alive = true
  let lastSeq = 0
  /** Sequence ids already shown: live frames and a catch-up page can overlap. */
  const seen = new Set<number>()
  const charts: Array<{ remove: () => void }> = []
  let equityChart: LineChart | undefined
  let drawdownChart: LineChart | undefined
  let resultsShownFor: string | undefined
  const offs: Array<() => void> = []

  function renderHeader (s: Session): void {
    session = s
    const item = (k: string, v: Node | string) => [h('dt', {}, k), h('dd', {}, v)]
    header.replaceChildren(...[
      item('State', stateBadge(s.state)),
      item('Symbols', s.symbols.join(', ')),
      item('Range', `${s.start_date} → ${s.end_date}`),
      item('Timeframe', s.timeframe),
      item('Initial capital', formatMoney(s.initial_capital)),
      item('Commission / share', formatMoney(s.commission_per_share)),
      item('Slippage', `${formatNumber(s.slippage_bps)} bps`),
      item('Short selling', s.allow_short ? 'allowed' : 'not allowed'),
      item('Created', formatTime(s.created_at)),
      s.pause_reason !== undefined ? item('Paused by', s.pause_reason) : [],
      s.error_message !== undefined ? item('Error', s.error_message) : []
    ].flat())
    setProgress(s.progress)
    renderControls(s)
    liveSection.hidden = !LIVE_STATES.has(s.state)
    if ((s.state === 'running' || s.state === 'paused') && !live.watched.has(id)) {
      void live.watch(id).catch((e: Error) => { lines.error(`Live view unavailable: ${e.message}`) })
    }
    chartsSection.hidden = s.state === 'ready' || s.state === 'initializing'
  }

  function setProgress (p: number): void {
    progress.value = p
    progressText.textContent = formatProgress(p)
  }

  function renderControls (s: Session): void {
    const button = (label: string, action: () => Promise<void>) => {
      const b = h('button', { type: 'button' }, label)
      b.addEventListener('click', () => { b.disabled = true; void action().finally(() => { b.disabled = false }) })
      return b
    }
    const list: HTMLButtonElement[] = []
    if (s.state === 'ready') list.push(button('Start headless', async () => { await control('start') }))
    if (s.state === 'running') list.push(button('Pause', async () => { await control('pause') }))
    if (s.state === 'paused') list.push(button('Resume', async () => { await control('resume') }))
    if (s.state === 'running' || s.state === 'paused') {
      list.push(button('Cancel run', async () => {
        if (await confirmDialog('Cancel this run? It stops now and keeps the results so far.', 'Cancel run')) await control('cancel')
      }))
    }
    controls.replaceChildren(...list)
  }

  async function control (action: 'start' | 'pause' | 'resume' | 'cancel'): Promise<void> {
    lines.loading(`${action}…`)
    const params = { params: { path: { id } } }
    const res = await reachable(action, async () => action === 'start'
      ? await me.client.POST('/sessions/{id}/start', { ...params, body: { flow_control: false } })
      : action === 'pause' ? await me.client.POST('/sessions/{id}/pause', params)
        : action === 'resume' ? await me.client.POST('/sessions/{id}/resume', params)
          : await me.client.POST('/sessions/{id}/cancel', params))
    if (res === undefined) return
    if (res.error !== undefined) { lines.error(`Could not ${action}: ${res.error.message}`); return }
    lines.loading(`${action}: done`)
    await loadSession()
  }

  function renderAccount (a: Account): void {
    const item = (k: string, v: Node | string) => [h('dt', {}, k), h('dd', {}, v)]
    account.replaceChildren(...[
      item('Simulated time', formatTime(a.sim_time)), item('Equity', formatMoney(a.equity)), item('Cash', formatMoney(a.cash)),
      item('Buying power', formatMoney(a.buying_power)), item('Realized P&L', signed(formatMoney(a.realized_pnl), a.realized_pnl)),
      item('Commission', formatMoney(a.total_commission)), item('Open orders', String(a.open_orders))
    ].flat())
    positions.replaceChildren(...(a.positions.length === 0
      ? [h('tr', {}, h('td', { colspan: 6 }, 'No open positions'))]
      : a.positions.map((p) => h('tr', {}, h('td', {}, p.symbol), h('td', {}, formatNumber(p.quantity)), h('td', {}, formatMoney(p.avg_cost)),
        h('td', {}, formatMoney(p.last_price)), h('td', {}, formatMoney(p.market_value)), h('td', {}, signed(formatMoney(p.unrealized_pnl), p.unrealized_pnl))))))
  }

  function onAccount (a: Account): void {
    lastAccount = a
    renderAccount(a)
    addLivePoint(a.sim_time, Number(a.equity))
  }

  function addFill (f: Fill): void {
    fills.prepend(h('tr', {}, h('td', {}, formatTime(f.execution_time)), h('td', {}, f.symbol),
      h('td', {}, h('span', { class: `side ${f.side}` }, f.side === 'buy' ? '▲ buy' : '▼ sell')),
      h('td', {}, formatNumber(f.executed_quantity)), h('td', {}, formatMoney(f.executed_price)), h('td', {}, formatMoney(f.commission))))
    while (fills.rows.length > MAX_FILLS_SHOWN) fills.deleteRow(-1)
  }

  /**
   * The live equity curve while the run goes: each account snapshot, and between fills the last snapshot's cash
   * and positions marked at each tick's closes (display only; the finished run's curve comes from /results).
   */
  const livePoints: Array<{ time: number, value: number }> = []
  let lastAccount: Account | undefined
  let liveDrawTimer: ReturnType<typeof setTimeout> | undefined

  function addLivePoint (simTime: string, equity: number): void {
    const time = toTime(simTime)
    const last = livePoints[livePoints.length - 1]
    if (last !== undefined && last.time === time) last.value = equity
    else if (last === undefined || last.time < time) livePoints.push({ time, value: equity })
    if (liveDrawTimer === undefined) liveDrawTimer = setTimeout(drawLive, 250)
  }

  function drawLive (): void {
    liveDrawTimer = undefined
    if (!alive || livePoints.length === 0 || resultsShownFor !== undefined) return
    chartsSection.hidden = false
    equityChart ??= new LineChart(equityEl, { color: '#2563eb', area: true })
    drawdownChart ??= new LineChart(drawdownEl, { color: '#b91c1c', invert: true, height: 180 })
    equityChart.set(livePoints)
    let peak = -Infinity
    drawdownChart.set(livePoints.map((p) => { peak = Math.max(peak, p.value); return { time: p.time, value: -((peak - p.value) / peak) * 100 } }))
    const last = livePoints[livePoints.length - 1]
    equityNote.textContent = `Live: ${livePoints.length} points; equity now about ${last.value.toFixed(2)} (marked at the last closes). The exact daily curve appears when the run completes.`
    equityNote.dataset.points = String(livePoints.length)
  }

  function markToMarket (tick: Schemas['TickData']): void {
    if (lastAccount === undefined || tick.bars === undefined) return
    let equity = Number(lastAccount.cash)
    for (const p of lastAccount.positions) {
      const close = tick.bars[p.symbol]?.close ?? Number(p.last_price)
      equity += p.quantity * close
    }
    addLivePoint(tick.sim_time, equity)
  }

  function drawEquity (r: Results): void {
    if (r.equity_curve.length === 0) { equityNote.textContent = 'No trading day has closed yet.'; return }
    equityChart ??= new LineChart(equityEl, { color: '#2563eb', area: true })
    drawdownChart ??= new LineChart(drawdownEl, { color: '#b91c1c', invert: true, height: 180 })
    equityChart.set(r.equity_curve.map((p) => ({ time: toTime(p.sim_time), value: Number(p.equity) })))
    drawdownChart.set(r.equity_curve.map((p) => ({ time: toTime(p.sim_time), value: -p.drawdown_pct })))
    const last = r.equity_curve[r.equity_curve.length - 1]
    equityNote.textContent = `${r.equity_curve.length} daily closes; last ${last.date}: equity ${formatMoney(last.equity)}, drawdown ${formatPercent(last.drawdown_pct)}.`
    equityNote.dataset.points = String(r.equity_curve.length)
    equityNote.dataset.final = 'true'
  }

  async function loadResults (): Promise<Results | undefined> {
    const res = await reachable('load the results', async () => await me.client.GET('/sessions/{id}/results', { params: { path: { id } } }))
    if (!alive || res === undefined) return undefined
    const { data, error } = res
    if (data === undefined) { if (error?.error_code !== 'INVALID_STATE') lines.error(`Could not load results: ${error?.message ?? 'unknown error'}`); return undefined }
    return data
  }

  async function showResults (): Promise<void> {
    const r = await loadResults()
    if (r === undefined || resultsShownFor === `${r.session_id}:${r.metrics.bars_processed}`) return
    resultsShownFor = `${r.session_id}:${r.metrics.bars_processed}`
    clearTimeout(liveDrawTimer)
    chartsSection.hidden = false
    drawEquity(r)
    renderResults(r)
  }

  function renderResults (r: Results): void {
    for (const c of charts.splice(0)) c.remove()
    const stats = h('table', { class: 'data stats', id: 'stats-table' }, h('caption', {}, r.completed ? 'Statistics' : 'Statistics (run stopped early)'),
      h('tbody', {}, METRIC_ROWS.map(([key, label, fmt]) => h('tr', { 'data-metric': key }, h('th', { scope: 'row' }, label), h('td', {}, fmt(r.metrics[key] as never))))))
    const priceBlocks = (session?.symbols ?? []).map((symbol) => {
      const el = h('div', { class: 'chart', role: 'img', 'aria-label': `${symbol} price with buy and sell markers` })
      const note = h('p', { class: 'hint' }, `Loading ${symbol} bars…`)
      void loadPrice(symbol, el, note, r.trades)
      return h('div', { class: 'price', 'data-symbol': symbol }, h('h3', {}, symbol), el, note)
    })
    const months = monthlyReturns(r.equity_curve, r.metrics.initial_capital)
    results.replaceChildren(
      h('h2', { id: 'results-h' }, 'Results'), stats,
      h('h2', {}, 'Price and fills'), h('p', { class: 'hint' }, '▲ B = buy, ▼ S = sell (entries and exits of the trades below).'), ...priceBlocks,
      tradesTable(r.trades),
      h('h2', {}, 'Monthly returns'),
      h('p', { class: 'hint' }, 'Computed here from the daily equity closes (month-end equity over the previous month-end, the first month over the initial capital).'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'monthly-table' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Month'), h('th', { scope: 'col' }, 'Return'))),
        h('tbody', {}, months.map((m) => h('tr', {}, h('td', {}, m.month), h('td', {}, signed(`${m.return_pct.toFixed(2)} %`, m.return_pct))))))))
    results.hidden = false
  }

  async function loadPrice (symbol: string, el: HTMLElement, note: HTMLElement, trades: Trade[]): Promise<void> {
    if (session === undefined) return
    const res = await reachable(`load ${symbol} bars`, async () => await me.client.GET('/market-data/bars/{symbol}', { params: { path: { symbol }, query: { start: session!.start_date, end: session!.end_date, timeframe: session!.timeframe === '1m' ? '1h' : session!.timeframe } } }))
    if (!alive || res === undefined) return
    const { data, error } = res
    if (data === undefined) { note.textContent = `Could not load ${symbol} bars: ${error?.message ?? 'unknown error'}`; return }
    const markers: FillMarker[] = trades.filter((t) => t.symbol === symbol).flatMap((t) => [
      { time: t.entry_time, side: t.direction === 'long' ? 'buy' : 'sell', price: t.avg_entry_price, quantity: t.quantity },
      ...(t.open_at_end ? [] : [{ time: t.exit_time, side: t.direction === 'long' ? 'sell' : 'buy', price: t.avg_exit_price, quantity: t.quantity }])
    ] as FillMarker[])
    const chart = new PriceChart(el)
    charts.push(chart)
    chart.set(data.bars, markers)
    note.textContent = `${data.bars.length} ${data.timeframe} bars${data.truncated ? ' (truncated)' : ''}${data.synthetic ? ', synthetic demo data' : ''}; ${markers.length} fills marked.`
  }

  function tradesTable (trades: Trade[]): HTMLElement {
    let sortKey: keyof Trade = 'trade_id'
    let ascending = true
    const tbody = h('tbody')
    const heads = TRADE_COLUMNS.map(([key, label]) => {
      const b = h('button', { type: 'button', class: 'sort' }, label)
      const th = h('th', { scope: 'col', 'aria-sort': key === sortKey ? 'ascending' : 'none' }, b)
      b.addEventListener('click', () => { ascending = sortKey === key ? !ascending : true; sortKey = key; render() })
      return th
    })
    function render (): void {
      const kind = TRADE_COLUMNS.find(([k]) => k === sortKey)?.[2]
      const sorted = trades.slice().sort((a, b) => {
        const x = a[sortKey]; const y = b[sortKey]
        const c = kind === 'text' ? String(x).localeCompare(String(y)) : Number(x) - Number(y)
        return ascending ? c : -c
      })
      heads.forEach((th, i) => { th.setAttribute('aria-sort', TRADE_COLUMNS[i][0] === sortKey ? (ascending ? 'ascending' : 'descending') : 'none') })
      tbody.replaceChildren(...(sorted.length === 0
        ? [h('tr', {}, h('td', { colspan: TRADE_COLUMNS.length }, 'No trades'))]
        : sorted.map((t) => h('tr', { 'data-trade-id': t.trade_id }, TRADE_COLUMNS.map(([key, , k]) => {
          const v = t[key]
          if (key === 'net_pnl') return h('td', {}, signed(formatMoney(String(v)), String(v)))
          if (key === 'entry_time' || key === 'exit_time') return h('td', {}, formatTime(String(v)))
          return h('td', {}, k === 'money' ? formatMoney(String(v)) : k === 'number' ? formatNumber(Number(v)) : String(v))
        })))))
    }
    render()
    const csv = h('button', { type: 'button', id: 'export-csv' }, 'Export trades as CSV')
    csv.addEventListener('click', () => {
      const cols = Object.keys(trades[0] ?? { trade_id: 0 }) as Array<keyof Trade>
      download(`${id}-trades.csv`, toCsv(cols, trades.map((t) => cols.map((c) => t[c]))), 'text/csv')
    })
    return h('div', {}, h('div', { class: 'title-row' }, h('h2', {}, 'Trades'), csv),
      h('p', { class: 'hint' }, 'Select a column heading to sort.'),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'trades-table' }, h('thead', {}, h('tr', {}, heads)), tbody)))
  }

  /** A request that could not reach the server at all (openapi-fetch throws): say so instead of failing silently. */
  async function reachable<T> (what: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call()
    } catch {
      if (alive) lines.error(`Could not ${what}: the server did not answer. The page retries when the live connection is back.`)
      return undefined
    }
  }

  async function loadSession (): Promise<void> {
    const res = await reachable('load the session', async () => await me.client.GET('/sessions/{id}', { params: { path: { id } } }))
    if (res === undefined) return
    const { data, error } = res
    if (!alive) return
    if (data === undefined) { lines.error(error?.error_code === 'SESSION_NOT_FOUND' ? `Session ${id} does not exist (or is not yours).` : `Could not load the session: ${error?.message ?? 'unknown error'}`); return }
    renderHeader(data)
    if ((data.state === 'running' || data.state === 'paused') && lastAccount === undefined) {
      const acc = await reachable('load the account', async () => await me.client.GET('/sessions/{id}/account', { params: { path: { id } } }))
      if (acc?.data !== undefined && alive && lastAccount === undefined) onAccount(acc.data)
    }
    if (data.state === 'completed' || data.state === 'error') await showResults()
  }

  /** One run event of this session, live or replayed from /events after a reconnect; each sequence id once. */
  function onRunEvent (frame: ServerFrame): void {
    // Fills and account snapshots carry no session id: this page watches one run, so a frame without one is its own.
    const data = frame.data as { session_id?: string }
    if (data.session_id !== undefined && data.session_id !== id) return
    if (frame.sequence_id !== undefined) {
      if (seen.has(frame.sequence_id)) return
      seen.add(frame.sequence_id)
      lastSeq = Math.max(lastSeq, frame.sequence_id)
    }
    switch (frame.type) {
      case 'tick':
        if (session !== undefined && session.estimated_ticks > 0) setProgress(Math.min(1, frame.data.sequence_id / session.estimated_ticks))
        markToMarket(frame.data)
        break
      case 'account_snapshot': onAccount(frame.data); break
      case 'execution_report': addFill(frame.data); break
      case 'simulation_started': case 'simulation_paused': case 'simulation_resumed': void loadSession(); break
      case 'simulation_complete': void loadSession(); break
      default: break
    }
  }

  /**
   * On (re)subscribing: replay what happened since the last event shown (REST /events), then continue live.
   * A first look at a long run skips its history (the equity curve comes from /results).
   */
  async function catchUp (until: number): Promise<void> {
    let after = lastSeq
    if (until - after > MAX_CATCH_UP_EVENTS) after = until - MAX_CATCH_UP_EVENTS
    while (alive && after < until) {
      const res = await reachable('catch up with the run', async () => await me.client.GET('/sessions/{id}/events', { params: { path: { id }, query: { after_seq: after } } }))
      const data = res?.data
      if (data === undefined || data.events.length === 0) return
      for (const e of data.events) onRunEvent(e as ServerFrame)
      after = data.events[data.events.length - 1].sequence_id
      if (!data.has_more) return
    }
  }

  for (const type of ['tick', 'account_snapshot', 'execution_report', 'simulation_started', 'simulation_paused', 'simulation_resumed', 'simulation_complete'] as const) {
    offs.push(live.on(type, (_d, frame) => { onRunEvent(frame as ServerFrame) }))
  }
  offs.push(live.on('session_updated', (s) => { if (s.session_id === id) { renderHeader(s); if (s.state === 'completed' || s.state === 'error') void showResults() } }))
  offs.push(live.on('session_deleted', (d) => { if (d.session_id === id) lines.error('This session was deleted.') }))
  offs.push(live.on('subscription', (d) => { if (d.session_id === id && d.subscribed) void catchUp(d.last_sequence_id) }))
  offs.push(live.onState((s) => { if (s === 'open') void loadSession() }))

  lines.loading('Loading the session…')
  void loadSession().then(() => { if (alive && session !== undefined) lines.clear() })
  return () => {
    alive = false
    clearTimeout(liveDrawTimer)
    live.unwatch(id)
    for (const off of offs) off()
    for (const c of charts) c.remove()
    equityChart?.remove()
    drawdownChart?.remove()
  }
}
