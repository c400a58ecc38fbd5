// Config: defaults, development conveniences, and errors that name the bad variable.
import { hostname } from 'node:os'
import t from 'tap'
import { resolve } from 'node:path'
import { readFileSync } from 'node:fs'
import { EnvSchema, loadConfig, parseApiKeys, ConfigError, describeStorage, describeRedis, redactDatabaseUrl } from '../../server/config.js'
import { redactUrl } from '../../server/app.js'

t.test('bare environment: documented defaults, a generated dev key and secret', async (t) => {
  const c = loadConfig({})
  t.match(c, { port: 8003, host: '127.0.0.1', devKeyGenerated: true, demoData: true, jwt: { ttlSeconds: 3600, generated: true } })
  t.equal(c.apiKeys.length, 1)
  t.match(c.apiKeys[0], { user_id: 'dev', plan: 'professional', key: /^sk_dev_/ })
  t.ok(Buffer.byteLength(c.jwt.secret) >= 32)
  t.not(loadConfig({}).apiKeys[0].key, c.apiKeys[0].key, 'a fresh key per process')
})

t.test('a bad value is a ConfigError naming the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { name: 'ConfigError', message: /PORT/ })
  t.throws(() => loadConfig({ TOKEN_TTL_SECONDS: '5' }), { message: /TOKEN_TTL_SECONDS/ })
  t.throws(() => loadConfig({ LOG_LEVEL: 'chatty' }), { message: /LOG_LEVEL/ })
})

t.test('a JWT secret shorter than 32 bytes is refused', async (t) => {
  t.throws(() => loadConfig({ JWT_SECRET: 'short' }), new ConfigError('JWT_SECRET must be at least 32 bytes'))
})

t.test('production requires an explicit secret and keys', async (t) => {
  t.throws(() => loadConfig({ NODE_ENV: 'production' }), { message: /JWT_SECRET/ })
  t.throws(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }), { message: /SIMUTRADOR_API_KEYS/ })
})

t.test('API keys parse as key:user_id:plan and typos name their entry', async (t) => {
  t.same(parseApiKeys('abcdefghijklmnop:u1:free, qrstuvwxyzabcdef:u2:enterprise'), [
    { key: 'abcdefghijklmnop', user_id: 'u1', plan: 'free' },
    { key: 'qrstuvwxyzabcdef', user_id: 'u2', plan: 'enterprise' }
  ])
  t.throws(() => parseApiKeys('abcdefghijklmnop:u1:gold'), { message: /entry 1: plan/ })
  t.throws(() => parseApiKeys('abcdefghijklmnop:u1:free,short:u2:free'), { message: /entry 2: key/ })
  t.throws(() => parseApiKeys('abcdefghijklmnop:u1'), { message: /entry 1 must be/ })
  t.throws(() => parseApiKeys('abcdefghijklmnop:u1:free,abcdefghijklmnop:u2:free'), { message: /duplicate/ })
})

t.test('logged URLs lose their query string (tokens)', async (t) => {
  t.equal(redactUrl('/ws/simulate?token=abc.def.ghi'), '/ws/simulate?[redacted]')
  t.equal(redactUrl('/health'), '/health')
})

t.test('state lives in .simutrador/ under the working directory unless told otherwise', async (t) => {
  t.same(loadConfig({}).storage, { mode: 'embedded', dir: resolve('.simutrador') })
  t.same(loadConfig({ SIMUTRADOR_STATE_DIR: 'var/state' }).storage, { mode: 'embedded', dir: resolve('var/state') })
  t.same(loadConfig({ SIMUTRADOR_STATE_DIR: ':memory:' }).storage, { mode: 'memory' })
  t.same(loadConfig({ DATABASE_URL: 'postgresql://u@db/x', SIMUTRADOR_STATE_DIR: ':memory:' }).storage,
    { mode: 'postgres', url: 'postgresql://u@db/x' }, 'DATABASE_URL wins')
})

t.test('a DATABASE_URL that is not postgres:// is refused without echoing it (it may hold a password)', async (t) => {
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' }),
    new ConfigError('Invalid environment variable DATABASE_URL: it must start with postgres:// or postgresql://'))
})

