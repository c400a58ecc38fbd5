// Memory of many concurrent runs over the same bars (issue 9, bounded memory): N sessions of the same
// symbols, timeframe and range (default 20 × AAPL 1m 2023-01-03..2023-12-29), all started at once through
// the real app's SimulationService with flow control and no strategy connection, so every run is live and
// holds its engine while it waits for an ack. Prints heap and array buffers after GC (where the bars live:
// typed arrays) before the runs, while they run and after deleting them, per run, and the time to start
// them all. Since runs share one series and one timeline per symbol list, the figure per run is the run's
// own state (equity curve per step, account, order book, its event-log window), not a copy of the bars.
//
// Run:      npx tsx scripts/bench/shared-bars.ts
// Options:  --runs=20 --symbols=AAPL,MSFT --timeframe=1m --start=2023-01-03 --end=2023-12-29
// Before/after: the script does not depend on the sharing; run it from a checkout of the parent commit to
// get the "before" figure (it then reports the cache as absent).
import type { Timeframe } from '../../schemas/market-data.js'
import { benchUsers, gcFunction, int, listenApp, machineLine, mb, memoryAfterGc, ms, type MemorySample } from './lib.js'

function arg (name: string, fallback: string): string {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : a.slice(name.length + 3)
}

async function main (): Promise<void> {
  const runs = Number(arg('runs', '20'))
  const symbols = arg('symbols', 'AAPL').split(',')
  const timeframe = arg('timeframe', '1m') as Timeframe
  const start = arg('start', '2023-01-03')
  const end = arg('end', '2023-12-29')
  console.log(machineLine())
  console.log(`command: npx tsx scripts/bench/shared-bars.ts --runs=${runs} --symbols=${symbols.join(',')} --timeframe=${timeframe} --start=${start} --end=${end}`)
  const gc = gcFunction()
  const users = benchUsers(1, 'bars')
  const { app } = await listenApp(users)
  try {
    const user = { user_id: users[0].user_id, plan: users[0].plan }
    const live = { flow_control: true, max_pending_ticks: 16, include_bars: true }
    // Warm-up with another range (demo daily walk cached, code compiled), then measure from no run.
    const warm = await app.sessions.create(user, { symbols, start_date: '2022-01-03', end_date: '2022-01-31', timeframe })
    await app.simulation.start(user, warm.session.session_id, live, undefined)
    await app.sessions.delete(user, warm.session.session_id)

    const ids: string[] = []
    for (let i = 0; i < runs; i++) ids.push((await app.sessions.create(user, { symbols, start_date: start, end_date: end, timeframe })).session.session_id)
    const before = memoryAfterGc(gc)
    const t0 = performance.now()
    const started = await Promise.all(ids.map(async (id) => await app.simulation.start(user, id, live, undefined)))
    const startMs = performance.now() - t0
    const during = memoryAfterGc(gc)
    const shared = (app.marketData as { sharedSeries?: { stats: () => unknown } }).sharedSeries?.stats()
    const timelines = (app.simulation as { timelineStats?: unknown }).timelineStats
    for (const id of ids) await app.sessions.delete(user, id)
    const after = memoryAfterGc(gc)

    const d = (a: MemorySample, b: MemorySample): string =>
      `heap ${mb(b.heapUsed - a.heapUsed)}, array buffers ${mb(b.arrayBuffers - a.arrayBuffers)}, heap+buffers ${mb(b.heapUsed + b.arrayBuffers - a.heapUsed - a.arrayBuffers)}, RSS ${mb(b.rss - a.rss)}`
    const perRun = (during.heapUsed + during.arrayBuffers - before.heapUsed - before.arrayBuffers) / runs
    console.log(`${runs} concurrent running sessions of ${symbols.join(', ')} ${timeframe} ${start}..${end}: ${int(started[0].total_ticks)} steps each, window 16, idle after the first ticks`)
    console.log(`  start all ${runs} at once: ${ms(startMs, 0)}`)
    console.log(`  running vs. before start:  ${d(before, during)}  (${mb(perRun)} per run)`)
    console.log(`  after deleting them:       ${d(before, after)}`)
    console.log(`  shared series: ${shared === undefined ? 'absent (a copy per run)' : JSON.stringify(shared)}`)
    console.log(`  shared timelines: ${timelines === undefined ? 'absent (one per run)' : JSON.stringify(timelines)}`)
  } finally {
    await app.close()
  }
}

await main()
