// One session: its configuration and state, the run controls, the live view while it runs (subscribe_session
// for progress and fills; the equity curve and account from the server, equity-follow.ts), and the results when
// it is finished (results-view.ts). The parts live in their own modules; this file wires them to the run.
import type { Schemas } from '../../generated-client/index.js'
import type { ServerFrame } from '../../client/messages.js'
import type { SignedIn } from './auth.js'
import { h, statusLines } from './dom.js'
import { EquityFollower } from './equity-follow.js'
import { EquityPanel } from './equity-panel.js'
import { formatMoney, formatTime } from './format.js'
import { live } from './live.js'
import { LiveView } from './live-view.js'
import { stateBadge } from './page-sessions.js'
import { renderResults } from './results-view.js'
import { runControls } from './session-controls.js'

type Session = Schemas['Session']
type Results = Schemas['SimulationResults']

const LIVE_STATES = new Set(['ready', 'running', 'paused', 'initializing'])
const MAX_CATCH_UP_EVENTS = 5000
const RUN_EVENTS = ['tick', 'account_snapshot', 'execution_report', 'simulation_started', 'simulation_paused', 'simulation_resumed', 'simulation_complete'] as const

function configuration (s: Session): Array<Node | string> {
  const item = (k: string, v: Node | string) => [h('dt', {}, k), h('dd', {}, v)]
  return [
    item('State', stateBadge(s.state)),
    item('Symbols', s.symbols.join(', ')),
    item('Range', `${s.start_date} → ${s.end_date}`),
    item('Timeframe', s.timeframe),
    item('Initial capital', formatMoney(s.initial_capital)),
    // Settings are shown as set (a commission of 0.005 a share is not a money amount to round).
    item('Commission / share', String(s.commission_per_share)),
    item('Slippage', `${s.slippage_bps} bps`),
    item('Short selling', s.allow_short ? 'allowed' : 'not allowed'),
    item('Created', formatTime(s.created_at)),
    s.pause_reason !== undefined ? item('Paused by', s.pause_reason) : [],
    s.error_message !== undefined ? item('Error', s.error_message) : []
  ].flat()
}

/** One session page: its parts, the run it follows, and what to undo when the page goes. */
class SessionPage {
  readonly lines = statusLines()
  readonly header = h('dl', { class: 'config' })
  readonly controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Run controls' })
  readonly liveView = new LiveView()
  readonly equity = new EquityPanel()
  readonly results = h('section', { id: 'results', 'aria-labelledby': 'results-h', hidden: true })
  readonly follower: EquityFollower
  session: Session | undefined
  alive = true
  lastSeq = 0
  /** Sequence ids already shown: live frames and a catch-up page can overlap. */
  readonly seen = new Set<number>()
  charts: Array<{ remove: () => void }> = []
  resultsShownFor: string | undefined
  readonly offs: Array<() => void> = []

  constructor (root: HTMLElement, readonly me: SignedIn, readonly id: string) {
    root.append(h('div', { class: 'title-row' }, h('h1', {}, `Session ${id}`), h('a', { href: '#/sessions' }, '← All sessions')),
      this.lines.status, this.lines.alert, this.header, this.controls, this.liveView.section, this.equity.section, this.results)
    this.follower = new EquityFollower(me, id, this.equity, {
      onAccount: (a) => { this.liveView.showAccount(a) },
      onError: (what, message) => { if (this.alive) this.lines.error(`Could not ${what}: ${message}`) }
    })
  }

