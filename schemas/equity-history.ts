// Wire shapes of GET /sessions/{id}/equity: a run's equity and drawdown so far, at every step and thinned on
// the server to a bounded number of points, with the run's true max drawdown computed over every step.
import { Type, type Static } from '@sinclair/typebox'
import { Money, SessionId, StringEnum, Timestamp } from './common.js'

/** Most points one answer holds (the default too): enough for a chart, bounded whatever the run's length. */
export const EQUITY_MAX_POINTS = 2000
/** Fewest points a caller may ask for: the first, the last and a few buckets' extremes. */
export const EQUITY_MIN_POINTS = 8

export const EquityHistoryQuery = Type.Object(
  {
    max_points: Type.Optional(Type.Integer({
      minimum: EQUITY_MIN_POINTS,
      maximum: EQUITY_MAX_POINTS,
      default: EQUITY_MAX_POINTS,
      description: `At most this many points (${EQUITY_MIN_POINTS}–${EQUITY_MAX_POINTS}). A longer curve is thinned: the first and ` +
        'last points, and in each bucket of steps its lowest and highest equity and its deepest drawdown, so troughs survive.'
    })),
    after_step: Type.Optional(Type.Integer({
      minimum: 0,
      default: 0,
      description: 'Only the steps after this one (a follow-up call passes the previous answer\'s `steps_done`). Drawdowns are still measured from the peak of the whole run.'
    }))
  },
  { $id: 'EquityHistoryQuery', additionalProperties: false }
)
export type EquityHistoryQuery = Static<typeof EquityHistoryQuery>

export const EquityHistoryPoint = Type.Object(
  {
    step: Type.Optional(Type.Integer({ minimum: 1, description: 'The 1-based step (tick sequence_id) the point closes; absent on daily points' })),
    sim_time: Timestamp,
    equity: Money,
    drawdown_pct: Type.Number({ minimum: 0, description: 'Fall from the highest equity so far (the initial capital at first), in percent' })
  },
  { $id: 'EquityHistoryPoint', additionalProperties: false }
)
export type EquityHistoryPoint = Static<typeof EquityHistoryPoint>

export const EquityHistory = Type.Object(
  {
    session_id: SessionId,
    source: StringEnum(['steps', 'daily'], {
      description: '`steps`: a live (running or paused) run, one mark per step at the closes, to the cent. `daily`: a finished run, ' +
        'its daily closes from GET …/results (exact); its max_drawdown_pct is the results\' one, over every step.'
    }),
    steps_done: Type.Integer({ minimum: 0, description: 'Steps replayed so far; the last point closes this step' }),
    total_steps: Type.Integer({ minimum: 0 }),
    initial_capital: Money,
    max_drawdown_pct: Type.Number({ minimum: 0, description: 'The run\'s max drawdown so far over every step (as GET …/results computes it), whatever the thinning' }),
    decimated: Type.Boolean({ description: 'true when points were left out to stay within max_points' }),
    points: Type.Array(Type.Unsafe<EquityHistoryPoint>(Type.Ref('EquityHistoryPoint')))
  },
  {
    $id: 'EquityHistory',
    additionalProperties: false,
    examples: [{
      session_id: 'sess_3kT9xQ2mVb7Lw1Rz',
      source: 'steps',
      steps_done: 3,
      total_steps: 124,
      initial_capital: '100000.00',
      max_drawdown_pct: 0.42,
      decimated: false,
      points: [
        { step: 1, sim_time: '2023-01-03T21:00:00.000Z', equity: '100000.00', drawdown_pct: 0 },
        { step: 2, sim_time: '2023-01-04T21:00:00.000Z', equity: '99580.00', drawdown_pct: 0.42 },
        { step: 3, sim_time: '2023-01-05T21:00:00.000Z', equity: '100120.50', drawdown_pct: 0 }
      ]
    }]
  }
)
export type EquityHistory = Static<typeof EquityHistory>

export const equityHistorySchemas = [EquityHistoryQuery, EquityHistoryPoint, EquityHistory]
