// Issue 19's dashboard items in Debian's Chromium against a real listening server, on a losing minute run
// (test/fixtures/held-run.ts): a page opened at 89 % of the run shows the whole equity curve so far and the
// run's real drawdown, with one equity in the account box and the chart; the finished run's page draws at most
// the documented number of fill markers (a label on hover), pages its trades table with sorting over all of
// them, shows numbers to 2 decimals (exact on hover), stays under 5,000 px tall and fits 1280 and 390 px.
// Screenshots go to test-artifacts/minute-run-*.png (git-ignored).
import t from 'tap'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { listen, tokenFor, KEYS } from '../fixtures/app.js'
import { ARTIFACTS, browserAvailable, launchBrowser } from '../fixtures/browser.js'
import { startHeldRun } from '../fixtures/held-run.js'
import { MAX_MARKERS, TRADES_PER_PAGE } from '../../dashboard/src/display-limits.js'
import { formatNumber } from '../../dashboard/src/format.js'


if (browserAvailable(t)) {
  const { baseUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const get = async (path: string): Promise<any> => await (await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()
  const context = await launchBrowser(t)
  const page: Page = await context.newPage()
  page.setDefaultTimeout(30_000)
  const problems: string[] = []
  page.on('pageerror', (err) => { problems.push(`page error: ${err.message}`) })
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`) })
  const shot = async (name: string): Promise<void> => {
    const tall = await page.evaluate(() => (globalThis as any).document.documentElement.scrollHeight as number)
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: tall < 12_000 })
  }
  /** A screenshot of one part of the page (the price chart, the statistics), whatever the page's length. */
  const shotOf = async (selector: string, name: string): Promise<void> => {
    const el = page.locator(selector).first()
    if (await el.count() > 0) await el.screenshot({ path: join(ARTIFACTS, `${name}.png`) })
  }
  const overflow = async (selector: string): Promise<number> => await page.locator(selector).first().evaluate((el) => el.scrollWidth - el.clientWidth)

  await page.goto(baseUrl)
  await page.getByLabel('API key').fill(KEYS.dev)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor()

  const run = await startHeldRun(baseUrl, KEYS.dev, { holdAt: 0.89, flatAt: 0.8 })
  t.teardown(run.close)
  await run.held
  const holdStep = Math.floor(run.totalSteps * 0.89)

  let shownDrawdown = Number.NaN
  await t.test('a page opened at 89 % of a losing minute run shows the whole curve and the run\'s drawdown', async (t) => {
    await page.goto(`${baseUrl}/#/sessions/${run.sessionId}`)
    await page.locator('#equity-note[data-points]').waitFor()
    await page.waitForTimeout(500)
    await shot('minute-run-live')
    const note = page.locator('#equity-note')
    await page.locator(`#equity-note[data-steps="${holdStep}"]`).waitFor({ timeout: 10_000 })
    const points = Number(await note.getAttribute('data-points'))
    t.ok(points > 1000 && points <= 2000, `the curve has ${points} points (thinned by the server)`)
    t.equal(await note.getAttribute('data-first-step'), '1', 'it starts at the run\'s first step, not when the page opened')
    shownDrawdown = Number(await note.getAttribute('data-max-drawdown'))
    const text = await note.textContent() ?? ''
    t.ok(text.includes(`max drawdown ${formatNumber(shownDrawdown)} %`), `the caption says it: ${text}`)
    t.ok(shownDrawdown > 5, `a real loss, not the −0.6 % seen since opening (${shownDrawdown} %)`)
    const accountEquity = await page.locator('#live-account dd[data-field="equity"]').getAttribute('title')
    const chartEquity = await note.getAttribute('data-equity')
    t.ok(Math.abs(Number(accountEquity) - Number(chartEquity)) < 0.01, `one equity: account ${accountEquity}, chart ${chartEquity}`)
  })

  await t.test('the run\'s drawdown shown mid-run is the results\' (within 0.1 percentage points)', async (t) => {
    run.release()
    await run.done
    await page.locator('#stats-table').waitFor()
    const results = await get(`/sessions/${run.sessionId}/results`)
    t.ok(Math.abs(shownDrawdown - results.metrics.max_drawdown_pct) <= 0.1, `page ${shownDrawdown} %, results ${results.metrics.max_drawdown_pct} %`)
    t.ok(results.trades.length > 400, `${results.trades.length} trades`)
    for (const symbol of ['AAPL', 'MSFT']) await page.locator(`.price[data-symbol="${symbol}"] p.hint`, { hasText: 'fills marked' }).waitFor()
    await page.waitForTimeout(500)
    await shot('minute-run-results-1280')
    await shotOf('.price[data-symbol="MSFT"]', 'minute-run-price-msft')
    await shotOf('#stats-table', 'minute-run-stats')
    await shotOf('#trades-table', 'minute-run-trades')
    await shotOf('#drawdown-chart', 'minute-run-drawdown')
  })

  await t.test('the finished minute run\'s page is under 5,000 px tall and fits 1280 px', async (t) => {
    const height = await page.evaluate(() => (globalThis as any).document.documentElement.scrollHeight as number)
    t.ok(height < 5000, `the page is ${height} px tall`)
    t.equal(await overflow('html'), 0, 'no sideways scroll of the page')
    const tradesBox = await page.locator('#trades-table').evaluate((el) => { const box = el.parentElement as any; return box.scrollWidth - box.clientWidth })
    t.equal(tradesBox, 0, 'every trades column is visible (its box does not scroll)')
    t.equal(await overflow('#stats-table'), 0, 'the statistics are not clipped')
  })

  await t.test('fill markers: small arrows, at most the cap, labelled on hover', async (t) => {
    const results = await get(`/sessions/${run.sessionId}/results`)
    const msft = page.locator('.price[data-symbol="MSFT"]')
    const fills = Number(await msft.getAttribute('data-fills'))
    const drawn = Number(await msft.getAttribute('data-markers-drawn'))
    t.ok(fills > MAX_MARKERS * 2, `${fills} fills`)
    t.ok(drawn > 0 && drawn <= MAX_MARKERS, `${drawn} markers drawn (cap ${MAX_MARKERS})`)
    t.equal(fills, results.trades.filter((x: any) => x.symbol === 'MSFT').reduce((n: number, x: any) => n + (x.open_at_end === true ? 1 : 2), 0), 'every fill is counted in some marker')
    t.ok(Number(await page.locator('.price[data-symbol="AAPL"]').getAttribute('data-markers-drawn')) <= MAX_MARKERS)
    await msft.locator('.chart').scrollIntoViewIfNeeded()
    const box = await msft.locator('.chart').boundingBox()
    if (box === null) throw new Error('no MSFT chart')
    const tip = msft.locator('.chart-tooltip')
    for (let x = box.x + 20; x < box.x + box.width - 80 && !await tip.isVisible(); x += 6) await page.mouse.move(x, box.y + box.height / 2)
    t.ok(await tip.isVisible(), 'hovering over the chart shows a tooltip')
    t.match(await tip.textContent(), /\d+ (buy|sell)s? \(\d+ shares\)/, `naming the fills under the pointer: ${await tip.textContent()}`)
    await shotOf('.price[data-symbol="MSFT"]', 'minute-run-price-msft-hover')
    await page.mouse.move(0, 0)
  })

  await t.test('the trades table is paged; sorting orders all the trades, not the page', async (t) => {
    const results = await get(`/sessions/${run.sessionId}/results`)
    t.equal(await page.locator('#trades-table tbody tr').count(), TRADES_PER_PAGE)
    t.match(await page.locator('#trades-pager').textContent(), new RegExp(`of ${Math.ceil(results.trades.length / TRADES_PER_PAGE)}`))
    await page.getByRole('button', { name: 'Net P&L' }).click()
    const worst = [...results.trades].sort((a: any, b: any) => Number(a.net_pnl) - Number(b.net_pnl) || a.trade_id - b.trade_id).map((x: any) => String(x.trade_id))
    const shown = async (): Promise<Array<string | null>> => await page.locator('#trades-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-trade-id')))
    t.same(await shown(), worst.slice(0, TRADES_PER_PAGE), 'page 1 holds the worst trades of the whole run')
    await page.getByRole('button', { name: 'Next page' }).click()
    t.same(await shown(), worst.slice(TRADES_PER_PAGE, 2 * TRADES_PER_PAGE), 'page 2 the next ones')
    await page.getByRole('button', { name: 'Net P&L' }).click()
    const best = [...results.trades].sort((a: any, b: any) => Number(b.net_pnl) - Number(a.net_pnl) || a.trade_id - b.trade_id).map((x: any) => String(x.trade_id))
    t.same(await shown(), best.slice(0, TRADES_PER_PAGE), 'the other way round, starting again at page 1')
  })

  await t.test('numbers: at most 2 decimals in the statistics, the exact value on hover', async (t) => {
    const results = await get(`/sessions/${run.sessionId}/results`)
    const cells = await page.locator('#stats-table td').evaluateAll((tds) => tds.map((td) => ({ text: td.textContent ?? '', title: td.getAttribute('title') })))
    const long = cells.filter((c) => /\d\.\d{3,}/.test(c.text))
    t.same(long, [], 'no number with more than 2 decimals')
    const cagr = await page.locator('#stats-table tr[data-metric="cagr_pct"] td')
    t.equal(await cagr.getAttribute('title'), String(results.metrics.cagr_pct), 'the exact CAGR on hover')
    t.match(await cagr.textContent(), /^-?\d+\.\d{2} %$/)
    t.match(await page.locator('#stats-table tr[data-metric="win_rate"] td').textContent(), /^\d+\.\d{2} %$/, 'the win rate as a percentage')
    const equity = page.locator('#stats-table tr[data-metric="final_equity"] td')
    t.equal(await equity.getAttribute('title'), results.metrics.final_equity)
    t.match(await equity.textContent(), /^\d{1,3}(,\d{3})*\.\d{2}$/, 'thousands separators, 2 decimals')
    const netCells = await page.locator('#trades-table tbody td[data-col="net_pnl"]').allTextContents()
    t.ok(netCells.every((c) => /^-?\d{1,3}(,\d{3})*\.\d{2}$/.test(c)), `trade P&L to 2 decimals (${netCells.slice(0, 3).join(' ')})`)
  })

  await t.test('drawdown is an underwater curve: 0 at the top, values at or below 0', async (t) => {
    const dd = page.locator('#drawdown-chart')
    t.equal(await dd.getAttribute('data-inverted'), 'false', 'the scale is not inverted')
    t.ok(Number(await dd.getAttribute('data-max-value')) <= 0, 'nothing above 0')
    t.ok(Number(await dd.getAttribute('data-min-value')) < -5, 'the trough goes down')
  })

  await t.test('fits a 390 px phone: no sideways page scroll, the statistics unclipped', async (t) => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload()
    await page.locator('#stats-table').waitFor()
    for (const symbol of ['AAPL', 'MSFT']) await page.locator(`.price[data-symbol="${symbol}"] p.hint`, { hasText: 'fills marked' }).waitFor()
    t.ok(Number(await page.locator('.price[data-symbol="MSFT"]').getAttribute('data-markers-drawn')) <= 39, 'fewer markers on a narrow chart (one per 10 px)')
    t.equal(await overflow('html'), 0, 'no sideways scroll of the page')
    t.equal(await overflow('#stats-table'), 0, 'the statistics fit')
    await shot('minute-run-results-390')
    // The tall phone page in readable parts too.
    const tall = await page.evaluate(() => (globalThis as any).document.documentElement.scrollHeight as number)
    for (let y = 0, i = 1; y < tall; y += 1400, i++) {
      await page.screenshot({ path: join(ARTIFACTS, `minute-run-results-390-part${i}.png`), fullPage: true, clip: { x: 0, y, width: 390, height: Math.min(1400, tall - y) } })
    }
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  await t.test('no script errors', async (t) => {
    t.same(problems, [])
  })
}
