// The order types of issue 12 end to end over the real transports (a listening server, HTTP and a WebSocket):
// trailing stops priced by the rule of docs/fill-policy.md from the bars the run sends, fok/opg/cls, replacing
// an order (PATCH …/orders/{order_id} and replace_order) and one-cancels-other when a bracket leg is cancelled.
import t from 'tap'
import { KEYS, TestSocket, listen, tokenFor, type WsMessage } from '../fixtures/app.js'
import { call } from '../fixtures/rest.js'
import { connectedClient } from '../fixtures/sdk.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { SessionError } from '../../client/session-error.js'
import type { Order } from '../../schemas/simulation.js'

const SESSION = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', slippage_bps: 0, commission_per_share: 0 }

interface Bar { open: number, high: number, low: number, close: number }

/** Exact price in units of 1e-4 (demo bars have 2 decimals; a 1 % trail of them has at most 4). */
const u4 = (p: number | string): number => Math.round(Number(p) * 10000)

async function startRun (baseUrl: string, wsUrl: string, token: string): Promise<{ id: string, ws: TestSocket, tick: WsMessage }> {
  const created = await call(baseUrl, token, 'POST', '/sessions', SESSION)
  if (created.status !== 201) throw new Error(JSON.stringify(created.json))
  const id = created.json.session_id as string
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: id })
  return { id, ws, tick: await ws.next('tick') }
}

async function ack (ws: TestSocket, id: string, seq: number): Promise<WsMessage> {
  ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: seq, processing_status: 'ready' } })
  return await ws.next((m) => m.type === 'tick' && m.data.sequence_id === seq + 1)
}

/** Execution reports already received (they precede the tick of their bar), taken off the queue. */
function takeFills (ws: TestSocket): Array<Record<string, any>> {
  const fills = ws.messages.filter((m) => m.type === 'execution_report').map((m) => m.data)
  for (let i = ws.messages.length - 1; i >= 0; i--) if (ws.messages[i].type === 'execution_report') ws.messages.splice(i, 1)
  return fills
}

