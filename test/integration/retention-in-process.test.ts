// Retention, in process with a fake clock: EVENT_LOG_RETENTION_HOURS empties a finished durable run's stored
// event and input logs (GET …/events → 410 EVENTS_EXPIRED, results stay); SESSION_RETENTION_DAYS deletes the
// finished session with everything it had (GET …/results → 404 SESSION_NOT_FOUND).
import t from 'tap'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import { KEYS, testConfig, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN } from '../fixtures/durable-run.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const HOUR = 3_600_000

t.test('finished runs lose their stored logs after EVENT_LOG_RETENTION_HOURS, and their session after SESSION_RETENTION_DAYS', async (t) => {
  let offset = 0
  const now = (): number => Date.now() + offset
  const storage = memoryStorage({ journal: true })
  const app = await buildApp(testConfig({ EVENT_LOG_RETENTION_HOURS: '24', SESSION_RETENTION_DAYS: '2', SESSION_TTL_MINUTES: '10080' }), { logger: false, storage, now })
  t.teardown(async () => { await app.close() })
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const token = await tokenFor(baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const id = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
  t.equal((await api('POST', `/sessions/${id}/start`, { flow_control: false })).status, 200)
  for (let i = 0; i < 1000 && (await api('GET', `/sessions/${id}`)).body.state !== 'completed'; i++) await sleep(10)
  const page = await api('GET', `/sessions/${id}/events?after_seq=0&limit=5`)
  t.equal(page.status, 200)
  t.equal(page.body.events[0].type, 'simulation_started')
  t.ok(((await storage.journal?.events.lastSeq('ent', id)) ?? 0) > 0, 'the event log is stored')

  offset = 23 * HOUR
  t.equal(await app.simulation.pruneStoredLogs(), 0, 'kept within the retention')
  t.equal((await api('GET', `/sessions/${id}/events?after_seq=0&limit=5`)).status, 200)
  offset = 24 * HOUR + 1000
  t.equal(await app.simulation.pruneStoredLogs(), 1, 'swept after the retention')
  const gone = await api('GET', `/sessions/${id}/events?after_seq=0&limit=5`)
  t.equal(gone.status, 410)
  t.equal(gone.body.error_code, 'EVENTS_EXPIRED')
  t.same(await storage.journal?.inputs.list('ent', id), [], 'the input log went too')
  t.equal((await api('GET', `/sessions/${id}/results`)).status, 200, 'results outlive the logs')

  offset = 2 * 24 * HOUR + 1000
  t.equal(await app.sessions.cleanupExpired(), 1, 'the finished session is swept after SESSION_RETENTION_DAYS')
  const results = await api('GET', `/sessions/${id}/results`)
  t.equal(results.status, 404)
  t.equal(results.body.error_code, 'SESSION_NOT_FOUND')
  await sleep(20)
  t.equal(await storage.runs.get('ent', id), undefined, 'its stored run went with it')
  t.equal(await storage.sessions.size(), 0)
})
