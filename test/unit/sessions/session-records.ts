// Session test helpers without the manager (not a test file): fixed instants, a fake clock, a stored-record
// builder, an open insert guard and a way to capture rejections for t.match.
import type { SessionRecord } from '../../../server/ports/session-store.js'

export const T0 = Date.parse('2026-01-05T10:00:00.000Z')
export const MINUTE = 60_000
export const HOUR = 60 * MINUTE

export class FakeClock {
  ms: number
  constructor (start = T0) { this.ms = start }
  now = (): number => this.ms
  advance (ms: number): void { this.ms += ms }
}

/** The error a promise rejects with (undefined if it resolves), for t.match on code and details. */
export async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  return undefined
}

export function record (overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    user_id: 'user_alice',
    session_id: 'sess_a',
    symbols: ['AAPL'],
    start_date: '2023-01-03',
    end_date: '2023-01-31',
    timeframe: '1d',
    initial_capital: 100_000_00000000n,
    commission_per_share: 500000n,
    min_commission_per_order: 0n,
    slippage_bps: 5,
    allow_short: false,
    volume_participation: null,
    fill_policy_version: '1',
    state: 'ready',
    created_at: T0,
    updated_at: T0,
    expires_at: T0 + HOUR,
    metadata_json: '{}',
    estimated_ticks: 20,
    progress: 0,
    error_message: null,
    ...overrides
  }
}

/** A guard that never refuses, for store tests that are not about limits. */
export const OPEN_GUARD = { max_active: Number.MAX_SAFE_INTEGER, max_created_in_window: Number.MAX_SAFE_INTEGER, window_start: 0 }
