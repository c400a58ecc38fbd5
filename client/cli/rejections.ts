// The lines `simulate run` ends with when the run refused orders: their count by error code, and with
// --verbose one line per refused order (what it was, when, and why), from GET …/orders?status=rejected.
import type { Schemas } from '../../generated-client/index.js'

type Order = Schemas['Order']

/** `Rejected orders: 3 (INSUFFICIENT_BUYING_POWER 2, INVALID_SYMBOL 1)`, most frequent first; nothing without any. */
export function rejectionLines (orders: readonly Order[], verbose: boolean): string[] {
  if (orders.length === 0) return []
  const byCode = new Map<string, number>()
  for (const o of orders) {
    const code = o.error_code ?? 'UNKNOWN'
    byCode.set(code, (byCode.get(code) ?? 0) + 1)
  }
  const counts = [...byCode].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([code, n]) => `${code} ${n}`)
  const lines = [`Rejected orders: ${orders.length} (${counts.join(', ')})`]
  if (verbose) {
    for (const o of orders) {
      const size = o.quantity !== undefined ? String(o.quantity) : o.notional !== undefined ? `$${o.notional}` : '?'
      lines.push(`  ${o.order_id} ${o.side} ${size} ${o.symbol} ${o.type} at ${o.created_at}: ${o.error_code ?? 'UNKNOWN'}: ${o.reason ?? ''}`)
    }
  }
  return lines
}
