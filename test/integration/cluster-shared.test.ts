// Three real server processes on one PostgreSQL schema and one Redis prefix share what one instance used to
// keep to itself: session pushes reach the owner's WebSocket connections on every instance (and a delete on
// one stops the run living on another), plan limits hold exactly under concurrent creates spread over the
// instances, an idempotency key used on several instances at once creates one session, a plan's WebSocket
// connection count is global (and a killed instance's connections stop counting within WS_SLOT_TTL_MS), and
// the per-user REST rate limit is one allowance across instances. One user per scenario, so they do not
// interfere.
import t from 'tap'
import { KEYS, tokenFor, type TestSocket, type WsMessage } from '../fixtures/app.js'
import { startCluster } from '../fixtures/cluster.js'
import { requirePostgres } from '../fixtures/postgres.js'
import { requireRedis } from '../fixtures/redis.js'
import { upgrade } from '../fixtures/ws-upgrade.js'
import { WS_SLOT_TTL_MS } from '../../server/adapters/redis/ws-connection-slots.js'
import { call, type Answer } from '../fixtures/rest.js'

const CREATE = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d', initial_capital: '10000.00' }

async function open (url: string): Promise<TestSocket> {
  const out = await upgrade(url)
  if (out.socket === undefined) throw new Error(`upgrade refused: ${out.status} ${JSON.stringify(out.body)}`)
  return out.socket
}

const about = (type: string, id: string) => (m: WsMessage): boolean => m.type === type && m.data.session_id === id

