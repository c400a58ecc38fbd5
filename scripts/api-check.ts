// Regenerates openapi.yaml and generated-client/schema.d.ts into a temporary folder and fails when either
// differs from the committed file, so the spec and the typed client can never drift from the schemas.
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { renderOpenApiYaml } from './emit-openapi.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = await mkdtemp(join(tmpdir(), 'simutrador-api-check-'))
try {
  const yamlPath = join(dir, 'openapi.yaml')
  const dtsPath = join(dir, 'schema.d.ts')
  await writeFile(yamlPath, await renderOpenApiYaml())
  execFileSync(process.execPath, [join(root, 'node_modules/openapi-typescript/bin/cli.js'), yamlPath, '-o', dtsPath, '--default-non-nullable', 'false'], { stdio: ['ignore', 'ignore', 'inherit'] })
  let failed = false
  for (const [generated, committed] of [[yamlPath, 'openapi.yaml'], [dtsPath, 'generated-client/schema.d.ts']] as const) {
    const want = await readFile(generated, 'utf8')
    const have = await readFile(join(root, committed), 'utf8').catch(() => '')
    if (want !== have) {
      failed = true
      process.stderr.write(`api:check: ${committed} is out of date; run \`npm run openapi:emit && npm run client:gen\` and commit.\n`)
      try {
        execFileSync('git', ['diff', '--no-index', '--stat', join(root, committed), generated], { stdio: 'inherit' })
      } catch { /* git diff exits 1 when files differ */ }
    }
  }
  if (failed) process.exitCode = 1
  else process.stdout.write('api:check: openapi.yaml and generated-client/schema.d.ts are up to date\n')
} finally {
  await rm(dir, { recursive: true, force: true })
}
