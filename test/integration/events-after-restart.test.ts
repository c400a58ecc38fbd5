// GET /sessions/{id}/events of a durable run that finished before a restart: served from the event store,
// paged as before the restart (not 409), and 410 EVENTS_EXPIRED once the retention sweep emptied it. In
// process, two apps in turn over the same storage: a memory journal, then a PGlite state folder.
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.js'
import { memoryStorage } from '../../server/adapters/open-storage.js'
import type { Storage } from '../../server/ports/storage.js'
import { KEYS, testConfig, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN } from '../fixtures/durable-run.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const HOUR = 3_600_000

async function scenario (t: Test, env: Record<string, string>, storage?: Storage): Promise<void> {
  let offset = 0
  const now = (): number => Date.now() + offset
  const start = async (): Promise<{ app: FastifyInstance, baseUrl: string }> => {
    const app = await buildApp(testConfig({ EVENT_LOG_RETENTION_HOURS: '24', SESSION_TTL_MINUTES: '10080', ...env }), { logger: false, now, ...(storage !== undefined ? { storage } : {}) })
    return { app, baseUrl: await app.listen({ port: 0, host: '127.0.0.1' }) }
  }
  let server = await start()
  t.teardown(async () => { await server.app.close() })
  const token = await tokenFor(server.baseUrl, KEYS.ent)
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> => {
    const res = await fetch(`${server.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined }
  }
  const allEvents = async (id: string, limit: number): Promise<{ events: unknown[], pages: number, last: number }> => {
    const events: unknown[] = []
    let pages = 0
    let last = 0
    for (let after = 0; ;) {
      const page = await api('GET', `/sessions/${id}/events?after_seq=${after}&limit=${limit}`)
      t.equal(page.status, 200)
      events.push(...page.body.events as unknown[])
      pages++
      last = page.body.last_sequence_id as number
      after += (page.body.events as unknown[]).length
      if (page.body.has_more !== true) break
    }
    return { events, pages, last }
  }

  const id = (await api('POST', '/sessions', DURABLE_RUN)).body.session_id as string
  t.equal((await api('POST', `/sessions/${id}/start`, { flow_control: false })).status, 200)
  for (let i = 0; i < 1000 && (await api('GET', `/sessions/${id}`)).body.state !== 'completed'; i++) await sleep(10)
  const before = await allEvents(id, 1000)
  t.ok(before.events.length > 100, 'the run has events')
  await server.app.close()
  server = await start()

  const after = await allEvents(id, 100)
  t.ok(after.pages > 1, 'paged')
  t.equal(after.last, before.last)
  t.same(after.events, before.events, 'the same events as before the restart')
  const tail = await api('GET', `/sessions/${id}/events?after_seq=${before.last}&limit=10`)
  t.same(tail.body, { session_id: id, events: [], last_sequence_id: before.last, has_more: false }, 'nothing after the last')
  const other = await fetch(`${server.baseUrl}/sessions/${id}/events?after_seq=0`, { headers: { authorization: `Bearer ${await tokenFor(server.baseUrl, KEYS.dev)}` } })
  t.equal(other.status, 404, 'another user\'s session is not found')

  offset = 24 * HOUR + 1000
  t.equal(await server.app.simulation.pruneStoredLogs(), 1)
  const gone = await api('GET', `/sessions/${id}/events?after_seq=0&limit=10`)
  t.equal(gone.status, 410)
  t.equal(gone.body.error_code, 'EVENTS_EXPIRED')
  t.equal((await api('GET', `/sessions/${id}/results`)).status, 200, 'results outlive the log')
}

t.test('memory journal', async (t) => { await scenario(t, {}, memoryStorage({ journal: true })) })

t.test('PGlite state folder', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'st-events-restart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await scenario(t, { SIMUTRADOR_STATE_DIR: dir })
})
