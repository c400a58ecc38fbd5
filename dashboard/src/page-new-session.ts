// New session: a form posted to POST /sessions. Before sending, the body is checked against the API's own
// schema (CreateSessionBody from schemas/, with TypeBox's interpreter: no eval under the CSP); the rules only
// the server knows (the symbol catalogue, date ranges with data, capital limits) come back as errors shown next
// to the field named in `details.fields` (or implied by the error code). Creating navigates to the session.
import { Value } from '@sinclair/typebox/value'
import type { Schemas } from '../../generated-client/index.js'
import { CreateSessionBody } from '../../schemas/sessions.js'
import { Timeframe } from '../../schemas/market-data.js'
import type { SignedIn } from './auth.js'
import { h, statusLines } from './dom.js'

type Body = Schemas['CreateSessionBody']
const FIELDS = ['symbols', 'start_date', 'end_date', 'timeframe', 'initial_capital', 'commission_per_share', 'slippage_bps', 'allow_short'] as const
type Field = typeof FIELDS[number]

/** `body.symbols.0` / `symbols` / `initial_capital` → the form field it names, if any. */
export function fieldOf (path: string): Field | undefined {
  const name = path.replace(/^body\./, '').split(/[./]/)[0]
  return (FIELDS as readonly string[]).includes(name) ? name as Field : undefined
}

/** What the schema's rule means for a person filling in the form. */
const FRIENDLY: Partial<Record<Field, string>> = {
  symbols: 'Enter 1 to 500 symbols such as AAPL, EURUSD or BTC-USD, separated by commas.',
  start_date: 'Enter a date (YYYY-MM-DD).',
  end_date: 'Enter a date (YYYY-MM-DD).',
  initial_capital: 'Enter an amount such as 100000 or 25000.50.',
  commission_per_share: 'Enter an amount such as 0.005 (0 for none).',
  slippage_bps: 'Enter a number of basis points from 0 to 1000.'
}

const CODE_FIELD: Partial<Record<string, Field>> = { INVALID_SYMBOL: 'symbols', INVALID_DATE_RANGE: 'start_date', INSUFFICIENT_CAPITAL: 'initial_capital' }

