// `simutrador session start | pause | resume | cancel | results | watch`: a session's run without writing a
// strategy. The controls are the REST calls (POST /sessions/{id}/start …); `results` prints the metrics
// table that `simulate run` ends with, or exports the trades or the equity curve as CSV; `watch` follows a
// run live through the WebSocket's `subscribe_session` until it ends (exit 0 when it finished, 1 when it
// failed or was cancelled, 130 on Ctrl-C).
import { writeFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import type { Schemas } from '../../../generated-client/index.js'
import { EquityPoint, TradeRecord } from '../../../schemas/simulation.js'
import { mul } from '../../../server/money.js'
import { SessionClient } from '../../session-client.js'
import { authedClient, contextFrom, resolveApiKey, unwrap, type AuthedClient, type CliContext, type GlobalOptions } from '../api.js'
import { handleInterrupt, InterruptedError, OperationError, UsageError } from '../errors.js'
import { decimalUnits, formatCsv, formatFields, formatMoney, printJson, printLine, progressBar, unitsToDecimal } from '../output.js'

type Session = Schemas['Session']
type Results = Schemas['SimulationResults']
type RunState = Schemas['SimulationStateData']
type Account = Schemas['AccountSnapshot']
type Client = AuthedClient['client']

/** CSV columns in the schemas' order: the export follows the wire shape without a list of its own. */
const CSV_COLUMNS = {
  trades: Object.keys(TradeRecord.properties) as Array<keyof Schemas['TradeRecord']>,
  equity: Object.keys(EquityPoint.properties) as Array<keyof Schemas['EquityPoint']>
}

/**
 * The results table `simulate run` and `session results` print: money at 2 decimals, ratios at 3,
 * percentages at 2. `ticks` is what the run replayed (metrics.bars_processed unless the caller counted).
 */
export function resultsFields (session: Session, results: Results, ticks = results.metrics.bars_processed): Array<[string, string]> {
  const m = results.metrics
  const pct = (v: number | null): string => v === null ? 'n/a' : `${v.toFixed(2)}%`
  const num = (v: number | null): string => v === null ? 'n/a' : v.toFixed(3)
  return [
    ['Session', `${session.session_id} (${session.symbols.join(', ')}, ${session.start_date} → ${session.end_date}, ${session.timeframe})`],
    ...(results.completed ? [] : [['Status', `not finished (${session.state}): metrics up to the last replayed bar`] as [string, string]]),
    ['Ticks', String(ticks)],
    ['Initial capital', formatMoney(m.initial_capital)],
    ['Final equity', formatMoney(m.final_equity)],
    ['Total return', pct(m.total_return_pct)],
    ['CAGR', pct(m.cagr_pct)],
    ['Max drawdown', pct(m.max_drawdown_pct)],
    ['Sharpe', num(m.sharpe_ratio)],
    ['Sortino', num(m.sortino_ratio)],
    ['Calmar', num(m.calmar_ratio)],
    ['Trades', `${m.total_trades} closed (${m.winning_trades} won, win rate ${pct(m.win_rate === null ? null : m.win_rate * 100)})${m.open_trades > 0 ? `, ${m.open_trades} open at the end` : ''}`],
    ['Profit factor', num(m.profit_factor)],
    ['Realized P&L', formatMoney(m.realized_pnl)],
    ['Commission', formatMoney(m.total_commission)],
    ['Fill policy', results.fill_policy_version]
  ]
}

interface ResultsFlags { csv?: 'trades' | 'equity', out?: string }
interface StartFlags { flowControl?: boolean }

export function registerRunCommands (session: Command): void {
  session.command('start')
    .description('Start a ready session\'s replay without a strategy (headless: full speed, no acks); follow it with `session watch`')
    .argument('<session_id>', 'the session id (sess_…)')
    .option('--flow-control', 'start with the server\'s defaults instead (POST …/start without a body): the run waits for a strategy that attaches with resume_session')
    .addHelpText('after', `
Examples:
  simutrador session start sess_3kT9xQ2mVb7Lw1Rz && simutrador session watch sess_3kT9xQ2mVb7Lw1Rz`)
    .action(async (id: string, flags: StartFlags, cmd: Command) => {
      await control(cmd, id, 'start', async (client) => flags.flowControl === true
        ? await client.POST('/sessions/{id}/start', { params: { path: { id } } })
        : await client.POST('/sessions/{id}/start', { params: { path: { id } }, body: { flow_control: false } }))
    })

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    session.command(action)
      .description({
        pause: 'Pause a running replay',
        resume: 'Resume a paused replay (a headless one, or one paused by a server restart)',
        cancel: 'Stop a replay early: open orders are cancelled and results computed to that point'
      }[action])
      .argument('<session_id>', 'the session id (sess_…)')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        await control(cmd, id, action, async (client) => await client.POST(`/sessions/{id}/${action}`, { params: { path: { id } } }))
      })
  }

  session.command('results')
    .description('The results of a finished (or stopped) run: the metrics table, or the trades or equity curve as CSV')
    .argument('<session_id>', 'the session id (sess_…)')
    .addOption(new Option('--csv <what>', 'print CSV instead: the round-trip trades or the daily equity curve (full precision)').choices(['trades', 'equity']))
    .option('--out <file>', 'with --csv: write the CSV to FILE instead of stdout')
    .addHelpText('after', `
Examples:
  simutrador session results sess_3kT9xQ2mVb7Lw1Rz
  simutrador session results sess_3kT9xQ2mVb7Lw1Rz --csv trades --out trades.csv
  simutrador session results sess_3kT9xQ2mVb7Lw1Rz --json        # full precision`)
    .action(async (id: string, flags: ResultsFlags, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      if (flags.out !== undefined && flags.csv === undefined) throw new UsageError('--out needs --csv trades|equity')
      const { client, persist } = await authedClient(ctx)
      const [s, results] = await Promise.all([
        client.GET('/sessions/{id}', { params: { path: { id } } }).then(unwrap),
        client.GET('/sessions/{id}/results', { params: { path: { id } } }).then(unwrap)
      ])
      await persist()
      if (flags.csv !== undefined) {
        const csv = flags.csv === 'trades' ? toCsv(CSV_COLUMNS.trades, results.trades) : toCsv(CSV_COLUMNS.equity, results.equity_curve)
        const rows = flags.csv === 'trades' ? results.trades.length : results.equity_curve.length
        if (flags.out === undefined) { process.stdout.write(csv); return }
        try {
          await writeFile(flags.out, csv)
        } catch (err) {
          throw new UsageError(`--out: cannot write ${flags.out}: ${(err as Error).message}`)
        }
        if (ctx.json) printJson({ session_id: id, csv: flags.csv, file: flags.out, rows })
        else printLine(`Wrote ${rows} ${flags.csv === 'trades' ? 'trades' : 'equity points'} to ${flags.out}`)
        return
      }
      if (ctx.json) { printJson(results); return }
      printLine(formatFields(resultsFields(s, results)))
    })

  session.command('watch')
    .description('Follow a run live (progress, equity, cash) until it ends: exit 0 when it finished, 1 when it failed or was cancelled')
    .argument('<session_id>', 'the session id (sess_…)')
    .addHelpText('after', `
Watches through the WebSocket (subscribe_session); a ready session is watched from its start. With --json
every update is one JSON line (money at full precision). Ctrl-C stops watching (exit 130), not the run.`)
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await watch(contextFrom(cmd.optsWithGlobals<GlobalOptions>()), id)
    })
}

