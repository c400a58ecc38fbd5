// WebSocket simulation messages: start, tick_ack, orders, pause/resume, account, resume after a reconnect,
// read-only watching and a strategy's error. Thin adapters over SimulationService (the same calls as the
// REST routes): a reply goes to the connection that asked (ctx.reply); run events go to the run's stream.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { CancelOrderData, OrderBatchData, ReplaceOrderData, StartSimulationData, TickAckData, type BatchAck } from '../../schemas/simulation.js'
import { ResumeSessionData, SessionRefData, StrategyErrorData } from '../../schemas/simulation-control.js'
import type { EventSink } from '../simulation/simulation-service.js'
import type { WsConnection } from './connection.js'
import type { WsHandlerContext } from './dispatcher.js'
import { messageCost } from './message-costs.js'

const sinks = new WeakMap<WsConnection, EventSink>()

/** The connection as a run's event sink (one per connection, detached from every run when it closes). */
function sinkOf (app: FastifyInstance, conn: WsConnection): EventSink {
  let sink = sinks.get(conn)
  if (sink === undefined) {
    const s: EventSink = {
      id: conn.id,
      get open () { return conn.open },
      backlogBytes: () => conn.bufferedAmount,
      send: (frame) => { conn.sendRaw(frame) },
      cork: () => { conn.cork() },
      uncork: () => { conn.uncork() },
      close: (code, reason) => { conn.close(code, reason) }
    }
    sink = s
    sinks.set(conn, s)
    conn.onClose(() => { app.simulation.detach(s) })
  }
  return sink
}

/**
 * Lockstep traffic (a tick_ack that moved the run, an accepted order_batch) gives its tokens back to the
 * user's bucket, so a strategy at full speed is never rate-limited.
 */
function refund (ctx: WsHandlerContext): void { ctx.refund() }

/** A tick_ack of the connection's own run that did not move it (a repeat, `processing`): 1 token net, as a ping. */
function refundAllButOne (ctx: WsHandlerContext): void { ctx.refund(messageCost('tick_ack') - 1) }

function replyBatchAck (ctx: WsHandlerContext, ack: BatchAck): void {
  refund(ctx)
  ctx.reply('batch_ack', ack)
}

export default fp(async function simulationWsHandlers (app: FastifyInstance) {
  const { dispatcher } = app.ws
  const sim = app.simulation
  app.ws.supportedFeatures.push('simulation', 'resume', 'watch', 'strategy_error')

  dispatcher.register({
    type: 'start_simulation',
    schema: StartSimulationData,
    family: 'session',
    async handle (ctx, data) {
      // The requester drives the run: simulation_started (with its request_id) is the first event it hears.
      const { session_id: id, ...options } = data
      await sim.start(ctx.conn.user, id, options, sinkOf(app, ctx.conn), ctx.requestId)
    }
  })

  dispatcher.register({
    type: 'tick_ack',
    schema: TickAckData,
    family: 'simulation',
    handle (ctx, data) {
      // Hot path (one per tick in lockstep): synchronous when the run is here; a promise only to explain a miss.
      const moved = sim.ack(ctx.conn.user, data.session_id, ctx.conn.id, data.sequence_id, data.processing_status)
      if (moved === true) refund(ctx)
      else if (moved === false) refundAllButOne(ctx)
      else return moved
    }
  })

  dispatcher.register({
    type: 'order_batch',
    schema: OrderBatchData,
    family: 'simulation',
    handle (ctx, data) {
      // The ack is the reply, sent before the order events it caused reach the run's stream. (Bound rather
      // than an arrow: tsx's keep-names helper renames every arrow made per message.)
      const reply = replyBatchAck.bind(undefined, ctx)
      if (sim.submitOrdersNow(ctx.conn.user, data, ctx.requestId, reply) !== undefined) return
      return sim.submitOrders(ctx.conn.user, data, ctx.requestId, reply).then(() => undefined)
    }
  })

  dispatcher.register({
    type: 'cancel_order',
    schema: CancelOrderData,
    family: 'simulation',
    async handle (ctx, data) {
      const update = await sim.cancelOrder(ctx.conn.user, data.session_id, data.order_id, ctx.requestId)
      // The order_update is a run event; a requester off the run's stream gets it as its reply.
      if (!sim.streamsTo(ctx.conn.user, data.session_id, ctx.conn.id)) ctx.reply('order_update', update)
    }
  })

  dispatcher.register({
    type: 'replace_order',
    schema: ReplaceOrderData,
    family: 'simulation',
    async handle (ctx, data) {
      const { session_id: sessionId, order_id: orderId, ...changes } = data
      const update = await sim.replaceOrder(ctx.conn.user, sessionId, orderId, changes, ctx.requestId)
      // Both order_updates (old: replaced, new: accepted) are run events; a requester off the stream gets the new one.
      if (!sim.streamsTo(ctx.conn.user, sessionId, ctx.conn.id)) ctx.reply('order_update', update)
    }
  })

  dispatcher.register({
    type: 'pause_simulation',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) {
      const state = await sim.pause(ctx.conn.user, data.session_id, ctx.requestId)
      if (!sim.streamsTo(ctx.conn.user, data.session_id, ctx.conn.id)) ctx.reply('simulation_paused', state)
    }
  })

  dispatcher.register({
    type: 'resume_simulation',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) {
      const state = await sim.resume(ctx.conn.user, data.session_id, ctx.requestId)
      if (!sim.streamsTo(ctx.conn.user, data.session_id, ctx.conn.id)) ctx.reply('simulation_resumed', state)
    }
  })

  dispatcher.register({
    type: 'query_account',
    schema: SessionRefData,
    family: 'simulation',
    async handle (ctx, data) { ctx.reply('account_snapshot', await sim.account(ctx.conn.user, data.session_id)) }
  })

  dispatcher.register({
    type: 'resume_session',
    schema: ResumeSessionData,
    family: 'session',
    async handle (ctx, data) {
      // The first page is the reply; the rest of the replay follows on later turns (see the service).
      ctx.reply('state_sync', await sim.attach(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn), data.last_processed_sequence_id))
    }
  })

  dispatcher.register({
    type: 'strategy_error',
    schema: StrategyErrorData,
    family: 'session',
    async handle (ctx, data) {
      ctx.reply('session_info', await sim.strategyError(ctx.conn.user, data.session_id, data.message, data.stack))
    }
  })

  dispatcher.register({
    type: 'subscribe_session',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) { ctx.reply('subscription', await sim.watch(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn))) }
  })

  dispatcher.register({
    type: 'unsubscribe_session',
    schema: SessionRefData,
    family: 'session',
    async handle (ctx, data) { ctx.reply('subscription', await sim.unwatch(ctx.conn.user, data.session_id, sinkOf(app, ctx.conn))) }
  })
}, { name: 'ws-simulation-handlers', dependencies: ['ws-gateway', 'services'] })