if (await requirePostgres(t) && await requireRedis(t)) {
  const cluster = await startCluster(t, 3)
  const [a, b, c] = cluster.instances
  const ws = (s: typeof a, token: string): string => `${s.wsUrl}?token=${token}`

  t.test('pushes reach the owner\'s connections on every instance; a delete on B stops the run on A', async (t) => {
    const token = await tokenFor(a.baseUrl, KEYS.ent)
    const [sa, sb, sc] = await Promise.all([open(ws(a, token)), open(ws(b, token)), open(ws(c, token))])
    t.teardown(() => { for (const s of [sa, sb, sc]) s.close() })
    const all = [sa, sb, sc]

    const id = (await call(a.baseUrl, token, 'POST', '/sessions', CREATE)).json.session_id as string
    for (const s of all) t.equal((await s.next(about('session_updated', id))).data.state, 'ready', 'created on A, pushed everywhere')

    t.equal((await call(b.baseUrl, token, 'PATCH', `/sessions/${id}`, { metadata: { note: 'from b' } })).status, 200)
    for (const s of all) {
      const pushed = await s.next(about('session_updated', id))
      t.same(pushed.data.metadata, { note: 'from b' }, 'PATCH on B pushed to A, B and C')
    }

    // A run living on A, driven from A's socket.
    const run = (await call(a.baseUrl, token, 'POST', '/sessions', CREATE)).json.session_id as string
    for (const s of all) await s.next(about('session_updated', run))
    const started = await sa.request('start_simulation', { session_id: run })
    t.equal(started.type, 'simulation_started')
    await sa.next('tick')
    t.equal((await sa.request('query_account', { session_id: run })).type, 'account_snapshot', 'the run lives on A')
    t.equal((await call(b.baseUrl, token, 'DELETE', `/sessions/${run}`)).status, 204)
    for (const s of all) t.same((await s.next(about('session_deleted', run))).data, { session_id: run, deleted: true }, 'deleted on B, pushed everywhere')
    const after = await sa.request('query_account', { session_id: run })
    t.match(after.data, { error_code: 'SESSION_NOT_FOUND' }, 'A stopped and forgot the run when B deleted its session')

    t.equal((await call(a.baseUrl, token, 'DELETE', `/sessions/${id}`)).status, 204)
    t.same((await sc.next(about('session_deleted', id))).data, { session_id: id, deleted: true }, 'DELETE on A reaches C')
    await sa.next(about('session_deleted', id))
    await sb.next(about('session_deleted', id))

    // Once a later event has arrived everywhere, nothing about `id` or `run` may be left: each came once.
    const barrier = (await call(c.baseUrl, token, 'POST', '/sessions', CREATE)).json.session_id as string
    for (const s of all) await s.next(about('session_updated', barrier))
    for (const [name, s] of [['A', sa], ['B', sb], ['C', sc]] as const) {
      const extra = s.messages.filter((m) => (m.type === 'session_updated' || m.type === 'session_deleted') && (m.data.session_id === id || m.data.session_id === run) &&
        !(m.type === 'session_updated' && m.data.session_id === run))
      t.same(extra.map((m) => m.type), [], `${name} got each push once`)
    }
  })

  t.test('plan limits are exact under concurrent creates spread over three instances', async (t) => {
    const token = await tokenFor(a.baseUrl, KEYS.dev)
    const bases = [a.baseUrl, b.baseUrl, c.baseUrl]
    const burst = async (n: number): Promise<Answer[]> =>
      await Promise.all(Array.from({ length: n }, async (_, i) => await call(bases[i % 3], token, 'POST', '/sessions', CREATE)))
    const removeAll = async (answers: Answer[]): Promise<void> => {
      const gone = await Promise.all(answers.filter((r) => r.status === 201).map(async (r, i) => (await call(bases[i % 3], token, 'DELETE', `/sessions/${r.json.session_id as string}`)).status))
      t.ok(gone.every((s) => s === 204), 'deleted')
    }

    // professional: 10 active sessions at a time.
    const first = await burst(15)
    t.equal(first.filter((r) => r.status === 201).length, 10, '15 concurrent creates: exactly 10 succeed')
    const refused = first.filter((r) => r.status !== 201)
    t.same(refused.map((r) => [r.status, r.json.error_code, r.json.details.limit_name]), Array(5).fill([409, 'SESSION_LIMIT_EXCEEDED', 'concurrent_sessions']),
      'the other 5 are SESSION_LIMIT_EXCEEDED concurrent_sessions')
    t.equal((await call(c.baseUrl, token, 'GET', '/me')).json.usage.active_sessions, 10)
    await removeAll(first)

    // professional: 50 creations per rolling hour; deleting refunds nothing. Bring the log to 45 ...
    for (let created = 10; created < 45;) {
      const batch = await burst(Math.min(10, 45 - created))
      t.same(batch.map((r) => r.status), batch.map(() => 201), 'filler creates succeed')
      created += batch.length
      await removeAll(batch)
    }
    // ... then 10 at once: exactly 5 fit in the hour.
    const last = await burst(10)
    t.equal(last.filter((r) => r.status === 201).length, 5, '10 concurrent creates with 5 left in the hour: exactly 5 succeed')
    t.same(last.filter((r) => r.status !== 201).map((r) => [r.status, r.json.error_code, r.json.details.limit_name]), Array(5).fill([409, 'SESSION_LIMIT_EXCEEDED', 'sessions_per_hour']),
      'the other 5 are SESSION_LIMIT_EXCEEDED sessions_per_hour')
    t.equal((await call(a.baseUrl, token, 'GET', '/me')).json.usage.sessions_created_last_hour, 50)
  })

  t.test('one Idempotency-Key sent to three instances at once creates one session; the others replay it', async (t) => {
    const token = await tokenFor(b.baseUrl, KEYS.ent)
    const before = (await call(a.baseUrl, token, 'GET', '/me')).json.usage.sessions_created_last_hour as number
    const bases = [a.baseUrl, b.baseUrl, c.baseUrl]
    for (let round = 0; round < 4; round++) {
      const key = `cluster-idem-${round}-${Date.now()}`
      const body = { ...CREATE, metadata: { round } }
      const answers = await Promise.all(bases.map(async (base) => await call(base, token, 'POST', '/sessions', body, { 'idempotency-key': key })))
      t.same(answers.map((r) => r.status), [201, 201, 201], `round ${round}: all answered 201`)
      t.equal(new Set(answers.map((r) => r.json.session_id)).size, 1, `round ${round}: one session id`)
      t.same(answers.map((r) => r.headers.get('idempotent-replayed')).sort(), ['true', 'true', null].sort(), `round ${round}: one original, two replays`)
      t.same(answers[1].json, answers[0].json, `round ${round}: the replay is the original response`)
      const conflict = await call(bases[(round + 1) % 3], token, 'POST', '/sessions', { ...body, metadata: { round: 'other' } }, { 'idempotency-key': key })
      t.equal(conflict.json.error_code, 'IDEMPOTENCY_CONFLICT', `round ${round}: another body under the key conflicts on another instance`)
    }
    t.equal((await call(c.baseUrl, token, 'GET', '/me')).json.usage.sessions_created_last_hour - before, 4, 'four sessions created in all')
  })

  t.test('the REST rate limit is one allowance per user across instances', async (t) => {
    const token = await tokenFor(a.baseUrl, KEYS.bob)
    // free: 120 requests per minute, spent half on A and half on B (10 at a time), then C refuses.
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) {
      const base = i % 2 === 0 ? a.baseUrl : b.baseUrl
      statuses.push(...(await Promise.all(Array.from({ length: 10 }, async () => (await call(base, token, 'GET', '/me')).status))))
    }
    t.equal(statuses.filter((s) => s === 200).length, 120, '120 requests on A and B succeed')
    const third = await call(c.baseUrl, token, 'GET', '/me')
    t.equal(third.status, 429, 'C refuses the 121st')
    t.equal(third.json.error_code, 'RATE_LIMIT_EXCEEDED')
    t.equal(third.json.details.limit, 120)
    const other = await tokenFor(c.baseUrl, KEYS.alice)
    t.equal((await call(c.baseUrl, other, 'GET', '/me')).status, 200, 'another user is unaffected')
  })

  t.test('a plan\'s WebSocket connection count is global; a killed instance\'s connections stop counting', async (t) => {
    const token = await tokenFor(a.baseUrl, KEYS.alice)
    // free: one connection.
    const onA = await open(ws(a, token))
    const onB = await upgrade(ws(b, token))
    t.equal(onB.status, 429, 'refused on B while open on A')
    t.equal(onB.body?.error_code, 'CONNECTION_LIMIT_EXCEEDED')
    t.equal((await upgrade(ws(c, token))).body?.error_code, 'CONNECTION_LIMIT_EXCEEDED', 'and on C')
    t.equal((await call(c.baseUrl, token, 'GET', '/me')).json.usage.open_connections, 1, '/me on C counts the connection on A')

    onA.close()
    await onA.closed
    // The slot is given back when A sees the socket close; a few tries cover that hop, far less than the TTL.
    let heldOnB: TestSocket | undefined
    for (let i = 0; i < 30 && heldOnB === undefined; i++) {
      const out = await upgrade(ws(b, token))
      if (out.socket !== undefined) heldOnB = out.socket
      else await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.ok(heldOnB !== undefined, 'after closing on A, B accepts')

    // kill -9 of the instance holding it: its slot lapses within WS_SLOT_TTL_MS, then another instance accepts.
    await b.stop('SIGKILL')
    const killedAt = Date.now()
    let accepted: TestSocket | undefined
    const meanwhile = new Set<string>()
    while (accepted === undefined && Date.now() - killedAt < WS_SLOT_TTL_MS + 30_000) {
      const out = await upgrade(ws(c, token))
      if (out.socket !== undefined) accepted = out.socket
      else {
        meanwhile.add(String(out.body?.error_code))
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
    t.ok(accepted !== undefined, 'C accepts once the dead instance\'s connection lapsed')
    t.ok([...meanwhile].every((code) => code === 'CONNECTION_LIMIT_EXCEEDED'), `meanwhile refused only for the limit (${[...meanwhile].join(', ')})`)
    t.comment(`accepted ${Date.now() - killedAt} ms after kill -9 (bound: WS_SLOT_TTL_MS = ${WS_SLOT_TTL_MS} ms)`)
    accepted?.close()
    t.equal(a.child.exitCode, null, 'A is still running')
    t.equal(c.child.exitCode, null, 'C is still running')
  })
}
