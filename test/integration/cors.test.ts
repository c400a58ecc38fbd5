// CORS_ORIGINS: the REST API answers preflights and reads for listed origins only (unset: same origin only, no
// CORS headers at all), and a WebSocket upgrade from a page on another origin is refused before the 101.
import t from 'tap'
import { listen, build, tokenFor, KEYS, TestSocket } from '../fixtures/app.js'
import { upgrade } from '../fixtures/ws-upgrade.js'
import { loadConfig, parseCorsOrigins } from '../../server/config.js'

const DASH = 'http://dash.example.test:5173'

t.test('CORS_ORIGINS is parsed into origins; anything that is not a bare http(s) origin names itself', async (t) => {
  t.same(loadConfig({}).corsOrigins, [])
  t.same(parseCorsOrigins(' https://a.example.com, http://localhost:5173/ ,'), ['https://a.example.com', 'http://localhost:5173'])
  t.throws(() => parseCorsOrigins('https://a.example.com/path'), /CORS_ORIGINS entry "https:\/\/a.example.com\/path"/)
  t.throws(() => parseCorsOrigins('*'), /CORS_ORIGINS/)
  t.throws(() => parseCorsOrigins('ftp://a.example.com'), /CORS_ORIGINS/)
})

t.test('unset: no CORS headers, so browsers on other origins cannot read the API', async (t) => {
  const app = await build(t)
  const pre = await app.inject({ method: 'OPTIONS', url: '/sessions', headers: { origin: DASH, 'access-control-request-method': 'GET' } })
  t.equal(pre.headers['access-control-allow-origin'], undefined)
  const get = await app.inject({ url: '/health', headers: { origin: DASH } })
  t.equal(get.headers['access-control-allow-origin'], undefined)
})

t.test('set: a listed origin gets the preflight and the response headers; another origin gets none', async (t) => {
  const app = await build(t, { CORS_ORIGINS: `${DASH},https://other.example` })
  const pre = await app.inject({ method: 'OPTIONS', url: '/sessions', headers: { origin: DASH, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } })
  t.equal(pre.statusCode, 204)
  t.equal(pre.headers['access-control-allow-origin'], DASH)
  t.match(String(pre.headers['access-control-allow-headers']), /Authorization/)
  t.match(String(pre.headers['access-control-allow-methods']), /DELETE/)
  const get = await app.inject({ url: '/health', headers: { origin: DASH } })
  t.equal(get.headers['access-control-allow-origin'], DASH)
  t.match(String(get.headers.vary), /Origin/)
  const evil = await app.inject({ url: '/health', headers: { origin: 'https://evil.example' } })
  t.equal(evil.headers['access-control-allow-origin'], undefined)
})

t.test('WebSocket upgrades: no Origin (SDK) and the server\'s own origin pass; another page\'s origin is refused with 403', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.dev)
  const url = `${wsUrl}?token=${token}`
  const plain = await upgrade(url)
  t.equal(plain.status, 101)
  plain.socket?.close()
  const own = await TestSocket.open(url, { origin: baseUrl })
  t.equal((await own.next('connection_ready')).type, 'connection_ready')
  own.close()
  const evil = await refused(url, 'https://evil.example')
  t.equal(evil.status, 403)
  t.equal(evil.code, 'ORIGIN_NOT_ALLOWED')
})

t.test('WebSocket upgrades from a CORS_ORIGINS origin are accepted', async (t) => {
  const { baseUrl, wsUrl } = await listen(t, { CORS_ORIGINS: DASH })
  const token = await tokenFor(baseUrl, KEYS.dev)
  const s = await TestSocket.open(`${wsUrl}?token=${token}`, { origin: DASH })
  t.equal((await s.next('connection_ready')).type, 'connection_ready')
  s.close()
  t.equal((await refused(`${wsUrl}?token=${token}`, 'http://dash.example.test:5174')).status, 403)
})

async function refused (url: string, origin: string): Promise<{ status: number, code?: string }> {
  const s = new TestSocket(url, { origin })
  return await new Promise((resolve, reject) => {
    s.ws.once('open', () => { s.close(); resolve({ status: 101 }) })
    s.ws.once('unexpected-response', (req, res) => {
      let text = ''
      res.on('data', (c: Buffer) => { text += c.toString() })
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? -1, code: (JSON.parse(text) as { error_code?: string }).error_code }) })
    })
    s.ws.once('error', reject)
  })
}
