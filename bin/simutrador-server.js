#!/usr/bin/env node
// Starts the SimuTrador server from its TypeScript sources (tsx loader): no build step after `npm ci`.
import { register } from 'tsx/esm/api'

register()
await import('../server/main.ts')
