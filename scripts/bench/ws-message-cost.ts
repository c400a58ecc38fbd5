// Server CPU per WebSocket message, by type (issue 24 item 3): the numbers the per-type bucket costs
// (server/ws/message-costs.ts) are chosen from. The real app listens in this process; one client in a child
// process sends each kind of message as a flood does, `--window` (64) in flight, so this process's CPU over a
// kind, divided by its count, is what the server spends on one message of it: frame, parse, validate, handle,
// store, reply (`--window=1`: one at a time, each paying its own read and write). Also printed: the longest the event loop was blocked meanwhile (the worst synchronous
// chunk one such message costs, which a bystander waits behind), and the cost in tokens the server charges now.
// A refusal (RATE_LIMIT_EXCEEDED) is waited out (retry_after_ms) and sent again, so every message is handled.
//
// Run:      npx tsx scripts/bench/ws-message-cost.ts [--storage=memory|pglite] [--window=64]
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { messageCost } from '../../server/ws/message-costs.js'
import { int, isWorker, listenApp, machineLine, serveWorker, tokenFor, WorkerProcess, type BenchUser } from './lib.js'

interface SendArgs { wsUrl: string, messages: string[], window: number }
interface SendResult { replies: Record<string, number>, retries: number }

// ── the client (child process) ───────────────────────────────────────────────────────────────────────

let socket: WebSocket | undefined
let onReply: ((m: { type: string, request_id?: string, data: { error_code?: string, retry_after_ms?: number } }) => void) | undefined

async function connect (wsUrl: string): Promise<WebSocket> {
  if (socket !== undefined && socket.readyState === WebSocket.OPEN) return socket
  const ws = new WebSocket(wsUrl)
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string, request_id?: string, data: { error_code?: string } }
      if (m.type === 'connection_ready') resolve()
      else if (m.request_id !== undefined) onReply?.(m)
    })
  })
  socket = ws
  return ws
}

/**
 * Every message, up to `window` in flight (as a flood sends them), each answered before the run ends. A refused one
 * (RATE_LIMIT_EXCEEDED) is sent again once its retry_after_ms has passed, and the window halves (growing back by
 * one per answer), so a type that costs many tokens is sent at the bucket's pace instead of being refused until
 * the connection is closed for abuse.
 */
async function sendAll (args: SendArgs): Promise<SendResult> {
  const ws = await connect(args.wsUrl)
  const out: SendResult = { replies: {}, retries: 0 }
  const byId = new Map(args.messages.map((text) => [(JSON.parse(text) as { request_id: string }).request_id, text]))
  const done = new Set<string>()
  const again: string[] = []
  let next = 0
  let inFlight = 0
  let window = args.window
  let pausedUntil = 0
  let timer: NodeJS.Timeout | undefined
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      const wait = pausedUntil - performance.now()
      if (wait > 0) { if (timer === undefined) timer = setTimeout(() => { timer = undefined; pump() }, wait); return }
      while (inFlight < window && (again.length > 0 || next < args.messages.length)) {
        ws.send(again.shift() ?? args.messages[next++])
        inFlight++
      }
    }
    onReply = (m) => {
      const text = m.request_id === undefined ? undefined : byId.get(m.request_id)
      // The first frame with the request's id is its reply (an accepted batch's order events carry it too).
      if (text === undefined || (m.request_id !== undefined && done.has(m.request_id))) return
      inFlight--
      if (m.data?.error_code === 'RATE_LIMIT_EXCEEDED') {
        out.retries++
        again.push(text)
        window = Math.max(1, Math.floor(window / 2))
        pausedUntil = Math.max(pausedUntil, performance.now() + (m.data.retry_after_ms ?? 5))
        pump()
        return
      }
      const key = m.data?.error_code !== undefined ? `${m.type}:${m.data.error_code}` : m.type
      out.replies[key] = (out.replies[key] ?? 0) + 1
      done.add(m.request_id as string)
      if (done.size === args.messages.length) { resolve(); return }
      window = Math.min(args.window, window + 1)
      pump()
    }
    pump()
  })
  return out
}

// ── the server (this process) ────────────────────────────────────────────────────────────────────────

