// `simutrador session create | status | list | delete` (the run's commands are in session-run.ts). Create takes flags, a --config JSON/YAML file, or a
// wizard on a terminal; it checks the body against the CreateSessionBody schema, asks the server to validate
// symbols and dates (showing per-symbol verdicts and suggestions), then creates with an Idempotency-Key so a
// retry after a network failure cannot create a second session.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { Option, type Command } from 'commander'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { parse as parseYaml } from 'yaml'
import type { Schemas } from '../../../generated-client/index.js'
import { CreateSessionBody, SESSION_DEFAULTS } from '../../../schemas/sessions.js'
import { Timeframe } from '../../../schemas/market-data.js'
import { authedClient, contextFrom, serverList, unwrap, type CliContext, type GlobalOptions } from '../api.js'
import { OperationError, UsageError } from '../errors.js'
import { formatFields, formatMoney, formatTable, isRecord, printJson, printLine, progressBar } from '../output.js'
import { sessionWizard } from '../prompts.js'
import { registerRunCommands } from './session-run.js'
import { printVerdicts, unknownSymbols, validationError } from './market.js'

type Session = Schemas['Session']
// The schema's own type (defaulted fields optional); the generated request type marks them required.
type CreateBody = CreateSessionBody

const SESSION_STATES = ['initializing', 'ready', 'running', 'paused', 'completed', 'error'] as const
const checkCreateBody = TypeCompiler.Compile(CreateSessionBody, [Timeframe])

export interface SessionBodyFlags {
  symbols?: string
  start?: string
  end?: string
  timeframe?: string
  capital?: string
  commission?: string
  minCommission?: string
  slippageBps?: string
  allowShort?: boolean
  volumeParticipation?: string
  metadata?: string
  id?: string
  config?: string
}

interface CreateFlags extends SessionBodyFlags {
  idempotencyKey?: string
  validate: boolean
}

/** The flags that describe a session body, shared by `session create` and `simulate run`. */
export function addSessionBodyOptions (cmd: Command): Command {
  return cmd
    .option('--symbols <list>', 'comma-separated symbols, e.g. AAPL,MSFT')
    .option('--start <date>', 'first day, YYYY-MM-DD')
    .option('--end <date>', 'last day, YYYY-MM-DD')
    .addOption(new Option('--timeframe <tf>', 'bar size').choices(['1d', '1h', '1m']))
    .option('--capital <amount>', 'initial capital (default 100000)')
    .option('--commission <amount>', 'commission per share (default 0.005)')
    .option('--min-commission <amount>', 'minimum commission per order (default 0)')
    .option('--slippage-bps <bps>', 'slippage in basis points (default 5)')
    .option('--allow-short', 'allow short selling')
    .option('--volume-participation <fraction>', 'largest fraction of a bar\'s volume one order may fill (0..1]')
    .option('--metadata <json>', 'JSON object stored with the session')
    .option('--id <session_id>', 'choose the session id yourself')
    .option('-c, --config <file>', 'session.json or session.yaml with CreateSessionBody fields (flags override it)')
}

/** The session body from --config and the flags (flags win), checked against CreateSessionBody. */
export async function sessionBodyFrom (flags: SessionBodyFlags): Promise<Partial<CreateBody>> {
  return { ...(flags.config !== undefined ? await readConfig(flags.config) : {}), ...bodyFromFlags(flags) }
}

