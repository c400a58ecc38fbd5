// Swagger UI on the first click (issue 12), in Debian's Chromium (playwright-core) against a listening server:
// authorize with a token, open POST /sessions, "Try it out", "Execute" with the prefilled body as it stands: 201.
import t from 'tap'
import { listen, tokenFor, KEYS } from '../fixtures/app.js'
import { browserAvailable, launchBrowser } from '../fixtures/browser.js'

if (browserAvailable(t, false)) {
  t.test('Try it out on POST /sessions returns 201 with the prefilled example', async (t) => {
    const { baseUrl } = await listen(t)
    const token = await tokenFor(baseUrl, KEYS.dev)
    const page = await (await launchBrowser(t)).newPage()
    await page.goto(`${baseUrl}/docs`)
    const op = page.locator('#operations-sessions-createSession')
    await op.waitFor()
    t.pass('Swagger UI lists POST /sessions')

    // Authorize as a user would: the Authorize dialog, the bearer token, Authorize, Close.
    await page.locator('.btn.authorize').first().click()
    const box = page.locator('.auth-container', { hasText: 'bearerAuth' })
    await box.locator('input').fill(token)
    await box.locator('.auth-btn-wrapper .authorize').click()
    await page.locator('.close-modal').click()

    await op.locator('.opblock-summary-control').click()
    await op.locator('.try-out__btn').click()
    const prefilled = await op.locator('textarea.body-param__text').inputValue()
    t.match(JSON.parse(prefilled), { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30' }, 'the body is prefilled with the documented example')
    await op.locator('.execute').click()
    const status = op.locator('.live-responses-table tbody .response-col_status')
    await status.waitFor()
    t.equal((await status.innerText()).trim(), '201', 'Execute creates the session')
    t.match(await op.locator('.live-responses-table .microlight, .live-responses-table pre').first().innerText(), /"state": "ready"/)
  })
}
