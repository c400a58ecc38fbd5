// Runs survive a restart with DATABASE_URL (the machine's PostgreSQL, a schema of the test's own), against a
// real server process over real sockets: a lockstep run driven by the SDK's runStrategy is killed with
// SIGKILL at 5 seeded points and stopped once with SIGTERM, the server restarted each time (the SDK
// reconnects and sends resume_session); it ends with the results and events of the uninterrupted run
// (test/fixtures/durable-run.ts). Until resume_session has rebuilt a run paused by the restart, its orders,
// cancels and acks answer INVALID_STATE naming resume_session, and change nothing.
import t from 'tap'
import pg from 'pg'
import { KEYS, TestSocket, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN, interruptedRuns, killPoints } from '../fixtures/durable-run.js'
import { freshSchema, requirePostgres } from '../fixtures/postgres.js'
import { startServer } from '../fixtures/server-process.js'

// Several child-process restarts and three full runs: longer than .taprc's per-file timeout on a loaded host.
t.setTimeout(600_000)

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

if (await requirePostgres(t)) {
  t.test('DATABASE_URL: a lockstep run killed mid-way ends as the uninterrupted run does', async (t) => {
    const { url } = await freshSchema(t)
    const env = { DATABASE_URL: url }
    const current = await interruptedRuns(t, env, { kills: killPoints(2026, 5), term: 90 })

    await t.test('before resume_session, a restart-paused run refuses orders, cancels and acks, and nothing changes', async (t) => {
      let server = current()
      const token = await tokenFor(server.baseUrl, KEYS.ent)
      const api = async (method: string, path: string): Promise<{ status: number, body: any }> => {
        const res = await fetch(`${server.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
        return { status: res.status, body: await res.json() }
      }
      const db = new pg.Client({ connectionString: url })
      db.on('error', () => {})
      await db.connect()
      t.teardown(async () => { await db.end() })
      const logged = async (id: string): Promise<unknown[]> =>
        (await db.query('SELECT seq, step, kind, payload FROM run_inputs WHERE session_id = $1 ORDER BY seq', [id])).rows

      const created = await (await fetch(`${server.baseUrl}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(DURABLE_RUN) })).json() as { session_id: string }
      const id = created.session_id
      const ws = await TestSocket.open(`${server.wsUrl}?token=${token}`)
      await ws.next('connection_ready')
      await ws.request('start_simulation', { session_id: id })
      for (let step = 1; step <= 10; step++) {
        await ws.next('tick')
        if (step === 3) {
          // A buy limit far below the market: it stays working, so there is an order to cancel.
          const ack = await ws.request('order_batch', { session_id: id, batch_id: 'b3', orders: [{ order_id: 'w3', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 10, time_in_force: 'gtc' }] })
          t.equal(ack.type, 'batch_ack')
        }
        ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
      }
      await ws.next('tick')
      await sleep(100)
      ws.close()
      await server.stop('SIGKILL')
      server = await startServer(t, { ...env, PORT: new URL(server.baseUrl).port })

      const before = { session: (await api('GET', `/sessions/${id}`)).body, inputs: await logged(id) }
      t.match(before.session, { state: 'paused', pause_reason: 'server_restart' })
      t.match(before.inputs.map((i: any) => i.kind), ['start', 'orders'])

      const ws2 = await TestSocket.open(`${server.wsUrl}?token=${token}`)
      t.teardown(() => { ws2.close() })
      await ws2.next('connection_ready')
      const refusals = {
        order_batch: await ws2.request('order_batch', { session_id: id, batch_id: 'b11', orders: [{ order_id: 'm11', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 5, time_in_force: 'day' }] }),
        cancel_order: await ws2.request('cancel_order', { session_id: id, order_id: 'w3' }),
        tick_ack: await ws2.request('tick_ack', { session_id: id, sequence_id: 11, processing_status: 'ready' })
      }
      for (const [type, reply] of Object.entries(refusals)) {
        t.equal(reply.type, 'error', `${type} is refused`)
        t.equal(reply.data.error_code, 'INVALID_STATE', `${type}: INVALID_STATE`)
        t.match(reply.data.message, /paused by a server restart; resume it \(resume_session/, `${type}: the message says to send resume_session`)
      }
      // Asking about a session is activity: it refreshes the idle expiry, and nothing else.
      t.same({ ...(await api('GET', `/sessions/${id}`)).body, expires_at: undefined }, { ...before.session, expires_at: undefined }, 'the session is unchanged')
      t.same(await logged(id), before.inputs, 'nothing was logged')

      const sync = await ws2.request('resume_session', { session_id: id, last_processed_sequence_id: 0 })
      t.equal(sync.type, 'state_sync', 'resume_session rebuilds the run')
      const orders = await api('GET', `/sessions/${id}/orders`)
      t.same(orders.body.orders.map((o: any) => [o.order_id, o.status]), [['w3', 'accepted']], 'the refused batch never happened and w3 is still working')
      ws2.send({ type: 'cancel_order', data: { session_id: id, order_id: 'w3' }, request_id: 'c3' })
      t.match(await ws2.next((m) => m.type === 'order_update' && m.data.status === 'cancelled'), { data: { order_id: 'w3' } }, 'once rebuilt, the run takes a cancel')
      await server.stop('SIGTERM')
    })
  })
}
