// kill -9 and restart with DATABASE_URL (the machine's PostgreSQL, a schema of the test's own): sessions,
// quota, idempotency and finished runs survive (test/fixtures/restart-scenario.ts). A database whose schema
// is newer than the code is refused at start with a clear message.
import t from 'tap'
import { adminQuery, freshSchema, requirePostgres } from '../fixtures/postgres.js'
import { restartScenario } from '../fixtures/restart-scenario.js'
import { runServerToExit } from '../fixtures/server-process.js'

if (await requirePostgres(t)) {
  t.test('DATABASE_URL: state survives kill -9', async (t) => {
    const { url } = await freshSchema(t)
    await restartScenario(t, { DATABASE_URL: url }, {
      // The single-instance warning (logged while starting), then the banner's state line.
      banner: /DATABASE_URL without REDIS_URL: this instance works alone[\s\S]*^ {2}State: {7}PostgreSQL at postgres:\/\/\S+$/m
    })
  })

  t.test('a schema newer than this code is refused at start, saying what to do', async (t) => {
    const { schema, url } = await freshSchema(t)
    await adminQuery(`CREATE TABLE ${schema}.schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    await adminQuery(`INSERT INTO ${schema}.schema_version (version, name) VALUES (999, 'future')`)
    const { code, output } = await runServerToExit({ DATABASE_URL: url })
    t.equal(code, 1)
    t.match(output, /simutrador-server: The database schema is at version 999, but this SimuTrador knows versions up to \d+: a newer release has upgraded it/)
    t.notMatch(output, /listening/)
  })

  t.test('an unreachable database is refused at start with its address, without the password', async (t) => {
    const { code, output } = await runServerToExit({ DATABASE_URL: 'postgres://someone:s3cret@127.0.0.1:1/nowhere' })
    t.equal(code, 1)
    t.match(output, /Cannot reach PostgreSQL at postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/nowhere/)
    t.notMatch(output, /s3cret/)
  })
}
