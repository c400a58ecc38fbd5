// Listing more sessions than one page holds (100), over a real server: the SDK's listSessions and the CLI's
// `session list` follow next_cursor to the end, so no session is silently left out.
import t from 'tap'
import { SessionClient } from '../../client/session-client.js'
import { runStrategy } from '../../client/strategy-runner.js'
import { listen, KEYS } from '../fixtures/app.js'
import { cliWithKey, json } from '../fixtures/cli.js'

const BODY = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-10' }

t.test('105 sessions: every one is listed by the SDK and by the CLI', async (t) => {
  const { baseUrl } = await listen(t)
  const client = new SessionClient({ url: baseUrl, apiKey: KEYS.ent })
  t.teardown(() => client.close())
  await client.connect()
  // The enterprise plan holds 100 active sessions; finished ones do not count, so finish five first.
  for (let i = 0; i < 5; i++) await runStrategy(client, { onTick: () => [] }, { session: BODY })
  const ids = new Set<string>()
  for (let i = 0; i < 100; i++) ids.add((await client.createSession(BODY)).session_id)
  t.equal(ids.size, 100)

  const page = await client.listSessionsPage({ limit: 100 })
  t.equal(page.sessions.length, 100, 'one page holds 100')
  t.type(page.next_cursor, 'string', 'and points to the next')

  const all = await client.listSessions()
  t.equal(all.length, 105, 'listSessions follows the cursor')
  t.equal(new Set(all.map((s) => s.session_id)).size, 105, 'no session twice')
  t.equal(all.filter((s) => s.state === 'completed').length, 5)
  t.equal(client.sessions.size, 105, 'the cache holds them all')
  t.equal((await client.listSessions({ state: 'ready' })).length, 100)

  const { cli } = await cliWithKey(t, baseUrl, KEYS.ent)
  const listed = json<Array<{ session_id: string }>>(await cli(['session', 'list', '--json']))
  t.equal(listed.length, 105, 'the CLI lists every page too')
  t.same(listed.map((s) => s.session_id), all.map((s) => s.session_id), 'in the same order, newest first')
})
