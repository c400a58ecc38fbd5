// runStrategy when the connection dies at the awkward moments of failover, over real sockets on one server
// reached by several URLs (TCP proxies in front of it, so "an instance" can die mid-reply): orders whose
// batch may or may not have reached the server, and a resume whose reply is lost. Each run must end exactly
// as an uninterrupted one: onTick once per tick, every order once, the same fills, the same equity.
import t, { type Test } from 'tap'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy, type Strategy, type StrategyRunResult } from '../../client/strategy-runner.js'
import { createStrategy } from '../../examples/sma-crossover.js'
import { listen, KEYS, tokenFor } from '../fixtures/app.js'
import { tcpProxy } from '../fixtures/tcp-proxy.js'

const SESSION = { symbols: ['MSFT'], start_date: '2023-03-01', end_date: '2023-03-10', timeframe: '1m' as const }
const FAST_RECONNECT = { baseDelayMs: 20, maxDelayMs: 100 }

interface Teardown { teardown: (fn: () => unknown) => void }

/** What the strategy saw: onTick calls by tick number, and the order and fill events. */
interface Seen { ticks: number[], orders: string[], fills: string[] }

/** The SMA example, recording what it is given; `hook` runs in onTick with the orders it is about to return. */
function recorded (seen: Seen, hook?: (orders: number, tick: number) => Promise<void> | void): Strategy {
  const base = createStrategy()
  return {
    onTick: async (tick, ctx) => {
      seen.ticks.push(tick.sequence_id)
      const orders = await base.onTick(tick, ctx)
      await hook?.(Array.isArray(orders) ? orders.length : 0, tick.sequence_id)
      return orders
    },
    onOrder: (u) => { seen.orders.push(`${u.order_id}:${u.status}`) },
    onFill: (f) => { seen.fills.push(`${f.order_id}:${f.executed_quantity}@${f.executed_price}:${f.execution_time}`) }
  }
}

function fresh (): Seen { return { ticks: [], orders: [], fills: [] } }

t.test('strategy runs across failover moments', async (t) => {
  const { app, baseUrl } = await listen(t)
  const port = Number(new URL(baseUrl).port)
  const token = await tokenFor(baseUrl, KEYS.ent)

  const client = async (tt: Teardown, url: string | string[]): Promise<SessionClient> => {
    const c = new SessionClient({ url, apiKey: KEYS.ent, reconnect: FAST_RECONNECT })
    tt.teardown(() => c.close())
    await c.connect()
    return c
  }
  /** The orders the server holds for the run: each id once. */
  const serverOrders = async (sessionId: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/sessions/${sessionId}/orders`, headers: { authorization: `Bearer ${token}` } })
    return (res.json() as { orders: Array<{ order_id: string }> }).orders.map((o) => o.order_id).sort()
  }
  const same = (tt: Test, run: StrategyRunResult, seen: Seen, plain: { run: StrategyRunResult, seen: Seen }): void => {
    tt.same(seen.ticks, plain.seen.ticks, 'onTick ran once per tick, in order')
    tt.same(seen.orders.map(stripSession), plain.seen.orders.map(stripSession), 'the same order events, none repeated')
    tt.same(seen.fills.map(stripSession), plain.seen.fills.map(stripSession), 'the same fills')
    tt.equal(run.orders_sent, plain.run.orders_sent)
    tt.equal(run.complete.final_equity, plain.run.complete.final_equity)
    tt.equal(run.complete.total_trades, plain.run.complete.total_trades)
  }

  const plainSeen = fresh()
  const plainRun = await runStrategy(await client(t, baseUrl), recorded(plainSeen), { session: SESSION })
  const plain = { run: plainRun, seen: plainSeen }
  t.ok(plainRun.orders_sent >= 4, `the uninterrupted run sends orders (${plainRun.orders_sent})`)

  t.test('dropped while onTick runs: its orders are not sent on the new connection before the resume, and go out once', async (t) => {
    const c = await client(t, baseUrl)
    const seen = fresh()
    let drops = 0
    const run = await runStrategy(c, recorded(seen, async (orders) => {
      if (orders === 0 || drops >= 2) return
      drops++
      const dropped = c.once('disconnected')
      for (const conn of app.ws.connections.forUser('ent')) conn.socket.terminate()
      await dropped
    }), { session: SESSION })
    t.equal(drops, 2)
    same(t, run, seen, plain)
    t.equal((await serverOrders(run.session.session_id)).length, run.orders_sent, 'each order once on the server')
  })

  t.test('the instance dies after applying a batch, before its reply: the repeat is refused by id, nothing doubles', async (t) => {
    const proxy = await tcpProxy(port)
    t.teardown(() => proxy.close())
    const viaProxy = `http://127.0.0.1:${proxy.port}`
    const c = await client(t, [viaProxy, baseUrl])
    t.equal(c.url, viaProxy)
    const watcher = await client(t, baseUrl)
    const seen = fresh()
    let sessionId: string | undefined
    let died = false
    const run = await runStrategy(c, recorded(seen, async (orders) => {
      if (orders === 0 || died) return
      died = true
      // Watch the run directly; the strategy's own connection goes through the proxy.
      await watcher.request('subscribe_session', { session_id: sessionId ?? '' }, 'subscription')
      proxy.hold()
      // Once the server has applied the batch (its order event reaches the watcher), the "instance" dies:
      // the batch_ack it sent never arrives.
      watcher.once('order_update', { timeoutMs: 10_000 }).then(async () => { await proxy.cut() }, () => {})
    }), {
      session: SESSION,
      progressEveryTicks: 1,
      onProgress: ({ session_id: id }) => { sessionId = id }
    })
    t.ok(died, 'the connection died with a batch applied and unanswered')
    t.equal(c.url, baseUrl, 'the client moved to the next URL')
    same(t, run, seen, plain)
    t.equal((await serverOrders(run.session.session_id)).length, run.orders_sent, 'each order once on the server')
  })

  t.test('the resume\'s reply is lost: the client resumes again on the next URL', async (t) => {
    const p1 = await tcpProxy(port)
    const p2 = await tcpProxy(port)
    t.teardown(() => p1.close())
    t.teardown(() => p2.close())
    const [u1, u2] = [`http://127.0.0.1:${p1.port}`, `http://127.0.0.1:${p2.port}`]
    const c = await client(t, [u1, u2])
    // Observe the resumes the runner sends (the traffic itself is untouched).
    const resumes: string[] = []
    const request = c.request.bind(c)
    c.request = (async (type: string, data: unknown, reply: string, opts?: object) => {
      const sent = request(type as 'resume_session', data as never, reply as 'state_sync', opts)
      if (type === 'resume_session') {
        resumes.push(c.url)
        // The first resume goes out through p2, which is holding the server's bytes: kill p2, bring p1 back.
        if (resumes.length === 1) setImmediate(() => { void (async () => { await p1.restore(); await p2.cut() })() })
      }
      return await sent
    }) as typeof c.request
    c.on('connected', (d) => { if (d.reconnected && d.url === u2) p2.hold() })
    const seen = fresh()
    let cut = false
    const run = await runStrategy(c, recorded(seen, async (_orders, tick) => {
      if (cut || tick < 300) return
      cut = true
      await p1.cut()
    }), { session: SESSION })
    t.same(resumes, [u2, u1], 'resumed on p2 (reply lost), then again on p1')
    same(t, run, seen, plain)
  })
})

/** Order ids carry the session's id; two runs are compared without it. */
function stripSession (s: string): string {
  return s.replace(/^[^-]+-/, '')
}
