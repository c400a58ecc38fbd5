// A strategy re-attached to a run whose strategy process is gone (issue 19 item 2), and a client whose
// credentials stop working, over real listening servers: runStrategy({ sessionId }) (and `simutrador
// simulate run --session`) takes a paused run (by its connection dropping, by the user, by a server
// restart) from its current step to the end; `session resume` of a run waiting for its strategy says how
// to re-attach it; a client refused after reconnecting ends with INVALID_API_KEY / UNAUTHORIZED saying why,
// not CLIENT_CLOSED.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import type { Storage } from '../../server/ports/storage.js'
import { SessionClient, type SessionError } from '../../client/session-client.js'
import { runStrategy, type Strategy } from '../../client/strategy-runner.js'
import { KEYS, testConfig, tokenFor } from '../fixtures/app.js'
import { runCli, tempDir } from '../fixtures/cli.js'
import { call } from '../fixtures/rest.js'

const RUN = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-06-30' }

interface Server { app: FastifyInstance, baseUrl: string }

async function serve (t: Test, storage: Storage | undefined, port = 0, env: Record<string, string> = {}): Promise<Server> {
  const app = await buildApp(testConfig(env), { logger: false, ...(storage !== undefined ? { storage } : {}) })
  t.teardown(() => app.close())
  const baseUrl = await app.listen({ port, host: '127.0.0.1' })
  return { app, baseUrl }
}

function client (t: Test, url: string, opts: { apiKey?: string, accessToken?: string } = { apiKey: KEYS.ent }): SessionClient {
  const c = new SessionClient({ url, ...opts, reconnect: { baseDelayMs: 20, maxDelayMs: 200 } })
  t.teardown(() => c.close())
  return c
}

/** A strategy that buys 1 share on the first tick it sees and records the steps it hears. */
function recorder (steps: number[], at?: (step: number) => Promise<void>): Strategy {
  return {
    async onTick (tick) {
      steps.push(tick.sequence_id)
      if (at !== undefined) await at(tick.sequence_id)
      return steps.length === 1 ? [{ symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1 }] : []
    }
  }
}

/** Starts a lockstep run with a first strategy process that goes away after step `leaveAt`; resolves the session id. */
async function abandonedRun (t: Test, server: Server, leaveAt: number, before?: (id: string) => Promise<void>): Promise<string> {
  const first = client(t, server.baseUrl)
  await first.connect()
  let id = ''
  const steps: number[] = []
  const ran = runStrategy(first, recorder(steps, async (step) => {
    if (step !== leaveAt) return
    await before?.(id)
    await first.close()
  }), { session: RUN, onProgress: ({ session_id: s }) => { id = s }, progressEveryTicks: 1 })
  t.match(await ran.catch((err: SessionError) => err), { error_code: 'CLIENT_CLOSED' }, 'the first strategy process is gone')
  return id
}

t.test('runStrategy({ sessionId }) re-attaches a run whose strategy left: paused by the drop, or by the user', async (t) => {
  const server = await serve(t, undefined)
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  for (const how of ['disconnect', 'user'] as const) {
    await t.test(`paused by ${how}`, async (t) => {
      const id = await abandonedRun(t, server, 10, how === 'user' ? async (sid) => { t.equal((await call(server.baseUrl, token, 'POST', `/sessions/${sid}/pause`)).status, 200) } : undefined)
      const paused = (await call(server.baseUrl, token, 'GET', `/sessions/${id}`)).json
      t.match(paused, { state: 'paused', pause_reason: how })
      const second = client(t, server.baseUrl)
      await second.connect()
      const steps: number[] = []
      const resumes: unknown[] = []
      const run = await runStrategy(second, recorder(steps), { sessionId: id, onResume: (r) => { resumes.push(r) } })
      t.equal(run.session.state, 'completed')
      t.same(resumes, [{ session_id: id, step: steps[0], reconnected: false }], 'onResume names the step the strategy resumed at')
      t.ok(steps[0] > 10, `the new strategy starts after the steps already handled (${steps[0]})`)
      t.same(steps, Array.from({ length: run.session.estimated_ticks - steps[0] + 1 }, (_, i) => steps[0] + i), 'then hears every step once, to the end')
      const orders = (await call(server.baseUrl, token, 'GET', `/sessions/${id}/orders`)).json.orders as Array<{ status: string }>
      t.same(orders.map((o) => o.status), ['filled', 'filled'], 'both processes\' orders filled: the second one\'s ids did not repeat the first\'s')
    })
  }
})

t.test('after a server restart, a run paused waiting for its strategy is re-attached by simulate run --session', async (t) => {
  const storage = memoryStorage({ journal: true })
  let server = await serve(t, storage)
  const port = Number(new URL(server.baseUrl).port)
  const id = await abandonedRun(t, server, 20)
  await server.app.close()
  server = await serve(t, storage, port)
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  t.match((await call(server.baseUrl, token, 'GET', `/sessions/${id}`)).json, { state: 'paused', pause_reason: /^(disconnect|server_restart)$/ }, 'rebuilt after the restart, it waits for its strategy')
  const cli = { url: server.baseUrl, configDir: await tempDir(t), env: { SIMUTRADOR_API_KEY: KEYS.ent } }
  const resume = await runCli(['session', 'resume', id], cli)
  t.equal(resume.code, 1)
  t.match(resume.stderr, new RegExp(`Re-attach its strategy: simutrador simulate run STRATEGY_FILE --session ${id}`), 'session resume says how to re-attach the strategy')
  const run = await runCli(['simulate', 'run', 'examples/sma-crossover.ts', '--session', id], cli)
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, new RegExp(`^attached to ${id}, resumed at step \\d+$`, 'm'))
  t.match(run.stdout, new RegExp(`^Session\\s+${id} `, 'm'), 'the report of the re-attached run')
  t.equal((await call(server.baseUrl, token, 'GET', `/sessions/${id}`)).json.state, 'completed')
})

t.test('a client refused after reconnecting ends with the refusal, not CLIENT_CLOSED', async (t) => {
  for (const [what, opts, code] of [['an API key', undefined, 'INVALID_API_KEY'], ['a token without a key', 'token', 'UNAUTHORIZED']] as const) {
    await t.test(`${what}: ${code}`, async (t) => {
      let server = await serve(t, undefined)
      const port = Number(new URL(server.baseUrl).port)
      const c = client(t, server.baseUrl, opts === 'token' ? { accessToken: await tokenFor(server.baseUrl, KEYS.ent) } : { apiKey: KEYS.ent })
      await c.connect()
      let restarting: Promise<void> | undefined
      const ran = runStrategy(c, recorder([], async (step) => {
        if (step !== 5) return
        await server.app.close()
        // The same port, other credentials: the key and the tokens it gave are unknown there.
        restarting = (async () => { server = await serve(t, undefined, port, { JWT_SECRET: 'another-secret-that-is-long-enough-for-hs256-00000', SIMUTRADOR_API_KEYS: `${'k'.repeat(24)}:ent:enterprise` }) })()
      }), { session: RUN })
      const err = await ran.catch((e: SessionError) => e)
      await restarting
      t.match(err, { error_code: code, message: /^Could not reconnect: .*no longer accepts this client's credentials/ })
    })
  }
})
