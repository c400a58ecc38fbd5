// Sign in with an API key: exchanged for a token at POST /auth/token; a refused key shows the server's message.
import { signIn } from './auth.js'
import { h, statusLines } from './dom.js'

export function signInPage (root: HTMLElement, reason?: string): () => void {
  const lines = statusLines()
  const key = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'api-key-hint' })
  const button = h('button', { type: 'submit' }, 'Sign in')
  const form = h('form', { class: 'card narrow', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('label', { for: 'api-key' }, 'API key'),
    key,
    h('p', { id: 'api-key-hint', class: 'hint' }, h('code', {}, 'npm start'), ' prints a development key. The key stays in this tab\'s memory only.'),
    button, lines.status, lines.alert)
  if (reason !== undefined) lines.error(reason)
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    if (key.value.trim() === '') { lines.error('Enter an API key.'); key.focus(); return }
    button.disabled = true
    lines.loading('Signing in…')
    void signIn(key.value.trim()).then((message) => {
      button.disabled = false
      if (message !== undefined) { lines.error(message); key.focus() } else if (!location.hash.startsWith('#/')) location.hash = '#/sessions'
    })
  })
  root.append(form)
  key.focus()
  return () => undefined
}
