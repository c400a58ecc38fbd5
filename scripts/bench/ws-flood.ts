// WebSocket fairness under a flood (issue 8 item 3c): the real app listening on 127.0.0.1 in this process,
// one connection in a child process flooding messages as fast as its socket takes them (reconnecting when the
// server closes it, so the flood lasts), and a bystander (another user) in a second child process pinging every
// 10 ms, open loop. Prints the bystander's ping round trip idle and during the flood (p50/p99/max), and what the
// flooder got: messages/s handled, refused (RATE_LIMIT_EXCEEDED), closes. Figures only; nothing asserts timing.
// Uses only buildApp/loadConfig (through lib.ts) and ws, so it also runs against servers without WS bounds.
//
// Run:      npx tsx scripts/bench/ws-flood.ts
// Options:  --seconds=5   flood duration
//           --kind=all|invalid|ping|create_session|list_sessions|get_session|delete_session|order_batch|
//                  start_simulation|resume_session|query_account
//                  invalid: create_session with an invalid body (parsed, validated, answered session_error);
//                  ping: the cheapest message; create_session: a valid one (created until the plan's limits, then
//                  refused); the others on sessions made for the flooder (a running one, ready ones, an
//                  unstarted one for refused order batches); all: each kind in turn (default)
//           --plan=enterprise|professional|free   the flooder's plan (its message bucket); default enterprise
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { int, isWorker, latencyLine, listenApp, machineLine, percentiles, serveWorker, sleep, tokenFor, WorkerProcess, type BenchUser } from './lib.js'

const KINDS = ['ping', 'invalid', 'create_session', 'list_sessions', 'get_session', 'delete_session', 'order_batch', 'start_simulation', 'resume_session', 'query_account'] as const
type Kind = typeof KINDS[number]

/** The flooder's sessions: one running (lockstep, waiting for an ack), some ready, one never started. */
interface FloodSessions { running: string, ready: string[], idle: string }
interface FloodArgs { wsUrl: string, token: string, durationMs: number, kind: Kind, sessions: FloodSessions }

const SMALL = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1d' }

function floodMessage (kind: Kind, i: number, s: FloodSessions): string {
  const request = (type: string, data: unknown): string => JSON.stringify({ type, request_id: `f${i}`, data })
  switch (kind) {
    case 'ping': return request('ping', {})
    case 'invalid': return request('create_session', { symbols: 42, start_date: 'not-a-date' })
    case 'create_session': return request('create_session', SMALL)
    case 'list_sessions': return request('list_sessions', { limit: 100 })
    case 'get_session': return request('get_session', { session_id: s.running })
    case 'delete_session': return request('delete_session', { session_id: 'sess_doesnotexist0000' })
    case 'order_batch': return request('order_batch', { session_id: s.idle, batch_id: `b${i}`, orders: [{ order_id: `o${i}`, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }] })
    case 'start_simulation': return request('start_simulation', { session_id: s.ready[i % s.ready.length] })
    case 'resume_session': return request('resume_session', { session_id: s.running, last_processed_sequence_id: 0 })
    case 'query_account': return request('query_account', { session_id: s.running })
  }
}
interface FloodResult {
  sent: number
  /** Answers that are not refusals (pong, or session_error VALIDATION_FAILED). */
  handled: number
  refused: number
  retryAfterMs: number[]
  closes: Record<string, number>
  connections: number
  elapsedMs: number
}

interface PingArgs { wsUrl: string, token: string, durationMs: number, intervalMs: number }
interface PingResult { rttMs: number[], unanswered: number, errors: number }

// ── client roles (child processes) ───────────────────────────────────────────────────────────────────

async function openWs (url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.on('message', function ready (raw) {
      if ((JSON.parse(raw.toString()) as { type: string }).type !== 'connection_ready') return
      ws.off('message', ready)
      resolve()
    })
  })
  return ws
}

/** Resolves on the socket's 'drain' or after `maxMs` (so a closed socket ends the wait too); never rejects. */
async function drainOf (socket: Socket, maxMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); socket.off('drain', done); resolve() }
    const timer = setTimeout(done, maxMs)
    socket.on('drain', done)
  })
}