export function registerSessionCommands (program: Command): void {
  const session = program.command('session').description('Create, inspect, list and delete simulation sessions; start, watch and control their runs; read their results')

  addSessionBodyOptions(session.command('create')
    .description('Create a session from flags, a config file, or (on a terminal) a short wizard'))
    .option('--idempotency-key <key>', 'reuse to make a retried create return the same session (default: random)')
    .option('--no-validate', 'skip the market-data pre-check (the server still validates)')
    .addHelpText('after', `
Examples:
  simutrador session create --symbols AAPL,MSFT --start 2023-01-03 --end 2023-06-30 --capital 100000
  simutrador session create --config session.yaml --json`)
    .action(async (flags: CreateFlags, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      let body = await sessionBodyFrom(flags)
      const missing = (['symbols', 'start_date', 'end_date'] as const).filter((k) => body[k] === undefined)
      const wizard = process.stdin.isTTY && process.stdout.isTTY && !ctx.json
      if (missing.length > 0 && !wizard) {
        const flag = { symbols: '--symbols', start_date: '--start', end_date: '--end' }
        throw new UsageError(`missing ${missing.map((k) => flag[k]).join(', ')}`, 'Pass the flags or --config FILE (see `simutrador session create --help`).')
      }
      // A body given whole is a usage error before any key is needed; the wizard's answers need the server.
      if (missing.length === 0) checked(body)
      const { client, persist } = await authedClient(ctx)
      try {
        if (missing.length > 0) body = await sessionWizard(body, { unknownSymbols: async (symbols) => await unknownSymbols(client, symbols) })
        const valid = checked(body)
        if (flags.validate) {
          const verdict = unwrap(await client.POST('/market-data/validate', {
            body: { symbols: valid.symbols, start_date: valid.start_date, end_date: valid.end_date, ...(valid.timeframe !== undefined ? { timeframe: valid.timeframe } : {}) }
          }))
          if (!verdict.valid) {
            if (!ctx.json) printVerdicts(verdict, process.stderr)
            throw validationError(verdict)
          }
        }
        const created = await createWithRetry(ctx, client, valid, flags.idempotencyKey ?? randomUUID())
        if (ctx.json) { printJson(created); return }
        printLine(`Created session ${created.session_id}`)
        printLine(formatFields(sessionFields(created)))
      } finally {
        await persist()
      }
    })

  session.command('status')
    .description('Show one session: state, progress (a bar while it runs) and settings')
    .argument('<session_id>', 'the session id (sess_…)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const { client, persist } = await authedClient(ctx)
      const s = unwrap(await client.GET('/sessions/{id}', { params: { path: { id } } }))
      await persist()
      if (ctx.json) { printJson(s); return }
      printLine(formatFields(sessionFields(s)))
    })

  session.command('list')
    .description('List your sessions, newest first')
    .addOption(new Option('--state <state>', 'only sessions in this state').choices(SESSION_STATES))
    .action(async (opts: { state?: typeof SESSION_STATES[number] }, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const { client, persist } = await authedClient(ctx)
      const sessions: Session[] = []
      let cursor: string | undefined
      do {
        const page = unwrap(await client.GET('/sessions', { params: { query: { limit: 100, ...(opts.state !== undefined ? { state: opts.state } : {}), ...(cursor !== undefined ? { cursor } : {}) } } }))
        sessions.push(...page.sessions)
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      await persist()
      if (ctx.json) { printJson(sessions); return }
      if (sessions.length === 0) { printLine(opts.state !== undefined ? `No sessions in state ${opts.state}.` : 'No sessions.'); return }
      printLine(formatTable(
        ['SESSION', 'STATE', 'SYMBOLS', 'PERIOD', 'TF', 'CAPITAL', 'PROGRESS', 'CREATED'],
        sessions.map((s) => [s.session_id, s.state, abbreviate(s.symbols), `${s.start_date}..${s.end_date}`, s.timeframe, formatMoney(s.initial_capital), `${Math.floor(s.progress * 100)}%`, s.created_at.slice(0, 19).replace('T', ' ')])
      ))
    })

  session.command('delete')
    .description('Delete a session (stops it if running)')
    .argument('<session_id>', 'the session id (sess_…)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const { client, persist } = await authedClient(ctx)
      unwrap(await client.DELETE('/sessions/{id}', { params: { path: { id } } }))
      await persist()
      // The same shape as the WebSocket's session_deleted reply.
      const deleted: Schemas['SessionDeleted'] = { session_id: id, deleted: true }
      if (ctx.json) { printJson(deleted); return }
      printLine(`Deleted session ${id}.`)
    })

  registerRunCommands(session)
}

function bodyFromFlags (f: SessionBodyFlags): Partial<CreateBody> {
  const body: Partial<CreateBody> = {}
  if (f.symbols !== undefined) body.symbols = f.symbols.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  if (f.start !== undefined) body.start_date = f.start
  if (f.end !== undefined) body.end_date = f.end
  if (f.timeframe !== undefined) body.timeframe = f.timeframe as CreateBody['timeframe']
  if (f.capital !== undefined) body.initial_capital = f.capital
  if (f.commission !== undefined) body.commission_per_share = f.commission
  if (f.minCommission !== undefined) body.min_commission_per_order = f.minCommission
  if (f.slippageBps !== undefined) body.slippage_bps = numberFlag('--slippage-bps', f.slippageBps)
  if (f.allowShort === true) body.allow_short = true
  if (f.volumeParticipation !== undefined) body.volume_participation = numberFlag('--volume-participation', f.volumeParticipation)
  if (f.id !== undefined) body.session_id = f.id
  if (f.metadata !== undefined) {
    let parsed: unknown
    try { parsed = JSON.parse(f.metadata) } catch { throw new UsageError('--metadata: not valid JSON') }
    if (!isRecord(parsed)) throw new UsageError('--metadata: must be a JSON object')
    body.metadata = parsed
  }
  return body
}