t.test('the banner line names the mode and where the data lives, never a password', async (t) => {
  t.equal(describeStorage({ mode: 'memory' }), 'in memory (SIMUTRADOR_STATE_DIR=:memory:): nothing survives a restart')
  t.equal(describeStorage({ mode: 'embedded', dir: '/srv/st' }), 'embedded PostgreSQL (PGlite) in /srv/st')
  t.equal(describeStorage({ mode: 'postgres', url: 'postgres://app:s3cret@db:5432/st' }), 'PostgreSQL at postgres://app:***@db:5432/st')
  t.equal(redactDatabaseUrl('postgres://app@db/st'), 'postgres://app@db/st')
  t.equal(redactDatabaseUrl('postgres://u@[bad'), 'postgres://(unparsable URL)')
})

t.test('REDIS_URL turns on the shared bus; INSTANCE_ID defaults to host:pid; RUN_LEASE_MS to 10 s', async (t) => {
  const alone = loadConfig({})
  t.equal(alone.redis, undefined)
  t.equal(alone.instanceId, `${hostname()}:${process.pid}`)
  t.equal(alone.runLeaseMs, 10_000)
  t.equal(describeRedis(alone), `none (single instance ${hostname()}:${process.pid})`)
  const same = { JWT_SECRET: 'a-secret-every-instance-shares-0123456789', SIMUTRADOR_API_KEYS: 'key_shared_by_all_0001:ops:enterprise' }
  const shared = loadConfig({ ...same, REDIS_URL: 'redis://:pw@cache:6379/2', INSTANCE_ID: 'web-1', RUN_LEASE_MS: '3000', REDIS_KEY_PREFIX: 'prod:' })
  t.same(shared.redis, { url: 'redis://:pw@cache:6379/2', keyPrefix: 'prod:' })
  t.equal(shared.instanceId, 'web-1')
  t.equal(shared.runLeaseMs, 3000)
  t.equal(describeRedis(shared), 'redis://:***@cache:6379/2 (prefix prod:), instance web-1')
  t.equal(loadConfig({ ...same, REDIS_URL: 'rediss://cache' }).redis?.keyPrefix, 'simutrador:')
  // A random secret or a generated dev key per process would make each instance refuse the others' tokens.
  t.throws(() => loadConfig({ REDIS_URL: 'redis://cache', SIMUTRADOR_API_KEYS: same.SIMUTRADOR_API_KEYS }),
    new ConfigError('JWT_SECRET is required with REDIS_URL: every instance must sign and verify tokens with the same secret'))
  t.throws(() => loadConfig({ REDIS_URL: 'redis://cache', JWT_SECRET: same.JWT_SECRET }),
    new ConfigError('SIMUTRADOR_API_KEYS is required with REDIS_URL: every instance must know the same API keys'))
  t.throws(() => loadConfig({ REDIS_URL: 'http://:hunter2@cache' }),
    new ConfigError('Invalid environment variable REDIS_URL: it must start with redis:// or rediss://'))
  t.throws(() => loadConfig({ RUN_LEASE_MS: '10' }), /RUN_LEASE_MS/)
  t.throws(() => loadConfig({ INSTANCE_ID: 'has space' }), /INSTANCE_ID/)
  t.equal(redactDatabaseUrl('redis://[bad'), 'redis://(unparsable URL)')
})

t.test('TRUST_PROXY: addresses or CIDRs, or true; anything else is refused', async (t) => {
  t.equal(loadConfig({}).trustProxy, undefined)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8' }).trustProxy, '127.0.0.1,10.0.0.0/8')
  t.throws(() => loadConfig({ TRUST_PROXY: 'everyone please' }), /TRUST_PROXY/)
})

t.test('every environment variable the server reads has a row in the README\'s configuration table', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const rows = readme.slice(readme.indexOf('## Configuration')).split('\n').filter((l) => l.startsWith('| `'))
  for (const name of Object.keys(EnvSchema.properties)) {
    t.ok(rows.some((row) => row.split('|')[1].includes(`\`${name}\``)), name)
  }
})
