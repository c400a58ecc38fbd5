// The storage contract (test/fixtures/store-contract.ts) on the memory adapters, plus what only they promise.
import t from 'tap'
import { memoryStorage } from '../../../server/adapters/open-storage.js'
import { storeContract } from '../../fixtures/store-contract.js'
import { OPEN_GUARD, record } from '../sessions/session-records.js'

storeContract(t, async () => memoryStorage())
t.test('with the journal (in-process restarts)', async (t) => { storeContract(t, async () => memoryStorage({ journal: true })) })

t.test('stored records are frozen so they cannot change behind the store', async (t) => {
  const { sessions: store } = memoryStorage()
  await store.insert(record(), OPEN_GUARD)
  const r = await store.get('user_alice', 'sess_a')
  t.ok(Object.isFrozen(r))
  t.ok(Object.isFrozen(r?.symbols))
})
