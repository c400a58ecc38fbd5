#!/usr/bin/env node
// Starts the SimuTrador server from its compiled JavaScript in dist/ (built by `npm run build`, which `npm ci`
// and `npm pack` run). Developing? `npm run dev` runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs'

const main = new URL('../dist/server/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('simutrador-server: dist/ is not built. Run `npm run build` (npm ci does it) and start again.\n')
  process.exit(1)
}
await import(main.href)
