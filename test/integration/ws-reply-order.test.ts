// Over a real WebSocket, the reply to a request comes before the pushes its own change causes: create_session
// answers session_created, then the requester (like every connection of the user) gets session_updated;
// delete_session likewise; start/pause/resume reply before the session_updated of their state change. The same
// with the in-process session-event bus and with the Redis one (REDIS_URL).
import t, { type Test } from 'tap'
import { listen, KEYS, tokenFor, TestSocket, type WsMessage } from '../fixtures/app.js'
import { REDIS_URL, freshPrefix, requireRedis } from '../fixtures/redis.js'

const VALID = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }

/** The next `n` replies and session pushes in the order they arrived (a run's ticks and snapshots aside). */
async function nextMessages (s: TestSocket, n: number): Promise<WsMessage[]> {
  const out: WsMessage[] = []
  while (out.length < n) {
    const m = await s.next()
    if (m.request_id !== undefined || m.type === 'session_updated' || m.type === 'session_deleted') out.push(m)
  }
  return out
}

const brief = (m: WsMessage): string => `${m.type}${m.request_id === undefined ? '' : `#${m.request_id}`}`

async function replyOrderCases (t: Test, env: Record<string, string>): Promise<void> {
  const { baseUrl, wsUrl } = await listen(t, env)
  const token = await tokenFor(baseUrl, KEYS.ent)
  const open = async (): Promise<TestSocket> => {
    const s = await TestSocket.open(`${wsUrl}?token=${token}`)
    t.teardown(() => { s.close() })
    await s.next('connection_ready')
    return s
  }
  const requester = await open()
  const watcher = await open()

  requester.send({ type: 'create_session', request_id: 'c1', data: VALID })
  const created = await nextMessages(requester, 2)
  t.same(created.map(brief), ['session_created#c1', 'session_updated'], 'the reply, then the push of the change it made')
  const id = created[0].data.session_id as string
  t.equal(created[1].data.session_id, id)
  t.equal((await watcher.next()).type, 'session_updated', 'another connection of the user gets the push')

  requester.send({ type: 'start_simulation', request_id: 's1', data: { session_id: id, flow_control: true } })
  const started = await nextMessages(requester, 2)
  t.same(started.map(brief), ['simulation_started#s1', 'session_updated'])
  t.equal(started[1].data.state, 'running')
  requester.send({ type: 'pause_simulation', request_id: 'p1', data: { session_id: id } })
  const paused = await nextMessages(requester, 2)
  t.same(paused.map(brief), ['simulation_paused#p1', 'session_updated'])
  t.equal(paused[1].data.state, 'paused')

  requester.send({ type: 'delete_session', request_id: 'd1', data: { session_id: id } })
  const deleted = await nextMessages(requester, 2)
  t.same(deleted.map(brief), ['session_deleted#d1', 'session_deleted'])
  t.same(deleted[1].data, { session_id: id, deleted: true })
}

t.test('in-process session events: the reply comes first', async (t) => {
  await replyOrderCases(t, {})
})

t.test('Redis session events: the reply comes first', async (t) => {
  if (!await requireRedis(t)) return
  await replyOrderCases(t, { REDIS_URL, REDIS_KEY_PREFIX: freshPrefix(t) })
})
