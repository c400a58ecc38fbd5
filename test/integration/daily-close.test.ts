// Daily bars are stamped at the market's close from its calendar (issue 12): a Friday's bar closes on Friday
// (16:00 New York), not on Saturday (bar start + 24 h); the day after Thanksgiving closes early (13:00); a
// crypto day closes at midnight UTC. Over a real WebSocket, lockstep: the ticks' sim_time, a limit fill
// inside a bar, the account's sim_time, and the results' equity curve.
import t from 'tap'
import { KEYS, TestSocket, listen, tokenFor, type WsMessage } from '../fixtures/app.js'

interface Run { ticks: WsMessage[], fills: WsMessage[], complete: WsMessage }

async function lockstep (wsUrl: string, token: string, sessionId: string, onTick: (ws: TestSocket, tick: WsMessage) => Promise<void> = async () => {}): Promise<Run> {
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')
  const started = await ws.request('start_simulation', { session_id: sessionId, flow_control: true, include_bars: true, account_update_frequency: 'on_demand' })
  if (started.type !== 'session_info' && started.type !== 'simulation_started') throw new Error(`start_simulation: ${JSON.stringify(started)}`)
  const ticks: WsMessage[] = []
  for (;;) {
    const m = await ws.next((m) => m.type === 'tick' || m.type === 'simulation_complete')
    if (m.type === 'simulation_complete') {
      return { ticks, fills: [...ws.messages.filter((x) => x.type === 'execution_report')], complete: m }
    }
    ticks.push(m)
    await onTick(ws, m)
    ws.send({ type: 'tick_ack', data: { session_id: sessionId, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
  }
}

t.test('daily sim_time is the market close of the bar\'s day', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
    return await res.json()
  }

  await t.test('NYSE: Thursday to Tuesday around Thanksgiving 2023, with a limit buy filled inside a bar', async (t) => {
    const bars = (await api('GET', '/market-data/bars/AAPL?start=2023-11-16&end=2023-11-28&timeframe=1d')).bars as Array<{ timestamp: string, open: string, low: string }>
    t.same(bars.map((b) => b.timestamp.slice(0, 10)), ['2023-11-16', '2023-11-17', '2023-11-20', '2023-11-21', '2023-11-22', '2023-11-24', '2023-11-27', '2023-11-28'])
    // Inside the bar of Friday 24 (early close): between its low and its open, so it neither fills at the open nor misses.
    const friday = bars[5]
    const limit = ((Number(friday.open) + Number(friday.low)) / 2).toFixed(2)
    t.ok(Number(friday.low) < Number(limit) && Number(limit) < Number(friday.open), `the demo bar leaves room for a limit inside it (${friday.low} < ${limit} < ${friday.open})`)
    const { session_id: id } = await api('POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-11-16', end_date: '2023-11-28', timeframe: '1d', initial_capital: '100000' })
    let account: WsMessage | undefined
    const run = await lockstep(wsUrl, token, id, async (ws, tick) => {
      if (tick.data.sequence_id === 5) {
        const ack = await ws.request('order_batch', { session_id: id, batch_id: 'b1', orders: [{ order_id: 'dip', symbol: 'AAPL', side: 'buy', type: 'limit', price: limit, quantity: 10, time_in_force: 'day' }] })
        t.equal(ack.type, 'batch_ack', JSON.stringify(ack.data))
      }
      if (tick.data.sequence_id === 6) account = await ws.request('query_account', { session_id: id })
    })
    t.same(run.ticks.map((m) => m.data.sim_time), [
      '2023-11-16T21:00:00.000Z', '2023-11-17T21:00:00.000Z', '2023-11-20T21:00:00.000Z', '2023-11-21T21:00:00.000Z',
      '2023-11-22T21:00:00.000Z', '2023-11-24T18:00:00.000Z', '2023-11-27T21:00:00.000Z', '2023-11-28T21:00:00.000Z'
    ], '16:00 New York (EST), 13:00 on the early close; no Saturday')
    t.same(run.fills.map((m) => [m.data.order_id, m.data.executed_price, m.data.execution_time]), [['dip', limit, '2023-11-24T18:00:00.000Z']],
      'the limit filled inside Friday\'s bar, stamped at its early close')
    t.equal(account?.data.sim_time, '2023-11-24T18:00:00.000Z', 'the account after that step is at the same instant')
    const results = await api('GET', `/sessions/${id}/results`)
    t.same(results.equity_curve.map((p: { date: string, sim_time: string }) => `${p.date} ${p.sim_time}`), [
      '2023-11-16 2023-11-16T21:00:00.000Z', '2023-11-17 2023-11-17T21:00:00.000Z', '2023-11-20 2023-11-20T21:00:00.000Z',
      '2023-11-21 2023-11-21T21:00:00.000Z', '2023-11-22 2023-11-22T21:00:00.000Z', '2023-11-24 2023-11-24T18:00:00.000Z',
      '2023-11-27 2023-11-27T21:00:00.000Z', '2023-11-28 2023-11-28T21:00:00.000Z'
    ])
  })

  await t.test('summer time: 16:00 New York is 20:00 UTC', async (t) => {
    const { session_id: id } = await api('POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-07-06', end_date: '2023-07-07', timeframe: '1d', initial_capital: '100000' })
    const run = await lockstep(wsUrl, token, id)
    t.same(run.ticks.map((m) => m.data.sim_time), ['2023-07-06T20:00:00.000Z', '2023-07-07T20:00:00.000Z'])
  })

  await t.test('crypto trades every day; its day closes at midnight UTC', async (t) => {
    const { session_id: id } = await api('POST', '/sessions', { symbols: ['BTC/USD'], start_date: '2023-07-07', end_date: '2023-07-09', timeframe: '1d', initial_capital: '100000' })
    const run = await lockstep(wsUrl, token, id)
    t.same(run.ticks.map((m) => m.data.sim_time), ['2023-07-08T00:00:00.000Z', '2023-07-09T00:00:00.000Z', '2023-07-10T00:00:00.000Z'])
  })
})
