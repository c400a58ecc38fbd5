// Config: defaults, development conveniences, and errors that name the bad variable.
import t from 'tap'
import { loadConfig, parseApiKeys, ConfigError } from '../../server/config.js'
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