t.test('over WebSocket: trailing stop, fok/opg/cls and replace_order', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const { id, ws, tick: tick1 } = await startRun(baseUrl, wsUrl, token)
  t.teardown(() => { ws.close() })

  const batch = await ws.request('order_batch', {
    session_id: id,
    batch_id: 'b1',
    orders: [
      { order_id: 'buy', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 10 },
      { order_id: 'opg1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'opg' },
      { order_id: 'cls1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'cls' },
      { order_id: 'fok1', symbol: 'AAPL', side: 'buy', type: 'limit', price: 1, quantity: 1, time_in_force: 'fok' },
      { order_id: 'bad1', symbol: 'AAPL', side: 'sell', type: 'trailing_stop', trail_price: 1, trail_percent: 1, quantity: 1 },
      { order_id: 'bad2', symbol: 'AAPL', side: 'sell', type: 'trailing_stop', trail_percent: 0, quantity: 1 },
      { order_id: 'bad3', symbol: 'AAPL', side: 'buy', type: 'stop', stop_price: 500, quantity: 1, time_in_force: 'fok' }
    ]
  })
  t.equal(batch.type, 'batch_ack')
  t.same(batch.data.accepted_orders, ['buy', 'opg1', 'cls1', 'fok1'])
  t.same(batch.data.rejected_orders.map((r: { order_id: string, error_code: string }) => [r.order_id, r.error_code]),
    [['bad1', 'INVALID_ORDER'], ['bad2', 'INVALID_ORDER'], ['bad3', 'INVALID_ORDER']])
  t.ok(tick1.data.bars.AAPL, 'ticks carry bars')

  const tick2 = await ack(ws, id, 1)
  const bar2 = tick2.data.bars.AAPL as Bar
  const fills2 = new Map(takeFills(ws).map((x) => [x.order_id as string, x]))
  t.match(fills2.get('buy'), { executed_price: bar2.open.toFixed(2), fill_reason: 'market_open' })
  t.match(fills2.get('opg1'), { executed_price: bar2.open.toFixed(2), fill_reason: 'market_open' }, 'opg: the next open')
  t.match(fills2.get('cls1'), { executed_price: bar2.close.toFixed(2), fill_reason: 'market_close', execution_time: tick2.data.sim_time }, 'cls: the close')
  t.notOk(fills2.has('fok1'), 'a limit of 1.00 does not fill')
  const fok = ws.messages.find((m) => m.type === 'order_update' && m.data.order_id === 'fok1' && m.data.status === 'cancelled')
  t.equal(fok?.data.reason, 'fok: not filled entirely on its first bar')

  // A 1 % trailing stop on the 10 shares, and a far limit to replace.
  const b2 = await ws.request('order_batch', {
    session_id: id,
    batch_id: 'b2',
    orders: [
      { order_id: 'ts', symbol: 'AAPL', side: 'sell', type: 'trailing_stop', trail_percent: '1', quantity: 10, time_in_force: 'gtc' },
      { order_id: 'lim', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 1, time_in_force: 'gtc' }
    ]
  })
  t.same(b2.data.accepted_orders, ['ts', 'lim'])

  const replaced = await ws.request('replace_order', { session_id: id, order_id: 'lim', price: '2.00', quantity: 3 })
  t.equal(replaced.type, 'order_update', 'the reply is the new order\'s update')
  t.match(replaced.data, { order_id: 'lim-r1', status: 'accepted', order: { replaces: 'lim', price: '2.00', quantity: 3 } })
  const old = await ws.next((m) => m.type === 'order_update' && m.data.order_id === 'lim' && m.data.status !== 'accepted')
  t.match(old.data, { status: 'replaced', order: { replaced_by: 'lim-r1' } })
  const refused = await ws.request('replace_order', { session_id: id, order_id: 'buy', price: 1 })
  t.match(refused, { type: 'error', data: { error_code: 'INVALID_STATE' } }, 'a filled order cannot be replaced')
  const unknown = await ws.request('replace_order', { session_id: id, order_id: 'nope', price: 1 })
  t.match(unknown, { type: 'error', data: { error_code: 'ORDER_NOT_FOUND' } })
  const invalid = await ws.request('replace_order', { session_id: id, order_id: 'lim-r1', price: 1, colour: 'red' })
  t.match(invalid, { type: 'error', data: { error_code: 'VALIDATION_FAILED' } }, 'validated by the schema (TypeCompiler)')

  // The stop follows the closes, computed here from the bars the run sends (docs/fill-policy.md §4).
  let hwm = u4(bar2.close)
  let seq = 2
  let expected: { price: number, reason: string } | null = null
  let fill: Record<string, any> | undefined
  while (fill === undefined && seq < 80) {
    const tick = await ack(ws, id, seq)
    seq = tick.data.sequence_id as number
    if (tick.data.bars?.AAPL === undefined) break
    const bar = tick.data.bars.AAPL as Bar
    const stop = hwm * 99 / 100
    if (expected === null) {
      if (u4(bar.open) <= stop) expected = { price: u4(bar.open), reason: 'stop_gap_open' }
      else if (u4(bar.low) <= stop) expected = { price: stop, reason: 'stop_touch' }
      else hwm = Math.max(hwm, u4(bar.close))
    }
    fill = takeFills(ws).find((x) => x.order_id === 'ts')
    if (fill === undefined) t.equal(expected, null, `no fill where the rule expects none (step ${seq})`)
  }
  t.ok(fill !== undefined, `the trailing stop fired (step ${seq})`)
  t.not(expected, null)
  if (fill !== undefined && expected !== null) {
    t.equal(u4(fill.executed_price), Math.round(expected.price), `sold at ${fill.executed_price as string}`)
    t.equal(fill.fill_reason, expected.reason)
  }
})

t.test('over REST: PATCH …/orders/{order_id}, its errors, and OCO when a bracket leg is cancelled', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const bob = await tokenFor(baseUrl, KEYS.bob)
  const { id, ws } = await startRun(baseUrl, wsUrl, token)
  t.teardown(() => { ws.close() })
  const api = async (method: string, path: string, body?: unknown): ReturnType<typeof call> => await call(baseUrl, token, method, `/sessions/${id}${path}`, body)

  const sent = await api('POST', '/orders', {
    batch_id: 'r1',
    orders: [
      { order_id: 'lim', symbol: 'AAPL', side: 'buy', type: 'limit', price: 1, quantity: 1, time_in_force: 'gtc' },
      { order_id: 'br', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 5, take_profit: { limit_price: 10000 }, stop_loss: { stop_price: 1 } },
      { order_id: 'tsx', symbol: 'AAPL', side: 'buy', type: 'trailing_stop', trail_percent: 150, quantity: 1 }
    ]
  })
  t.same(sent.json.accepted_orders, ['lim', 'br'])
  t.match(sent.json.rejected_orders, [{ order_id: 'tsx', error_code: 'INVALID_ORDER', reason: 'trail_percent must be below 100' }])

  const r = await api('PATCH', '/orders/lim', { price: '2.00', quantity: 3 })
  t.equal(r.status, 200, JSON.stringify(r.json))
  t.match(r.json, { order_id: 'lim-r1', replaces: 'lim', price: '2.00', quantity: 3, status: 'accepted' })
  const ids = async (status: string): Promise<string[]> => ((await api('GET', `/orders?status=${status}`)).json.orders as Array<{ order_id: string }>).map((o) => o.order_id)
  t.same(await ids('replaced'), ['lim'])
  t.same(await ids('open'), ['br', 'lim-r1'])

  const before = (await api('GET', '/orders')).json
  t.match(await api('PATCH', '/orders/lim', { price: 3 }), { status: 409, json: { error_code: 'INVALID_STATE' } }, 'a replaced order')
  t.match(await api('PATCH', '/orders/nope', { price: 3 }), { status: 404, json: { error_code: 'ORDER_NOT_FOUND' } })
  t.match(await api('PATCH', '/orders/lim-r1', {}), { status: 422, json: { error_code: 'INVALID_ORDER' } }, 'nothing to change')
  t.match(await api('PATCH', '/orders/lim-r1', { quantity: 1e9 }), { status: 422, json: { error_code: 'INSUFFICIENT_BUYING_POWER' } })
  t.match(await api('PATCH', '/orders/lim-r1', { trail_percent: 1 }), { status: 422, json: { error_code: 'INVALID_ORDER' } }, 'a limit order has no trail')
  t.match(await api('PATCH', '/orders/lim-r1', { price: 'cheap' }), { status: 400, json: { error_code: 'VALIDATION_FAILED' } })
  t.match(await api('PATCH', '/orders/lim-r1', { time_in_force: 'week' }), { status: 400, json: { error_code: 'VALIDATION_FAILED', message: /must be one of day, gtc, ioc, fok, opg, cls/ } })
  t.match(await call(baseUrl, bob, 'PATCH', `/sessions/${id}/orders/lim-r1`, { price: 3 }), { status: 404, json: { error_code: 'SESSION_NOT_FOUND' } }, "another user's order")
  t.same((await api('GET', '/orders')).json, before, 'refused replacements changed nothing')

  // The bracket parent fills on the next bar; its legs appear; cancelling one cancels the other.
  await ack(ws, id, 1)
  t.same((await ids('open')).sort(), ['br-sl', 'br-tp', 'lim-r1'])
  const cancelled = await api('DELETE', '/orders/br-tp')
  t.match(cancelled, { status: 200, json: { order_id: 'br-tp', status: 'cancelled' } })
  const orders = (await api('GET', '/orders')).json.orders as Array<{ order_id: string, status: string }>
  t.equal(orders.find((o) => o.order_id === 'br-sl')?.status, 'cancelled', 'one-cancels-other')
  const update = await ws.next((m) => m.type === 'order_update' && m.data.order_id === 'br-sl' && m.data.status !== 'accepted')
  t.equal(update.data.reason, 'one-cancels-other: br-tp cancelled')
})

