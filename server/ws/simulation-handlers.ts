// WebSocket simulation messages: start, tick_ack, orders, pause/resume, account, resume after a reconnect,
// and read-only watching. Thin adapters over SimulationService (the same calls as the REST routes).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { CancelOrderData, OrderBatchData, StartSimulationData, TickAckData } from '../../schemas/simulation.js'
import { ResumeSessionData, SessionRefData } from '../../schemas/simulation-control.js'
import type { EventSink } from '../simulation/runner.js'
import type { WsConnection } from './connection.js'

const sinks = new WeakMap<WsConnection, EventSink>()

/** The connection as a runner's event sink (one per connection, detached from every run when it closes). */
function sinkOf (app: FastifyInstance, conn: WsConnection): EventSink {
  let sink = sinks.get(conn)
  if (sink === undefined) {
    const s: EventSink = {
      id: conn.id,
      get open () { return conn.open },
      backlogBytes: () => conn.bufferedAmount,
      send: (frame) => { conn.sendRaw(frame) },
      cork: () => { conn.cork() },
      uncork: () => { conn.uncork() }
    }
    sink = s
    sinks.set(conn, s)
    conn.onClose(() => { app.simulation.detach(s) })
  }
  return sink
}

export default fp(async function simulationWsHandlers (app: FastifyInstance) {
  const { dispatcher } = app.ws
  const sim = app.simulation
  app.ws.supportedFeatures.push('simulation', 'resume', 'watch')

  dispatcher.register({
    type: 'start_simulation',
    schema: StartSimulationData,
    family: 'session',
    async handle (ctx, data) {
      const { session_id: id, ...options } = data
      await sim.start(ctx.conn.user, id, options, sinkOf(app, ctx.conn), ctx.requestId)
    }
  })

  dispatcher.register({
    type: 'tick_ack',
    schema: TickAckData,
    family: 'simulation',
    handle (ctx, data) {
      // Hot path (one per tick in lockstep): synchronous when the run is here; async only to explain a miss.
      const runner = sim.runnerIfAny(ctx.conn.user.user_id, data.session_id)
      if (runner !== undefined) { runner.ack(data.sequence_id, data.processing_status); return }
      return sim.runner(ctx.conn.user, data.session_id).then((r) => { r.ack(data.sequence_id, data.processing_status) })
    }
  })

  dispatcher.register({
    type: 'order_batch',
    schema: OrderBatchData,
    family: 'simulation',
    handle (ctx, data) {
      const runner = sim.runnerIfAny(ctx.conn.user.user_id, data.session_id)
      if (runner !== undefined) { runner.submitBatch(data, ctx.requestId); return }
      return sim.submitOrders(ctx.conn.user, data, ctx.requestId).then(() => undefined)
    }
  })

  dispatcher.register({
    type: 'cancel_order',
    schema: CancelOrderData,
    family: 'simulation',
    async handle (ctx, data) { await sim.cancelOrder(ctx.conn.user, data.session_id, data.order_id, ctx.requestId) }
  })

  dispatcher.register({
    type: 'pause_simulation',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) { await sim.pause(ctx.conn.user, data.session_id, ctx.requestId) }
  })

  dispatcher.register({
    type: 'resume_simulation',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) { await sim.resume(ctx.conn.user, data.session_id, ctx.requestId) }
  })

  dispatcher.register({
    type: 'query_account',
    schema: SessionRefData,
    family: 'simulation',
    async handle (ctx, data) { (await sim.runner(ctx.conn.user, data.session_id)).queryAccount(ctx.requestId) }
  })

  dispatcher.register({
    type: 'resume_session',
    schema: ResumeSessionData,
    family: 'session',
    async handle (ctx, data) {
      await sim.attach(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn), data.last_processed_sequence_id, (sync) => { ctx.reply('state_sync', sync) })
    }
  })

  dispatcher.register({
    type: 'subscribe_session',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) {
      const last = await sim.watch(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn))
      ctx.reply('subscription', { session_id: data.session_id, subscribed: true, last_sequence_id: last })
    }
  })

  dispatcher.register({
    type: 'unsubscribe_session',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) {
      await sim.unwatch(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn))
      const runner = await sim.runner(ctx.conn.user, data.session_id)
      ctx.reply('subscription', { session_id: data.session_id, subscribed: false, last_sequence_id: runner.log.lastSequenceId })
    }
  })
}, { name: 'ws-simulation-handlers', dependencies: ['ws-gateway', 'services'] })
