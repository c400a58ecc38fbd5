// The session page's live section while a run goes: progress, the account (as the server marks it: positions at
// the last close, so its equity is the equity chart's), its positions and the last fills. Money to 2 decimals,
// the exact value on hover.
import type { Schemas } from '../../generated-client/index.js'
import { h } from './dom.js'
import { exact, formatMoney, formatPrice, formatProgress, formatQuantity, formatTime, signOf } from './format.js'

type Account = Schemas['AccountSnapshot']
type Fill = Schemas['ExecutionReport']

const MAX_FILLS_SHOWN = 20

/** A formatted number in a span, coloured by its sign, with the exact value as its title. */
export function signed (text: string, value: string | number): HTMLElement {
  return h('span', { class: `num ${signOf(value)}`, title: String(value) }, text)
}

/** A table cell with a formatted value and the exact one on hover. */
export function valueCell (content: Node | string, value: string | number | null | undefined, col?: string): HTMLTableCellElement {
  return h('td', { title: exact(value), 'data-col': col }, content)
}

function table (id: string, columns: string[], body: HTMLElement): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id }, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))), body))
}

export class LiveView {
  readonly section: HTMLElement
  readonly #progress = h('progress', { max: 1, value: 0, id: 'run-progress', 'aria-label': 'Run progress' })
  readonly #progressText = h('span', { id: 'run-progress-text' })
  readonly #account = h('dl', { class: 'account', id: 'live-account' })
  readonly #positions = h('tbody')
  readonly #fills = h('tbody')
  /** The simulated time of the account shown: an older answer (a slow REST reply) never replaces a newer one. */
  #accountTime = ''

  constructor () {
    this.section = h('section', { id: 'live', 'aria-labelledby': 'live-h', hidden: true },
      h('h2', { id: 'live-h' }, 'Live'),
      h('div', { class: 'progress-row' }, h('label', { for: 'run-progress' }, 'Progress'), this.#progress, this.#progressText),
      h('h3', {}, 'Account'), this.#account,
      h('h3', {}, 'Positions'),
      table('positions-table', ['Symbol', 'Quantity', 'Avg cost', 'Last close', 'Market value', 'Unrealized P&L'], this.#positions),
      h('h3', {}, 'Last fills'),
      table('fills-table', ['Time (UTC)', 'Symbol', 'Side', 'Quantity', 'Price', 'Commission'], this.#fills))
  }

  setProgress (p: number): void {
    this.#progress.value = p
    this.#progressText.textContent = formatProgress(p)
  }

  showAccount (a: Account): void {
    if (a.sim_time < this.#accountTime) return
    this.#accountTime = a.sim_time
    const item = (k: string, field: string, v: Node | string, value?: string) => [h('dt', {}, k), h('dd', { 'data-field': field, title: value }, v)]
    this.#account.replaceChildren(...[
      item('Simulated time', 'sim_time', formatTime(a.sim_time)),
      item('Equity', 'equity', formatMoney(a.equity), a.equity),
      item('Cash', 'cash', formatMoney(a.cash), a.cash),
      item('Buying power', 'buying_power', formatMoney(a.buying_power), a.buying_power),
      item('Realized P&L', 'realized_pnl', signed(formatMoney(a.realized_pnl), a.realized_pnl)),
      item('Commission', 'total_commission', formatMoney(a.total_commission), a.total_commission),
      item('Open orders', 'open_orders', String(a.open_orders))
    ].flat())
    this.#positions.replaceChildren(...(a.positions.length === 0
      ? [h('tr', {}, h('td', { colspan: 6 }, 'No open positions'))]
      : a.positions.map((p) => h('tr', {}, h('td', {}, p.symbol), h('td', {}, formatQuantity(p.quantity)),
        valueCell(formatPrice(p.avg_cost), p.avg_cost), valueCell(formatPrice(p.last_price), p.last_price),
        valueCell(formatMoney(p.market_value), p.market_value), h('td', {}, signed(formatMoney(p.unrealized_pnl), p.unrealized_pnl))))))
  }

  addFill (f: Fill): void {
    this.#fills.prepend(h('tr', {}, h('td', {}, formatTime(f.execution_time, false)), h('td', {}, f.symbol),
      h('td', {}, h('span', { class: `side ${f.side}` }, f.side === 'buy' ? '▲ buy' : '▼ sell')),
      h('td', {}, formatQuantity(f.executed_quantity)), valueCell(formatPrice(f.executed_price), f.executed_price), valueCell(formatMoney(f.commission), f.commission)))
    while (this.#fills.rows.length > MAX_FILLS_SHOWN) this.#fills.deleteRow(-1)
  }
}
