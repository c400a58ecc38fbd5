// A NUL character (U+0000) in any string a client sends is refused at the boundary with VALIDATION_FAILED naming
// the field, before anything is logged or changed (issue 24): PostgreSQL's jsonb and text refuse NUL, so it used
// to reach the database and come back as a 500, and a strategy_error carrying one left the run `running`. Over
// real HTTP and a real WebSocket, in memory, embedded (PGlite) and PostgreSQL modes: REST bodies, query strings,
// path params, headers, and every WebSocket message.
import t from 'tap'
import { connect } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KEYS, TestSocket, listen, tokenFor } from '../fixtures/app.js'
import { freshSchema, requirePostgres } from '../fixtures/postgres.js'
import { connectedClient } from '../fixtures/sdk.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { call } from '../fixtures/rest.js'

// Embedded PostgreSQL's first open of a new folder takes seconds on a loaded host.
t.setTimeout(300_000)

const NUL = '\u0000'
const RUN = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1d' as const }
const order = (id: string): Record<string, unknown> => ({ order_id: id, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' })

/** Sends one raw HTTP/1.1 request and resolves with its status line's code. */
async function rawStatus (baseUrl: string, request: string): Promise<number> {
  const { hostname, port } = new URL(baseUrl)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { socket.end(request) })
    let text = ''
    socket.on('data', (chunk) => { text += chunk.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => { resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? -1)) })
  })
}

function cases (t: Tap, mode: string, env: () => Promise<Record<string, string>>): void {
  void t.test(`${mode}: NUL in any string is VALIDATION_FAILED naming the field, and changes nothing`, async (t) => {
    const { baseUrl, wsUrl } = await listen(t, await env())
    const token = await tokenFor(baseUrl, KEYS.ent)
    const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): ReturnType<typeof call> => await call(baseUrl, token, method, path, body, headers)
    const refusedField = (answer: { status: number, json: any }, field: string, what: string): void => {
      t.equal(answer.status, 400, `${what}: 400`)
      t.equal(answer.json?.error_code, 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED`)
      t.ok((answer.json?.details?.fields as string[] | undefined)?.includes(field), `${what}: names ${field} (${JSON.stringify(answer.json?.details)})`)
    }

    refusedField(await api('POST', '/sessions', { ...RUN, metadata: { note: `a${NUL}b` } }), 'body.metadata.note', 'a session whose metadata holds NUL')
    refusedField(await api('POST', '/sessions', { ...RUN, metadata: { [`k${NUL}`]: 1 } }), 'body.metadata', 'a metadata key with NUL')
    t.equal((await api('GET', '/sessions')).json.sessions.length, 0, 'no session was created')
    refusedField(await api('GET', `/market-data/symbols?q=AA${encodeURIComponent(NUL)}`), 'querystring.q', 'a query string with NUL')
    refusedField(await api('GET', `/market-data/symbols/AAPL${encodeURIComponent(NUL)}`), 'params.symbol', 'a path parameter with NUL')
    t.equal(await rawStatus(baseUrl, `POST /sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nIdempotency-Key: a${NUL}b\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`), 400,
      'an Idempotency-Key header with NUL is a 400 (refused by the HTTP parser)')

    const created = await api('POST', '/sessions', RUN)
    t.equal(created.status, 201)
    const id = created.json.session_id as string
    const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
    t.teardown(() => { ws.close() })
    await ws.next('connection_ready')
    t.equal((await ws.request('start_simulation', { session_id: id })).type, 'simulation_started')
    const tick = await ws.next('tick')

    refusedField(await api('POST', `/sessions/${id}/orders`, { batch_id: `b${NUL}1`, orders: [order('o1')] }), 'body.batch_id', 'a REST order batch id with NUL')
    refusedField(await api('POST', `/sessions/${id}/orders`, { batch_id: 'b1', orders: [{ ...order(`o${NUL}`) }] }), 'body.orders.0.order_id', 'a REST order id with NUL')

    const wsRefused = (reply: { type: string, data: any }, field: string, what: string): void => {
      t.equal(reply.data?.error_code, 'VALIDATION_FAILED', `${what}: VALIDATION_FAILED (${JSON.stringify(reply.data)})`)
      t.ok((reply.data?.details?.fields as string[] | undefined)?.includes(field), `${what}: names ${field}`)
    }
    wsRefused(await ws.request('order_batch', { session_id: id, batch_id: `b${NUL}2`, orders: [order('o2')] }), 'data.batch_id', 'a WebSocket order batch id with NUL')
    wsRefused(await ws.request('create_session', { ...RUN, metadata: { note: NUL } }), 'data.metadata.note', 'a WebSocket create with NUL metadata')
    wsRefused(await ws.request('strategy_error', { session_id: id, message: `boom${NUL}` }), 'data.message', 'a strategy_error message with NUL')
    wsRefused(await ws.request('ping', {}, `p${NUL}`), 'request_id', 'a request_id with NUL')
    t.equal((await api('GET', `/sessions/${id}`)).json.state, 'running', 'the run is still running: nothing was logged or changed')
    t.equal((await api('GET', `/sessions/${id}/orders?status=all`)).json.orders.length, 0, 'no order was taken')

    ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
    t.equal((await ws.next('tick')).data.sequence_id, 2, 'the run goes on')
    const batch = await ws.request('order_batch', { session_id: id, batch_id: 'b3', orders: [order('o3')] })
    t.equal(batch.type, 'batch_ack', 'a clean batch is taken')
    const failed = await ws.request('strategy_error', { session_id: id, message: 'boom' })
    t.match(failed, { type: 'session_info', data: { state: 'error', error_message: 'boom' } }, 'a clean strategy_error ends the run in error')

    // The SDK reports a strategy's exception whatever its text: a NUL in it is replaced, so the run still ends.
    const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.ent })
    let sdkId = ''
    const thrown = await runStrategy(client, {
      onTick (tick) {
        sdkId = tick.session_id
        if (tick.sequence_id === 3) throw new Error(`bad byte ${NUL} in a file`)
        return []
      }
    }, { session: RUN }).then(() => undefined, (err: unknown) => err)
    t.equal((thrown as Error).message, `bad byte ${NUL} in a file`, 'the strategy\'s own error comes back untouched')
    t.match((await api('GET', `/sessions/${sdkId}`)).json, { state: 'error', error_message: 'bad byte \uFFFD in a file' }, 'and the run ended in error')
  })
}

type Tap = typeof t

cases(t, 'memory', async () => ({}))
cases(t, 'embedded PostgreSQL (PGlite)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'st-nul-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return { SIMUTRADOR_STATE_DIR: dir }
})
if (await requirePostgres(t)) {
  cases(t, 'PostgreSQL', async () => ({ DATABASE_URL: (await freshSchema(t)).url }))
}