function numberFlag (flag: string, value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag}: '${value}' is not a number`)
  return n
}

/** A session body from a JSON or YAML file (by extension; otherwise JSON, then YAML). */
async function readConfig (path: string): Promise<Partial<CreateBody>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError(`--config: cannot read ${path}: ${(err as Error).message}`)
  }
  const ext = extname(path).toLowerCase()
  let parsed: unknown
  try {
    parsed = ext === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new UsageError(`--config: ${path} is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`)
  }
  if (!isRecord(parsed)) throw new UsageError(`--config: ${path} must contain an object with session fields`)
  // Dates written unquoted in YAML become Date objects; the wire wants YYYY-MM-DD strings.
  for (const [k, v] of Object.entries(parsed)) if (v instanceof Date) parsed[k] = v.toISOString().slice(0, 10)
  return parsed as Partial<CreateBody>
}

/** The body if it matches CreateSessionBody (the schema the server validates with); a usage error otherwise. */
export function checked (body: Partial<CreateBody>): CreateBody {
  if (checkCreateBody.Check(body)) return body
  const problems = [...checkCreateBody.Errors(body)].slice(0, 5).map((e) => `${e.path.replace(/^\//, '').replace(/\//g, '.') || '(body)'}: ${e.message}`)
  throw new UsageError(`VALIDATION_FAILED: invalid session settings\n  ${[...new Set(problems)].join('\n  ')}`, 'See `simutrador session create --help`.')
}

async function createWithRetry (ctx: CliContext, client: Awaited<ReturnType<typeof authedClient>>['client'], body: CreateBody, key: string): Promise<Session> {
  // The generated body type requires the defaulted fields, so send the schema's defaults explicitly.
  const full = { ...SESSION_DEFAULTS, ...body }
  const attempt = async (): Promise<Session> => unwrap(await client.POST('/sessions', { body: full, params: { header: { 'idempotency-key': key } } }))
  try {
    return await attempt()
  } catch (err) {
    // Only a transport failure is retried: the same Idempotency-Key makes the server return the first result.
    if (!(err instanceof TypeError)) throw err
    await new Promise((resolve) => setTimeout(resolve, 500))
    try {
      return await attempt()
    } catch (again) {
      if (again instanceof TypeError) throw new OperationError({ error_code: 'CONNECTION_FAILED', message: `Cannot reach ${serverList(ctx.servers)}`, details: { idempotency_key: key } })
      throw again
    }
  }
}

function sessionFields (s: Session): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['Session', s.session_id],
    ['State', s.state]
  ]
  if (s.state === 'running' || s.state === 'paused') fields.push(['Progress', `${progressBar(s.progress)}  (${Math.round(s.progress * s.estimated_ticks)}/${s.estimated_ticks} ticks)`])
  else if (s.state === 'completed') fields.push(['Progress', progressBar(1)])
  if (s.error_message !== undefined) fields.push(['Error', s.error_message])
  fields.push(
    ['Symbols', s.symbols.join(', ')],
    ['Period', `${s.start_date} → ${s.end_date} (${s.timeframe} bars, ~${s.estimated_ticks} ticks)`],
    ['Capital', formatMoney(s.initial_capital)],
    ['Costs', `commission ${s.commission_per_share}/share (min ${formatMoney(s.min_commission_per_order)}), slippage ${s.slippage_bps} bps${s.allow_short ? ', shorting allowed' : ''}`],
    ['Created', s.created_at],
    ['Expires', s.expires_at ?? 'never while running']
  )
  if (Object.keys(s.metadata).length > 0) fields.push(['Metadata', JSON.stringify(s.metadata)])
  return fields
}

function abbreviate (symbols: string[]): string {
  return symbols.length <= 3 ? symbols.join(',') : `${symbols.slice(0, 3).join(',')},+${symbols.length - 3}`
}
