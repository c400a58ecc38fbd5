// docs/fill-policy.md §3 "Replace" at its edges: the default ids along a chain of replacements (`<id>-r1`,
// `-r2`, `-r3`, across a tenth replacement, after an explicit new_order_id), the 60-character id limit, a
// default id already taken, and each replacement's hold taking the place of the one before.
import t from 'tap'
import { AppError } from '../../../server/app-error.js'
import { dailySeries, engineFor, executions, flat, order, steps, submit } from './bars.js'
import type { SimulationEngine } from '../../../server/simulation/engine.js'

function engineWith (orderId: string): SimulationEngine {
  const e = engineFor(dailySeries('AAA', [flat(100), [100, 101, 94, 95], flat(100)]))
  steps(e, 1)
  const { ack } = submit(e, [order({ order_id: orderId, type: 'limit', price: 90, quantity: 10, time_in_force: 'gtc' })])
  if (ack.accepted_orders.length !== 1) throw new Error(JSON.stringify(ack.rejected_orders))
  return e
}

function errorOf (fn: () => unknown): { code: string, message: string } | null {
  try {
    fn()
    return null
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return { code: err.error_code, message: err.message }
  }
}

t.test('a replace of a replace of a replace: ord-1 → ord-1-r1 → ord-1-r2 → ord-1-r3', async (t) => {
  const e = engineWith('ord-1')
  const ids = ['ord-1']
  for (const price of [91, 92, 93]) ids.push(e.replaceOrder(ids[ids.length - 1], { price }).order.order_id)
  t.same(ids, ['ord-1', 'ord-1-r1', 'ord-1-r2', 'ord-1-r3'])
})

t.test('along the chain each order names the one it replaces and the one that replaced it', async (t) => {
  const e = engineWith('ord-1')
  e.replaceOrder('ord-1', { price: 91 })
  e.replaceOrder('ord-1-r1', { price: 92 })
  e.replaceOrder('ord-1-r2', { price: 93 })
  t.same(e.orders().map((o) => [o.order_id, o.status, o.replaces ?? null, o.replaced_by ?? null, o.price]), [
    ['ord-1', 'replaced', null, 'ord-1-r1', '90.00'],
    ['ord-1-r1', 'replaced', 'ord-1', 'ord-1-r2', '91.00'],
    ['ord-1-r2', 'replaced', 'ord-1-r1', 'ord-1-r3', '92.00'],
    ['ord-1-r3', 'accepted', 'ord-1-r2', null, '93.00']
  ])
})

t.test('only the end of the chain trades: the bar reaching every price fills ord-1-r3 alone, at its own limit', async (t) => {
  const e = engineWith('ord-1')
  e.replaceOrder('ord-1', { price: 91 })
  e.replaceOrder('ord-1-r1', { price: 92 })
  e.replaceOrder('ord-1-r2', { price: 96 })
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_price]), [['ord-1-r3', '96.00']])
})

t.test('the chain\'s number counts up past 9: x-r9 → x-r10 → x-r11', async (t) => {
  const e = engineWith('x-r9')
  const r10 = e.replaceOrder('x-r9', { price: 91 }).order.order_id
  t.same([r10, e.replaceOrder(r10, { price: 92 }).order.order_id], ['x-r10', 'x-r11'])
})

t.test('an explicit new_order_id starts its own chain: ord → mine → mine-r1', async (t) => {
  const e = engineWith('ord')
  const mine = e.replaceOrder('ord', { price: 91, new_order_id: 'mine' }).order
  t.same([mine.order_id, mine.replaces], ['mine', 'ord'])
  const next = e.replaceOrder('mine', { price: 92 }).order
  t.same([next.order_id, next.replaces], ['mine-r1', 'mine'])
})

t.test('an id ending in -r without a number is not a chain: a-rb → a-rb-r1, a-r → a-r-r1', async (t) => {
  t.equal(engineWith('a-rb').replaceOrder('a-rb', { price: 91 }).order.order_id, 'a-rb-r1')
  t.equal(engineWith('a-r').replaceOrder('a-r', { price: 91 }).order.order_id, 'a-r-r1')
})

