// The API-key registry: who a key belongs to, the two refusals a client can tell apart, and fingerprints.
import t from 'tap'
import { ApiKeyRegistry } from '../../../server/auth/api-keys.js'

const registry = new ApiKeyRegistry([
  { key: 'key-alice-0123456789', user_id: 'alice', plan: 'free' },
  { key: 'key-dev-0123456789', user_id: 'dev', plan: 'professional' }
])

t.test('a known key authenticates as its owner and plan', async (t) => {
  t.same(registry.authenticate('key-alice-0123456789'), { user_id: 'alice', plan: 'free' })
  t.same(registry.authenticate('key-dev-0123456789'), { user_id: 'dev', plan: 'professional' })
  t.equal(registry.size, 2)
})

t.test('no key and a wrong key are both INVALID_API_KEY, with messages that say which', async (t) => {
  for (const missing of [undefined, '']) t.throws(() => registry.authenticate(missing), { name: 'AppError', error_code: 'INVALID_API_KEY', message: 'Missing X-API-Key header' }, String(missing))
  for (const wrong of ['key-alice-012345678', 'KEY-ALICE-0123456789', 'key-alice-0123456789 ']) t.throws(() => registry.authenticate(wrong), { name: 'AppError', error_code: 'INVALID_API_KEY', message: 'Invalid API key' }, wrong)
})

t.test('a key listed twice belongs to its last entry', async (t) => {
  const r = new ApiKeyRegistry([{ key: 'shared-key-0123456789', user_id: 'a', plan: 'free' }, { key: 'shared-key-0123456789', user_id: 'b', plan: 'enterprise' }])
  t.equal(r.size, 1)
  t.same(r.authenticate('shared-key-0123456789'), { user_id: 'b', plan: 'enterprise' })
})

t.test('fingerprints are stable, short, distinct per key and do not contain the key', async (t) => {
  const a = ApiKeyRegistry.fingerprint('key-alice-0123456789')
  t.equal(a, ApiKeyRegistry.fingerprint('key-alice-0123456789'))
  t.match(a, /^[A-Za-z0-9_-]{16}$/)
  t.not(a, ApiKeyRegistry.fingerprint('key-alice-0123456780'))
  t.notMatch(a, /alice|0123/)
})