export function newSessionPage (root: HTMLElement, me: SignedIn): () => void {
  const lines = statusLines()
  const errors = new Map<Field, HTMLElement>()
  const inputs = {} as Record<Field, HTMLInputElement | HTMLSelectElement>
  const suggestions = h('datalist', { id: 'symbol-suggestions' })

  function field (name: Field, label: string, control: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
    control.id = `f-${name}`
    control.name = name
    const err = h('p', { id: `f-${name}-error`, class: 'field-error', hidden: true })
    errors.set(name, err)
    inputs[name] = control
    control.setAttribute('aria-describedby', [hint !== undefined ? `f-${name}-hint` : '', `f-${name}-error`].filter(Boolean).join(' '))
    return h('div', { class: name === 'allow_short' ? 'field check' : 'field' },
      h('label', { for: control.id }, label), control,
      hint !== undefined ? h('p', { id: `f-${name}-hint`, class: 'hint' }, hint) : null, err)
  }

  const symbols = h('input', { type: 'text', required: true, list: 'symbol-suggestions', autocomplete: 'off', placeholder: 'AAPL, MSFT' })
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', {}, 'New session'),
    field('symbols', 'Symbols', symbols, 'Comma-separated; suggestions come from the market-data catalogue.'),
    suggestions,
    h('div', { class: 'grid2' },
      field('start_date', 'Start date', h('input', { type: 'date', required: true, value: '2023-01-03' })),
      field('end_date', 'End date', h('input', { type: 'date', required: true, value: '2023-12-29' }))),
    h('div', { class: 'grid2' },
      field('timeframe', 'Timeframe', h('select', {}, h('option', { value: '1d' }, '1d (daily)'), h('option', { value: '1h' }, '1h (hourly)'), h('option', { value: '1m' }, '1m (minute)'))),
      field('initial_capital', 'Initial capital', h('input', { type: 'text', inputmode: 'decimal', required: true, value: '100000' }), '1,000 to 10,000,000')),
    h('div', { class: 'grid2' },
      field('commission_per_share', 'Commission per share', h('input', { type: 'text', inputmode: 'decimal', value: '0.005' })),
      field('slippage_bps', 'Slippage (bps)', h('input', { type: 'number', min: 0, max: 1000, step: 'any', value: 5 }), '0 to 1000')),
    field('allow_short', 'Allow short selling', h('input', { type: 'checkbox' })),
    h('button', { type: 'submit' }, 'Create session'),
    lines.status, lines.alert)
  root.append(form)

  function clearErrors (): void {
    for (const [name, el] of errors) { el.hidden = true; el.textContent = ''; inputs[name].removeAttribute('aria-invalid') }
  }
  function showError (name: Field, message: string): void {
    const el = errors.get(name)
    if (el === undefined) return
    el.textContent = el.hidden ? message : `${el.textContent ?? ''} ${message}`
    el.hidden = false
    inputs[name].setAttribute('aria-invalid', 'true')
  }

  /** The API's schema checks, one message per field, worded for the form. */
  function schemaErrors (body: Body): Array<[Field, string]> {
    const out = new Map<Field, string>()
    for (const e of Value.Errors(CreateSessionBody, [Timeframe], body)) {
      const f = fieldOf(e.path.replace(/^\//, ''))
      if (f !== undefined && !out.has(f)) out.set(f, FRIENDLY[f] ?? e.message)
    }
    return [...out]
  }

  let searchTimer: ReturnType<typeof setTimeout> | undefined
  symbols.addEventListener('input', () => {
    clearTimeout(searchTimer)
    const q = symbols.value.split(',').pop()?.trim() ?? ''
    if (q.length === 0) return
    searchTimer = setTimeout(() => {
      void me.client.GET('/market-data/symbols', { params: { query: { q } } }).then(({ data }) => {
        if (data === undefined) return
        const head = symbols.value.split(',').slice(0, -1).map((s) => s.trim()).filter(Boolean)
        suggestions.replaceChildren(...data.symbols.slice(0, 20).map((s) => h('option', { value: [...head, s.symbol].join(', ') }, `${s.symbol} — ${s.name}`)))
      }).catch(() => undefined)
    }, 200)
  })

  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    clearErrors()
    lines.clear()
    const body: Body = {
      symbols: symbols.value.split(',').map((s) => s.trim()).filter(Boolean),
      start_date: inputs.start_date.value,
      end_date: inputs.end_date.value,
      timeframe: inputs.timeframe.value as Body['timeframe'],
      initial_capital: inputs.initial_capital.value.trim(),
      commission_per_share: inputs.commission_per_share.value.trim() || '0',
      slippage_bps: inputs.slippage_bps.value.trim() === '' ? Number.NaN : Number(inputs.slippage_bps.value),
      allow_short: (inputs.allow_short as HTMLInputElement).checked
    }
    const local = schemaErrors(body)
    if (local.length > 0) {
      for (const [f, m] of local) showError(f, m)
      lines.error('Please correct the highlighted fields.')
      inputs[FIELDS.find((f) => local.some(([g]) => g === f)) ?? local[0][0]].focus()
      return
    }
    lines.loading('Creating the session…')
    void me.client.POST('/sessions', { body }).then(({ data, error }) => {
      if (data !== undefined) { location.hash = `#/sessions/${encodeURIComponent(data.session_id)}`; return }
      const details = (error?.details ?? {}) as { fields?: unknown, field?: unknown, errors?: Array<{ field: string, message: string }> }
      const named = new Set<Field>()
      for (const e of details.errors ?? []) { const f = fieldOf(e.field); if (f !== undefined) { showError(f, e.message); named.add(f) } }
      const paths = [...(Array.isArray(details.fields) ? details.fields : []), ...(typeof details.field === 'string' ? [details.field] : [])] as string[]
      for (const p of paths) { const f = fieldOf(p); if (f !== undefined && !named.has(f)) { showError(f, error?.message ?? 'Invalid'); named.add(f) } }
      const byCode = error !== undefined ? CODE_FIELD[error.error_code] : undefined
      if (named.size === 0 && byCode !== undefined) { showError(byCode, error?.message ?? 'Invalid'); named.add(byCode) }
      lines.error(error?.message ?? 'The session could not be created.')
      const first = FIELDS.find((f) => named.has(f))
      if (first !== undefined) inputs[first].focus()
    }, () => { lines.error('The server did not answer; the session was not created. Try again.') })
  })
  symbols.focus()
  return () => { clearTimeout(searchTimer) }
}
