// Refused orders as records (issue 19): an order the engine refuses at submission becomes an order in state
// `rejected` with the refusal's error_code and reason, listed with the others, announced by an order_update
// and counted in the results, as backtrader's notify_order(Rejected/Margin) and nautilus's OrderRejected
// make a refusal an outcome of the order. One refusal has no record: a repeated order_id (the id belongs to
// the order that has it), which batch_ack.rejected_orders alone reports.
import type { OrderRequest } from '../../schemas/simulation.js'
import { AppError } from '../app-error.js'
import { parseMoney, type Fixed } from '../money.js'
import { WorkingOrder, type OrderRejection } from './order-book.js'

/** Where and when a refused order would have worked: its symbol (index -1 when not in the session), step and time. */
export interface RejectionPlace {
  readonly seq: number
  readonly symbolIndex: number
  readonly symbol: string
  readonly placedStep: number
  readonly time: string
  readonly batchId: string
}

/**
 * The record of a refused request: its fields as far as they parse (a malformed amount is left out; the
 * reason says what was wrong), state `rejected`, never working.
 */
export function rejectedOrder (req: OrderRequest, at: RejectionPlace, rejection: OrderRejection): WorkingOrder {
  const o = new WorkingOrder(at.seq, req.order_id, at.symbolIndex, at.symbol, req.side, req.type, req.time_in_force ?? 'day',
    amount(req.quantity), amount(req.notional), amount(req.price), amount(req.stop_price), at.placedStep, at.time)
  o.batchId = at.batchId
  o.trailAmount = amount(req.trail_price)
  o.trailPercent = amount(req.trail_percent)
  const tp = amount(req.take_profit?.limit_price)
  const sl = amount(req.stop_loss?.stop_price)
  if (tp !== null || sl !== null) o.bracket = { takeProfit: tp, stopLoss: sl, stopLossLimit: amount(req.stop_loss?.limit_price) }
  markRejected(o, rejection)
  return o
}

/** An order (refused at submission, or when it came to fill) ends `rejected`, saying why. */
export function markRejected (o: WorkingOrder, rejection: OrderRejection): void {
  o.status = 'rejected'
  o.reserved = 0n
  o.rejection = { errorCode: rejection.errorCode, reason: rejection.reason }
}

/** A positive amount as the request gave it, or null (absent, malformed or not positive). */
function amount (value: number | string | undefined): Fixed | null {
  if (value === undefined) return null
  try {
    const v = parseMoney(value)
    return v > 0n ? v : null
  } catch (err) {
    if (err instanceof AppError) return null
    throw err
  }
}
