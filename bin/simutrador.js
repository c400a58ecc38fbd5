#!/usr/bin/env node
// The `simutrador` command-line client, run from its compiled JavaScript in dist/ (built by `npm run build`,
// which `npm ci` and `npm pack` run). Tests run the TypeScript sources: node --import tsx client/cli/main.ts
import { existsSync } from 'node:fs'

const main = new URL('../dist/client/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('simutrador: dist/ is not built. Run `npm run build` (npm ci does it) and try again.\n')
  process.exit(1)
}
await import(main.href)
