// How many tokens of the user's message bucket (message-bucket.ts) each WebSocket message type takes: the server
// CPU one such message costs, in units of one ping, measured with `npx tsx scripts/bench/ws-message-cost.ts`
// (docs/benchmarks.md) and rounded up. The bucket refills at the plan's `ws_messages_per_second` tokens, so a
// flood of any type costs the server at most what a flood of pings at that rate costs: about one ping's CPU
// (~20 µs) × the rate, whatever is sent. Messages that move a run (tick_ack, an accepted order_batch) give
// their tokens back (WsHandlerContext.refund), so a strategy is never limited by its own pace.
// A type not listed costs 1. docs/limits-websocket.md lists these; keep it in step.
export const MESSAGE_COSTS: Readonly<Record<string, number>> = {
  ping: 1,
  // An ack of a run this connection drives costs 1 net (3 refunded, all 4 when it moved the run); one for
  // another or no run builds an error: 4.
  tick_ack: 4,
  get_session: 3,
  delete_session: 3,
  query_account: 2,
  subscribe_session: 2,
  unsubscribe_session: 2,
  cancel_order: 3,
  pause_simulation: 6,
  resume_simulation: 6,
  // Refunded when the run takes the batch (orders_per_minute bounds those); a refused batch costs this.
  order_batch: 8,
  replace_order: 8,
  strategy_error: 10,
  list_sessions: 30,
  create_session: 40,
  resume_session: 200,
  start_simulation: 300
}

/** Tokens a message of `type` costs; 1 for a type not listed (and for a message that cannot be parsed). */
export function messageCost (type: string): number {
  return MESSAGE_COSTS[type] ?? 1
}
