// A tiny DOM builder: elements from tag, attributes and children. Text is always set as text (never HTML),
// so API data cannot inject markup.
type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Array<Child | Child[]>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value)
    else if (value === true) el.setAttribute(name, '')
    else el.setAttribute(name, String(value))
  }
  append(el, children)
  return el
}

export function append (el: Element, children: Array<Child | Child[]>): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue
    el.append(typeof c === 'number' ? String(c) : c)
  }
}

/** A live status line (loading, saved…) and an alert line (errors) for a view. */
export function statusLines (): { status: HTMLElement, alert: HTMLElement, loading: (text: string) => void, error: (text: string) => void, clear: () => void } {
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' })
  const alert = h('p', { class: 'alert', role: 'alert', hidden: true })
  return {
    status,
    alert,
    loading (text) { status.textContent = text; alert.hidden = true },
    error (text) { alert.textContent = text; alert.hidden = false; status.textContent = '' },
    clear () { status.textContent = ''; alert.hidden = true; alert.textContent = '' }
  }
}

/** Ask before a destructive action with a modal <dialog> (focus is trapped and Escape cancels). */
export async function confirmDialog (question: string, confirmLabel: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const yes = h('button', { type: 'submit', value: 'yes', class: 'danger' }, confirmLabel)
    const no = h('button', { type: 'submit', value: 'no', autofocus: true }, 'Keep it')
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-q' },
      h('form', { method: 'dialog' }, h('p', { id: 'confirm-q' }, question), h('div', { class: 'row' }, no, yes)))
    document.body.append(dialog)
    dialog.addEventListener('close', () => { resolve(dialog.returnValue === 'yes'); dialog.remove() })
    dialog.showModal()
  })
}

/** Offer text as a file download. */
export function download (filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = h('a', { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => { URL.revokeObjectURL(url) }, 1000)
}
