// Trading and reading without WebSocket (issue 12), over real HTTP: POST …/start needs no body,
// GET …/positions and GET …/orders?status= answer from the live run and, after a restart, from the stored
// run; other users' ids are SESSION_NOT_FOUND.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import { KEYS, TestSocket, listen, testConfig, tokenFor } from '../fixtures/app.js'

const SESSION = { symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-03-31' }

type Api = (method: string, path: string, init?: { body?: string, contentType?: string }) => Promise<{ status: number, body: any }>

function apiFor (baseUrl: () => string, token: string): Api {
  return async (method, path, init = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (init.contentType !== undefined) headers['content-type'] = init.contentType
    const res = await fetch(`${baseUrl()}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
}
const json = (value: unknown): { body: string, contentType: string } => ({ body: JSON.stringify(value), contentType: 'application/json' })

t.test('POST /sessions/{id}/start', async (t) => {
  const { baseUrl } = await listen(t)
  const api = apiFor(() => baseUrl, await tokenFor(baseUrl, KEYS.ent))
  const create = async (): Promise<string> => (await api('POST', '/sessions', json(SESSION))).body.session_id as string

  t.test('with no body at all (curl -X POST) starts with the defaults', async (t) => {
    const id = await create()
    const res = await api('POST', `/sessions/${id}/start`)
    t.equal(res.status, 200, JSON.stringify(res.body))
    t.match(res.body, { session_id: id, state: 'running' })
    t.equal((await api('GET', `/sessions/${id}`)).body.state, 'running')
  })

  t.test('with Content-Type: application/json and an empty body', async (t) => {
    const id = await create()
    const res = await api('POST', `/sessions/${id}/start`, { body: '', contentType: 'application/json' })
    t.equal(res.status, 200, JSON.stringify(res.body))
    t.match(res.body, { state: 'running' })
  })

  t.test('a body is still validated: an unknown property is refused and nothing starts', async (t) => {
    const id = await create()
    const res = await api('POST', `/sessions/${id}/start`, json({ flow_controll: false }))
    t.equal(res.status, 400)
    t.match(res.body, { error_code: 'VALIDATION_FAILED', details: { fields: ['body.flow_controll'] } })
    t.equal((await api('GET', `/sessions/${id}`)).body.state, 'ready')
  })

  t.test('other routes still refuse an empty JSON body', async (t) => {
    const res = await api('POST', '/sessions', { body: '', contentType: 'application/json' })
    t.equal(res.status, 400)
    t.match(res.body, { error_code: 'VALIDATION_FAILED', message: 'Body is empty; send a JSON object' })
  })
})

t.test('positions and orders by status, live and after a restart', async (t) => {
  const storage = memoryStorage()
  let app: FastifyInstance = await buildApp(testConfig(), { logger: false, storage })
  t.teardown(async () => { await app.close() })
  let baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = apiFor(() => baseUrl, token)
  const bob = apiFor(() => baseUrl, await tokenFor(baseUrl, KEYS.bob))

  const id = (await api('POST', '/sessions', json(SESSION))).body.session_id as string
  t.match(await api('GET', `/sessions/${id}/positions`), { status: 409, body: { error_code: 'INVALID_STATE' } }, 'no positions before the run starts')

  const ws = await TestSocket.open(`${baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: id })
  await ws.next('tick')
  const orders = [
    { order_id: 'buy-aapl', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10 },
    { order_id: 'bid-msft', symbol: 'MSFT', side: 'buy', type: 'limit', price: '1.00', quantity: 5, time_in_force: 'gtc' }
  ]
  const ack = await api('POST', `/sessions/${id}/orders`, json({ batch_id: 'b1', orders }))
  t.same(ack.body.accepted_orders, ['buy-aapl', 'bid-msft'])
  ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: 1, processing_status: 'ready' } })
  await ws.next('execution_report')

  const live = await api('GET', `/sessions/${id}/positions`)
  t.equal(live.status, 200)
  t.equal(live.body.session_id, id)
  t.match(live.body.positions, [{ symbol: 'AAPL', quantity: 10 }], 'the filled buy is the one open position')
  const account = await api('GET', `/sessions/${id}/account`)
  t.same(live.body.positions, account.body.positions, 'the same positions as the account snapshot')
  t.equal(live.body.sim_time, account.body.sim_time)

  const ids = async (status?: string): Promise<string[]> => {
    const res = await api('GET', `/sessions/${id}/orders${status === undefined ? '' : `?status=${status}`}`)
    t.equal(res.status, 200, `status=${String(status)}`)
    return (res.body.orders as Array<{ order_id: string }>).map((o) => o.order_id).sort()
  }
  t.same(await ids(), ['bid-msft', 'buy-aapl'], 'no filter: every order')
  t.same(await ids('all'), ['bid-msft', 'buy-aapl'])
  t.same(await ids('open'), ['bid-msft'], 'open: the working limit order')
  t.same(await ids('closed'), ['buy-aapl'], 'closed: the filled market order')
  t.same(await ids('filled'), ['buy-aapl'])
  t.same(await ids('accepted'), ['bid-msft'])
  t.same(await ids('cancelled'), [])
  const bad = await api('GET', `/sessions/${id}/orders?status=working`)
  t.equal(bad.status, 400)
  t.match(bad.body, { error_code: 'VALIDATION_FAILED', message: /querystring\.status must be one of all, open, closed, accepted, partially_filled, filled, cancelled, expired, rejected/ })

  t.match(await bob('GET', `/sessions/${id}/positions`), { status: 404, body: { error_code: 'SESSION_NOT_FOUND' } }, "another user's id: positions")
  t.match(await bob('GET', `/sessions/${id}/orders?status=open`), { status: 404, body: { error_code: 'SESSION_NOT_FOUND' } }, "another user's id: orders")

  t.equal((await api('POST', `/sessions/${id}/cancel`)).status, 200)
  const ended = await api('GET', `/sessions/${id}/positions`)
  t.match(ended.body.positions, [{ symbol: 'AAPL', quantity: 10 }], 'a stopped run keeps its positions')
  t.same(await ids('cancelled'), ['bid-msft'], 'stopping cancelled the working order')

  ws.close()
  await app.close()
  app = await buildApp(testConfig(), { logger: false, storage })
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const stored = await api('GET', `/sessions/${id}/positions`)
  t.equal(stored.status, 200, 'after a restart, from the stored run')
  t.same(stored.body, ended.body, 'the same positions as before the restart')
  t.same(await ids('open'), [])
  t.same(await ids('closed'), ['bid-msft', 'buy-aapl'])
  t.match(await bob('GET', `/sessions/${id}/positions`), { status: 404, body: { error_code: 'SESSION_NOT_FOUND' } })
})
