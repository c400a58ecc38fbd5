// Swagger UI on the first click (issue 12), in a real browser against a listening server: authorize with a
// token, open POST /sessions, "Try it out", "Execute" with the prefilled body as it stands: 201.
// Drives headless Chromium over the DevTools protocol with `ws` (no browser download); skipped when
// /usr/bin/chromium is absent.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { listen, tokenFor, KEYS } from '../fixtures/app.js'

const CHROMIUM = '/usr/bin/chromium'
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A page of a headless Chromium started for this test, and `evaluate` in it. */
async function openBrowser (t: { teardown: (fn: () => unknown) => void }): Promise<{ navigate: (url: string) => Promise<void>, evaluate: <T>(expression: string) => Promise<T> }> {
  const profile = await mkdtemp(join(tmpdir(), 'simutrador-swagger-ui-test-'))
  const browser = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], { stdio: 'ignore' })
  t.teardown(async () => {
    browser.kill()
    await new Promise((resolve) => { if (browser.exitCode !== null) resolve(null); else browser.once('exit', resolve) })
    await rm(profile, { recursive: true, force: true })
  })
  let port = ''
  for (let i = 0; i < 100 && port === ''; i++) {
    port = await readFile(join(profile, 'DevToolsActivePort'), 'utf8').then((text) => text.split('\n')[0], () => '')
    if (port === '') await sleep(100)
  }
  const pages = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as Array<{ type: string, webSocketDebuggerUrl: string }>
  const page = pages.find((p) => p.type === 'page')
  if (page === undefined) throw new Error('no page in the browser')
  const ws = new WebSocket(page.webSocketDebuggerUrl)
  t.teardown(() => { ws.close() })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  let next = 0
  const waiting = new Map<number, (msg: any) => void>()
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw.toString()) as { id?: number }
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg)
  })
  const send = async (method: string, params: Record<string, unknown>): Promise<any> => await new Promise((resolve) => {
    const id = ++next
    waiting.set(id, resolve)
    ws.send(JSON.stringify({ id, method, params }))
  })
  const evaluate = async <T>(expression: string): Promise<T> =>
    (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })).result.result.value as T
  const navigate = async (url: string): Promise<void> => { await send('Page.navigate', { url }) }
  return { navigate, evaluate }
}

/** Poll `expression` in the page until it is truthy (bounded); its last value. */
async function until<T> (evaluate: (e: string) => Promise<T>, expression: string, ms = 15_000): Promise<T> {
  let value = await evaluate(expression)
  for (const end = Date.now() + ms; !value && Date.now() < end; value = await evaluate(expression)) await sleep(100)
  return value
}

t.test('Try it out on POST /sessions returns 201 with the prefilled example', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` }, async (t) => {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const { navigate, evaluate } = await openBrowser(t)
  await navigate(`${baseUrl}/docs`)
  const op = '#operations-sessions-createSession'
  t.ok(await until(evaluate, `!!document.querySelector('${op}')`), 'Swagger UI lists POST /sessions')

  // Authorize as a user would: the Authorize dialog, the bearer token, Authorize, Close.
  await evaluate("document.querySelector('.btn.authorize').click()")
  t.ok(await until(evaluate, "[...document.querySelectorAll('.auth-container')].some(c => c.innerText.includes('bearerAuth'))"), 'the Authorize dialog opens')
  await evaluate(`(() => {
    const box = [...document.querySelectorAll('.auth-container')].find(c => c.innerText.includes('bearerAuth'))
    const input = box.querySelector('input')
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, ${JSON.stringify(token)})
    input.dispatchEvent(new Event('input', { bubbles: true }))
    box.querySelector('.auth-btn-wrapper .authorize').click()
  })()`)
  await sleep(200)
  await evaluate("document.querySelector('.close-modal')?.click()")

  await evaluate(`document.querySelector('${op} .opblock-summary-control').click()`)
  t.ok(await until(evaluate, `!!document.querySelector('${op} .try-out__btn')`), 'the operation opens')
  await evaluate(`document.querySelector('${op} .try-out__btn').click()`)
  const prefilled = await until(evaluate, `document.querySelector('${op} textarea.body-param__text')?.value`) as string
  t.match(JSON.parse(prefilled), { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30' }, 'the body is prefilled with the documented example')
  await evaluate(`document.querySelector('${op} .execute').click()`)
  const status = await until(evaluate, `document.querySelector('${op} .live-responses-table tbody .response-col_status')?.innerText.trim()`)
  t.equal(status, '201', 'Execute creates the session')
  const body = await evaluate<string>(`document.querySelector('${op} .live-responses-table .microlight, ${op} .live-responses-table pre')?.innerText`)
  t.match(body, /"state": "ready"/)
})
