// The development credentials kept in the state folder (server/dev-secrets.ts): made once (0600) and read
// back by the next start, shared by two starts at the same moment, never overriding configured values,
// nothing kept in :memory: or PostgreSQL mode, a damaged file refused with what to do, loose modes tightened.
import t from 'tap'
import { chmod, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../../server/config.js'
import { keepDevSecrets } from '../../server/dev-secrets.js'

const SECRET = 'configured-secret-that-is-long-enough-0123456789'

t.test('made once, 0600, and the same on the next start', async (t) => {
  const dir = t.testdir()
  const first = await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir }))
  t.equal(first.file, join(dir, 'dev-secrets.json'))
  t.equal((await stat(join(dir, 'dev-secrets.json'))).mode & 0o777, 0o600)
  const kept = JSON.parse(await readFile(join(dir, 'dev-secrets.json'), 'utf8')) as { jwt_secret: string, api_key: string }
  t.equal(first.config.jwt.secret, kept.jwt_secret)
  t.same(first.config.apiKeys, [{ key: kept.api_key, user_id: 'dev', plan: 'professional' }])
  const second = await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir }))
  t.equal(second.config.jwt.secret, first.config.jwt.secret, 'the same secret')
  t.equal(second.config.apiKeys[0].key, first.config.apiKeys[0].key, 'the same key')
})

t.test('two starts at the same moment agree on one set', async (t) => {
  const dir = t.testdir()
  const [a, b] = await Promise.all([keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir })), keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir }))])
  t.equal(a.config.apiKeys[0].key, b.config.apiKeys[0].key)
  t.equal(a.config.jwt.secret, b.config.jwt.secret)
})

t.test('configured values win: a JWT_SECRET keeps the file for the key only, both configured keep no file', async (t) => {
  const dir = t.testdir()
  const secretSet = await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir, JWT_SECRET: SECRET }))
  t.equal(secretSet.config.jwt.secret, SECRET)
  t.match(secretSet.config.apiKeys[0].key, /^sk_dev_/)
  const both = t.testdir()
  const configured = await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: both, JWT_SECRET: SECRET, SIMUTRADOR_API_KEYS: `${'k'.repeat(20)}:u:free` }))
  t.equal(configured.file, undefined)
  await t.rejects(stat(join(both, 'dev-secrets.json')), { code: 'ENOENT' })
})

t.test(':memory: and PostgreSQL mode keep nothing', async (t) => {
  for (const env of [{ SIMUTRADOR_STATE_DIR: ':memory:' }, { DATABASE_URL: 'postgres://localhost/x' }]) {
    const config = loadConfig(env)
    const kept = await keepDevSecrets(config)
    t.equal(kept.file, undefined)
    t.equal(kept.config, config)
  }
})

t.test('a damaged file is refused, saying what to do; a loose mode is tightened', async (t) => {
  const dir = t.testdir({ 'dev-secrets.json': '{"jwt_secret": "short"}' })
  await t.rejects(keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: dir })), new ConfigError(`${join(dir, 'dev-secrets.json')} is not a valid development credentials file; delete it to have new ones made (tokens and the key it held stop working)`))
  const loose = t.testdir()
  await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: loose }))
  await chmod(join(loose, 'dev-secrets.json'), 0o644)
  await keepDevSecrets(loadConfig({ SIMUTRADOR_STATE_DIR: loose }))
  t.equal((await stat(join(loose, 'dev-secrets.json'))).mode & 0o777, 0o600)
})