t.test('the SDK: SessionClient.replaceOrder and a strategy\'s ctx.replace', async (t) => {
  const { baseUrl } = await listen(t)
  const client = await connectedClient(t, { url: baseUrl, apiKey: KEYS.ent })
  const seen: Array<[string, string]> = []
  let replaced: Order | undefined
  let refusal: unknown
  const run = await runStrategy(client, {
    onTick: async (tick, ctx) => {
      if (tick.sequence_id === 1) return [{ order_id: 'lim', symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 1, time_in_force: 'gtc' }]
      if (tick.sequence_id === 3) {
        replaced = await ctx.replace('lim', { price: '2.00', quantity: 2 })
        refusal = await ctx.replace('lim', { price: '3.00' }).catch((err: unknown) => err)
      }
    },
    onOrder: (u) => { seen.push([u.order_id, u.status]) }
  }, { session: SESSION })
  t.match(replaced, { order_id: 'lim-r1', replaces: 'lim', price: '2.00', quantity: 2, status: 'accepted' })
  t.ok(refusal instanceof SessionError, 'a refused replace rejects with a SessionError')
  t.equal((refusal as SessionError).error_code, 'INVALID_STATE')
  t.same(seen.filter(([id]) => id.startsWith('lim')), [['lim', 'accepted'], ['lim', 'replaced'], ['lim-r1', 'accepted'], ['lim-r1', 'cancelled']])

  // The client method on its own, against the finished run: refused with the server's code.
  const err = await client.replaceOrder(run.session.session_id, 'lim-r1', { price: 5 }).catch((e: unknown) => e)
  t.ok(err instanceof SessionError)
  t.match((err as SessionError).error_code, /^(INVALID_STATE)$/)
})
