// The session page's equity and drawdown charts, drawn from the run's own curve (GET …/equity): the whole run so
// far whenever the page was opened, thinned on the server, with the run's max drawdown over every step. The
// drawdown is an underwater curve (0 at the top). The caption names the figures the charts show.
import type { Schemas } from '../../generated-client/index.js'
import { EquityChart, UnderwaterChart, toTime } from './charts.js'
import { h } from './dom.js'
import { exact, formatCount, formatMoney, formatNumber, formatTime } from './format.js'

type EquityHistory = Schemas['EquityHistory']
type EquityPoint = Schemas['EquityHistoryPoint']

/** Points kept in the page while following a run; past it the page asks for the whole curve again (thinned). */
export const MAX_FOLLOWED_POINTS = 6000

export class EquityPanel {
  readonly section: HTMLElement
  readonly #equityEl = h('div', { class: 'chart', id: 'equity-chart', role: 'img', 'aria-label': 'Equity curve' })
  readonly #drawdownEl = h('div', { class: 'chart', id: 'drawdown-chart', role: 'img', 'aria-label': 'Drawdown below the highest equity so far (underwater curve)' })
  readonly #note = h('p', { class: 'hint', id: 'equity-note', 'aria-live': 'polite' })
  #equity: EquityChart | undefined
  #underwater: UnderwaterChart | undefined
  #points: EquityPoint[] = []
  #last: EquityHistory | undefined

  constructor () {
    this.section = h('section', { 'aria-labelledby': 'equity-h', hidden: true },
      h('h2', { id: 'equity-h' }, 'Equity'), this.#equityEl, this.#note,
      h('h2', {}, 'Drawdown'), h('p', { class: 'hint' }, 'Below the highest equity so far, in percent: 0 at the top, a deeper fall lower.'), this.#drawdownEl)
  }

  /** The step the shown curve ends at (0 before the first answer). */
  get stepsDone (): number { return this.#last?.steps_done ?? 0 }
  /** Whether the shown curve is a live run's (steps) and may be followed with after_step. */
  get followable (): boolean { return this.#last?.source === 'steps' }
  get pointCount (): number { return this.#points.length }

  /** A whole curve (the first answer, a finished run's, or a fresh one after a reconnect). */
  replace (history: EquityHistory): void {
    this.#points = history.points.slice()
    this.#last = history
    this.#draw()
  }

  /** The steps after the shown ones (an after_step answer). */
  append (history: EquityHistory): void {
    for (const p of history.points) if ((p.step ?? 0) > this.stepsDone) this.#points.push(p)
    this.#last = history
    this.#draw()
  }

  #draw (): void {
    const last = this.#last
    if (last === undefined) return
    if (this.#points.length === 0) { this.#note.textContent = 'No step has closed yet.'; return }
    this.section.hidden = false
    this.#equity ??= new EquityChart(this.#equityEl)
    this.#underwater ??= new UnderwaterChart(this.#drawdownEl)
    this.#equity.set(this.#points.map((p) => ({ time: toTime(p.sim_time), value: Number(p.equity) })))
    this.#underwater.set(this.#points.map((p) => ({ time: toTime(p.sim_time), drawdownPct: p.drawdown_pct })))
    this.#caption(last, this.#points[this.#points.length - 1])
  }

  #caption (last: EquityHistory, end: EquityPoint): void {
    const note = this.#note
    const dd = `max drawdown ${formatNumber(last.max_drawdown_pct)} %`
    note.textContent = last.source === 'steps'
      ? `Step ${formatCount(last.steps_done)} of ${formatCount(last.total_steps)} (${formatTime(end.sim_time)}): equity ${formatMoney(end.equity)}, ` +
        `${dd} over every step so far. ${formatCount(this.#points.length)} points drawn (thinned on the server, troughs kept).`
      : `${formatCount(last.points.length)} daily closes; last ${formatTime(end.sim_time)}: equity ${formatMoney(end.equity)}, ${dd} (over every step of the run).`
    note.title = `equity ${end.equity}; max drawdown ${exact(last.max_drawdown_pct) ?? ''} %`
    Object.assign(note.dataset, {
      points: String(this.#points.length),
      steps: String(last.steps_done),
      firstStep: String(this.#points[0].step ?? ''),
      source: last.source,
      maxDrawdown: String(last.max_drawdown_pct),
      equity: end.equity,
      final: String(last.source === 'daily')
    })
  }

  remove (): void {
    this.#equity?.remove()
    this.#underwater?.remove()
  }
}
