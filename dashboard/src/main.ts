// Dashboard entry: hash routes (#/sessions, #/new, #/sessions/<id>) so only `/` is served, the nav with the
// live connection's state, and sign-in gating. Pages live in pages-*.ts.
import './style.css'
import { onAuthChange, restore, signedIn, signOut } from './auth.js'
import { h } from './dom.js'
import { live } from './live.js'
import { signInPage } from './page-sign-in.js'
import { sessionsPage } from './page-sessions.js'
import { newSessionPage } from './page-new-session.js'
import { sessionPage } from './page-session.js'

const main = document.getElementById('main') as HTMLElement
const nav = document.getElementById('nav') as HTMLElement
/** The current page's cleanup (charts, subscriptions, timers). */
let leave: (() => void) | undefined
let signInReason: string | undefined
let navUnsubscribe: (() => void) | undefined

function renderNav (): void {
  const me = signedIn()
  if (me === undefined) { nav.replaceChildren(); return }
  const liveLabel = h('span', { class: `live live-${live.state}`, role: 'status', 'aria-live': 'polite' }, `Live: ${live.state}`)
  navUnsubscribe?.()
  navUnsubscribe = live.onState((s) => { liveLabel.className = `live live-${s}`; liveLabel.textContent = `Live: ${s}` })
  nav.replaceChildren(
    h('a', { href: '#/sessions' }, 'Sessions'),
    h('a', { href: '#/new' }, 'New session'),
    liveLabel,
    h('span', { class: 'who' }, `${me.userId} (${me.plan})`),
    h('button', { type: 'button', onclick: () => { signOut() } }, 'Sign out')
  )
}

function route (): void {
  leave?.()
  leave = undefined
  const me = signedIn()
  const hash = location.hash.replace(/^#/, '') || '/sessions'
  main.replaceChildren()
  if (me === undefined) {
    leave = signInPage(main, signInReason)
    return
  }
  const m = /^\/sessions\/([^/]+)$/.exec(hash)
  if (m !== null) leave = sessionPage(main, me, decodeURIComponent(m[1]))
  else if (hash === '/new') leave = newSessionPage(main, me)
  else leave = sessionsPage(main, me)
  const heading = main.querySelector('h1')
  document.title = `${heading?.textContent ?? 'Dashboard'} · SimuTrador`
}

onAuthChange((state, reason) => {
  signInReason = reason === 'renewed' ? undefined : reason
  if (reason === 'renewed') { live.reconnect(); return }
  if (state === undefined) live.stop()
  else live.start()
  renderNav()
  route()
})

window.addEventListener('hashchange', () => { route(); main.focus() })
restore()
if (signedIn() !== undefined) live.start()
renderNav()
route()
