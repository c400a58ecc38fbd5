// GET /metrics: open by default, restricted to a bearer token when METRICS_TOKEN is set, absent when disabled.
import t from 'tap'
import { build } from '../fixtures/app.js'

t.test('open by default, in Prometheus text format', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  t.match(res.body, /# TYPE simutrador_http_request_duration_seconds histogram/)
})

t.test('with METRICS_TOKEN only that bearer token may scrape', async (t) => {
  const app = await build(t, { METRICS_TOKEN: 'scrape-token-0123456789' })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-token-0123456780' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json<{ error_code: string }>().error_code, 'UNAUTHORIZED')
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-token-0123456789' } })).statusCode, 200)
})

t.test('METRICS_ENABLED=false removes the route', async (t) => {
  const app = await build(t, { METRICS_ENABLED: 'false' })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
})
