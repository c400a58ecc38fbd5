// Quickstart: the session workflow from TypeScript with the SessionClient SDK (docs/session-management-workflow.md).
// Run: SIMUTRADOR_API_KEY=sk_dev_… npx tsx examples/quickstart.ts
import { SessionClient, SessionError } from '../client/session-client.js'

const client = new SessionClient({ url: process.env.SIMUTRADOR_URL ?? 'http://127.0.0.1:8003', apiKey: process.env.SIMUTRADOR_API_KEY })
const ready = await client.connect()
console.log(`connected as ${ready.user_id} (plan ${ready.plan}, ${ready.limits.concurrent_sessions} concurrent sessions)`)
try {
  const session = await client.createSession({ symbols: ['AAPL', 'MSFT'], start_date: '2023-01-03', end_date: '2023-06-30', initial_capital: 100000 })
  console.log(`created ${session.session_id}: ${session.state}, ${session.estimated_ticks} ticks`)
  const status = await client.getSessionStatus(session.session_id)
  console.log(`status: ${status.state}, progress ${status.progress}`)
  console.log('my sessions:', (await client.listSessions()).map((s) => s.session_id))
  await client.deleteSession(session.session_id)
  console.log(`deleted; sessions in the local cache: ${client.sessions.size}`)
  await client.createSession({ symbols: ['AAPX'], start_date: '2023-01-03', end_date: '2023-06-30' })
} catch (err) {
  if (!(err instanceof SessionError)) throw err
  console.log(`${err.error_code}: ${err.message}; suggestions: ${JSON.stringify(err.details.suggestions)}`)
} finally {
  await client.close()
}
