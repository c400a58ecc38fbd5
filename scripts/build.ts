// Compiles the package to JavaScript in dist/ (issue 12): tsc with tsconfig.build.json (server, client, schemas,
// generated client, with .d.ts files), plus the files tsc does not emit: the SQL migrations the server reads
// at start and the generated client's schema.d.ts. `npm ci` (postprepare) and `npm pack` (prepack) run it.
// Usage: tsx scripts/build.ts [--out-dir=dist]
//
// The output is written to a fresh sibling folder and swapped in at the end, so a server or CLI already
// started from dist/ never sees it half written or missing for longer than two renames.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const outArg = process.argv.slice(2).find((a) => a.startsWith('--out-dir='))
const out = resolve(root, outArg === undefined ? 'dist' : outArg.slice('--out-dir='.length))
const staging = `${out}.build-${process.pid}`

rmSync(staging, { recursive: true, force: true })
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', staging], { stdio: 'inherit' })
if (tsc.status !== 0) {
  rmSync(staging, { recursive: true, force: true })
  process.stderr.write(`build: tsc failed (exit ${tsc.status ?? tsc.signal})\n`)
  process.exit(1)
}

/** Files tsc leaves out, copied to the same place under the output folder. */
const assets = [
  ...readdirSync(join(root, 'server/adapters/sql/migrations')).filter((f) => f.endsWith('.sql')).map((f) => `server/adapters/sql/migrations/${f}`),
  'generated-client/schema.d.ts'
]
for (const rel of assets) {
  mkdirSync(dirname(join(staging, rel)), { recursive: true })
  cpSync(join(root, rel), join(staging, rel))
}

const old = `${out}.old-${process.pid}`
if (existsSync(out)) renameSync(out, old)
renameSync(staging, out)
rmSync(old, { recursive: true, force: true })
process.stdout.write(`build: ${out} (${assets.length} assets copied)\n`)
