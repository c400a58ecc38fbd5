// The plan's orders_per_minute at the window's boundary, over a real WebSocket: the window is a minute of
// simulated time, opened by the first order; an order at exactly one simulated minute after it opened is in a
// new window, and a window takes exactly the limit (free plan: 100) and refuses one more.
import t from 'tap'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'

t.test('orders_per_minute on minute bars', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.alice) // free plan: 100 orders per simulated minute
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  const created = await ws.request('create_session', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-03', timeframe: '1m' })
  const id = created.data.session_id as string
  await ws.request('start_simulation', { session_id: id, flow_control: true, max_pending_ticks: 1 })

  let next = 0
  const orders = (n: number): Array<Record<string, unknown>> => Array.from({ length: n }, () => ({
    order_id: `o${next++}`, symbol: 'AAPL', side: 'buy', type: 'limit', price: 1, quantity: 1, time_in_force: 'gtc'
  }))
  const batch = async (n: number): Promise<WsMessage> => await ws.request('order_batch', { session_id: id, batch_id: `b${next}`, orders: orders(n) })
  const ack = (tick: WsMessage): void => { ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } }) }

  const tick1 = await ws.next('tick')
  t.equal(tick1.data.sim_time, '2023-01-03T14:31:00.000Z', 'the first minute bar closes at 09:31 New York')

  await t.test('exactly the limit in one simulated minute is accepted, one more is RATE_LIMIT_EXCEEDED', async (t) => {
    t.equal((await batch(100)).data.accepted_orders.length, 100)
    t.match(await batch(1), { type: 'error', data: { error_code: 'RATE_LIMIT_EXCEEDED', details: { limit: 100, limit_name: 'orders_per_minute', sim_time: '2023-01-03T14:31:00.000Z' } } })
  })

  await t.test('at exactly one simulated minute after the window opened, a new window starts', async (t) => {
    ack(tick1)
    const tick2 = await ws.next('tick')
    t.equal(tick2.data.sim_time, '2023-01-03T14:32:00.000Z', '60 000 ms after the window opened at 14:31:00')
    const one = await batch(1)
    t.equal(one.type, 'batch_ack', JSON.stringify(one.data))
    t.equal(one.data.accepted_orders.length, 1)
  })

  await t.test('the new window also takes exactly the limit: 1 + 99 accepted, the next refused', async (t) => {
    t.equal((await batch(99)).data.accepted_orders.length, 99)
    t.match(await batch(1), { data: { error_code: 'RATE_LIMIT_EXCEEDED', details: { sim_time: '2023-01-03T14:32:00.000Z' } } })
  })
})
