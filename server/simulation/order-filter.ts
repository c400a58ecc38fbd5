// Which orders a `status` filter of GET /sessions/{id}/orders keeps (Alpaca's open/closed/all, or one state).
import type { Order } from '../../schemas/simulation.js'
import { OPEN_ORDER_STATES } from '../../schemas/simulation.js'
import type { OrderStatusFilter } from '../../schemas/simulation-control.js'

export function ordersWithStatus (orders: Order[], status: OrderStatusFilter): Order[] {
  switch (status) {
    case 'all': return orders
    case 'open': return orders.filter((o) => OPEN_ORDER_STATES.includes(o.status))
    case 'closed': return orders.filter((o) => !OPEN_ORDER_STATES.includes(o.status))
    default: return orders.filter((o) => o.status === status)
  }
}