async function flood (args: FloodArgs): Promise<FloodResult> {
  const out: FloodResult = { sent: 0, handled: 0, refused: 0, retryAfterMs: [], closes: {}, connections: 0, elapsedMs: 0 }
  const t0 = performance.now()
  const end = t0 + args.durationMs
  const message = (i: number): string => floodMessage(args.kind, i, args.sessions)
  while (performance.now() < end) {
    let ws: WebSocket
    try {
      ws = await openWs(args.wsUrl)
    } catch {
      await sleep(50) // the previous connection may not be released yet (plan connection limit)
      continue
    }
    out.connections++
    let open = true
    const closed = new Promise<void>((resolve) => {
      ws.on('close', (code) => { open = false; out.closes[code] = (out.closes[code] ?? 0) + 1; resolve() })
    })
    ws.on('error', () => {})
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string, data: { error_code?: string, retry_after_ms?: number } }
      if (m.data?.error_code === 'RATE_LIMIT_EXCEEDED') {
        out.refused++
        if (typeof m.data.retry_after_ms === 'number' && out.retryAfterMs.length < 10_000) out.retryAfterMs.push(m.data.retry_after_ms)
      } else if (typeof (m as { request_id?: unknown }).request_id === 'string') {
        out.handled++
      }
    })
    // The TCP socket under ws: its 'drain' says the server took the backlog.
    const tcp = (ws as unknown as { _socket: Socket })._socket
    while (open && performance.now() < end) {
      // As fast as the socket takes it, without buffering unboundedly in this process. While the server is
      // not reading (its in-flight cap paused the socket), wait for 'drain' instead of spinning: a spinning
      // flooder takes a whole core from the server on this shared machine, and the bystander's tail then
      // measures CPU starvation (runqueue wait) rather than the server. A flooder on another host costs the
      // server nothing while it waits.
      if (ws.bufferedAmount < 512 * 1024) {
        for (let i = 0; i < 100; i++) ws.send(message(out.sent++))
        await new Promise((resolve) => setImmediate(resolve))
      } else {
        await drainOf(tcp, 50)
      }
    }
    if (open) ws.close()
    await Promise.race([closed, sleep(2000)])
  }
  out.elapsedMs = performance.now() - t0
  return out
}

async function pingLoop (args: PingArgs): Promise<PingResult> {
  const ws = await openWs(args.wsUrl)
  const sentAt = new Map<string, number>()
  const out: PingResult = { rttMs: [], unanswered: 0, errors: 0 }
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString()) as { type: string, request_id?: string }
    if (m.request_id === undefined) return
    const t = sentAt.get(m.request_id)
    if (t === undefined) return
    sentAt.delete(m.request_id)
    if (m.type === 'pong') out.rttMs.push(performance.now() - t)
    else out.errors++
  })
  const end = performance.now() + args.durationMs
  let i = 0
  // Open loop: a ping every intervalMs whatever the answers do, so queueing shows in the round trip.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() >= end) { clearInterval(timer); resolve(); return }
      const id = `b${i++}`
      sentAt.set(id, performance.now())
      ws.send(JSON.stringify({ type: 'ping', request_id: id, data: {} }))
    }, args.intervalMs)
  })
  // Late answers still count (that is the latency being measured), up to a bound.
  const drainUntil = performance.now() + 10_000
  while (sentAt.size > 0 && performance.now() < drainUntil) await sleep(10)
  out.unanswered = sentAt.size
  ws.close()
  return out
}

// ── the server (this process) ────────────────────────────────────────────────────────────────────────

function arg (name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}

/** The flooder's sessions, made over REST: `ready` ones to start, a running one (lockstep, at its first tick), an idle one. */
async function floodSessions (baseUrl: string, token: string): Promise<FloodSessions> {
  const post = async (path: string, body?: unknown): Promise<{ session_id: string }> => {
    const res = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) })
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
    return await res.json() as { session_id: string }
  }
  const ids: string[] = []
  for (let i = 0; i < 6; i++) ids.push((await post('/sessions', SMALL)).session_id)
  const [running, idle, ...ready] = ids
  await post(`/sessions/${running}/start`, { flow_control: true })
  return { running, idle, ready }
}

