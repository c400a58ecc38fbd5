// CLI start time (issue 12): wall time of `node <bin> --version` as a fresh process, the way a user's shell
// starts the `simutrador` command, next to `node -e 0` (what Node itself costs on this machine right now).
// Runs are interleaved across the commands so a change in machine load hits them alike; each figure is the
// median of its runs.
// Run: npx tsx scripts/bench/cli-start.ts [--runs=15] [--bin=bin/simutrador.js[,/other/checkout/bin/simutrador.js]]
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'

const args = new Map(process.argv.slice(2).map((a) => {
  const [k, v] = a.replace(/^--/, '').split('=')
  return [k, v ?? '']
}))
const runs = Number(args.get('runs') ?? 15)
const root = fileURLToPath(new URL('../../', import.meta.url))
const binArg = args.get('bin') ?? 'bin/simutrador.js'
const commands: Array<{ label: string, argv: string[] }> = [
  { label: 'node -e 0', argv: ['-e', '0'] },
  ...binArg.split(',').map((b) => ({ label: `node ${b} --version`, argv: [resolve(root, b), '--version'] }))
]

// The children must not inherit a loader (tsx, tap's coverage) from whoever started this script.
const env = { ...process.env }
delete env.NODE_OPTIONS
delete env.NODE_V8_COVERAGE

function once (argv: string[]): number {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, argv, { env, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${r.stderr}`)
  return ms
}

for (const c of commands) once(c.argv) // warm the file-system cache; not counted
const samples = commands.map(() => [] as number[])
for (let i = 0; i < runs; i++) commands.forEach((c, j) => { samples[j].push(once(c.argv)) })

console.log(`command: npx tsx scripts/bench/cli-start.ts --runs=${runs} --bin=${binArg}`)
console.log(`node ${process.version}; ${runs} runs each, interleaved; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`)
for (const [j, c] of commands.entries()) {
  const s = samples[j].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(s.length * q))]
  console.log(`${c.label.padEnd(60)} median ${at(0.5).toFixed(0).padStart(5)} ms   min ${s[0].toFixed(0).padStart(5)} ms   p90 ${at(0.9).toFixed(0).padStart(5)} ms`)
}
