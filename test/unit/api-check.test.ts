// openapi.yaml and generated-client/schema.d.ts are exactly what the schemas generate (api:check passes),
// and the document exposes the WebSocket message schemas to the generated client.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { renderOpenApiYaml } from '../../scripts/emit-openapi.js'
import { childEnv } from '../fixtures/child-env.js'

const run = promisify(execFile)
const root = new URL('../../', import.meta.url)

t.test('the committed openapi.yaml is what the app emits', async (t) => {
  t.equal(await renderOpenApiYaml(), await readFile(new URL('openapi.yaml', root), 'utf8'))
})

t.test('npm run api:check passes on the committed files', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/api-check.ts'], { cwd: root, env: childEnv() })
  t.match(stdout, /up to date/)
})

t.test('WebSocket message schemas are components of the document', async (t) => {
  const yaml = await readFile(new URL('openapi.yaml', root), 'utf8')
  for (const id of ['WsClientEnvelope', 'ConnectionReadyData', 'WsErrorData', 'SessionErrorData']) {
    t.match(yaml, new RegExp(`\\n    ${id}:`), `${id} is under components.schemas`)
  }
  t.notMatch(yaml, /\n {2}\/ws\/simulate:/, 'the WebSocket route itself is not a REST path')
})
