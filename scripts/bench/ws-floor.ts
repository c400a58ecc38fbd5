// The bare Fastify + `ws` floor of issue 13: a server that does nothing but answer a JSON `tick_ack` with a
// JSON `tick` (the same fields and about the same size as SimuTrador's tick frames with one bar), driven by the
// same lean client as the real runs (parse each tick, SMA 10/30 on its close, ack it). It is what lockstep and a
// window cost on this machine with no simulation, no validation and no bounds: e2e-ticks.ts measures it in the
// same run as the real server and prints each mode beside it. Not a benchmark on its own.
import Fastify, { type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import WebSocket from 'ws'
import { cpuSince, Sma, type CpuSpent } from './lib.js'

const SESSION_ID = 'sess_0123456789abcdef0123'
const SYMBOL = 'AAPL'
const DAY_MS = 86_400_000

export interface FloorServer { app: FastifyInstance, wsUrl: string }

/** Listens on 127.0.0.1: each connection sends `start {ticks, window}` and then acks what it receives. */
export async function startFloorServer (): Promise<FloorServer> {
  const app = Fastify({ logger: false })
  await app.register(websocket, { options: { closeTimeout: 1000 } as object })
  app.get('/ws', { websocket: true }, (socket) => {
    let total = 0
    let window = 1
    let sent = 0
    let acked = 0
    // A deterministic walk of prices with four decimals, like the demo's minute bars.
    let price = 130
    const sendTick = (): void => {
      sent++
      const t = Date.UTC(2023, 0, 3, 14, 30) + (sent - 1) * 60_000
      const open = price
      price = Math.round((price + Math.sin(sent * 0.37) * 0.05 + Math.cos(sent * 0.011) * 0.03) * 10_000) / 10_000
      const bar = {
        timestamp: new Date(t).toISOString(),
        session_date: new Date(t - (t % DAY_MS)).toISOString().slice(0, 10),
        open,
        high: Math.round((Math.max(open, price) + 0.0125) * 10_000) / 10_000,
        low: Math.round((Math.min(open, price) - 0.0125) * 10_000) / 10_000,
        close: price,
        volume: 10_000 + (sent * 7919) % 50_000
      }
      socket.send(JSON.stringify({
        type: 'tick',
        data: {
          session_id: SESSION_ID,
          sequence_id: sent,
          sim_time: new Date(t + 60_000).toISOString(),
          market_session: 'regular',
          symbols_trading: [SYMBOL],
          is_eod: false,
          bars: { [SYMBOL]: bar }
        },
        timestamp: new Date().toISOString(),
        sequence_id: sent + 1
      }))
    }
    const pump = (): void => {
      while (sent < total && sent - acked < window) sendTick()
      if (acked >= total) socket.send(JSON.stringify({ type: 'simulation_complete', data: { session_id: SESSION_ID }, timestamp: new Date().toISOString() }))
    }
    socket.on('message', (raw) => {
      const m = JSON.parse((raw as Buffer).toString('utf8')) as { type: string, data: { sequence_id?: number, ticks?: number, window?: number } }
      if (m.type === 'tick_ack') {
        acked = m.data.sequence_id ?? acked
        pump()
      } else if (m.type === 'start') {
        total = m.data.ticks ?? 0
        window = m.data.window ?? 1
        pump()
      }
    })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, wsUrl: `${base.replace(/^http/, 'ws')}/ws` }
}

export interface FloorResult { ticks: number, wallMs: number, clientCpu: CpuSpent, tickFrameBytes: number }

/** The client's half (child process): the same lean strategy as e2e-ticks' runs, acking every tick. */
export async function runFloorClient (args: { wsUrl: string, ticks: number, window: number }): Promise<FloorResult> {
  const ws = new WebSocket(args.wsUrl)
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const sma = new Sma()
  let ticks = 0
  let orders = 0
  let tickFrameBytes = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.on('message', (raw) => {
      const m = JSON.parse((raw as Buffer).toString()) as { type: string, data: { sequence_id: number, bars?: Record<string, { close: number }> } }
      if (m.type === 'simulation_complete') { resolve(); return }
      if (m.type !== 'tick') return
      ticks++
      if (ticks === 1000) tickFrameBytes = (raw as Buffer).length
      const bar = m.data.bars?.[SYMBOL]
      if (bar !== undefined) {
        const side = sma.onClose(bar.close)
        // Sent as the real strategy sends it; the bare server ignores it.
        if (side !== undefined) {
          orders++
          ws.send(JSON.stringify({ type: 'order_batch', request_id: `b${orders}`, data: { session_id: SESSION_ID, batch_id: `b${orders}`, orders: [{ order_id: `o${orders}`, symbol: SYMBOL, side, type: 'market', quantity: 100 }] } }))
        }
      }
      ws.send(JSON.stringify({ type: 'tick_ack', data: { session_id: SESSION_ID, sequence_id: m.data.sequence_id, processing_status: 'ready' } }))
    })
    ws.send(JSON.stringify({ type: 'start', data: { ticks: args.ticks, window: args.window } }))
  })
  const wallMs = performance.now() - t0
  const clientCpu = cpuSince(cpu0)
  ws.close()
  return { ticks, wallMs, clientCpu, tickFrameBytes }
}
