// Writes openapi.yaml (OpenAPI 3.1) from the app's registered TypeBox schemas and routes, without listening.
// Usage: tsx scripts/emit-openapi.ts [out.yaml]   (default: openapi.yaml at the repo root)
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../server/app.js'
import { loadConfig } from '../server/config.js'

export async function renderOpenApiYaml (): Promise<string> {
  // Fixed credentials: the document must not depend on generated secrets.
  const config = loadConfig({ JWT_SECRET: 'openapi-emitter-secret-not-used-for-anything', SIMUTRADOR_API_KEYS: 'openapi-emitter-key-0000:emitter:free', LOG_LEVEL: 'silent', SIMUTRADOR_STATE_DIR: ':memory:' })
  const app = await buildApp(config, { logger: false })
  try {
    await app.ready()
    const yaml = app.swagger({ yaml: true })
    return yaml.endsWith('\n') ? yaml : `${yaml}\n`
  } finally {
    await app.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../openapi.yaml', import.meta.url))
  await writeFile(out, await renderOpenApiYaml())
  process.stdout.write(`wrote ${out}\n`)
}
