// CLI start time (issue 12): wall time of `node <bin> --version` as a fresh process, the way a user's shell
// starts the `simutrador` command. Each run is a separate process; the figure is the median of the runs.
// Run: npx tsx scripts/bench/cli-start.ts [--runs=15] [--bin=bin/simutrador.js]
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'

const args = new Map(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=')
  return [k, v ?? '']
}))
const runs = Number(args.get('runs') ?? 15)
const root = fileURLToPath(new URL('../../', import.meta.url))
const bin = resolve(root, args.get('bin') ?? 'bin/simutrador.js')

// The child must not inherit a loader (tsx, tap's coverage) from whoever started this script.
const env = { ...process.env }
delete env.NODE_OPTIONS
delete env.NODE_V8_COVERAGE

function once (): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [bin, '--version'], { env, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${bin} --version exited ${r.status}: ${r.stderr}`)
  return ms
}

once() // warm the file-system cache; not counted
const samples = Array.from({ length: runs }, once).sort((a, b) => a - b)
const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]
console.log(`command: npx tsx scripts/bench/cli-start.ts --runs=${runs} --bin=${args.get('bin') ?? 'bin/simutrador.js'}`)
console.log(`node ${process.version}; ${runs} runs of \`node ${bin} --version\``)
console.log(`median ${at(0.5).toFixed(0)} ms   min ${samples[0].toFixed(0)} ms   p90 ${at(0.9).toFixed(0)} ms   max ${samples[samples.length - 1].toFixed(0)} ms`)