function toCsv<K extends string> (columns: K[], rows: ReadonlyArray<Record<K, unknown>>): string {
  return formatCsv(columns, rows.map((r) => columns.map((c) => r[c])))
}

async function control (cmd: Command, id: string, action: 'start' | 'pause' | 'resume' | 'cancel', call: (client: Client) => Promise<{ data?: RunState, error?: unknown, response: Response }>): Promise<void> {
  const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
  const { client, persist } = await authedClient(ctx)
  let state: RunState
  try {
    state = unwrap(await call(client))
  } catch (err) {
    // A lockstep run paused by a restart waits for its strategy, which REST cannot bring back.
    if (action === 'resume' && err instanceof OperationError && err.body.error_code === 'INVALID_STATE' && /server restart/.test(err.body.message)) {
      throw new OperationError({ ...err.body, message: `${err.body.message}. Re-attach its strategy: simutrador simulate run STRATEGY_FILE --session ${id}` })
    }
    throw err
  }
  await persist()
  if (ctx.json) { printJson(state); return }
  const done = { start: 'Started', pause: 'Paused', resume: 'Resumed', cancel: 'Cancelled' }[action]
  printLine(`${done} session ${id}: ${state.state}, ${state.ticks_sent}/${state.total_ticks} ticks${state.reason !== undefined ? ` (${state.reason})` : ''}`)
}

// ── watch ──────────────────────────────────────────────────────────────────────────────────────────

