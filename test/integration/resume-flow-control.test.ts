// A run resumed after dropped connections ends exactly as the run nobody interrupted, in every flow-control mode
// (issue 24): lockstep, windows of 5 and 16 ticks, and streaming. The SDK's runStrategy drives an SMA crossover
// over a real server and WebSocket; the strategy's socket is terminated from the server side three times, at
// ticks where the strategy sends orders and where it does not. Every event of the run's log (fills, order
// updates, ticks; the pauses and resumes of the interruption aside) and the results must be the uninterrupted
// run's. The rule that makes it hold (docs/simulation-protocol.md): with flow control, an input applies once the
// run has stepped as far as the acknowledgements received before it allow, whatever the timing, so an order sent
// in reply to tick k applies at the same step whether or not a disconnect happened in between.
import t from 'tap'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy, type Strategy } from '../../client/strategy-runner.js'
import type { StartSimulationData } from '../../schemas/simulation.js'
import { buildApp } from '../../server/app.js'
import { KEYS, testConfig } from '../fixtures/app.js'
import { DURABLE_RUN, comparable, comparableResults, readRun, smaStrategy, type DurableOutcome } from '../fixtures/durable-run.js'
import { faultyStorage } from '../fixtures/faulty-storage.js'

t.setTimeout(300_000)

type Start = Omit<StartSimulationData, 'session_id'>

/**
 * Where the run lives: `:memory:` or durable (its inputs logged), and whether the store takes its time to show a
 * run going on after a resume (a slow database), which widens the moment between the takeover and the run
 * stepping again, when the strategy's first orders arrive.
 */
const SETUPS: Array<[string, { journal: boolean, slowResumeMs: number }]> = [
  [':memory:', { journal: false, slowResumeMs: 0 }],
  [':memory:, a slow store at the resume', { journal: false, slowResumeMs: 150 }],
  ['durable, a slow store at the resume', { journal: true, slowResumeMs: 150 }]
]

for (const [setup, { journal, slowResumeMs }] of SETUPS) t.test(`${setup}: resumed runs equal uninterrupted ones in every flow-control mode`, async (t) => {
  const { storage, faults } = faultyStorage({ journal })
  if (slowResumeMs > 0) faults.slowMoveTo = { state: 'running', ms: slowResumeMs }
  const app = await buildApp(testConfig(), { logger: false, storage })
  t.teardown(async () => { await app.close() })
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })

  /** The SMA strategy (orders when the averages cross); its connection terminated at each tick of `drops`. */
  const run = async (start: Start, drops: number[], trades: boolean): Promise<DurableOutcome & { dropped: number[], orderTicks: number[] }> => {
    const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent, reconnect: { baseDelayMs: 10, maxDelayMs: 50 } })
    t.teardown(() => { client.close() })
    await client.connect()
    const base = smaStrategy()
    const dropped: number[] = []
    const orderTicks: number[] = []
    const strategy: Strategy = {
      async onTick (tick, ctx) {
        const orders = await base.onTick(tick, ctx)
        if (Array.isArray(orders) && orders.length > 0) orderTicks.push(tick.sequence_id)
        if (drops.includes(tick.sequence_id) && !dropped.includes(tick.sequence_id)) {
          dropped.push(tick.sequence_id)
          // From the server's side, as a network failure would: the socket is gone at once.
          for (const conn of app.ws.connections.forUser('ent')) conn.socket.terminate()
        }
        return trades ? orders : []
      }
    }
    const result = await runStrategy(client, strategy, { session: DURABLE_RUN, start })
    client.close()
    const sessionId = result.session.session_id
    return { sessionId, dropped, orderTicks, ...await readRun(baseUrl, KEYS.ent, sessionId) }
  }

  // The drops come two ticks before the strategy trades: with a window, the ticks already received go on being
  // handled after the socket is gone (their acks are lost), and the next one's orders are sent again as the run
  // resumes. That is where an order used to land at an earlier step than in the uninterrupted run.
  const plainLockstep = await run({}, [], true)
  const trading: number[] = []
  for (const k of plainLockstep.orderTicks) if (k > 10 && k - (trading.at(-1) ?? 0) > 30) trading.push(k)
  t.ok(trading.length >= 3, `the strategy trades (${plainLockstep.orderTicks.join(', ')})`)
  const drops = trading.slice(0, 3).map((k) => k - 2)

  const modes: Array<[string, Start, boolean]> = [
    ['lockstep', { flow_control: true, max_pending_ticks: 1 }, true],
    ['a window of 5 ticks', { flow_control: true, max_pending_ticks: 5 }, true],
    ['a window of 16 ticks', { flow_control: true, max_pending_ticks: 16 }, true],
    // Streaming applies an order at the first bar not yet stepped when it arrives, so a streaming run that trades
    // depends on timing even uninterrupted; what a drop must not change is everything else.
    ['streaming (no flow control), no orders', { flow_control: false }, false]
  ]
  for (const [name, start, trades] of modes) {
    await t.test(name, async (t) => {
      const plain = await run(start, [], trades)
      const interrupted = await run(start, drops, trades)
      t.same(interrupted.dropped, drops, 'the connection was dropped three times')
      t.same(comparableResults(interrupted), comparableResults(plain), 'results equal the uninterrupted run\'s')
      const fills = (o: DurableOutcome): unknown[] => comparable(o).filter((e) => (e as { type: string }).type === 'execution_report')
      t.same(fills(interrupted), fills(plain), 'every fill equal')
      t.same(comparable(interrupted), comparable(plain), 'every event equal (the pauses and resumes aside)')
      if (trades) t.ok(fills(plain).length >= 6, `${fills(plain).length} fills compared`)
    })
  }
})
