// A dashboard-style script on the generated typed REST client (generated-client/, openapi-fetch): list your
// sessions, then read the results of the finished ones. Paths, parameters and bodies are typed from
// openapi.yaml, and the client exchanges the API key for a token (and renews it) by itself.
// Run: SIMUTRADOR_API_KEY=sk_dev_… npx tsx examples/dashboard-script.ts
import { createSimutradorClient, type Schemas } from '../generated-client/index.js'

const api = createSimutradorClient({
  baseUrl: process.env.SIMUTRADOR_URL ?? 'http://127.0.0.1:8003',
  apiKey: process.env.SIMUTRADOR_API_KEY
})

// Every session, newest first, page by page.
const sessions: Array<Schemas['Session']> = []
let cursor: string | undefined
do {
  const { data, error } = await api.GET('/sessions', { params: { query: { limit: 100, ...(cursor !== undefined ? { cursor } : {}) } } })
  if (error !== undefined) throw new Error(`${error.error_code}: ${error.message}`)
  sessions.push(...data.sessions)
  cursor = data.next_cursor ?? undefined
} while (cursor !== undefined)
console.log(`${sessions.length} sessions`)

for (const s of sessions) {
  const line = `${s.session_id}  ${s.state.padEnd(9)}  ${s.symbols.join(',')}  ${s.start_date}..${s.end_date}`
  if (s.state !== 'completed') { console.log(line); continue }
  const { data: results, error } = await api.GET('/sessions/{id}/results', { params: { path: { id: s.session_id } } })
  if (error !== undefined) throw new Error(`${error.error_code}: ${error.message}`)
  const m = results.metrics
  console.log(`${line}  equity ${m.final_equity}  return ${m.total_return_pct}%  trades ${m.total_trades}  sharpe ${m.sharpe_ratio ?? 'n/a'}`)
}