/** One line of `watch --json`: where the run stands (money as exact decimal strings). */
interface WatchUpdate {
  session_id: string
  state: string
  ticks: number
  total_ticks: number
  sim_time: string | null
  equity: string
  cash: string
  /** true when equity is the last account snapshot's cash plus positions marked at the tick's closes. */
  marked_to_market: boolean
}

/** Ends watch with the run: resolve for a finished run, reject (OperationError / InterruptedError) otherwise. */
interface Outcome { finished: (session: Session) => void, failed: (err: Error) => void }

async function watch (ctx: CliContext, id: string): Promise<void> {
  const { client: rest, persist } = await authedClient(ctx)
  let session = unwrap(await rest.GET('/sessions/{id}', { params: { path: { id } } }))
  const { apiKey } = await resolveApiKey(ctx)
  const ws = new SessionClient({ url: ctx.servers, apiKey })
  const tty = process.stdout.isTTY && !ctx.json
  let account: Account | undefined
  const update: WatchUpdate = { session_id: id, state: session.state, ticks: Math.round(session.progress * session.estimated_ticks), total_ticks: session.estimated_ticks, sim_time: null, equity: session.initial_capital, cash: session.initial_capital, marked_to_market: false }
  let lastDecile = -1
  let lastLine = ''
  /** On a terminal the progress line is rewritten in place; this ends it before anything else is printed. */
  let lineOpen = false
  const closeLine = (): void => { if (lineOpen) { process.stdout.write('\n'); lineOpen = false } }

  const show = (force = false): void => {
    if (ctx.json) {
      const line = JSON.stringify(update)
      if (line !== lastLine && (force || decileOf(update) !== lastDecile)) { lastDecile = decileOf(update); lastLine = line; printLine(line) }
      return
    }
    const text = `${update.state.padEnd(9)} ${progressBar(update.total_ticks === 0 ? 1 : update.ticks / update.total_ticks, 30)}  ${update.ticks}/${update.total_ticks} ticks` +
      `  equity ${formatMoney(update.equity)}  cash ${formatMoney(update.cash)}${update.sim_time !== null ? `  ${update.sim_time.slice(0, 16).replace('T', ' ')}` : ''}`
    if (tty) { process.stdout.write(`\r${text}\x1b[K`); lineOpen = true; return }
    if (force || decileOf(update) !== lastDecile) {
      lastDecile = decileOf(update)
      if (text !== lastLine) printLine(text)
      lastLine = text
    }
  }

  let outcome: Outcome | undefined
  const ended = new Promise<Session>((resolve, reject) => { outcome = { finished: resolve, failed: reject } })
  // It may settle before it is awaited (a run that had already ended): that is not an unhandled rejection.
  ended.catch(() => undefined)
  const fail = (err: Error): void => { outcome?.failed(err) }

  /** The run has ended (or had already): decide the exit from the stored session and its results. */
  let settling = false
  const settle = async (s: Session): Promise<void> => {
    update.state = s.state
    // The end is seen up to three times (simulation_complete, the session_updated push, a re-read): once is enough.
    if ((s.state !== 'completed' && s.state !== 'error') || settling) return
    settling = true
    if (s.state === 'error') { fail(new OperationError({ error_code: 'SIMULATION_FAILED', message: `Session ${id} failed: ${s.error_message ?? 'unknown error'}`, details: { session_id: id, state: s.state } })); return }
    if (s.state !== 'completed') return
    const results = unwrap(await rest.GET('/sessions/{id}/results', { params: { path: { id } } }))
    update.ticks = results.metrics.bars_processed
    update.equity = results.metrics.final_equity
    const last = results.equity_curve.at(-1)
    if (last !== undefined) { update.cash = last.cash; update.sim_time = last.sim_time }
    update.marked_to_market = false
    show(true)
    if (!results.completed) {
      fail(new OperationError({ error_code: 'SIMULATION_CANCELLED', message: `Session ${id} was cancelled after ${update.ticks}/${update.total_ticks} ticks`, details: { session_id: id, ticks: update.ticks, total_ticks: update.total_ticks } }))
      return
    }
    closeLine()
    if (!ctx.json) { printLine(); printLine(formatFields(resultsFields(s, results))) }
    outcome?.finished(s)
  }
  const settleLatest = (): void => {
    void rest.GET('/sessions/{id}', { params: { path: { id } } }).then(unwrap).then(async (s) => { session = s; await settle(s) }).catch(fail)
  }

  ws.on('tick', (t) => {
    if (t.session_id !== id) return
    update.ticks = t.sequence_id
    update.sim_time = t.sim_time
    update.state = 'running'
    if (account !== undefined && t.bars !== undefined) {
      // Between fills the equity moves with prices: the last snapshot's cash plus its positions at these closes.
      let equity = decimalUnits(account.cash)
      for (const p of account.positions) {
        const close = t.bars[p.symbol]?.close
        const value = close !== undefined ? decimalUnits(close) : decimalUnits(p.last_price)
        const qty = decimalUnits(p.quantity)
        if (equity === undefined || value === undefined || qty === undefined) { equity = undefined; break }
        equity += mul(qty, value)
      }
      if (equity !== undefined) { update.equity = unitsToDecimal(equity); update.marked_to_market = account.positions.length > 0 }
    }
    show()
  })
  // Account snapshots carry no session id; a watcher hears only the run it subscribed to.
  ws.on('account_snapshot', (a) => {
    account = a
    update.equity = a.equity
    update.cash = a.cash
    update.sim_time = a.sim_time
    update.marked_to_market = false
  })
  for (const type of ['simulation_started', 'simulation_paused', 'simulation_resumed'] as const) {
    ws.on(type, (d) => {
      if (d.session_id !== id) return
      update.state = 'state' in d ? d.state : 'running'
      if ('total_ticks' in d) update.total_ticks = d.total_ticks
      show(true)
    })
  }
  ws.on('simulation_complete', (d) => { if (d.session_id === id) settleLatest() })
  ws.on('session_updated', (s) => { if (s.session_id === id && (s.state === 'error' || s.state === 'completed')) { session = s; void settle(s).catch(fail) } })
  ws.on('session_deleted', (d) => { if (d.session_id === id) fail(new OperationError({ error_code: 'SESSION_NOT_FOUND', message: `Session ${id} was deleted while watching`, details: { session_id: id } })) })
  ws.on('session_error', (e) => {
    const details = e.details as { session_id?: unknown } | undefined
    if (details?.session_id === id) fail(new OperationError({ error_code: e.error_code, message: e.message, details: e.details ?? {} }))
  })
  // A new connection is a new subscription: subscribe again and look at the state in case it ended meanwhile.
  ws.on('connected', ({ reconnected }) => { if (reconnected) void subscribe().catch(fail) })

  const subscribe = async (): Promise<void> => {
    try {
      await ws.request('subscribe_session', { session_id: id }, 'subscription')
    } catch (err) {
      // There is no run to watch any more (it ended and was unloaded): its stored state tells how it ended.
      const now = unwrap(await rest.GET('/sessions/{id}', { params: { path: { id } } }))
      if (now.state === 'completed' || now.state === 'error') { session = now; await settle(now); return }
      throw err
    }
    // The run may have ended, or moved on, between the first look and the subscription.
    session = unwrap(await rest.GET('/sessions/{id}', { params: { path: { id } } }))
    update.state = session.state
    update.total_ticks = session.estimated_ticks
    update.ticks = Math.max(update.ticks, Math.round(session.progress * session.estimated_ticks))
    if (session.state === 'running' || session.state === 'paused') {
      const acc = await rest.GET('/sessions/{id}/account', { params: { path: { id } } })
      if (acc.data !== undefined) { account = acc.data; update.equity = acc.data.equity; update.cash = acc.data.cash; update.sim_time = acc.data.sim_time }
    }
    if (session.state === 'completed' || session.state === 'error') await settle(session)
    else show(true)
  }

  /** A ready session has no run to subscribe to yet: wait for the push that says it started. */
  const started = async (): Promise<void> => {
    let seen: () => void = () => undefined
    const push = new Promise<void>((resolve) => { seen = resolve })
    const off = ws.on('session_updated', (s) => { if (s.session_id === id && s.state !== 'ready') seen() })
    try {
      session = unwrap(await rest.GET('/sessions/{id}', { params: { path: { id } } }))
      if (session.state !== 'ready') return
      show(true)
      if (!ctx.json) process.stderr.write(`Session ${id} is ready; waiting for its run to start (Ctrl-C to stop watching).\n`)
      await Promise.race([push, ended])
    } finally {
      off()
    }
  }

  const giveBackCtrlC = handleInterrupt(() => { fail(new InterruptedError()) })
  try {
    if (session.state === 'completed' || session.state === 'error') {
      await settle(session)
    } else {
      await ws.connect()
      await started()
      await subscribe()
    }
    await ended
  } finally {
    giveBackCtrlC()
    closeLine()
    await ws.close()
    await persist()
  }
}

function decileOf (u: WatchUpdate): number {
  return u.total_ticks === 0 ? 10 : Math.floor((u.ticks / u.total_ticks) * 10)
}
