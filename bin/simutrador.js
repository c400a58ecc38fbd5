#!/usr/bin/env node
// The `simutrador` command-line client, run from its TypeScript sources (tsx loader).
import { register } from 'tsx/esm/api'

register()
await import('../client/cli/main.ts')
