// Runs a strategy object against a session over the SessionClient: starts the simulation, hands every
// tick, fill and account update to the strategy in order, sends the orders it returns before acknowledging
// the tick (so they are tried on the next bar), and resumes after a reconnect (to another instance too,
// when the client was given several URLs) without losing or repeating an event or an order. The strategy
// never sees the protocol. When the strategy's own code throws, the server is told (`strategy_error`, so
// the run ends in state `error` with the message instead of hanging paused) and the strategy's original
// error is rethrown, stack included.
import type { AccountSnapshot, BatchAck, ExecutionReport, Order, OrderBatchData, OrderRequest, OrderUpdate, RejectedOrder, ReplaceOrderBody, SimulationCompleteData, StartSimulationData, TickData } from '../schemas/simulation.js'
import type { CreateSessionBody, Session } from '../schemas/sessions.js'
import { StrategyErrorData, type StateSyncData } from '../schemas/simulation-control.js'
import type { SessionClient, SessionClientEvent } from './session-client.js'
import { SessionError } from './session-error.js'
import { bucketRetryAfterMs } from './rate-limit-retry.js'

/** Bounds of `strategy_error`, from its schema, and how long runStrategy waits for its reply. */
const STRATEGY_ERROR_MESSAGE_MAX = StrategyErrorData.properties.message.maxLength ?? 4096
const STRATEGY_ERROR_STACK_MAX = StrategyErrorData.properties.stack.maxLength ?? 16_384
const STRATEGY_ERROR_REPLY_MS = 5000
/**
 * A resume refused for a passing reason (the server's database or shared bus is down, the run is moving
 * between instances) is sent again on the same connection, up to this many times, backing off 250 ms →
 * 4 s (about 30 s in all), before the run gives up with that error.
 */
const RESUME_RETRIES = 10
const RESUME_RETRY_FIRST_MS = 250
const RESUME_RETRY_MAX_MS = 4000

/** Errors thrown by a strategy's own callbacks (as opposed to the SDK or the server), as rethrown. */
const strategyErrors = new WeakSet<object>()

/** True when `err` was thrown by the strategy's code and rethrown by runStrategy (the CLI prints its stack). */
export function isStrategyError (err: unknown): err is Error {
  return typeof err === 'object' && err !== null && strategyErrors.has(err)
}

/** Carries a strategy's exception through runStrategy's own error handling, to be told apart from SDK errors. */
class StrategyThrew {
  constructor (readonly error: Error) {}
}

/** Run one strategy callback; whatever it throws comes out as StrategyThrew. */
async function guarded<T> (fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    // A thrown non-object (`throw 'boom'`) has no stack and cannot be marked: it becomes an Error.
    throw new StrategyThrew(err instanceof Error ? err : typeof err === 'object' && err !== null ? Object.assign(new Error(String(err)), { cause: err }) : new Error(String(err)))
  }
}

/** An order as a strategy returns it; `order_id` is generated when omitted. */
export type StrategyOrder = Omit<OrderRequest, 'order_id'> & { order_id?: string }

export interface StrategyContext {
  readonly session: Session
  /** The latest account snapshot (updated per the run's account_update_frequency). */
  readonly account: AccountSnapshot | undefined
  /** Cancel a working order; resolves when the server has cancelled it. */
  cancel: (orderId: string) => Promise<void>
  /** Replace a working order (new price, quantity, trail, time in force); resolves the new order. */
  replace: (orderId: string, changes: ReplaceOrderBody) => Promise<Order>
}

/**
 * An order the server refused: batch_ack's RejectedOrder (error_code, reason) with the order as the server
 * recorded it (status rejected). `order` is absent only for a repeated order_id, which is not recorded.
 */
export type StrategyRejection = RejectedOrder & { order?: Order }