async function main (): Promise<void> {
  const seconds = Number(arg('seconds', '5'))
  const kindArg = arg('kind', 'all')
  const plan = arg('plan', 'enterprise')
  const kinds: Kind[] = kindArg === 'all' ? [...KINDS] : [kindArg as Kind]
  if (!kinds.every((k) => (KINDS as readonly string[]).includes(k)) || !['free', 'professional', 'enterprise'].includes(plan) || !(seconds > 0)) {
    throw new Error(`usage: ws-flood.ts [--seconds=5] [--kind=all|${KINDS.join('|')}] [--plan=enterprise|professional|free]`)
  }
  // BenchUser says enterprise; the config reads the plan from the key list, so a cast is enough here.
  const users = [
    { key: 'bench_key_flooder_0123456789', user_id: 'flooder', plan },
    { key: 'bench_key_bystander_0123456789', user_id: 'bystander', plan: 'enterprise' }
  ] as unknown as BenchUser[]
  console.log(machineLine())
  console.log(`server in pid ${process.pid}; flooder (${plan}) and bystander (ping every 10 ms) in two child processes; ${seconds} s per kind`)
  const { app, baseUrl, wsUrl } = await listenApp(users)
  const flooder = new WorkerProcess(fileURLToPath(import.meta.url))
  const bystander = new WorkerProcess(fileURLToPath(import.meta.url))
  const summary: string[] = []
  try {
    const floodToken = await tokenFor(baseUrl, users[0].key)
    const byToken = await tokenFor(baseUrl, users[1].key)
    const byUrl = `${wsUrl}?token=${byToken}`
    const floodUrl = `${wsUrl}?token=${floodToken}`
    const sessions = await floodSessions(baseUrl, floodToken)
    // Warm-up (JIT on every side), not reported.
    await Promise.all([
      flooder.call('flood', { wsUrl: floodUrl, token: floodToken, durationMs: 500, kind: 'invalid', sessions } satisfies FloodArgs),
      bystander.call('ping', { wsUrl: byUrl, token: byToken, durationMs: 500, intervalMs: 10 } satisfies PingArgs)
    ])
    await sleep(500)
    const idle = await bystander.call<PingResult>('ping', { wsUrl: byUrl, token: byToken, durationMs: 2000, intervalMs: 10 } satisfies PingArgs)
    console.log(latencyLine('bystander ping, idle', idle.rttMs))
    for (const kind of kinds) {
      // The user's bucket refills between kinds (its burst at its rate takes 2 s).
      await sleep(2500)
      const cpu0 = process.cpuUsage()
      const flooding = flooder.call<FloodResult>('flood', { wsUrl: floodUrl, token: floodToken, durationMs: seconds * 1000, kind, sessions } satisfies FloodArgs, seconds * 1000 + 60_000)
      await sleep(200)
      const during = await bystander.call<PingResult>('ping', { wsUrl: byUrl, token: byToken, durationMs: seconds * 1000 - 400, intervalMs: 10 } satisfies PingArgs, seconds * 1000 + 30_000)
      const f = await flooding
      const cpu = process.cpuUsage(cpu0)
      console.log(`\n${kind}:`)
      console.log(latencyLine('bystander ping, during the flood', during.rttMs))
      console.log(`  bystander: ${int(during.rttMs.length)} answered, ${during.unanswered} unanswered after 10 s, ${during.errors} errors`)
      const perS = (n: number): string => `${int(n / (f.elapsedMs / 1000))}/s`
      const retry = f.retryAfterMs.length > 0 ? `, retry_after_ms ${Math.min(...f.retryAfterMs)}..${Math.max(...f.retryAfterMs)}` : ''
      console.log(`  flooder: sent ${int(f.sent)} (${perS(f.sent)}), handled ${int(f.handled)} (${perS(f.handled)}), refused ${int(f.refused)} (${perS(f.refused)})${retry}`)
      console.log(`  flooder: ${f.connections} connection(s), closes by code ${JSON.stringify(f.closes)}; server CPU ${int((cpu.user + cpu.system) / 1000)} ms over ${int(f.elapsedMs)} ms`)
      const st = percentiles(during.rttMs)
      summary.push(`| ${kind} | ${st.p50.toFixed(2)} ms | ${st.p99.toFixed(1)} ms | ${st.max.toFixed(1)} ms | ${during.unanswered} | ${perS(f.handled)} handled, ${perS(f.refused)} refused, 1008 × ${f.closes[1008] ?? 0} | ${int((cpu.user + cpu.system) / 1000)} ms |`)
    }
    console.log(`\n| flood (${plan}, ${seconds} s) | bystander p50 | p99 | max | unanswered | flooder | server CPU |`)
    console.log('|---|---|---|---|---|---|---|')
    for (const line of summary) console.log(line)
  } finally {
    await flooder.close()
    await bystander.close()
    await app.close()
  }
}

if (isWorker()) {
  serveWorker({
    flood: async (args) => await flood(args as FloodArgs),
    ping: async (args) => await pingLoop(args as PingArgs)
  })
} else {
  await main()
}
