// Shared helpers for the manager tests (not a test file: tap only runs *.test.ts): a controllable clock,
// a fake market-data service, request builders, and a manager wired to them.
import { AppError } from '../../../server/app-error.js'
import { MemorySessionStore } from '../../../server/adapters/memory/memory-session-store.js'
import {
  SessionManager,
  type SessionManagerOptions,
  type SessionMarketData,
  type SessionUser
} from '../../../server/sessions/session-manager.js'
import type { CreateSessionBody } from '../../../schemas/sessions.js'
import type { Timeframe } from '../../../schemas/market-data.js'
import { FakeClock } from './session-records.js'

const KNOWN = new Set(['AAPL', 'MSFT', 'GOOG', 'AMZN', 'NVDA', 'TSLA', 'META', 'EURUSD', 'BTCUSD'])

/**
 * Upper-cases and strips separators like the real normaliser; knows a few symbols plus any `SYMnnn`;
 * yields to the event loop before answering so concurrent creates genuinely interleave.
 */
export class FakeMarketData implements SessionMarketData {
  calls = 0
  async validateSessionRequest (req: { symbols: string[], start_date: string, end_date: string, timeframe: Timeframe }): Promise<{ symbols: string[], estimated_ticks: number }> {
    this.calls++
    await new Promise((resolve) => setImmediate(resolve))
    const symbols = req.symbols.map((s) => s.toUpperCase().replace(/^[A-Z]:/, '').replace(/[/._-]/g, ''))
    const unknown = symbols.filter((s) => !KNOWN.has(s) && !/^SYM\d+$/.test(s))
    if (unknown.length > 0) throw new AppError('INVALID_SYMBOL', `Unknown symbol ${unknown[0]}`, { symbols: unknown })
    if (req.start_date > req.end_date) {
      throw new AppError('INVALID_DATE_RANGE', 'start_date is after end_date', { start_date: req.start_date, end_date: req.end_date })
    }
    const days = (Date.parse(req.end_date) - Date.parse(req.start_date)) / 86_400_000 + 1
    return { symbols, estimated_ticks: days }
  }
}

export const alice: SessionUser = { user_id: 'user_alice', plan: 'professional' }
export const bob: SessionUser = { user_id: 'user_bob', plan: 'professional' }
export const freeUser: SessionUser = { user_id: 'user_free', plan: 'free' }

export function body (overrides: Partial<CreateSessionBody> = {}): CreateSessionBody {
  return { symbols: ['AAPL', 'msft'], start_date: '2023-01-03', end_date: '2023-01-31', ...overrides }
}

export interface Harness {
  manager: SessionManager
  store: MemorySessionStore
  clock: FakeClock
  marketData: FakeMarketData
}

/** A manager on a fake clock and fake market data; stopped when the test ends. */
export function harness (t: { teardown: (fn: () => void) => void }, options: Partial<SessionManagerOptions> = {}): Harness {
  const clock = new FakeClock()
  const store = new MemorySessionStore()
  const marketData = new FakeMarketData()
  const manager = new SessionManager({ store, marketData, now: clock.now, ...options })
  t.teardown(() => manager.stop())
  return { manager, store, clock, marketData }
}
