// Sessions: the caller's sessions newest first, paged with the API's cursor, filtered by state, kept current
// by the WebSocket's session pushes (session_updated / session_deleted), with delete behind a confirmation.
import type { Schemas } from '../../generated-client/index.js'
import type { SignedIn } from './auth.js'
import { confirmDialog, h, statusLines } from './dom.js'
import { formatProgress, formatTime } from './format.js'
import { live } from './live.js'

type Session = Schemas['Session']
type State = Schemas['SessionState']
const STATES: State[] = ['initializing', 'ready', 'running', 'paused', 'completed', 'error']
const PAGE_SIZE = 20

export function stateBadge (state: string): HTMLElement {
  return h('span', { class: `badge state-${state}` }, state)
}

export function sessionsPage (root: HTMLElement, me: SignedIn): () => void {
  const lines = statusLines()
  const filter = h('select', { id: 'state-filter', name: 'state' }, h('option', { value: '' }, 'All states'), STATES.map((s) => h('option', { value: s }, s)))
  const tbody = h('tbody')
  const table = h('table', { class: 'data', id: 'sessions-table' },
    h('caption', { class: 'visually-hidden' }, 'Your sessions, newest first'),
    h('thead', {}, h('tr', {}, ['Session', 'State', 'Symbols', 'Range', 'Timeframe', 'Progress', 'Created', ''].map((c) => h('th', { scope: 'col' }, c || h('span', { class: 'visually-hidden' }, 'Actions'))))),
    tbody)
  const prev = h('button', { type: 'button', disabled: true }, 'Previous page')
  const next = h('button', { type: 'button', disabled: true }, 'Next page')
  const pageLabel = h('span', { class: 'page-label' })
  const empty = h('p', { class: 'empty', hidden: true }, 'No sessions yet. ', h('a', { href: '#/new' }, 'Create one'), '.')
  root.append(
    h('div', { class: 'title-row' }, h('h1', {}, 'Sessions'), h('a', { class: 'button', href: '#/new' }, 'New session')),
    h('div', { class: 'toolbar' }, h('label', { for: 'state-filter' }, 'State'), filter),
    lines.status, lines.alert,
    h('div', { class: 'table-wrap' }, table), empty,
    h('div', { class: 'pager' }, prev, pageLabel, next))

  /** Cursors of the pages before the current one (undefined = first page). */
  const cursors: Array<string | undefined> = [undefined]
  let nextCursor: string | null = null
  const rows = new Map<string, HTMLTableRowElement>()
  let alive = true

  function row (s: Session): HTMLTableRowElement {
    const del = h('button', { type: 'button', class: 'danger small', 'aria-label': `Delete session ${s.session_id}` }, 'Delete')
    del.addEventListener('click', () => { void remove(s.session_id) })
    const progress = h('progress', { max: 1, value: s.progress, 'aria-label': `Progress of ${s.session_id}` })
    return h('tr', { 'data-session-id': s.session_id },
      h('td', {}, h('a', { href: `#/sessions/${encodeURIComponent(s.session_id)}` }, s.session_id)),
      h('td', {}, stateBadge(s.state)),
      h('td', {}, s.symbols.join(', ')),
      h('td', {}, `${s.start_date} → ${s.end_date}`),
      h('td', {}, s.timeframe),
      h('td', {}, progress, ' ', formatProgress(s.progress)),
      h('td', {}, formatTime(s.created_at)),
      h('td', {}, del))
  }

  async function load (): Promise<void> {
    lines.loading('Loading sessions…')
    const cursor = cursors[cursors.length - 1]
    const state = filter.value === '' ? undefined : filter.value as State
    try {
      const { data, error } = await me.client.GET('/sessions', { params: { query: { limit: PAGE_SIZE, ...(state !== undefined ? { state } : {}), ...(cursor !== undefined ? { cursor } : {}) } } })
      if (!alive) return
      if (data === undefined) { lines.error(`Could not load sessions: ${error?.message ?? 'unknown error'}`); return }
      rows.clear()
      tbody.replaceChildren(...data.sessions.map((s) => { const r = row(s); rows.set(s.session_id, r); return r }))
      nextCursor = data.next_cursor
      next.disabled = nextCursor === null
      prev.disabled = cursors.length <= 1
      pageLabel.textContent = `Page ${cursors.length}`
      empty.hidden = data.sessions.length > 0
      lines.loading(`${data.sessions.length} session${data.sessions.length === 1 ? '' : 's'} shown`)
    } catch {
      if (alive) lines.error('Could not load sessions: the server did not answer. The list is read again when the live connection is back.')
    }
  }

  async function remove (id: string): Promise<void> {
    if (!await confirmDialog(`Delete session ${id}? A running simulation is stopped and its results are lost.`, 'Delete')) return
    lines.loading(`Deleting ${id}…`)
    let res
    try {
      res = await me.client.DELETE('/sessions/{id}', { params: { path: { id } } })
    } catch {
      lines.error(`Could not delete ${id}: the server did not answer. Nothing was deleted on this side; try again.`)
      return
    }
    const { error, response } = res
    if (response.status !== 204) { lines.error(`Could not delete ${id}: ${error?.message ?? response.statusText}`); return }
    rows.get(id)?.remove()
    rows.delete(id)
    lines.loading(`Deleted ${id}`)
  }

  const offUpdated = live.on('session_updated', (s) => {
    const existing = rows.get(s.session_id)
    const matches = filter.value === '' || filter.value === s.state
    if (existing !== undefined) {
      if (!matches) { existing.remove(); rows.delete(s.session_id); return }
      const fresh = row(s)
      existing.replaceWith(fresh)
      rows.set(s.session_id, fresh)
    } else if (matches && cursors.length === 1 && Date.parse(s.created_at) > Date.now() - 60_000) {
      // A session created elsewhere just now belongs at the top of the first page.
      const fresh = row(s)
      tbody.prepend(fresh)
      rows.set(s.session_id, fresh)
      empty.hidden = true
    }
  })
  const offDeleted = live.on('session_deleted', (d) => { rows.get(d.session_id)?.remove(); rows.delete(d.session_id) })
  // Pushes missed while the live connection was down: read the page again when it is back.
  let wasOpen = live.state === 'open'
  const offState = live.onState((s) => { if (s === 'open' && !wasOpen) void load(); wasOpen = s === 'open' })

  filter.addEventListener('change', () => { cursors.splice(1); void load() })
  next.addEventListener('click', () => { if (nextCursor !== null) { cursors.push(nextCursor); void load() } })
  prev.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); void load() } })
  void load()
  return () => { alive = false; offUpdated(); offDeleted(); offState() }
}
