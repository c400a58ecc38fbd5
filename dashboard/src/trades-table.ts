// The results' trades table: sortable by any column (the sort orders all the trades, then the table shows one
// page of TRADES_PER_PAGE), paged with previous/next, money to 2 decimals with the exact value on hover, and
// the CSV export of every trade with the API's values untouched.
import type { Schemas } from '../../generated-client/index.js'
import { TRADES_PER_PAGE } from './display-limits.js'
import { download, h } from './dom.js'
import { formatCount, formatMoney, formatPercent, formatPrice, formatQuantity, formatTime, toCsv } from './format.js'
import { signed, valueCell } from './live-view.js'

type Trade = Schemas['TradeRecord']

type Kind = 'text' | 'number' | 'time'

/** Columns: field, heading, how it sorts, how a cell shows it. */
const COLUMNS: Array<[keyof Trade, string, Kind, (t: Trade) => Node | string]> = [
  ['trade_id', '#', 'number', (t) => String(t.trade_id)],
  ['symbol', 'Symbol', 'text', (t) => t.symbol],
  ['direction', 'Direction', 'text', (t) => t.direction],
  ['quantity', 'Quantity', 'number', (t) => formatQuantity(t.quantity)],
  ['entry_time', 'Entry (UTC)', 'time', (t) => formatTime(t.entry_time, false)],
  ['exit_time', 'Exit (UTC)', 'time', (t) => `${formatTime(t.exit_time, false)}${t.open_at_end ? ' (open)' : ''}`],
  ['avg_entry_price', 'Entry price', 'number', (t) => formatPrice(t.avg_entry_price)],
  ['avg_exit_price', 'Exit price', 'number', (t) => formatPrice(t.avg_exit_price)],
  ['commission', 'Commission', 'number', (t) => formatMoney(t.commission)],
  ['net_pnl', 'Net P&L', 'number', (t) => signed(formatMoney(t.net_pnl), t.net_pnl)],
  ['return_pct', 'Return', 'number', (t) => formatPercent(t.return_pct)]
]

/** Amounts line up on the right (the trade number reads as a label). */
function rightAligned (key: keyof Trade, kind: Kind): boolean {
  return kind === 'number' && key !== 'trade_id'
}

function compare (kind: Kind, x: unknown, y: unknown): number {
  return kind === 'number' ? Number(x) - Number(y) : String(x).localeCompare(String(y))
}

export function tradesTable (sessionId: string, trades: readonly Trade[]): HTMLElement {
  let sortKey: keyof Trade = 'trade_id'
  let ascending = true
  let page = 0
  let sorted = trades.slice()
  const pages = Math.max(1, Math.ceil(trades.length / TRADES_PER_PAGE))
  const tbody = h('tbody')
  const pagerText = h('span', { id: 'trades-pager', 'aria-live': 'polite' })
  const prev = h('button', { type: 'button', class: 'small' }, 'Previous page')
  const next = h('button', { type: 'button', class: 'small' }, 'Next page')
  const heads = COLUMNS.map(([key, label, kind]) => {
    const b = h('button', { type: 'button', class: 'sort' }, label)
    b.addEventListener('click', () => {
      ascending = sortKey === key ? !ascending : true
      sortKey = key
      // Stable: equal values keep the order of their trade ids, either way round.
      sorted = trades.slice().sort((a, b) => (ascending ? 1 : -1) * compare(kind, a[key], b[key]))
      page = 0
      render()
    })
    return h('th', { scope: 'col', 'data-col': key, class: rightAligned(key, kind) ? 'num-col' : undefined }, b)
  })
  prev.addEventListener('click', () => { page = Math.max(0, page - 1); render() })
  next.addEventListener('click', () => { page = Math.min(pages - 1, page + 1); render() })

  function render (): void {
    heads.forEach((th, i) => { th.setAttribute('aria-sort', COLUMNS[i][0] === sortKey ? (ascending ? 'ascending' : 'descending') : 'none') })
    const rows = sorted.slice(page * TRADES_PER_PAGE, (page + 1) * TRADES_PER_PAGE)
    tbody.replaceChildren(...(rows.length === 0
      ? [h('tr', {}, h('td', { colspan: COLUMNS.length }, 'No trades'))]
      : rows.map((t) => h('tr', { 'data-trade-id': t.trade_id }, COLUMNS.map(([key, , kind, show]) => {
        const td = valueCell(show(t), t[key] as string | number, key)
        if (rightAligned(key, kind)) td.classList.add('num-col')
        return td
      })))))
    pagerText.textContent = `Page ${formatCount(page + 1)} of ${formatCount(pages)} · ${formatCount(trades.length)} trades`
    prev.disabled = page === 0
    next.disabled = page >= pages - 1
  }
  render()

  const csv = h('button', { type: 'button', id: 'export-csv' }, 'Export trades as CSV')
  csv.addEventListener('click', () => {
    const cols = Object.keys(trades[0] ?? { trade_id: 0 }) as Array<keyof Trade>
    download(`${sessionId}-trades.csv`, toCsv(cols, trades.map((t) => cols.map((c) => t[c]))), 'text/csv')
  })
  return h('div', {}, h('div', { class: 'title-row' }, h('h2', {}, 'Trades'), csv),
    h('p', { class: 'hint' }, `Select a column heading to sort all ${formatCount(trades.length)} trades; ${TRADES_PER_PAGE} a page. Hover a value for its exact figure; the CSV has every trade with the API's values.`),
    h('div', { class: 'table-wrap', id: 'trades-table-wrap' }, h('table', { class: 'data', id: 'trades-table' }, h('thead', {}, h('tr', {}, heads)), tbody)),
    h('div', { class: 'pager', role: 'group', 'aria-label': 'Trades pages' }, prev, pagerText, next))
}