  /** A request that could not reach the server at all (openapi-fetch throws): say so instead of failing silently. */
  readonly reachable = async <T>(what: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call()
    } catch {
      if (this.alive) this.lines.error(`Could not ${what}: the server did not answer. The page retries when the live connection is back.`)
      return undefined
    }
  }

  renderHeader (s: Session): void {
    this.session = s
    this.header.replaceChildren(...configuration(s))
    this.liveView.setProgress(s.progress)
    this.controls.replaceChildren(...runControls(this.me, this.id, s, { lines: this.lines, reachable: this.reachable, reload: async () => { await this.load() } }))
    this.liveView.section.hidden = !LIVE_STATES.has(s.state)
    if ((s.state === 'running' || s.state === 'paused') && !live.watched.has(this.id)) {
      void live.watch(this.id).catch((e: Error) => { this.lines.error(`Live view unavailable: ${e.message}`) })
    }
  }

  async load (): Promise<void> {
    const id = this.id
    const res = await this.reachable('load the session', async () => await this.me.client.GET('/sessions/{id}', { params: { path: { id } } }))
    if (res === undefined || !this.alive) return
    const { data, error } = res
    if (data === undefined) {
      this.lines.error(error?.error_code === 'SESSION_NOT_FOUND' ? `Session ${id} does not exist (or is not yours).` : `Could not load the session: ${error?.message ?? 'unknown error'}`)
      return
    }
    this.renderHeader(data)
    if (data.state === 'running' || data.state === 'paused') await this.follower.refresh()
    if (data.state === 'completed' || data.state === 'error') await this.showResults()
  }

  async showResults (): Promise<void> {
    const id = this.id
    const res = await this.reachable('load the results', async () => await this.me.client.GET('/sessions/{id}/results', { params: { path: { id } } }))
    const session = this.session
    if (!this.alive || res === undefined || session === undefined) return
    const r: Results | undefined = res.data
    if (r === undefined) {
      if (res.error?.error_code !== 'INVALID_STATE') this.lines.error(`Could not load results: ${res.error?.message ?? 'unknown error'}`)
      return
    }
    const key = `${r.session_id}:${r.metrics.bars_processed}`
    if (this.resultsShownFor === key) return
    this.resultsShownFor = key
    // The run is over: its curve once more (the daily closes of its results), then no more following.
    this.follower.stop()
    const curve = await this.reachable('load the equity curve', async () => await this.me.client.GET('/sessions/{id}/equity', { params: { path: { id } } }))
    if (!this.alive) return
    if (curve?.data !== undefined) this.equity.replace(curve.data)
    for (const c of this.charts.splice(0)) c.remove()
    this.charts = renderResults(this.results, { me: this.me, session, reachable: this.reachable, alive: () => this.alive }, r)
  }

  /** One run event of this session, live or replayed from /events after a reconnect; each sequence id once. */
  onRunEvent (frame: ServerFrame): void {
    // Fills and account snapshots carry no session id: this page watches one run, so a frame without one is its own.
    const data = frame.data as { session_id?: string }
    if (data.session_id !== undefined && data.session_id !== this.id) return
    if (frame.sequence_id !== undefined) {
      if (this.seen.has(frame.sequence_id)) return
      this.seen.add(frame.sequence_id)
      this.lastSeq = Math.max(this.lastSeq, frame.sequence_id)
    }
    switch (frame.type) {
      case 'tick': {
        const total = this.session?.estimated_ticks ?? 0
        if (total > 0) this.liveView.setProgress(Math.min(1, frame.data.sequence_id / total))
        this.follower.poke()
        break
      }
      case 'account_snapshot': this.liveView.showAccount(frame.data); break
      case 'execution_report': this.liveView.addFill(frame.data); break
      case 'simulation_started': case 'simulation_paused': case 'simulation_resumed': case 'simulation_complete': void this.load(); break
      default: break
    }
  }

  /**
   * On (re)subscribing: replay the fills and snapshots since the last event shown (REST /events), then continue
   * live; the curve comes whole from the server (it does not depend on what this page saw).
   */
  async catchUp (until: number): Promise<void> {
    const id = this.id
    let after = Math.max(this.lastSeq, until - MAX_CATCH_UP_EVENTS)
    while (this.alive && after < until) {
      const from = after
      const res = await this.reachable('catch up with the run', async () => await this.me.client.GET('/sessions/{id}/events', { params: { path: { id }, query: { after_seq: from } } }))
      const data = res?.data
      if (data === undefined || data.events.length === 0) return
      for (const e of data.events) this.onRunEvent(e as ServerFrame)
      after = data.events[data.events.length - 1].sequence_id
      if (!data.has_more) return
    }
  }

  listen (): void {
    const id = this.id
    for (const type of RUN_EVENTS) this.offs.push(live.on(type, (_d, frame) => { this.onRunEvent(frame as ServerFrame) }))
    this.offs.push(live.on('session_updated', (s) => {
      if (s.session_id !== id) return
      this.renderHeader(s)
      if (s.state === 'completed' || s.state === 'error') void this.showResults()
    }))
    this.offs.push(live.on('session_deleted', (d) => { if (d.session_id === id) this.lines.error('This session was deleted.') }))
    this.offs.push(live.on('subscription', (d) => {
      if (d.session_id === id && d.subscribed) { void this.catchUp(d.last_sequence_id); void this.follower.refresh() }
    }))
    this.offs.push(live.onState((s) => { if (s === 'open') void this.load() }))
  }

  leave (): void {
    this.alive = false
    this.follower.stop()
    live.unwatch(this.id)
    for (const off of this.offs) off()
    for (const c of this.charts) c.remove()
    this.equity.remove()
  }
}

export function sessionPage (root: HTMLElement, me: SignedIn, id: string): () => void {
  const page = new SessionPage(root, me, id)
  page.listen()
  page.lines.loading('Loading the session…')
  void page.load().then(() => { if (page.alive && page.session !== undefined) page.lines.clear() })
  return () => { page.leave() }
}
