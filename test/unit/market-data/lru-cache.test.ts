// The validation cache's LRU: size bound, recency on read and write, and the exact TTL boundary.
import t from 'tap'
import { LruCache } from '../../../server/market-data/lru-cache.js'

let clock = 1_000_000
const now = (): number => clock

t.test('an entry lives exactly ttlMs: present one ms before, gone at the boundary', async (t) => {
  clock = 1_000_000
  const c = new LruCache<string, number>({ maxSize: 10, ttlMs: 500, now })
  c.set('a', 1)
  clock += 499
  t.equal(c.get('a'), 1)
  clock += 1
  t.equal(c.get('a'), undefined)
  t.equal(c.size, 0, 'an expired entry is dropped when read')
})

t.test('set replaces a value and restarts its lifetime; get does not extend it', async (t) => {
  clock = 1_000_000
  const c = new LruCache<string, number>({ maxSize: 10, ttlMs: 500, now })
  c.set('a', 1)
  clock += 400
  t.equal(c.get('a'), 1)
  c.set('b', 2)
  clock += 100
  t.equal(c.get('a'), undefined, 'reading it at 400 ms did not extend it')
  t.equal(c.get('b'), 2)
  c.set('b', 3)
  clock += 450
  t.equal(c.get('b'), 3, 'the second set restarted b\'s lifetime')
})

t.test('beyond maxSize the least recently used entry goes; a write counts as use', async (t) => {
  clock = 1_000_000
  const c = new LruCache<string, number>({ maxSize: 3, ttlMs: 60_000, now })
  c.set('a', 1)
  c.set('b', 2)
  c.set('c', 3)
  c.set('a', 10)
  c.set('d', 4)
  t.equal(c.size, 3, 'never more than maxSize')
  t.equal(c.get('b'), undefined, 'b was the least recently used')
  t.same([c.get('a'), c.get('c'), c.get('d')], [10, 3, 4])
})

t.test('delete and clear; maxSize is floored and must be at least 1', async (t) => {
  const c = new LruCache<string, number>({ maxSize: 2.9, ttlMs: 60_000 })
  c.set('a', 1)
  c.set('b', 2)
  c.set('c', 3)
  t.equal(c.size, 2, 'maxSize 2.9 keeps 2')
  t.equal(c.delete('b'), true)
  t.equal(c.delete('b'), false)
  c.clear()
  t.equal(c.size, 0)
  for (const bad of [0, 0.5, -1, Number.NaN]) t.throws(() => new LruCache({ maxSize: bad, ttlMs: 1 }), RangeError, String(bad))
})
