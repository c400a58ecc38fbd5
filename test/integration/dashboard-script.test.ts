// examples/dashboard-script.ts (quoted in the README) run as a user runs it, against a real listening
// server: it lists the user's sessions through the generated typed client and prints the results of the
// finished ones, exactly as GET …/results has them; another user's sessions never appear.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { childEnv } from '../fixtures/child-env.js'
import { call } from '../fixtures/rest.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

t.test('the dashboard script lists sessions and reads the finished ones\' results', async (t) => {
  const { baseUrl } = await listen(t)
  const [dev, bob] = await Promise.all([tokenFor(baseUrl, KEYS.dev), tokenFor(baseUrl, KEYS.bob)])
  const body = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }
  const done = (await call(baseUrl, dev, 'POST', '/sessions', body)).json.session_id as string
  const ready = (await call(baseUrl, dev, 'POST', '/sessions', { ...body, symbols: ['MSFT'] })).json.session_id as string
  const theirs = (await call(baseUrl, bob, 'POST', '/sessions', body)).json.session_id as string
  t.equal((await call(baseUrl, dev, 'POST', `/sessions/${done}/start`, { flow_control: false })).status, 200)
  // A headless run ends on its own; wait for the stored state to say so.
  while ((await call(baseUrl, dev, 'GET', `/sessions/${done}`)).json.state !== 'completed') await new Promise((resolve) => setTimeout(resolve, 100))
  const results = (await call(baseUrl, dev, 'GET', `/sessions/${done}/results`)).json

  const out = await new Promise<{ code: number, stdout: string, stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'examples/dashboard-script.ts'], { cwd: ROOT, env: childEnv({ SIMUTRADOR_URL: baseUrl, SIMUTRADOR_API_KEY: KEYS.dev }), timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
  t.equal(out.code, 0, out.stderr)
  t.match(out.stdout, /^2 sessions$/m)
  t.match(out.stdout, new RegExp(`^${ready}  ready {4}  MSFT  2023-01-03\\.\\.2023-03-31$`, 'm'))
  t.match(out.stdout, new RegExp(`^${done}  completed  AAPL  2023-01-03\\.\\.2023-03-31  equity ${results.metrics.final_equity as string}  return ${String(results.metrics.total_return_pct)}%  trades 0  sharpe `, 'm'))
  t.notMatch(out.stdout, theirs, 'only the caller\'s sessions')
})

t.test('the README quotes the script as it is', async (t) => {
  const [readme, script] = await Promise.all([readFile(new URL('README.md', `file://${ROOT}`), 'utf8'), readFile(new URL('examples/dashboard-script.ts', `file://${ROOT}`), 'utf8')])
  const code = script.slice(script.indexOf('import {')).trimEnd()
  t.ok(readme.includes(`\`\`\`ts\n${code}\n\`\`\``), 'README has the code of examples/dashboard-script.ts in a ts block')
})
