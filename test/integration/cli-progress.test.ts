// The CLI's progress bar in the last percent of a run, as a user sees it: a run paused over a real WebSocket
// at tick 99 of 100 and at tick 123 of 124, then `simutrador session status` (the real CLI, a child process)
// against the listening server. 99 % and 99.x % print 99% with one empty cell; only the finished run prints
// a full bar and 100%.
import t from 'tap'
import { tradingDays } from '../../server/market-data/calendar.js'
import { listen, KEYS, tokenFor, TestSocket } from '../fixtures/app.js'
import { cliWithKey } from '../fixtures/cli.js'

t.test('session status near the end of a run', async (t) => {
  const { baseUrl, wsUrl } = await listen(t)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const { cli } = await cliWithKey(t, baseUrl, KEYS.ent)
  const ws = await TestSocket.open(`${wsUrl}?token=${token}`)
  t.teardown(() => { ws.close() })
  await ws.next('connection_ready')

  /** A daily AAPL session of `ticks` NYSE days from 2023-01-03, run in lockstep and paused after tick `pauseAt`. */
  const pausedAt = async (ticks: number, pauseAt: number): Promise<string> => {
    const end = tradingDays('NYSE', '2023-01-03', '2023-12-31')[ticks - 1]
    const created = await ws.request('create_session', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: end, timeframe: '1d' })
    const id = created.data.session_id as string
    t.equal(created.data.estimated_ticks, ticks)
    await ws.request('start_simulation', { session_id: id, flow_control: true, max_pending_ticks: 1, account_update_frequency: 'on_demand' })
    for (;;) {
      const tick = await ws.next((m) => m.type === 'tick' && m.data.session_id === id)
      if (tick.data.sequence_id === pauseAt) break
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: tick.data.sequence_id, processing_status: 'ready' } })
    }
    const paused = await ws.request('pause_simulation', { session_id: id })
    t.equal(paused.type, 'simulation_paused', JSON.stringify(paused.data))
    return id
  }
  const progressLine = async (id: string): Promise<string> => {
    const r = await cli(['session', 'status', id])
    t.equal(r.code, 0, r.stderr)
    return /^Progress.*$/m.exec(r.stdout)?.[0] ?? r.stdout
  }

  await t.test('paused at exactly 99 % (99 of 100 ticks): 99% and one empty cell', async (t) => {
    const id = await pausedAt(100, 99)
    t.equal(await progressLine(id), `Progress  [${'█'.repeat(19)}░]  99%  (99/100 ticks)`)
  })

  await t.test('paused at 99.2 % (123 of 124 ticks): still 99% and one empty cell', async (t) => {
    const id = await pausedAt(124, 123)
    t.equal(await progressLine(id), `Progress  [${'█'.repeat(19)}░]  99%  (123/124 ticks)`)
    await ws.request('resume_simulation', { session_id: id })
    ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: 123, processing_status: 'ready' } })
    for (;;) {
      const m = await ws.next((m) => (m.type === 'tick' || m.type === 'simulation_complete') && m.data.session_id === id)
      if (m.type === 'simulation_complete') break
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: m.data.sequence_id, processing_status: 'ready' } })
    }
    // The finished state reaches the store after the event: poll (the CLI is the reader) until it shows.
    let line = ''
    for (let i = 0; i < 20 && !line.includes('100%'); i++) line = await progressLine(id)
    t.equal(line, `Progress  [${'█'.repeat(20)}] 100%`, 'the completed run: a full bar and 100%')
  })
})
