// An input of a durable run whose logging fails did not happen (issue 24): the run is exactly as it was, and the
// caller hears so with a clear error — STORE_UNAVAILABLE when the database is gone, INTERNAL_ERROR with
// `details.applied: false` when it refused the value — never a bare 500 with the run in doubt. Over a real
// server and a real WebSocket, with the journal's appends failed once each (test/fixtures/faulty-storage.ts).
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { KEYS, TestSocket, testConfig, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN } from '../fixtures/durable-run.js'
import { faultyStorage } from '../fixtures/faulty-storage.js'
import { call } from '../fixtures/rest.js'

const order = (id: string): Record<string, unknown> => ({ order_id: id, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' })

t.test('an input whose logging fails changes nothing and says so; the run goes on', async (t) => {
  const { storage, faults } = faultyStorage()
  const journal = storage.journal as NonNullable<typeof storage.journal>
  const app = await buildApp(testConfig(), { logger: false, storage })
  t.teardown(async () => { await app.close() })
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): ReturnType<typeof call> => await call(baseUrl, token, method, path, body)
  const kinds = async (id: string): Promise<string[]> => (await journal.inputs.list('ent', id)).map((i) => i.kind)

  const id = (await api('POST', '/sessions', DURABLE_RUN)).json.session_id as string
  const ws = await TestSocket.open(`${baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  t.equal((await ws.request('start_simulation', { session_id: id })).type, 'simulation_started')
  let tick = await ws.next('tick')

  const notApplied = { error_code: 'INTERNAL_ERROR', message: /did not take effect: the run is as it was/, details: { applied: false } }

  faults.refuseInput = 'orders'
  const batch = await ws.request('order_batch', { session_id: id, batch_id: 'b1', orders: [order('o1')] })
  t.match(batch, { type: 'error', data: { ...notApplied, details: { input: 'orders', applied: false } } }, 'a WebSocket batch the log refused: a clear error')
  faults.refuseInput = 'orders'
  const rest = await api('POST', `/sessions/${id}/orders`, { batch_id: 'b2', orders: [order('o2')] })
  t.equal(rest.status, 500)
  t.match(rest.json, notApplied, 'a REST batch the log refused: the same clear error')
  faults.failInput = 'orders'
  t.match(await ws.request('order_batch', { session_id: id, batch_id: 'b3', orders: [order('o3')] }), { type: 'error', data: { error_code: 'STORE_UNAVAILABLE' } }, 'a batch the database could not take: STORE_UNAVAILABLE')
  t.equal((await api('GET', `/sessions/${id}/orders?status=all`)).json.orders.length, 0, 'no order was taken')

  faults.refuseInput = 'strategy_error'
  const report = await ws.request('strategy_error', { session_id: id, message: 'boom' })
  t.match(report, { type: 'session_error', data: { ...notApplied, details: { input: 'strategy_error', applied: false } } }, 'a strategy_error the log refused: a clear error')
  t.equal((await api('GET', `/sessions/${id}`)).json.state, 'running', 'and the run is as it was, running')
  t.same(await kinds(id), ['start'], 'nothing but the start is in the input log')

  ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
  tick = await ws.next('tick')
  t.equal(tick.data.sequence_id, 2, 'the run goes on')
  t.equal((await ws.request('order_batch', { session_id: id, batch_id: 'b4', orders: [order('o4')] })).type, 'batch_ack', 'a batch is taken again')
  const again = await ws.request('strategy_error', { session_id: id, message: 'boom' })
  t.match(again, { type: 'session_info', data: { state: 'error', error_message: 'boom' } }, 'a strategy_error sent again ends the run in error')
  t.same(await kinds(id), ['start', 'orders', 'strategy_error'])
})
