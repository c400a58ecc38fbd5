// The dashboard at `/`: the built files with a CSP that allows only the app's own scripts (not on /docs, whose
// Swagger UI needs its own), the API's JSON 404 elsewhere, and a clear 503 when the dashboard was never built.
import t from 'tap'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import dashboardPlugin from '../../server/plugins/dashboard.js'
import errorsPlugin from '../../server/plugins/errors.js'
import { build } from '../fixtures/app.js'

function builtDashboard (t: { teardown: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'simutrador-dash-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  mkdirSync(join(root, 'assets'))
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>x</title><script type="module" src="/assets/app.js"></script>')
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)')
  return root
}

async function appWith (t: { teardown: (fn: () => unknown) => void }, root: string) {
  const app = Fastify({ logger: false })
  await app.register(errorsPlugin)
  await app.register(dashboardPlugin, { root })
  app.get('/docs', async () => 'swagger')
  t.teardown(() => app.close())
  await app.ready()
  return app
}

t.test('GET / serves index.html with a CSP that allows only the app\'s own scripts and connections', async (t) => {
  const app = await appWith(t, builtDashboard(t))
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /assets\/app\.js/)
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/, 'no unsafe-inline, no other hosts')
  t.match(csp, /connect-src 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
})

t.test('the built assets are served; other paths keep the API\'s JSON 404', async (t) => {
  const app = await appWith(t, builtDashboard(t))
  const js = await app.inject('/assets/app.js')
  t.equal(js.statusCode, 200)
  t.match(js.headers['content-type'], /javascript/)
  const missing = await app.inject('/assets/nope.js')
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().error_code, 'NOT_FOUND')
})

t.test('the dashboard\'s headers stay off other routes (/docs keeps its own policy)', async (t) => {
  const app = await appWith(t, builtDashboard(t))
  const res = await app.inject('/docs')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-security-policy'], undefined)
})

t.test('a dashboard that was never built answers 503 with the command that builds it', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'simutrador-nodash-'))
  t.teardown(() => { rmSync(empty, { recursive: true, force: true }) })
  const app = await appWith(t, empty)
  const res = await app.inject('/')
  t.equal(res.statusCode, 503)
  t.match(res.body, /npm run dashboard:build/)
})

t.test('the real app serves the dashboard at / and Swagger UI still at /docs', async (t) => {
  const app = await build(t)
  const root = await app.inject('/')
  t.ok(root.statusCode === 200 || root.statusCode === 503, `GET / is the dashboard or the not-built notice (${root.statusCode})`)
  t.ok(root.headers['content-security-policy'] !== undefined)
  const docs = await app.inject('/docs/')
  t.equal(docs.statusCode, 200)
  t.match(docs.body, /swagger/i)
})
