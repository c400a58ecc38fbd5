// The rate-limit counter table every route shares: counts per key within a window, a fresh window after
// it, one table for every route (child), and a bound on how many keys it holds.
import t from 'tap'
import { SharedWindowStore } from '../../server/plugins/rate-limit.js'

function incr (store: SharedWindowStore, key: string, timeWindow = 60_000): { current: number, ttl: number } {
  let out: { current: number, ttl: number } | undefined
  store.incr(key, (err, res) => { if (err === null) out = res }, timeWindow)
  if (out === undefined) throw new Error('no result')
  return out
}

t.test('counts per key within the window, with the time left', async (t) => {
  const store = new SharedWindowStore()
  t.same([incr(store, 'user:a').current, incr(store, 'user:a').current, incr(store, 'user:b').current], [1, 2, 1])
  const { ttl } = incr(store, 'user:a')
  t.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl}`)
})

t.test('a window that has passed starts again at 1', async (t) => {
  const store = new SharedWindowStore()
  // A zero-length window has always passed by the next request.
  t.same([incr(store, 'user:a', 0).current, incr(store, 'user:a', 0).current], [1, 1])
})

t.test('every route gets the same table', async (t) => {
  const store = new SharedWindowStore()
  t.equal(store.child(), store)
  incr(store.child(), 'user:a')
  t.equal(incr(store, 'user:a').current, 2)
})

t.test('beyond maxBuckets the least recently counted key is forgotten', async (t) => {
  const store = new SharedWindowStore({ maxBuckets: 2 })
  incr(store, 'a')
  incr(store, 'b')
  incr(store, 'a')
  incr(store, 'c')
  t.equal(incr(store, 'a').current, 3, 'a was counted recently and kept')
  t.equal(incr(store, 'b').current, 1, 'b was the least recently counted and starts over')
})
