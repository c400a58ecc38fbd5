// Runs survive a restart, against a real server process over real sockets (issue 9): a lockstep run driven
// by the SDK's runStrategy is killed with SIGKILL at 3 seeded points (the server restarted each time on the
// same port and state folder; the SDK reconnects and sends resume_session), then once with SIGTERM; it
// ends with the results and events of the uninterrupted run. A tampered event store gives REPLAY_DIVERGED.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPglite } from '../../server/adapters/sql/pglite-client.js'
import { KEYS, TestSocket, tokenFor } from '../fixtures/app.js'
import { DURABLE_RUN, interruptedRuns, killPoints } from '../fixtures/durable-run.js'
import { startServer } from '../fixtures/server-process.js'

// Several child-process restarts and three full runs: longer than .taprc's per-file timeout on a loaded host.
t.setTimeout(600_000)

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('embedded mode: a lockstep run killed mid-way ends as the uninterrupted run does', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'st-durable-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const env = { SIMUTRADOR_STATE_DIR: dir }
  const current = await interruptedRuns(t, env, { kills: killPoints(9, 3), term: 150 })
  let server = current()
  const port = new URL(server.baseUrl).port

  await t.test('a tampered event store: resume answers REPLAY_DIVERGED and the session is error', async (t) => {
    const token = await tokenFor(server.baseUrl, KEYS.ent)
    const created = await (await fetch(`${server.baseUrl}/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(DURABLE_RUN) })).json() as { session_id: string }
    const id = created.session_id
    const ws = await TestSocket.open(`${server.wsUrl}?token=${token}`)
    await ws.next('connection_ready')
    await ws.request('start_simulation', { session_id: id })
    for (let step = 1; step <= 30; step++) {
      await ws.next('tick')
      ws.send({ type: 'tick_ack', data: { session_id: id, sequence_id: step, processing_status: 'ready' } })
    }
    await sleep(100)
    ws.close()
    await server.stop('SIGKILL')
    const db = await openPglite(join(dir, 'pgdata'))
    const changed = await db.query<{ seq: number }>(
      // Frames are stored one row per batch (migration 004): change the 10th frame of the run, in its batch.
      `UPDATE run_event_batches SET frames = (
         SELECT string_agg(CASE WHEN first_seq + o - 1 = 10 THEN replace(f, '"is_eod":', '"is_eod_x":') ELSE f END, E'\\n' ORDER BY o)
         FROM unnest(string_to_array(frames, E'\\n')) WITH ORDINALITY AS u (f, o))
       WHERE session_id = $1 AND first_seq <= 10 AND last_seq >= 10 RETURNING 10 AS seq`, [id])
    await db.close()
    t.equal(changed.length, 1, 'one stored frame changed')
    server = await startServer(t, { ...env, PORT: port })
    const ws2 = await TestSocket.open(`${server.wsUrl}?token=${token}`)
    t.teardown(() => { ws2.close() })
    await ws2.next('connection_ready')
    const reply = await ws2.request('resume_session', { session_id: id, last_processed_sequence_id: 0 })
    t.equal(reply.data.error_code, 'REPLAY_DIVERGED')
    const session = await (await fetch(`${server.baseUrl}/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } })).json() as { state: string, error_message: string }
    t.equal(session.state, 'error')
    t.match(session.error_message, /REPLAY_DIVERGED: .*event 10/)
  })
  await server.stop('SIGTERM')
})
