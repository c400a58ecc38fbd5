// PostgreSQL going away under a running server (through a TCP proxy the test cuts, so the machine's
// PostgreSQL keeps serving other tests): requests that need the database answer 503 STORE_UNAVAILABLE,
// nothing crashes, and once the database is reachable again the same requests work.
import t from 'tap'
import { listen, KEYS, TestSocket, tokenFor } from '../fixtures/app.js'
import { freshSchema, PG_URL, requirePostgres } from '../fixtures/postgres.js'
import { tcpProxy } from '../fixtures/tcp-proxy.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }

if (await requirePostgres(t)) {
  t.test('PostgreSQL unreachable: 503 STORE_UNAVAILABLE, then working again', async (t) => {
    const { url } = await freshSchema(t)
    const proxy = await tcpProxy(Number(new URL(PG_URL).port || 5432), new URL(PG_URL).hostname)
    t.teardown(proxy.close)
    const viaProxy = new URL(url)
    viaProxy.port = String(proxy.port)
    const { baseUrl, wsUrl } = await listen(t, { DATABASE_URL: viaProxy.toString() })
    const token = await tokenFor(baseUrl, KEYS.ent)
    const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
      const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
      const text = await res.text()
      return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
    }
    const created = await api('POST', '/sessions', SESSION)
    t.equal(created.status, 201)
    const id = created.body.session_id as string
    const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
    t.teardown(() => { ws.close() })
    await ws.next('connection_ready')

    const spec = await (await fetch(`${baseUrl}/openapi.json`)).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
    const documented503 = (method: string, path: string): unknown => spec.paths[path.replace(id, '{id}')]?.[method.toLowerCase()]?.responses['503']
    const undocumented = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/sessions') || path === '/me')
      .flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.responses['503'] === undefined).map(([method]) => `${method} ${path}`))
    t.same(undocumented, [], 'every operation that touches stored state declares 503')

    await proxy.cut()
    for (const [method, path, body] of [['GET', '/sessions'], ['GET', `/sessions/${id}`], ['POST', '/sessions', SESSION], ['PATCH', `/sessions/${id}`, {}],
      ['POST', `/sessions/${id}/start`, {}], ['GET', `/sessions/${id}/results`], ['GET', `/sessions/${id}/events`], ['GET', '/me'], ['DELETE', `/sessions/${id}`]] as const) {
      const res = await api(method, path, body)
      t.equal(res.status, 503, `${method} ${path} while the database is unreachable`)
      t.match(res.body, { error_code: 'STORE_UNAVAILABLE', message: 'The database is unavailable; retry shortly' })
      t.match(documented503(method, path), { description: /^STORE_UNAVAILABLE: /, content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } },
        `and the OpenAPI document declares that 503 for ${method} ${path}`)
    }
    const wsCreate = await ws.request('create_session', SESSION)
    t.match(wsCreate, { type: 'error', data: { error_code: 'STORE_UNAVAILABLE' } }, 'the WebSocket answers the same error')
    t.equal((await fetch(`${baseUrl}/health`)).status, 200, 'what needs no database keeps working')

    await proxy.restore()
    const listed = await api('GET', '/sessions')
    t.equal(listed.status, 200, 'the next request after the database is back works')
    t.same(listed.body.sessions.map((s: { session_id: string }) => s.session_id), [id])
    t.equal((await api('POST', '/sessions', SESSION)).status, 201)
    t.equal((await api('DELETE', `/sessions/${id}`)).status, 204)

    // Idle pooled connections dropped while the database was away (a PostgreSQL restart) are discarded.
    await proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await proxy.restore()
    t.equal((await api('GET', '/sessions')).status, 200, 'connections dropped while idle are replaced')
  })
}