t.test('a default id of exactly 60 characters is used; 61 are refused with INVALID_ORDER asking for new_order_id', async (t) => {
  const id57 = 'a'.repeat(57)
  t.equal(engineWith(id57).replaceOrder(id57, { price: 91 }).order.order_id, `${id57}-r1`)
  const id58 = 'b'.repeat(58)
  const e = engineWith(id58)
  const before = JSON.stringify(e.orders())
  t.same(errorOf(() => e.replaceOrder(id58, { price: 91 })), { code: 'INVALID_ORDER', message: `${id58}-r1 is longer than 60 characters; give new_order_id` })
  t.equal(JSON.stringify(e.orders()), before, 'nothing changed')
  t.equal(e.replaceOrder(id58, { price: 91, new_order_id: 'short' }).order.order_id, 'short')
})

t.test('a default id already used in the session is refused and changes nothing', async (t) => {
  const e = engineWith('ord')
  submit(e, [order({ order_id: 'ord-r1', type: 'limit', price: 80, quantity: 1, time_in_force: 'gtc' })])
  const before = JSON.stringify(e.orders())
  t.equal(errorOf(() => e.replaceOrder('ord', { price: 91 }))?.code, 'INVALID_ORDER')
  t.equal(JSON.stringify(e.orders()), before)
})

t.test('each replacement holds for itself only: the hold follows the chain, never adds up', async (t) => {
  const e = engineWith('ord') // 10 × 90 held
  t.equal(e.account().buying_power, '99100.00')
  e.replaceOrder('ord', { price: 91 })
  e.replaceOrder('ord-r1', { price: 92, quantity: 20 })
  t.equal(e.account().buying_power, '98160.00', '20 × 92 held, nothing of 10 × 90 or 10 × 91')
})

t.test('a replacement loses the old order\'s time priority: under a volume cap the order placed after the original fills first', async (t) => {
  // cap 0.1 × 100 = 10 a bar; a and b both buy 10 at the open 100; a is replaced, so b comes first
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 100), flat(100, 100)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'a', type: 'limit', price: 100, quantity: 10, time_in_force: 'gtc' }), order({ order_id: 'b', type: 'limit', price: 100, quantity: 10, time_in_force: 'gtc' })])
  e.replaceOrder('a', { price: 100.5 })
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_quantity]), [['b', 10]])
  t.same(executions(steps(e, 1)).map((x) => [x.order_id, x.executed_quantity]), [['a-r1', 10]])
})

t.test('a partly filled order cannot be replaced (INVALID_STATE) and is left as it was', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100, 100), flat(100, 100)]), { settings: { volume_participation: 0.1 } })
  steps(e, 1)
  submit(e, [order({ order_id: 'p', type: 'limit', price: 100, quantity: 20, time_in_force: 'gtc' })])
  steps(e, 1)
  t.equal(e.order('p').status, 'partially_filled')
  const before = JSON.stringify(e.orders())
  t.equal(errorOf(() => e.replaceOrder('p', { price: 99 }))?.code, 'INVALID_STATE')
  t.equal(JSON.stringify(e.orders()), before)
})

t.test('a replaced stop leg keeps its place before the target: a bar reaching both fills the new stop, the target is cancelled', async (t) => {
  const e = engineFor(dailySeries('AAA', [flat(100), flat(100), flat(100), [100, 111, 94, 100]]))
  steps(e, 1)
  submit(e, [order({ order_id: 'p', take_profit: { limit_price: 110 }, stop_loss: { stop_price: 90 }, time_in_force: 'gtc' })])
  steps(e, 1)
  e.replaceOrder('p-sl', { stop_price: 95 })
  steps(e, 1)
  const ev = steps(e, 1)
  t.same(executions(ev).map((x) => [x.order_id, x.executed_price]), [['p-sl-r1', '95.00']])
})
