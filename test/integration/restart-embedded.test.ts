// kill -9 and restart in the default mode (embedded PostgreSQL in a temporary SIMUTRADOR_STATE_DIR):
// sessions, quota, idempotency and finished runs survive (test/fixtures/restart-scenario.ts).
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { restartScenario } from '../fixtures/restart-scenario.js'
import { runServerToExit } from '../fixtures/server-process.js'

t.test('embedded mode: state survives kill -9', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'st-restart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await restartScenario(t, { SIMUTRADOR_STATE_DIR: dir }, {
    banner: new RegExp(`^ {2}State: {7}embedded PostgreSQL \\(PGlite\\) in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
    whileRunning: async (t) => {
      // PGlite does not guard its folder; a second process on it would corrupt the database.
      const second = await runServerToExit({ SIMUTRADOR_STATE_DIR: dir })
      t.equal(second.code, 1)
      t.match(second.output, /The state folder .* is in use by another SimuTrador process \(pid \d+\)/)
    }
  })
})
