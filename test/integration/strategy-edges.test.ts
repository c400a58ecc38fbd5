// runStrategy's contract at its edges, over a real listening server: an existing session by id, the
// callbacks' order (onStart before the first tick, onEnd with the result), the context's account and cancel,
// a run without flow control, two strategies sharing one client, a run taken over by another connection,
// and a strategy that throws an empty or non-Error value.
import t from 'tap'
import type { SessionClient} from '../../client/session-client.js';
import { SessionError } from '../../client/session-client.js'
import { isStrategyError, runStrategy, type Strategy } from '../../client/strategy-runner.js'
import type { OrderUpdate } from '../../schemas/simulation.js'
import { listen, KEYS } from '../fixtures/app.js'
import { connectedClient } from '../fixtures/sdk.js'

const DAILY = { symbols: ['MSFT'], start_date: '2023-01-03', end_date: '2023-03-31' }
const MINUTES = { symbols: ['MSFT'], start_date: '2023-03-01', end_date: '2023-03-10', timeframe: '1m' as const }

t.test('runStrategy edges', async (t) => {
  const { baseUrl } = await listen(t)
  const connect = async (tt: { teardown: (fn: () => unknown) => void }): Promise<SessionClient> => await connectedClient(tt, { url: baseUrl, apiKey: KEYS.ent })

  t.test('an existing session by id: callbacks in order, progress ends at total, the result is the session’s', async (t) => {
    const client = await connect(t)
    const created = await client.createSession(DAILY)
    const calls: string[] = []
    const progress: Array<[number, number]> = []
    const run = await runStrategy(client, {
      onStart: (ctx) => { calls.push(`start:${ctx.session.session_id === created.session_id}`) },
      onTick: (tick) => { if (calls.at(-1) !== 'tick') calls.push('tick'); t.equal(tick.session_id, created.session_id) },
      onEnd: (result) => { calls.push(`end:${result.session_id === created.session_id}`) }
    }, { session: created.session_id, progressEveryTicks: 20, onProgress: (p) => { progress.push([p.ticks, p.total]) } })
    t.same(calls, ['start:true', 'tick', 'end:true'])
    t.equal(run.session.session_id, created.session_id)
    t.equal(run.session.state, 'completed')
    t.equal(run.ticks, created.estimated_ticks)
    t.equal(run.orders_sent, 0)
    const total = created.estimated_ticks
    t.ok(progress.length >= 2, 'progress was reported along the way')
    t.ok(progress.every(([ticks, tot], i) => tot === total && (ticks % 20 === 0 || ticks === total || i === progress.length - 1)), 'every progress call is on the cadence or the end')
    t.same(progress.at(-1), [total, total], 'the last progress call is the whole run')
  })

  t.test('ctx.account follows the fills; onAccount sees every snapshot', async (t) => {
    const client = await connect(t)
    const seen: string[] = []
    let cashAtTick5: string | undefined
    let before: unknown = 'unset'
    await runStrategy(client, {
      onTick (tick, ctx) {
        if (tick.sequence_id === 1) { before = ctx.account; return [{ symbol: 'MSFT', side: 'buy', type: 'market', quantity: 10 }] }
        if (tick.sequence_id === 5) cashAtTick5 = ctx.account?.cash
        return []
      },
      onAccount: (a) => { seen.push(a.cash) }
    }, { session: DAILY })
    t.equal(before, undefined, 'no snapshot before the first fill')
    t.ok(seen.length >= 1, 'a snapshot after the fill')
    t.equal(cashAtTick5, seen[0], 'ctx.account is the latest snapshot')
    t.ok(Number(cashAtTick5) < 100_000, `cash ${cashAtTick5} went down by the purchase`)
  })

  t.test('ctx.cancel cancels a working order; onOrder sees it cancelled', async (t) => {
    const client = await connect(t)
    const updates: Array<Pick<OrderUpdate, 'order_id' | 'status'>> = []
    await runStrategy(client, {
      async onTick (tick, ctx) {
        // A limit far below the market stays working until cancelled.
        if (tick.sequence_id === 1) return [{ order_id: 'far-limit', symbol: 'MSFT', side: 'buy', type: 'limit', price: '1.00', quantity: 1, time_in_force: 'gtc' }]
        if (tick.sequence_id === 3) await ctx.cancel('far-limit')
        return []
      },
      onOrder: (u) => { updates.push({ order_id: u.order_id, status: u.status }) }
    }, { session: DAILY })
    t.same(updates, [{ order_id: 'far-limit', status: 'accepted' }, { order_id: 'far-limit', status: 'cancelled' }])
  })

  t.test('without flow control the run streams to the end, every tick handled once', async (t) => {
    const client = await connect(t)
    const seqs: number[] = []
    const run = await runStrategy(client, { onTick: (tick) => { seqs.push(tick.sequence_id) } }, { session: MINUTES, start: { flow_control: false } })
    t.equal(run.session.state, 'completed')
    t.equal(seqs.length, run.session.estimated_ticks)
    t.ok(seqs.every((s, i) => s === i + 1), 'in order, none repeated or missing')
  })

  t.test('one run per client: a second concurrent run is refused; two clients run side by side', async (t) => {
    // Fills, order updates and snapshots carry no session id, so two runs on one connection would mix.
    const client = await connect(t)
    const a = await client.createSession(DAILY)
    const b = await client.createSession({ ...DAILY, end_date: '2023-02-28' })
    const buyOnce: Strategy = { onTick: (tick) => tick.sequence_id === 2 ? [{ symbol: 'MSFT', side: 'buy', type: 'market', quantity: 1 }] : [] }
    const first = runStrategy(client, buyOnce, { session: a.session_id })
    const refused = await runStrategy(client, buyOnce, { session: b.session_id }).then(() => undefined, (err: unknown) => err)
    t.match(refused, { error_code: 'RUN_IN_PROGRESS', source: 'client', details: { running: a.session_id } })
    const ra = await first
    t.equal(ra.ticks, a.estimated_ticks, 'the first run is untouched by the refusal')
    t.equal(ra.complete.session_id, a.session_id)

    const other = await connect(t)
    const c = await client.createSession(DAILY)
    const [rb, rc] = await Promise.all([
      runStrategy(other, buyOnce, { session: b.session_id }),
      runStrategy(client, buyOnce, { session: c.session_id })
    ])
    for (const [r, s] of [[rb, b], [rc, c]] as const) {
      t.equal(r.complete.session_id, s.session_id, 'each run ends with its own result')
      t.equal(r.ticks, s.estimated_ticks)
      t.equal(r.orders_sent, 1)
      t.same([r.complete.total_trades, r.complete.open_trades], [0, 1], 'bought once and held: one open position, no closed trade')
    }
  })

  t.test('a run taken over by another connection ends with STREAM_TAKEN_OVER, not as a strategy error', async (t) => {
    const client = await connect(t)
    const other = await connect(t)
    const thrown = await runStrategy(client, {
      async onTick (tick) {
        if (tick.sequence_id === 10) {
          // Another connection of the same user takes the run over with resume_session.
          await other.request('resume_session', { session_id: tick.session_id, last_processed_sequence_id: tick.sequence_id }, 'state_sync')
        }
      }
    }, { session: MINUTES }).then(() => undefined, (err: unknown) => err)
    t.ok(thrown instanceof SessionError, 'an SDK error')
    t.match(thrown, { error_code: 'STREAM_TAKEN_OVER', source: 'session_error' })
    t.notOk(isStrategyError(thrown))
  })

  t.test('a strategy that throws an Error without a message or a plain object: the run ends in error with a usable message', async (t) => {
    const client = await connect(t)
    let sessionId = ''
    const empty = await runStrategy(client, {
      onTick (tick) { sessionId = tick.session_id; if (tick.sequence_id === 2) throw new RangeError('') }
    }, { session: DAILY }).then(() => undefined, (err: unknown) => err)
    t.ok(empty instanceof RangeError && isStrategyError(empty), 'the same RangeError comes back')
    t.match(await client.getSessionStatus(sessionId), { state: 'error', error_message: 'RangeError' }, 'the error’s name stands in for its empty message')

    const thing = { code: 42 }
    const obj = await runStrategy(client, {
      onTick (tick) { sessionId = tick.session_id; if (tick.sequence_id === 2) throw thing }
    }, { session: DAILY }).then(() => undefined, (err: unknown) => err)
    t.ok(obj instanceof Error && isStrategyError(obj), 'a thrown object becomes an Error')
    t.equal((obj as Error).cause, thing, 'with the thrown value as its cause')
    t.match(await client.getSessionStatus(sessionId), { state: 'error', error_message: '[object Object]' })
  })

  t.test('closing the client mid-run rejects with CLIENT_CLOSED', async (t) => {
    const client = await connect(t)
    const thrown = await runStrategy(client, { onTick (tick) { if (tick.sequence_id === 5) void client.close() } }, { session: DAILY }).then(() => undefined, (err: unknown) => err)
    t.match(thrown, { error_code: 'CLIENT_CLOSED', source: 'client' })
    t.notOk(isStrategyError(thrown))
  })

  t.test('a strategy that throws after its client closed: its own error still comes back', async (t) => {
    const client = await connect(t)
    const boom = new Error('thrown after close')
    const thrown = await runStrategy(client, {
      async onTick (tick) { if (tick.sequence_id === 3) { await client.close(); throw boom } }
    }, { session: DAILY }).then(() => undefined, (err: unknown) => err)
    t.equal(thrown, boom, 'the report to the server failed quietly; the caller sees the strategy’s error')
    t.ok(isStrategyError(thrown))
  })
})
