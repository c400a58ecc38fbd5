// A restart in one process, for the parts the child-process tests cannot measure (coverage): two apps in
// turn over the same (memory) storage. The second answers finished runs from the RunStore, shows the live
// run paused, and says why each run operation it cannot serve is INVALID_STATE.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import { KEYS, TestSocket, testConfig, tokenFor } from '../fixtures/app.js'

const RUN = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31' }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('a restarted app answers from storage what the last one left', async (t) => {
  const storage = memoryStorage()
  let app: FastifyInstance = await buildApp(testConfig(), { logger: false, storage })
  t.teardown(async () => { await app.close() })
  let baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, text: string, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, text, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const create = async (): Promise<string> => (await api('POST', '/sessions', RUN)).body.session_id as string
  const stateOf = async (id: string): Promise<string> => (await api('GET', `/sessions/${id}`)).body.state as string

  const headless = await create()
  await api('POST', `/sessions/${headless}/start`, { flow_control: false })
  for (let i = 0; i < 200 && await stateOf(headless) !== 'completed'; i++) await sleep(25)
  const before = { results: await api('GET', `/sessions/${headless}/results`), account: await api('GET', `/sessions/${headless}/account`), orders: await api('GET', `/sessions/${headless}/orders`) }
  t.equal(before.results.status, 200)

  const cancelled = await create()
  await api('POST', `/sessions/${cancelled}/start`, {})
  t.equal((await api('POST', `/sessions/${cancelled}/cancel`)).status, 200)
  const cancelledResults = await api('GET', `/sessions/${cancelled}/results`)
  t.equal(cancelledResults.body.completed, false, 'a cancelled run has results computed to where it stopped')

  const failed = await create()
  const ws = await TestSocket.open(`${baseUrl.replace(/^http/, 'ws')}/ws/simulate?token=${token}`)
  await ws.next('connection_ready')
  await ws.request('start_simulation', { session_id: failed })
  t.equal((await ws.request('strategy_error', { session_id: failed, message: 'boom' })).type, 'session_info')
  ws.close()

  const live = await create()
  await api('POST', `/sessions/${live}/start`, {})
  const neverStarted = await create()
  const lost = await create()
  await api('POST', `/sessions/${lost}/start`, { flow_control: false })
  for (let i = 0; i < 200 && await stateOf(lost) !== 'completed'; i++) await sleep(25)

  // ── restart over the same storage ──
  await app.close()
  await storage.runs.delete('ent', lost)
  app = await buildApp(testConfig(), { logger: false, storage })
  baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })

  t.test('finished runs answer from the RunStore, byte for byte', async (t) => {
    for (const what of ['results', 'account', 'orders'] as const) {
      t.equal((await api('GET', `/sessions/${headless}/${what}`)).text, before[what].text, what)
    }
    t.equal((await api('GET', `/sessions/${cancelled}/results`)).text, cancelledResults.text, 'the cancelled run')
  })

  t.test('a failed run keeps its account and orders; its results are INVALID_STATE', async (t) => {
    t.equal(await stateOf(failed), 'error')
    t.equal((await api('GET', `/sessions/${failed}/account`)).status, 200)
    t.match((await api('GET', `/sessions/${failed}/results`)).body, { error_code: 'INVALID_STATE', details: { state: 'error' } })
  })

  t.test('each run operation it cannot serve says why', async (t) => {
    t.equal(await stateOf(live), 'paused')
    t.match((await api('GET', `/sessions/${live}/results`)).body, { error_code: 'INVALID_STATE', message: /was paused by a server restart/, details: { state: 'paused' } })
    t.match((await api('POST', `/sessions/${live}/resume`)).body, { error_code: 'INVALID_STATE', message: /was paused by a server restart/ })
    t.match((await api('GET', `/sessions/${neverStarted}/orders`)).body, { error_code: 'INVALID_STATE', message: /has not been started \(state ready\)/ })
    t.match((await api('GET', `/sessions/${lost}/results`)).body, { error_code: 'INVALID_STATE', message: /\(state completed\) was not kept/ })
    t.equal((await api('GET', '/sessions/nope_nope/results')).body.error_code, 'SESSION_NOT_FOUND')
  })

  t.test('the sessions gauge starts from what is stored', async (t) => {
    const text = await (await fetch(`${baseUrl}/metrics`)).text()
    for (const [state, n] of [['completed', 3], ['error', 1], ['paused', 1], ['ready', 1]] as const) {
      t.match(text, new RegExp(`^simutrador_sessions\\{state="${state}"\\} ${n}$`, 'm'), state)
    }
  })

  t.test('deleting a session deletes its finished run', async (t) => {
    t.ok(await storage.runs.get('ent', headless))
    t.equal((await api('DELETE', `/sessions/${headless}`)).status, 204)
    await sleep(10)
    t.equal(await storage.runs.get('ent', headless), undefined)
  })
})