const SMALL = { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-03-31', timeframe: '1d' }
/** A year of crypto minutes: 525,600 ticks to estimate (the bar-events cap allows it on enterprise). */
const HEAVY = { symbols: ['BTC/USD'], start_date: '2023-01-01', end_date: '2023-12-31', timeframe: '1m' }

function arg (name: string, fallback: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}

async function main (): Promise<void> {
  const storageKind = arg('storage', 'memory')
  const window = Number(arg('window', '64'))
  const dir = storageKind === 'pglite' ? await mkdtemp(join(tmpdir(), 'st-ws-cost-')) : undefined
  const users = [{ key: 'bench_key_costs_0123456789', user_id: 'costs', plan: 'enterprise' }] as BenchUser[]
  console.log(machineLine())
  console.log(`server in pid ${process.pid} (storage ${storageKind}); one enterprise client in a child process, ${window} messages in flight`)
  const { app, baseUrl, wsUrl } = await listenApp(users, dir !== undefined ? { SIMUTRADOR_STATE_DIR: dir } : {})
  const client = new WorkerProcess(fileURLToPath(import.meta.url))
  const token = await tokenFor(baseUrl, users[0].key)
  const url = `${wsUrl}?token=${token}`
  let seq = 0
  const msg = (type: string, data: unknown): string => JSON.stringify({ type, request_id: `m${seq++}`, data })
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await res.text()
    return text.length > 0 ? JSON.parse(text) : undefined
  }
  const rows: string[] = []
  const measure = async (label: string, type: string, messages: string[]): Promise<void> => {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const r = await client.call<SendResult>('send', { wsUrl: url, messages, window } satisfies SendArgs, 600_000)
    const wall = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    delay.disable()
    const perUs = (cpu.user + cpu.system) / messages.length
    const replies = Object.entries(r.replies).map(([k, v]) => `${k}×${v}`).join(', ')
    rows.push(`| ${label} | ${int(messages.length)} | ${perUs.toFixed(0)} µs | ${(delay.max / 1e6).toFixed(1)} ms | ${(wall / messages.length).toFixed(2)} ms | ${messageCost(type)} | ${replies}${r.retries > 0 ? `; ${r.retries} waited out` : ''} |`)
  }
  const times = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i))
  try {
    await client.call('send', { wsUrl: url, messages: times(2000, () => msg('ping', {})), window } satisfies SendArgs) // warm-up
    await measure('ping', 'ping', times(8000, () => msg('ping', {})))
    await measure('tick_ack (no run)', 'tick_ack', times(1000, () => msg('tick_ack', { session_id: 'sess_none', sequence_id: 1, processing_status: 'ready' })))
    await measure('create_session, invalid body', 'create_session', times(1000, () => msg('create_session', { symbols: 42, start_date: 'x' })))
    await measure('create_session, AAPL 1d 3 months', 'create_session', times(80, () => msg('create_session', SMALL)))
    await measure('create_session, BTC/USD 1m a year', 'create_session', times(15, () => msg('create_session', HEAVY)))
    await measure('create_session refused (100 active)', 'create_session', times(300, () => msg('create_session', SMALL)))
    const list = await api('GET', '/sessions?limit=100') as { sessions: Array<{ session_id: string, symbols: string[] }> }
    const ids = list.sessions.filter((s) => s.symbols[0] === 'AAPL').map((s) => s.session_id)
    await measure('list_sessions (100)', 'list_sessions', times(300, () => msg('list_sessions', { limit: 100 })))
    await measure('get_session', 'get_session', times(1000, (i) => msg('get_session', { session_id: ids[i % ids.length] })))
    const starts = ids.slice(0, 20)
    await measure('start_simulation (lockstep, AAPL 1d)', 'start_simulation', starts.map((id) => msg('start_simulation', { session_id: id })))
    const running = starts[0]
    await measure('query_account', 'query_account', times(1000, () => msg('query_account', { session_id: running })))
    await measure('order_batch, 1 limit order (accepted)', 'order_batch', times(300, (i) => msg('order_batch', { session_id: running, batch_id: `b${i}`, orders: [{ order_id: `o${i}`, symbol: 'AAPL', side: 'buy', type: 'limit', price: '1.00', quantity: 1, time_in_force: 'gtc' }] })))
    await measure('order_batch, run not started (refused)', 'order_batch', times(1000, (i) => msg('order_batch', { session_id: ids[30], batch_id: `x${i}`, orders: [{ order_id: `x${i}`, symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }] })))
    await measure('cancel_order', 'cancel_order', times(300, (i) => msg('cancel_order', { session_id: running, order_id: `o${i}` })))
    await measure('resume_session (take over a run)', 'resume_session', times(300, () => msg('resume_session', { session_id: running, last_processed_sequence_id: 0 })))
    await measure('subscribe_session', 'subscribe_session', times(500, (i) => msg('subscribe_session', { session_id: starts[1 + (i % 19)] })))
    await measure('pause_simulation / resume_simulation', 'pause_simulation', times(300, (i) => msg(i % 2 === 0 ? 'pause_simulation' : 'resume_simulation', { session_id: running })))
    await measure('delete_session', 'delete_session', ids.slice(20).map((id) => msg('delete_session', { session_id: id })))
    console.log('\n| message | count | server CPU per message | longest event-loop block | round trip | cost now (tokens) | replies |')
    console.log('|---|---|---|---|---|---|---|')
    for (const r of rows) console.log(r)
  } finally {
    await client.close()
    await app.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

if (isWorker()) {
  serveWorker({ send: async (args) => await sendAll(args as SendArgs) })
} else {
  await main()
}