export interface Strategy {
  onStart?: (ctx: StrategyContext) => void | Promise<void>
  /** Orders returned here are sent before the tick is acknowledged, so they are tried on the next bar. */
  onTick: (tick: TickData, ctx: StrategyContext) => StrategyOrder[] | void | Promise<StrategyOrder[] | void>
  onFill?: (fill: ExecutionReport, ctx: StrategyContext) => void | Promise<void>
  /** Every order update: accepted, filled, cancelled, expired, replaced, and rejected (with error_code and reason). */
  onOrder?: (update: OrderUpdate, ctx: StrategyContext) => void | Promise<void>
  /**
   * An order refused, at submission (short selling off, buying power, a symbol outside the session, a malformed
   * order) or when it came to fill (as backtrader's notify_order with Rejected/Margin, nautilus's
   * on_order_rejected). Called after onOrder has heard the same refusal, and for a repeated order_id too.
   */
  onReject?: (rejection: StrategyRejection, ctx: StrategyContext) => void | Promise<void>
  onAccount?: (account: AccountSnapshot, ctx: StrategyContext) => void | Promise<void>
  onEnd?: (result: SimulationCompleteData, ctx: StrategyContext) => void | Promise<void>
}

export interface RunStrategyOptions {
  /**
   * An existing session by id, or the parameters of a new one. A ready session is started. A running or
   * paused one (its strategy process gone, the server restarted, the user paused it) is re-attached at the
   * end of its log: the strategy hears the steps from there on, and a run the user paused is resumed.
   */
  session?: string | CreateSessionBody
  /** The same as `session: '<id>'`. */
  sessionId?: string
  /**
   * The run goes on after an interruption: a dropped connection (`reconnected`, e.g. a server restart), or a
   * re-attach. Called with the first step the strategy then hears.
   */
  onResume?: (info: { session_id: string, step: number, reconnected: boolean }) => void
  /** start_simulation options (flow control defaults to lockstep). */
  start?: Omit<StartSimulationData, 'session_id'>
  /** Called with progress 0..1 at most every `progressEveryTicks` ticks. */
  onProgress?: (progress: { ticks: number, total: number, session_id: string }) => void
  progressEveryTicks?: number
}

export interface StrategyRunResult {
  session: Session
  complete: SimulationCompleteData
  ticks: number
  orders_sent: number
}

type StrategyStep = Awaited<ReturnType<Strategy['onTick']>>

/**
 * Clients with a run in progress. One run per client at a time: order updates, fills and account snapshots
 * carry no session id and sequence ids are per run, so two runs on one connection cannot be told apart (the
 * second would drop the first's events as repeats and could end with the other run's result).
 */
const running = new WeakMap<SessionClient, string>()

/** Run `strategy` to the end of its session and resolve with the `simulation_complete` metrics. */
export async function runStrategy (client: SessionClient, strategy: Strategy, opts: RunStrategyOptions): Promise<StrategyRunResult> {
  const busy = running.get(client)
  if (busy !== undefined) {
    throw SessionError.client('RUN_IN_PROGRESS', `This client is already running a strategy (${busy}); use one SessionClient per concurrent run`, { details: { running: busy } })
  }
  running.set(client, opts.sessionId ?? (typeof opts.session === 'string' ? opts.session : 'a new session'))
  try {
    return await runOne(client, strategy, opts)
  } finally {
    running.delete(client)
  }
}

