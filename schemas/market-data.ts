// Market-data wire shapes: timeframes, asset classes, markets and OHLCV bars.
// The catalogue/validation shapes are added here by the market-data service.
import { Type, type Static } from '@sinclair/typebox'
import { Timestamp, DateString } from './common.js'

export const Timeframe = Type.Union([Type.Literal('1d'), Type.Literal('1h'), Type.Literal('1m')], {
  $id: 'Timeframe',
  description: 'Bar size: daily, hourly or one-minute'
})
export type Timeframe = Static<typeof Timeframe>

export const AssetClass = Type.Union([Type.Literal('stock'), Type.Literal('forex'), Type.Literal('crypto')], {
  $id: 'AssetClass'
})
export type AssetClass = Static<typeof AssetClass>

export const Market = Type.Union(
  [Type.Literal('NYSE'), Type.Literal('NASDAQ'), Type.Literal('FOREX'), Type.Literal('CRYPTO')],
  { $id: 'Market' }
)
export type Market = Static<typeof Market>

/** One OHLCV bar; `timestamp` is the bar's start instant, `session_date` its trading day in the market's calendar. */
export const Bar = Type.Object(
  {
    timestamp: Timestamp,
    session_date: DateString,
    open: Type.Number(),
    high: Type.Number(),
    low: Type.Number(),
    close: Type.Number(),
    volume: Type.Number()
  },
  { $id: 'Bar', additionalProperties: false }
)
export type Bar = Static<typeof Bar>
