// Replacing an order is a run input (issue 12): logged like a cancel (kind 'replace'), so a run rebuilt after a
// restart replays it and regenerates byte-identical events (a difference would be REPLAY_DIVERGED). In one
// process over real sockets, with the memory journal and with the machine's PostgreSQL (migration 004).
import t, { type Test as Tap } from 'tap'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import type { Storage } from '../../server/ports/storage.js'
import { KEYS, TestSocket, testConfig, tokenFor } from '../fixtures/app.js'
import { call } from '../fixtures/rest.js'
import { freshSchema, requirePostgres } from '../fixtures/postgres.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', slippage_bps: 0 }

type Serve = () => Promise<{ app: FastifyInstance, baseUrl: string }>

async function replaceThenRestart (t: Tap, serve: Serve): Promise<string> {
  let server = await serve()
  t.teardown(async () => { await server.app.close() })
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  const id = (await call(server.baseUrl, token, 'POST', '/sessions', SESSION)).json.session_id as string
  const wsUrl = (): string => `${server.baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`
  const ws = await TestSocket.open(wsUrl())
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: id })
  for (let step = 1; step <= 6; step++) {
    await ws.next('tick')
    if (step === 2) {
      await ws.request('order_batch', {
        session_id: id,
        batch_id: 'b2',
        orders: [
          { order_id: 'w', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 10, time_in_force: 'gtc' },
          { order_id: 'ts', symbol: 'AAPL', side: 'buy', type: 'trailing_stop', trail_percent: 20, quantity: 1, time_in_force: 'gtc' }
        ]
      })
    }
    if (step === 4) {
      t.match(await ws.request('replace_order', { session_id: id, order_id: 'w', price: '2.00', quantity: 4 }), { type: 'order_update', data: { order_id: 'w-r1' } })
      t.match(await ws.request('replace_order', { session_id: id, order_id: 'w', price: '3.00' }), { type: 'error', data: { error_code: 'INVALID_STATE' } }, 'a refused replace is logged and refused again on replay')
    }
    if (step === 5) {
      const r = await call(server.baseUrl, token, 'PATCH', `/sessions/${id}/orders/ts`, { trail_percent: 10 })
      t.match(r, { status: 200, json: { order_id: 'ts-r1', trail_percent: '10' } })
    }
    ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
  }
  await ws.next('tick')
  const before = (await call(server.baseUrl, token, 'GET', `/sessions/${id}/orders`)).json
  ws.close()
  await server.app.close()
  server = await serve()

  const ws2 = await TestSocket.open(wsUrl())
  t.teardown(() => { ws2.close() })
  await ws2.next('connection_ready')
  const sync = await ws2.request('resume_session', { session_id: id, last_processed_sequence_id: 0 })
  t.equal(sync.type, 'state_sync', `rebuilt without divergence: ${JSON.stringify(sync.data).slice(0, 200)}`)
  const after = (await call(server.baseUrl, token, 'GET', `/sessions/${id}/orders`)).json
  t.same(after, before, 'the rebuilt run has the same orders, replacements included')
  t.same(after.orders.map((o: { order_id: string, status: string }) => [o.order_id, o.status]),
    [['w', 'replaced'], ['ts', 'replaced'], ['w-r1', 'accepted'], ['ts-r1', 'accepted']])
  return id
}

t.test('memory journal: a replaced order survives a restart', async (t) => {
  const storage: Storage = memoryStorage({ journal: true })
  await replaceThenRestart(t, async () => {
    const app = await buildApp(testConfig(), { logger: false, storage })
    return { app, baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }) }
  })
})

if (await requirePostgres(t)) {
  t.test('PostgreSQL: replace inputs are stored (kind replace) and replayed', async (t) => {
    const { url } = await freshSchema(t)
    const id = await replaceThenRestart(t, async () => {
      const app = await buildApp(testConfig({ DATABASE_URL: url }), { logger: false })
      return { app, baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }) }
    })
    const db = new pg.Client({ connectionString: url })
    db.on('error', () => {})
    await db.connect()
    t.teardown(async () => { await db.end() })
    const kinds = (await db.query<{ kind: string }>('SELECT kind FROM run_inputs WHERE session_id = $1 ORDER BY seq', [id])).rows.map((r) => r.kind)
    t.same(kinds.filter((k) => k === 'replace').length, 3, `three replace inputs logged (${kinds.join(', ')})`)
  })
}