async function runOne (client: SessionClient, strategy: Strategy, opts: RunStrategyOptions): Promise<StrategyRunResult> {
  const target = opts.sessionId ?? opts.session
  if (target === undefined) throw new TypeError('runStrategy needs `session` (an id, or the parameters of a new session) or `sessionId`')
  const session = typeof target === 'string' ? await client.getSessionStatus(target) : await client.createSession(target)
  const sessionId = session.session_id
  const attaching = typeof target === 'string' && (session.state === 'running' || session.state === 'paused')
  /** Set when the run resumed (or was re-attached): the next tick is announced through onResume. */
  let resumed: { reconnected: boolean } | undefined
  let account: AccountSnapshot | undefined
  let lastSeq = 0
  let ticks = 0
  let ordersSent = 0
  /** Order ids this run has sent: a refusal of one sent again is a repeat, which no order_update reports. */
  const sentIds = new Set<string>()
  let total = session.estimated_ticks
  const every = Math.max(1, opts.progressEveryTicks ?? 250)
  const ctx: StrategyContext = {
    session,
    get account () { return account },
    cancel: async (orderId) => { await client.request('cancel_order', { session_id: sessionId, order_id: orderId }, 'order_update') },
    replace: async (orderId, changes) => await client.replaceOrder(sessionId, orderId, changes)
  }

  // Connections seen so far: a tick handled across a reconnect must not send its orders on the new
  // connection before the run was resumed there (another instance may not even own the run yet).
  let connections = 0
  const offConnected = client.on('connected', () => { connections++ })
  /**
   * A tick whose orders may not have reached the server: the connection dropped before their batch_ack
   * (or before they were sent). The run resumes from just before that tick, and when the server sends it
   * again the same batch (same batch and order ids) goes out instead of calling onTick twice. If the first
   * copy had arrived, the server refuses the repeated ids, and its order events come in the replay.
   */
  let retake: { sequenceId: number, orders: OrderBatchData['orders'] } | undefined
  /** Set after such a drop until the next resume: events already received are dropped; the resume resends them. */
  let awaitingResume = false
  /** The last tick acknowledged, and a resend of it waiting for the server's message bucket. */
  let lastAck = 0
  let ackResend: NodeJS.Timeout | undefined
  const resendAckLater = (ms: number): void => {
    if (ackResend !== undefined || lastAck === 0) return
    ackResend = setTimeout(() => { ackResend = undefined; client.send('tick_ack', { session_id: sessionId, sequence_id: lastAck, processing_status: 'ready' }) }, ms)
  }
  const events = client.events()
  try {
    await guarded(() => strategy.onStart?.(ctx))
    let flowControl = true
    if (attaching) {
      const sync = await attachTo(client, session)
      lastSeq = sync.last_sequence_id
      account = sync.account
      resumed = { reconnected: false }
    } else {
      const started = await client.request('start_simulation', { session_id: sessionId, ...opts.start }, 'simulation_started', { timeoutMs: 60_000 })
      total = started.total_ticks
      flowControl = started.flow_control
    }

    // One handler for live events and for those replayed by state_sync: each event id is handled once.
    const handle = async (event: { type: string, data: unknown, sequence_id?: number }): Promise<SimulationCompleteData | undefined> => {
      const before = lastSeq
      if (event.sequence_id !== undefined) {
        if (event.sequence_id <= lastSeq) return undefined
        lastSeq = event.sequence_id
      }
      switch (event.type) {
        case 'tick': {
          const tick = event.data as TickData
          if (tick.session_id !== sessionId) return undefined
          ticks = tick.sequence_id
          if (resumed !== undefined) {
            opts.onResume?.({ session_id: sessionId, step: tick.sequence_id, reconnected: resumed.reconnected })
            resumed = undefined
          }
          const connection = connections
          let batch: OrderBatchData['orders'] | undefined
          let retaken = false
          if (retake !== undefined && retake.sequenceId === event.sequence_id) {
            batch = retake.orders
            retake = undefined
            retaken = true
          } else {
            const orders: StrategyStep = await guarded(() => strategy.onTick(tick, ctx))
            if (Array.isArray(orders) && orders.length > 0) {
              // Ids from the step: unique in the run, also for a strategy process re-attached to it later.
              batch = orders.map((o, i) => ({ ...o, order_id: o.order_id ?? `${sessionId.slice(-6)}-${tick.sequence_id}-${i + 1}` }))
              ordersSent += batch.length
            }
          }
          if (batch !== undefined) {
            const takeBack = (): undefined => {
              retake = { sequenceId: event.sequence_id ?? 0, orders: batch }
              lastSeq = before
              awaitingResume = true
              return undefined
            }
            // Dropped (and maybe reconnected) while onTick ran: send nothing before the resume.
            if (event.sequence_id !== undefined && (connections !== connection || client.state !== 'open')) return takeBack()
            let ack: BatchAck
            try {
              ack = await client.request('order_batch', { session_id: sessionId, batch_id: `b${tick.sequence_id}`, orders: batch }, 'batch_ack')
            } catch (err) {
              // With a window (or in lockstep at the last tick) the run may have stepped its last bar before these
              // orders arrive: no bar is left to try them on, and simulation_complete follows.
              if (err instanceof SessionError && err.error_code === 'INVALID_STATE' && err.details.state === 'completed') return undefined
              if (!(err instanceof SessionError) || err.error_code !== 'CONNECTION_LOST' || event.sequence_id === undefined || client.state === 'closed') throw err
              return takeBack()
            }
            // A batch sent again after a drop repeats its own ids on purpose: its outcomes come in the replay.
            const repeats = retaken ? [] : repeatedIds(batch, ack, sentIds)
            for (const o of batch) sentIds.add(o.order_id)
            for (const r of repeats) await guarded(() => strategy.onReject?.(r, ctx))
          }
          if (flowControl) { lastAck = tick.sequence_id; client.send('tick_ack', { session_id: sessionId, sequence_id: lastAck, processing_status: 'ready' }) }
          if (opts.onProgress !== undefined && (ticks % every === 0 || ticks === total)) opts.onProgress({ ticks, total, session_id: sessionId })
          return undefined
        }
        case 'execution_report': await guarded(() => strategy.onFill?.(event.data as ExecutionReport, ctx)); return undefined
        case 'order_update': {
          const update = event.data as OrderUpdate
          await guarded(() => strategy.onOrder?.(update, ctx))
          if (update.status === 'rejected') {
            const rejection = { order_id: update.order_id, error_code: update.error_code ?? 'INVALID_ORDER', reason: update.reason ?? '', order: update.order }
            await guarded(() => strategy.onReject?.(rejection, ctx))
          }
          return undefined
        }
        case 'account_snapshot': {
          const snapshot = event.data as AccountSnapshot
          account = snapshot
          await guarded(() => strategy.onAccount?.(snapshot, ctx))
          return undefined
        }
        case 'simulation_complete': {
          const complete = event.data as SimulationCompleteData
          return complete.session_id === sessionId ? complete : undefined
        }
        default: return undefined
      }
    }

    for await (const event of events as AsyncIterable<SessionClientEvent>) {
      if (event.type === 'connected' && event.data.reconnected) {
        // Take the stream back; the reply carries what was missed while away, each event once.
        awaitingResume = false
        let sync
        for (let attempt = 0; sync === undefined; attempt++) {
          try {
            sync = await client.request('resume_session', { session_id: sessionId, last_processed_sequence_id: lastSeq }, 'state_sync', { timeoutMs: 60_000 })
          } catch (err) {
            // This connection dropped too: the next one resumes.
            if (err instanceof SessionError && err.error_code === 'CONNECTION_LOST' && client.state !== 'closed') { awaitingResume = true; break }
            if (!(err instanceof SessionError) || !err.retriable || attempt >= RESUME_RETRIES || client.state === 'closed') throw err
            await new Promise((resolve) => setTimeout(resolve, Math.min(RESUME_RETRY_MAX_MS, RESUME_RETRY_FIRST_MS << attempt)))
          }
        }
        if (sync === undefined) continue
        account = sync.account
        resumed = { reconnected: true }
        for (const missed of sync.missed_events) {
          const done = await handle(missed)
          if (done !== undefined) return await finish(done)
          if (awaitingResume) break
        }
        continue
      }
      if (awaitingResume) continue
      // The only messages without a request_id this runner sends are tick_acks: one the server's message bucket
      // refused unread is sent again when it says (an ack repeats harmlessly).
      const refusedAck = event.type === 'error' && event.request_id === undefined ? bucketRetryAfterMs(event.data) : undefined
      if (refusedAck !== undefined) { resendAckLater(refusedAck); continue }
      // Errors answering a request reject that request; one without a request_id ends the run.
      if (event.type === 'session_error' && event.request_id === undefined) throw SessionError.fromSessionError(event.data)
      if (event.type === 'error' && event.request_id === undefined) throw SessionError.fromError(event.data)
      const done = await handle(event)
      if (done !== undefined) return await finish(done)
    }
    // The client gave up reconnecting (e.g. a restarted server refused its API key): that is why.
    throw client.closeError ?? SessionError.client('CLIENT_CLOSED', 'The client closed before the simulation completed')
  } catch (err) {
    if (!(err instanceof StrategyThrew)) throw err
    await reportStrategyError(client, sessionId, err.error)
    strategyErrors.add(err.error)
    throw err.error
  } finally {
    offConnected()
    clearTimeout(ackResend)
    await events.return?.()
  }

  async function finish (complete: SimulationCompleteData): Promise<StrategyRunResult> {
    await guarded(() => strategy.onEnd?.(complete, ctx))
    opts.onProgress?.({ ticks, total, session_id: sessionId })
    return { session: await client.getSessionStatus(sessionId), complete, ticks, orders_sent: ordersSent }
  }
}

