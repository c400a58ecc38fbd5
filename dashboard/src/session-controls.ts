// The run controls of a session page: Start headless (ready), Pause, Resume, Cancel run (with confirmation),
// each a REST call; the page reloads the session after it.
import type { Schemas } from '../../generated-client/index.js'
import type { SignedIn } from './auth.js'
import { confirmDialog, h, type statusLines } from './dom.js'

type Session = Schemas['Session']
type Action = 'start' | 'pause' | 'resume' | 'cancel'

export interface ControlsContext {
  lines: ReturnType<typeof statusLines>
  reachable: <T>(what: string, call: () => Promise<T>) => Promise<T | undefined>
  reload: () => Promise<void>
}

async function control (me: SignedIn, id: string, action: Action, ctx: ControlsContext): Promise<void> {
  ctx.lines.loading(`${action}…`)
  const params = { params: { path: { id } } }
  const res = await ctx.reachable(action, async () => action === 'start'
    ? await me.client.POST('/sessions/{id}/start', { ...params, body: { flow_control: false } })
    : action === 'pause' ? await me.client.POST('/sessions/{id}/pause', params)
      : action === 'resume' ? await me.client.POST('/sessions/{id}/resume', params)
        : await me.client.POST('/sessions/{id}/cancel', params))
  if (res === undefined) return
  if (res.error !== undefined) { ctx.lines.error(`Could not ${action}: ${res.error.message}`); return }
  ctx.lines.loading(`${action}: done`)
  await ctx.reload()
}

/** The buttons that session `s`'s state allows. */
export function runControls (me: SignedIn, id: string, s: Session, ctx: ControlsContext): HTMLButtonElement[] {
  const button = (label: string, action: () => Promise<void>) => {
    const b = h('button', { type: 'button' }, label)
    b.addEventListener('click', () => { b.disabled = true; void action().finally(() => { b.disabled = false }) })
    return b
  }
  const list: HTMLButtonElement[] = []
  if (s.state === 'ready') list.push(button('Start headless', async () => { await control(me, id, 'start', ctx) }))
  if (s.state === 'running') list.push(button('Pause', async () => { await control(me, id, 'pause', ctx) }))
  if (s.state === 'paused') list.push(button('Resume', async () => { await control(me, id, 'resume', ctx) }))
  if (s.state === 'running' || s.state === 'paused') {
    list.push(button('Cancel run', async () => {
      if (await confirmDialog('Cancel this run? It stops now and keeps the results so far.', 'Cancel run')) await control(me, id, 'cancel', ctx)
    }))
  }
  return list
}
