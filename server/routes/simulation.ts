// Simulation over REST for dashboards: start/pause/resume/cancel, orders, account, results, the equity curve
// so far and the event log. The same SimulationService calls as the WebSocket handlers.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { SessionIdParams } from '../../schemas/sessions.js'
import { EventsQuery, ListOrdersQuery, OrderIdParams, StartSimulationBody, SubmitOrdersBody } from '../../schemas/simulation-control.js'
import { ReplaceOrderBody } from '../../schemas/simulation.js'
import { EQUITY_MAX_POINTS, EquityHistoryQuery } from '../../schemas/equity-history.js'
import { authenticated, authenticatedOptionalBody, bearer, errorResponses } from './route-options.js'

const simulationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = authenticated(app)
  const sim = app.simulation
  const StateRef = Type.Ref('SimulationStateData')
  const errors = errorResponses(400, 401, 404, 409, 429, 503)
  const eventErrors = errorResponses(400, 401, 404, 409, 410, 429, 503)
  const common = { tags: ['simulation'], security: bearer, params: SessionIdParams }

  app.post('/sessions/:id/start', {
    ...authenticatedOptionalBody(app),
    schema: {
      ...common,
      operationId: 'startSimulation',
      summary: 'Start the replay',
      description: 'With flow_control (default true) the run waits for tick_ack from a WebSocket that attached with resume_session; ' +
        'send {"flow_control": false} to run headless at full speed (watch it with subscribe_session or GET …/events). ' +
        'The body is optional: none (or an empty one) starts with every default.',
      body: StartSimulationBody,
      response: { 200: StateRef, ...errors }
    }
  }, async (request) => await sim.start(request.user, request.params.id, request.body, undefined))

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(`/sessions/:id/${action}`, {
      ...auth,
      schema: {
        ...common,
        operationId: `${action}Simulation`,
        summary: action === 'cancel' ? 'Stop the run early (open orders cancelled, results computed to now)' : `${action[0].toUpperCase()}${action.slice(1)} the replay`,
        response: { 200: StateRef, ...errors }
      }
    }, async (request) => await sim[action](request.user, request.params.id))
  }

  app.post('/sessions/:id/orders', {
    ...auth,
    schema: {
      ...common,
      operationId: 'submitOrders',
      summary: 'Submit an order batch (tried from the next bar)',
      body: SubmitOrdersBody,
      response: { 200: Type.Ref('BatchAck'), ...errors }
    }
  }, async (request) => await sim.submitOrders(request.user, { session_id: request.params.id, ...request.body }))

  app.get('/sessions/:id/orders', {
    ...auth,
    schema: {
      ...common,
      operationId: 'listOrders',
      summary: "The run's orders, optionally only open, closed or one state",
      description: 'Oldest first. `status` as Alpaca\'s: `open` (accepted, partially_filled), `closed` (filled, cancelled, expired, ' +
        'rejected), `all` (default) or one order state.',
      querystring: ListOrdersQuery,
      response: { 200: Type.Ref('OrderList'), ...errors }
    }
  }, async (request) => ({ orders: await sim.orders(request.user, request.params.id, request.query.status ?? 'all') }))

  app.get('/sessions/:id/positions', {
    ...auth,
    schema: {
      ...common,
      operationId: 'listPositions',
      summary: 'Open positions of the run\'s account at the current simulation time',
      description: 'The `positions` of GET …/account: while the run is live, as its account stands; once it has finished, as it ended.',
      response: { 200: Type.Ref('PositionList'), ...errors }
    }
  }, async (request) => await sim.positions(request.user, request.params.id))

  app.delete('/sessions/:id/orders/:order_id', {
    ...auth,
    schema: { tags: ['simulation'], security: bearer, params: OrderIdParams, operationId: 'cancelOrder', summary: 'Cancel a working order', response: { 200: Type.Ref('Order'), ...errors } }
  }, async (request) => (await sim.cancelOrder(request.user, request.params.id, request.params.order_id)).order)

  app.patch('/sessions/:id/orders/:order_id', {
    ...auth,
    schema: {
      tags: ['simulation'],
      security: bearer,
      params: OrderIdParams,
      operationId: 'replaceOrder',
      summary: 'Replace a working order (as Alpaca\'s replace)',
      description: 'The order must be open and not yet partly filled. The old order ends `replaced` (`replaced_by` names the new one); ' +
        'the reply is the new order (`new_order_id`, default `<order_id>-r1`, then `-r2` …, with `replaces` set), admitted like a new ' +
        'order and first tried on the next bar. A bracket leg can change only its price or stop_price. See docs/fill-policy.md §3.',
      body: ReplaceOrderBody,
      response: { 200: Type.Ref('Order'), ...errorResponses(400, 401, 404, 409, 422, 429, 503) }
    }
  }, async (request) => (await sim.replaceOrder(request.user, request.params.id, request.params.order_id, request.body)).order)

  app.get('/sessions/:id/account', {
    ...auth,
    schema: { ...common, operationId: 'getAccount', summary: 'Account snapshot at the current simulation time', response: { 200: Type.Ref('AccountSnapshot'), ...errors } }
  }, async (request) => await sim.account(request.user, request.params.id))

  app.get('/sessions/:id/results', {
    ...auth,
    schema: { ...common, operationId: 'getResults', summary: 'Metrics, equity curve and trades of a completed run', response: { 200: Type.Ref('SimulationResults'), ...errors } }
  }, async (request) => await sim.results(request.user, request.params.id))

  app.get('/sessions/:id/equity', {
    ...auth,
    schema: {
      ...common,
      operationId: 'getEquityHistory',
      summary: 'The run\'s equity and drawdown so far, thinned to at most max_points',
      description: 'While the run is live (running or paused, also after a restart: a rebuilt run recomputes it), one mark per step at the ' +
        'closes; once it has finished, its daily closes. A longer curve keeps its first and last points and, per bucket of steps, the lowest and ' +
        'highest equity and the deepest drawdown. `max_drawdown_pct` is measured over every step, as GET …/results does. ' +
        'Pass the previous answer\'s `steps_done` as `after_step` to get only what is new.',
      querystring: EquityHistoryQuery,
      response: { 200: Type.Ref('EquityHistory'), ...errors }
    }
  }, async (request) => await sim.equity(request.user, request.params.id, {
    maxPoints: request.query.max_points ?? EQUITY_MAX_POINTS,
    afterStep: request.query.after_step ?? 0
  }))

  app.get('/sessions/:id/events', {
    ...auth,
    schema: { ...common, operationId: 'listEvents', summary: 'The session event log after a sequence id', description: 'At most `limit` (≤ 1,000) events and about 1 MiB per page; `has_more` says another page follows. Events no longer kept (a run keeps its newest 32 MiB; a finished run\'s log is kept within a per-user budget and retention time) answer 410 EVENTS_EXPIRED with `details.first_available_sequence_id`.', querystring: EventsQuery, response: { 200: Type.Ref('EventPage'), ...eventErrors } }
  }, async (request) => await sim.events(request.user, request.params.id, request.query.after_seq ?? 0, request.query.limit ?? 1000))
}

export default simulationRoutes