/**
 * resume_session without a last processed event: attached at the end of the run's log (the strategy
 * process is new: nothing it has not seen is replayed). A run the user paused is resumed; one paused by the
 * disconnect or a server restart resumes by itself once attached.
 */
async function attachTo (client: SessionClient, session: Session): Promise<StateSyncData> {
  const sync = await client.request('resume_session', { session_id: session.session_id }, 'state_sync', { timeoutMs: 60_000 })
  if (session.pause_reason === 'user') {
    try {
      await client.request('resume_simulation', { session_id: session.session_id }, 'simulation_resumed')
    } catch (err) {
      // Resumed meanwhile by someone else: it runs, which is what was asked.
      if (!(err instanceof SessionError) || err.error_code !== 'INVALID_STATE') throw err
    }
  }
  return sync
}

/**
 * The refusals in `ack` that no order_update will report: repeats of an order_id, which the server cannot
 * record as an order of their own. Of an id's refusals, the repeats are the last ones (every occurrence when
 * the id was sent before, all but the first otherwise).
 */
function repeatedIds (batch: OrderBatchData['orders'], ack: BatchAck, sent: ReadonlySet<string>): RejectedOrder[] {
  const counts = new Map<string, number>()
  for (const o of batch) counts.set(o.order_id, (counts.get(o.order_id) ?? 0) + 1)
  const out: RejectedOrder[] = []
  for (const [id, n] of counts) {
    const dups = sent.has(id) ? n : n - 1
    if (dups <= 0) continue
    out.push(...ack.rejected_orders.filter((r) => r.order_id === id).slice(-dups))
  }
  return out
}

/**
 * Tell the server the strategy failed, so the run ends in state `error` with the message. Best effort and
 * bounded: the strategy's own error is what the caller must see, whether or not this reaches the server.
 */
async function reportStrategyError (client: SessionClient, sessionId: string, error: Error): Promise<void> {
  // The server refuses NUL in every string (PostgreSQL cannot store it): a message read from binary data must
  // still end the run, so NUL becomes U+FFFD, the replacement character.
  const text = (s: string, max: number): string => s.slice(0, max).replaceAll('\u0000', '\uFFFD')
  const message = text(error.message.length > 0 ? error.message : error.name.length > 0 ? error.name : 'Error', STRATEGY_ERROR_MESSAGE_MAX)
  const stack = typeof error.stack === 'string' ? text(error.stack, STRATEGY_ERROR_STACK_MAX) : undefined
  try {
    await client.request('strategy_error', { session_id: sessionId, message, ...(stack !== undefined ? { stack } : {}) }, 'session_info', { timeoutMs: STRATEGY_ERROR_REPLY_MS })
  } catch {
    // The server may be gone, the run already over, or the server older than strategy_error.
  }
}
