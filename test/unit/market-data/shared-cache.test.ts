// The reference-counted cache that lets runs share bar series and timelines: one value per key while any
// lease is held, one load for concurrent first acquires, dropped with the last release, failures forgotten.
import t from 'tap'
import { SharedCache } from '../../../server/market-data/shared-cache.js'

/** A load that settles when the test says so. */
function deferred<V> (): { promise: Promise<V>, resolve: (v: V) => void, reject: (e: unknown) => void } {
  let resolve!: (v: V) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<V>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

t.test('holders of one key share one value; the last release drops it', async (t) => {
  const cache = new SharedCache<{ bars: Float64Array }>()
  let loads = 0
  const load = (): { bars: Float64Array } => { loads++; return { bars: new Float64Array(8) } }
  const a = await cache.acquire('AAPL|1m|2023', load)
  const b = await cache.acquire('AAPL|1m|2023', load)
  t.equal(a.value, b.value, 'the same object')
  t.equal(a.value.bars.buffer, b.value.bars.buffer, 'the same storage')
  t.equal(loads, 1)
  t.same(cache.stats(), { entries: 1, references: 2, loads: 1, shared: 1 })
  const other = await cache.acquire('AAPL|1m|2022', load)
  t.not(other.value, a.value, 'another key is another value')
  t.equal(cache.stats().entries, 2)

  a.release()
  a.release()
  t.equal(cache.references('AAPL|1m|2023'), 1, 'a second release of one lease changes nothing')
  b.release()
  t.equal(cache.references('AAPL|1m|2023'), 0)
  t.same(cache.stats(), { entries: 1, references: 1, loads: 2, shared: 1 }, 'only the other key is left')
  other.release()
  t.equal(cache.stats().entries, 0)

  const again = await cache.acquire('AAPL|1m|2023', load)
  t.not(again.value, a.value, 'once released, the next holder loads afresh')
  t.equal(loads, 3)
  again.release()
})

t.test('concurrent first acquires wait for one load', async (t) => {
  const cache = new SharedCache<string>()
  const gate = deferred<string>()
  let loads = 0
  const load = async (): Promise<string> => { loads++; return await gate.promise }
  const pending = Array.from({ length: 50 }, async () => await cache.acquire('k', load))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(loads, 1, 'one load for 50 acquires')
  t.same(cache.stats(), { entries: 1, references: 50, loads: 1, shared: 49 }, 'the waiters are counted while loading')
  gate.resolve('bars')
  const leases = await Promise.all(pending)
  t.ok(leases.every((l) => l.value === 'bars'))
  for (const l of leases.slice(1)) l.release()
  t.equal(cache.references('k'), 1, 'kept while one holder is left')
  leases[0].release()
  t.equal(cache.stats().entries, 0)
})

t.test('a failed load rejects every waiter and is forgotten, so the next acquire loads again', async (t) => {
  const cache = new SharedCache<string>()
  const gate = deferred<string>()
  const waiters = [cache.acquire('k', async () => await gate.promise), cache.acquire('k', () => 'never called')]
  gate.reject(new Error('disk gone'))
  for (const w of waiters) await t.rejects(w, /disk gone/)
  t.same(cache.stats(), { entries: 0, references: 0, loads: 1, shared: 1 })
  await t.rejects(cache.acquire('k', () => { throw new Error('sync failure') }), /sync failure/, 'a load that throws rejects too')
  t.equal(cache.stats().entries, 0)
  const ok = await cache.acquire('k', () => 'loaded')
  t.equal(ok.value, 'loaded')
  ok.release()
})
