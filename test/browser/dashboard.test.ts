// The dashboard end to end in Debian's Chromium against a real listening server: sign in (keyboard only), create
// a session through the form (fields rejected inline by the API's schema and by the server), watch a strategy run by the SDK live (fills, equity,
// a dropped WebSocket that reconnects), pause and resume, compare the results with REST, export the trades,
// keep the sessions table current without a reload, delete with confirmation, fit a 390 px phone, and renew
// a short-lived token before it expires.
// Screenshots of each page go to test-artifacts/ (git-ignored).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { WebSocket } from 'ws'
import { listen, tokenFor, KEYS } from '../fixtures/app.js'
import { ARTIFACTS, browserAvailable, launchBrowser } from '../fixtures/browser.js'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { METRIC_ROWS } from '../../dashboard/src/metric-rows.js'
import { formatMoney } from '../../dashboard/src/format.js'

if (browserAvailable(t)) {
  const started = Date.now()
  const { app, baseUrl } = await listen(t)
  // The dashboard's sockets are the ones a browser opened (it always sends Origin; the SDK does not).
  const dashboardSockets = new Set<WebSocket>()
  app.websocketServer.on('connection', (ws: WebSocket, req: { headers: Record<string, string | undefined> }) => {
    if (req.headers.origin !== undefined) { dashboardSockets.add(ws); ws.on('close', () => { dashboardSockets.delete(ws) }) }
  })
  const token = await tokenFor(baseUrl, KEYS.dev)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
    return { status: res.status, json: res.status === 204 ? undefined : await res.json() }
  }

  const context = await launchBrowser(t)
  const page: Page = await context.newPage()
  page.setDefaultTimeout(20_000)
  const problems: string[] = []
  page.on('pageerror', (err) => { problems.push(`page error: ${err.message}`) })
  // Refused requests are part of the flow (a wrong key, a rejected field); each is listed, and checked at the end.
  page.on('console', (msg) => { if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`) })
  const refusedRequests: string[] = []
  page.on('response', (res) => { if (res.status() >= 400) refusedRequests.push(`${res.status()} ${res.request().method()} ${new URL(res.url()).pathname}`) })
  const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }) }
  let sessionId = ''

  await t.test('signs in by keyboard: a wrong key shows the server\'s message; the token stays out of URLs and localStorage', async (t) => {
    await page.goto(baseUrl)
    await page.getByLabel('API key').waitFor()
    t.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'api-key', 'the key field has focus')
    const refused = await fetch(`${baseUrl}/auth/token`, { method: 'POST', headers: { 'x-api-key': 'not_a_real_key_0000000' } })
    const serverMessage = (await refused.json() as { message: string }).message
    await page.keyboard.type('not_a_real_key_0000000')
    await page.keyboard.press('Enter')
    await page.getByRole('alert').filter({ hasText: serverMessage }).waitFor()
    await shot('sign-in-error')
    await page.getByLabel('API key').fill(KEYS.dev)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor()
    const storage = await page.evaluate(() => ({ local: (globalThis as any).localStorage.length, session: (globalThis as any).sessionStorage.getItem('simutrador.token'), url: (globalThis as any).location.href }))
    t.equal(storage.local, 0, 'nothing in localStorage')
    t.ok(storage.session !== null && storage.session.includes('"token"'), 'the token is in sessionStorage')
    t.notMatch(storage.url, /token|sk_|test_key/, 'no secret in the URL')
    await page.locator('#nav .live-open').waitFor()
  })

  await t.test('creates a session through the form: the API\'s schema and the server\'s verdict are shown next to the fields, then creating opens the session', async (t) => {
    await page.getByRole('link', { name: 'New session' }).first().click()
    await page.getByRole('heading', { name: 'New session' }).waitFor()
    const posts: string[] = []
    page.on('request', (req) => { if (req.method() === 'POST' && req.url().endsWith('/sessions')) posts.push(req.url()) })

    // Checked in the page against CreateSessionBody (the API's schema): nothing is sent.
    await page.getByLabel('Symbols').fill('AAPL')
    await page.getByLabel('Slippage (bps)').fill('5000')
    await page.getByRole('button', { name: 'Create session' }).click()
    const slippageError = page.locator('#f-slippage_bps-error')
    await slippageError.waitFor({ state: 'visible' })
    t.match(await slippageError.textContent(), /0 to 1000/)
    t.equal(await page.getByLabel('Slippage (bps)').getAttribute('aria-invalid'), 'true')
    t.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'f-slippage_bps', 'focus moves to the rejected field')
    t.ok(await page.locator('#f-symbols-error').isHidden(), 'other fields carry no error')
    t.same(posts, [], 'a body the schema refuses is not sent')
    await shot('new-session-error')

    // Only the server knows the catalogue: its 422 lands next to the symbols field, with its message.
    await page.getByLabel('Slippage (bps)').fill('5')
    await page.getByLabel('Symbols').fill('ZZZQQ')
    await page.getByRole('button', { name: 'Create session' }).click()
    const symbolError = page.locator('#f-symbols-error')
    await symbolError.waitFor({ state: 'visible' })
    t.match(await symbolError.textContent(), /Unknown symbol: ZZZQQ/)
    t.ok(await slippageError.isHidden(), 'the fixed field\'s error is gone')
    t.equal(posts.length, 1)
    await shot('new-session-server-error')

    await page.getByLabel('Symbols').fill('AAPL')
    await page.getByRole('button', { name: 'Create session' }).click()
    await page.waitForURL(/#\/sessions\/sess_/)
    sessionId = decodeURIComponent(new URL(page.url()).hash.replace('#/sessions/', ''))
    await page.getByRole('heading', { name: `Session ${sessionId}` }).waitFor()
    const rest = await api('GET', `/sessions/${sessionId}`)
    t.equal(rest.json.state, 'ready')
    t.same(rest.json.symbols, ['AAPL'])
    await page.getByRole('button', { name: 'Start headless' }).waitFor()
  })

  // The strategy runs in this process over the SDK, paced so the page can be watched while it runs.
  let run: Promise<unknown> | undefined
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.dev })
  t.teardown(() => client.close())

  await t.test('watches a run started through the SDK live: progress, fills and the equity curve grow; a dropped WebSocket reconnects', async (t) => {
    await client.connect()
    run = runStrategy(client, {
      async onTick (tick) {
        await new Promise((resolve) => setTimeout(resolve, 40))
        if (tick.sequence_id % 20 === 1) return [{ symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10 }]
        if (tick.sequence_id % 20 === 11) return [{ symbol: 'AAPL', side: 'sell', type: 'market', quantity: 10 }]
      }
    }, { session: sessionId })
    await page.locator('#live').waitFor({ state: 'visible' })
    await page.locator('#fills-table tbody tr td:nth-child(6)').first().waitFor()
    await page.waitForFunction(() => Number((globalThis as any).document.getElementById('equity-note')?.dataset.points ?? 0) >= 3)
    const before = await page.locator('#equity-note').getAttribute('data-points')
    const progressBefore = await page.locator('#run-progress-text').textContent()
    await shot('session-live')

    for (const ws of dashboardSockets) ws.terminate()
    await page.locator('#nav .live-reconnecting').waitFor()
    await page.locator('#nav .live-open').waitFor()
    const fillsAfterDrop = await page.locator('#fills-table tbody tr').count()
    await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('#fills-table tbody tr').length > n, fillsAfterDrop)
    await page.waitForFunction((n) => Number((globalThis as any).document.getElementById('equity-note')?.dataset.points ?? 0) > n, Number(before))
    t.not(await page.locator('#run-progress-text').textContent(), progressBefore, 'progress moves on')
    t.pass('fills and equity keep arriving after the reconnect')
  })

  await t.test('pauses and resumes from the controls', async (t) => {
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.locator('dl.config .badge', { hasText: 'paused' }).waitFor()
    t.equal((await api('GET', `/sessions/${sessionId}`)).json.state, 'paused')
    await shot('session-paused')
    await page.getByRole('button', { name: 'Resume' }).click()
    await page.locator('dl.config .badge', { hasText: /running|completed/ }).waitFor()
    t.not((await api('GET', `/sessions/${sessionId}`)).json.state, 'paused')
  })

  await t.test('the finished session\'s statistics, trades and charts equal the REST results', async (t) => {
    await run
    await page.locator('dl.config .badge', { hasText: 'completed' }).waitFor()
    await page.locator('#stats-table').waitFor()
    const results = (await api('GET', `/sessions/${sessionId}/results`)).json
    t.ok(results.trades.length > 0, 'the run traded')
    for (const [key, , fmt] of METRIC_ROWS) {
      const cell = await page.locator(`#stats-table tr[data-metric="${key}"] td`).textContent()
      t.equal(cell, (fmt as (v: unknown) => string)(results.metrics[key]), `${key}`)
    }
    const equityCell = page.locator('#stats-table tr[data-metric="final_equity"] td')
    t.equal(await equityCell.getAttribute('title'), results.metrics.final_equity, 'final equity: the API\'s exact string on hover')
    t.equal(await equityCell.textContent(), formatMoney(results.metrics.final_equity), 'and to the cent, grouped, in the cell')
    t.equal(await page.locator('#trades-table tbody tr').count(), results.trades.length)
    const firstNet = await page.locator(`#trades-table tbody tr[data-trade-id="${results.trades[0].trade_id}"] td:nth-child(10)`).textContent()
    t.equal(firstNet?.replace(/^\+/, ''), formatMoney(results.trades[0].net_pnl))
    await page.locator('.price[data-symbol="AAPL"] p.hint', { hasText: 'fills marked' }).waitFor()
    t.ok(await page.locator('#monthly-table tbody tr').count() >= 10, 'a row per month')
    t.ok(await page.locator('#equity-chart canvas').count() > 0, 'the equity chart is drawn')
    t.ok(await page.locator('#drawdown-chart canvas').count() > 0, 'the drawdown chart is drawn')

    // Sorting by net P&L (a click on the heading) orders the rows by the API's values.
    await page.getByRole('button', { name: 'Net P&L' }).click()
    const sortedIds = [...results.trades].sort((a: any, b: any) => Number(a.net_pnl) - Number(b.net_pnl)).map((x: any) => String(x.trade_id))
    const shownIds = await page.locator('#trades-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-trade-id')))
    t.same(shownIds, sortedIds)
    t.equal(await page.locator('#trades-table th', { hasText: 'Net P&L' }).getAttribute('aria-sort'), 'ascending')
    await shot('session-results')
  })

  await t.test('exports the trades as CSV with the API\'s values', async (t) => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export trades as CSV' }).click()])
    t.equal(download.suggestedFilename(), `${sessionId}-trades.csv`)
    const text = readFileSync(await download.path(), 'utf8')
    const lines = text.trim().split('\r\n')
    const results = (await api('GET', `/sessions/${sessionId}/results`)).json
    t.equal(lines[0], Object.keys(results.trades[0]).join(','))
    t.equal(lines.length, results.trades.length + 1)
    const first = results.trades[0]
    t.equal(lines[1], Object.values(first).map(String).join(','))
  })

  await t.test('the sessions table updates live from session pushes, and deletes after a confirmation', async (t) => {
    await page.getByRole('link', { name: 'Sessions' }).first().click()
    await page.locator(`tr[data-session-id="${sessionId}"] .badge`, { hasText: 'completed' }).waitFor()
    const created = await api('POST', '/sessions', { symbols: ['MSFT'], start_date: '2023-01-03', end_date: '2023-03-31' })
    t.equal(created.status, 201)
    const other = created.json.session_id as string
    const row = page.locator(`tr[data-session-id="${other}"]`)
    await row.waitFor()
    t.match(await row.textContent(), /MSFT/, 'a session created elsewhere appears without a reload')
    await page.getByRole('combobox', { name: 'State' }).selectOption('completed')
    await row.waitFor({ state: 'detached' })
    t.equal(await page.locator(`tr[data-session-id="${sessionId}"]`).count(), 1, 'the filter keeps the completed session and hides the ready one')
    await page.getByRole('combobox', { name: 'State' }).selectOption('')
    await row.waitFor()

    await page.getByRole('button', { name: `Delete session ${other}` }).click()
    const dialog = page.getByRole('dialog')
    await dialog.waitFor()
    await shot('sessions-delete-confirm')
    await page.keyboard.press('Escape')
    await dialog.waitFor({ state: 'detached' })
    t.equal((await api('GET', `/sessions/${other}`)).status, 200, 'Escape keeps the session')
    await page.getByRole('button', { name: `Delete session ${other}` }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click()
    await row.waitFor({ state: 'detached' })
    t.equal((await api('GET', `/sessions/${other}`)).status, 404)
    await shot('sessions')
  })

  await t.test('keyboard focus is visible', async (t) => {
    await page.locator('body').focus()
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    const focus = await page.evaluate(() => {
      const g = globalThis as any
      const el = g.document.activeElement
      const style = g.getComputedStyle(el)
      return { tag: el.tagName, outline: style.outlineStyle, width: style.outlineWidth }
    })
    t.not(focus.tag, 'BODY')
    t.equal(focus.outline, 'solid', `${focus.tag} shows a focus outline`)
    t.not(focus.width, '0px')
  })

  await t.test('fits a 390 px wide phone without sideways scrolling of the page', async (t) => {
    await page.setViewportSize({ width: 390, height: 844 })
    for (const [name, hash] of [['phone-sessions', '#/sessions'], ['phone-new-session', '#/new'], ['phone-session', `#/sessions/${sessionId}`]]) {
      await page.goto(`${baseUrl}/${hash}`)
      await page.locator('h1').waitFor()
      if (name === 'phone-session') await page.locator('#stats-table').waitFor()
      const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).document.documentElement.clientWidth)
      t.equal(overflow, 0, `${name}: no horizontal page scroll`)
      await shot(name)
    }
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  await t.test('renews a short-lived token before it expires and keeps working; sign out forgets it', async (t) => {
    const short = await listen(t, { TOKEN_TTL_SECONDS: '30' })
    const p2 = await context.newPage()
    t.teardown(() => p2.close())
    p2.on('pageerror', (err) => { problems.push(`page error: ${err.message}`) })
    await p2.goto(short.baseUrl)
    await p2.getByLabel('API key').fill(KEYS.dev)
    await p2.keyboard.press('Enter')
    await p2.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor()
    const stored = async (): Promise<string | null> => await p2.evaluate(() => (globalThis as any).sessionStorage.getItem('simutrador.token'))
    const first = await stored()
    await p2.waitForFunction((before) => (globalThis as any).sessionStorage.getItem('simutrador.token') !== before, first, { timeout: 40_000 })
    await p2.locator('#nav .live-open').waitFor()
    await p2.getByRole('link', { name: 'New session' }).first().click()
    await p2.getByRole('link', { name: 'Sessions' }).first().click()
    await p2.getByRole('status').filter({ hasText: /session(s)? shown/ }).waitFor()
    t.pass('the API still answers after the renewal')
    await p2.getByRole('button', { name: 'Sign out' }).click()
    await p2.getByLabel('API key').waitFor()
    t.equal(await stored(), null, 'sign out clears the token')
  })

  await t.test('no script errors or CSP violations on any page', async (t) => {
    t.same(problems, [])
    t.same(refusedRequests, ['401 POST /auth/token', '422 POST /sessions'], 'the only refused requests are the wrong key and the unknown symbol')
    t.comment(`browser tests took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
}
