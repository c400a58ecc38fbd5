// The SDK's server URL list (a pure module): which inputs are accepted and what each becomes (HTTP base for
// the token, WebSocket URL), the order a client walks the list in (UrlRotation), and moving a request built
// for one server to another (rebaseRequest).
import t from 'tap'
import { parseServerUrls, rebaseRequest, UrlRotation } from '../../client/server-urls.js'

t.test('parseServerUrls derives the token base and the WebSocket URL of each entry, keeping the URL as given', async (t) => {
  t.same(parseServerUrls('http://127.0.0.1:8003'), [{ url: 'http://127.0.0.1:8003', http: 'http://127.0.0.1:8003/', ws: 'ws://127.0.0.1:8003/ws/simulate' }])
  t.same(parseServerUrls(['https://a.example/', 'ws://b.example:81/ws/simulate', 'wss://c.example/some/prefix']), [
    { url: 'https://a.example/', http: 'https://a.example/', ws: 'wss://a.example/ws/simulate' },
    { url: 'ws://b.example:81/ws/simulate', http: 'http://b.example:81/', ws: 'ws://b.example:81/ws/simulate' },
    { url: 'wss://c.example/some/prefix', http: 'https://c.example/', ws: 'wss://c.example/ws/simulate' }
  ], 'ws(s) maps to http(s) for the token; paths resolve from the root as before')
})

t.test('parseServerUrls refuses an empty list, non-strings, non-URLs and other schemes, naming the entry', async (t) => {
  t.throws(() => parseServerUrls([]), { name: 'TypeError', message: 'url: expected a server URL or a non-empty list of them' })
  t.throws(() => parseServerUrls(['http://a.example', 42 as unknown as string]), { name: 'TypeError', message: 'url[1]: expected a string, got number' })
  t.throws(() => parseServerUrls(['http://a.example', null as unknown as string]), { message: 'url[1]: expected a string, got null' })
  t.throws(() => parseServerUrls(['http://a.example', 'not a url']), { message: "url[1]: 'not a url' is not a URL (e.g. http://127.0.0.1:8003)" })
  t.throws(() => parseServerUrls(['ftp://a.example']), { message: "url[0]: 'ftp://a.example' must be an http://, https://, ws:// or wss:// URL" })
  t.throws(() => parseServerUrls('ftp://a.example', 'SessionClient url'), { message: "SessionClient url: 'ftp://a.example' must be an http://, https://, ws:// or wss:// URL" }, 'a single URL is named without an index')
  t.throws(() => parseServerUrls(undefined as unknown as string), { message: 'url: expected a server URL or a non-empty list of them' })
})

t.test('UrlRotation: a first connect walks the list from the top; reconnects move round robin', async (t) => {
  const r = new UrlRotation(['a', 'b', 'c'])
  t.equal(r.current, 'a', 'starts at the first entry')
  // A first connect: the first entry, then each next one until one answers.
  t.same([r.reset(), r.advance(), r.advance()], ['a', 'b', 'c'])
  // Connected to b; each reconnect attempt moves on, wrapping after the last entry.
  r.reset(); r.advance()
  t.equal(r.index, 1)
  t.same([r.advance(), r.advance(), r.advance(), r.advance()], ['c', 'a', 'b', 'c'])
  t.equal(r.reset(), 'a', 'the next first connect starts at the top again')
})

t.test('UrlRotation with one entry always gives it (a single URL behaves as before)', async (t) => {
  const r = new UrlRotation(['only'])
  t.same([r.current, r.advance(), r.advance(), r.reset()], ['only', 'only', 'only', 'only'])
  t.throws(() => new UrlRotation([]), { name: 'TypeError' })
})

t.test('rebaseRequest moves a request to another host with its method, path, query, headers and body', async (t) => {
  const original = new Request('http://a.example:1/sessions?limit=5', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: '{"x":1}' })
  const moved = await rebaseRequest(original, 'http://b.example:2/')
  t.equal(moved.url, 'http://b.example:2/sessions?limit=5')
  t.equal(moved.method, 'POST')
  t.equal(moved.headers.get('idempotency-key'), 'k1')
  t.equal(await moved.text(), '{"x":1}')
  t.equal(await original.text(), '{"x":1}', 'the original body is still unread (it can be moved again)')
  const get = new Request('http://a.example:1/me')
  t.equal(await rebaseRequest(get, 'http://a.example:1/'), get, 'a request already aimed at the base is returned as it is')
  t.equal((await rebaseRequest(get, 'https://c.example/')).url, 'https://c.example/me')
})
