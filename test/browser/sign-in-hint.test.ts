// The sign-in page's hint in Chromium: `npm start` is shown as code, not as literal backticks.
import t from 'tap'
import { listen } from '../fixtures/app.js'
import { browserAvailable, launchBrowser } from '../fixtures/browser.js'

if (browserAvailable(t)) {
  t.test('the sign-in hint names npm start as code, without backticks', async (t) => {
    const { baseUrl } = await listen(t)
    const page = await (await launchBrowser(t)).newPage()
    page.setDefaultTimeout(10_000)
    await page.goto(baseUrl)
    const hint = page.locator('#api-key-hint')
    await hint.waitFor()
    t.equal(await hint.innerText(), 'npm start prints a development key. The key stays in this tab\'s memory only.')
    t.equal(await hint.locator('code').innerText(), 'npm start')
  })
}
