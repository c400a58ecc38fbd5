// Market-data wire shapes: timeframes, asset classes, markets, OHLCV bars, the symbol catalogue,
// market-data validation verdicts and bar queries. REST routes and WebSocket handlers share them.
import { Type, type Static } from '@sinclair/typebox'
import { Timestamp, DateString, StringEnum, SymbolInput } from './common.js'
import { ERROR_CODES } from './errors.js'

export const TIMEFRAMES = ['1d', '1h', '1m'] as const
export const Timeframe = StringEnum(TIMEFRAMES, {
  $id: 'Timeframe',
  description: 'Bar size: daily, hourly or one-minute'
})
export type Timeframe = Static<typeof Timeframe>

const ASSET_CLASSES = ['stock', 'forex', 'crypto'] as const
export const AssetClass = StringEnum(ASSET_CLASSES, {
  $id: 'AssetClass'
})
export type AssetClass = Static<typeof AssetClass>

const MARKETS = ['NYSE', 'NASDAQ', 'FOREX', 'CRYPTO'] as const
export const Market = StringEnum(MARKETS,
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
  {
    $id: 'Bar',
    additionalProperties: false,
    examples: [{ timestamp: '2023-01-03T14:30:00.000Z', session_date: '2023-01-03', open: 166.91, high: 167.46, low: 165.43, close: 166.84, volume: 45477838 }]
  }
)
export type Bar = Static<typeof Bar>

// Anonymous copies of the enums above. Embedding an $id'd schema inline would register its $id twice
// with Ajv, and a `$ref` cannot carry a `default`; string enums copied without $id avoid both.
const TimeframeField = StringEnum(TIMEFRAMES, { description: Timeframe.description })
const AssetClassField = StringEnum(ASSET_CLASSES)
const MarketField = StringEnum(MARKETS)

const BAR_SOURCE_KINDS = ['demo', 'csv', 'parquet'] as const
export const BarSourceKind = StringEnum(BAR_SOURCE_KINDS, {
  $id: 'BarSourceKind',
  description: 'Where a symbol\'s bars come from: the built-in synthetic demo set, CSV files or Parquet files'
})
export type BarSourceKind = Static<typeof BarSourceKind>

/** The dates for which one timeframe of a symbol has bars. */
export const TimeframeAvailability = Type.Object(
  {
    timeframe: TimeframeField,
    first_date: DateString,
    last_date: DateString
  },
  { $id: 'TimeframeAvailability', additionalProperties: false, examples: [{ timeframe: '1d', first_date: '2010-01-04', last_date: '2025-12-31' }] }
)
export type TimeframeAvailability = Static<typeof TimeframeAvailability>

/** One catalogue entry. `symbol` is the canonical form (`AAPL`, `BRK.B`, `EUR/USD`, `BTC/USD`). */
export const SymbolInfo = Type.Object(
  {
    symbol: Type.String({ examples: ['AAPL'] }),
    name: Type.String(),
    asset_class: AssetClassField,
    market: MarketField,
    currency: Type.String({ description: 'Currency prices are quoted in', examples: ['USD'] }),
    timeframes: Type.Array(Type.Unsafe<TimeframeAvailability>(Type.Ref('TimeframeAvailability'))),
    aliases: Type.Array(Type.String(), { description: 'Other accepted spellings, e.g. EURUSD, C:EURUSD' }),
    synthetic: Type.Boolean({ description: 'True for the generated demo data set: not real market prices' }),
    source: StringEnum(BAR_SOURCE_KINDS)
  },
  {
    $id: 'SymbolInfo',
    additionalProperties: false,
    examples: [{
      symbol: 'AAPL',
      name: 'Apple Inc.',
      asset_class: 'stock',
      market: 'NASDAQ',
      currency: 'USD',
      timeframes: [{ timeframe: '1d', first_date: '2010-01-04', last_date: '2025-12-31' }, { timeframe: '1m', first_date: '2010-01-04', last_date: '2025-12-31' }],
      aliases: [],
      synthetic: true,
      source: 'demo'
    }]
  }
)
export type SymbolInfo = Static<typeof SymbolInfo>

export const ListSymbolsQuery = Type.Object(
  {
    asset_class: Type.Optional(AssetClassField),
    market: Type.Optional(MarketField),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Case-insensitive search in symbol and name' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }))
  },
  { $id: 'ListSymbolsQuery', additionalProperties: false }
)
export type ListSymbolsQuery = Static<typeof ListSymbolsQuery>

export const SymbolList = Type.Object(
  {
    symbols: Type.Array(Type.Unsafe<SymbolInfo>(Type.Ref('SymbolInfo'))),
    total: Type.Integer({ description: 'Matches before `limit` was applied' })
  },
  { $id: 'SymbolList', additionalProperties: false }
)
export type SymbolList = Static<typeof SymbolList>

export const ValidateMarketDataBody = Type.Object(
  {
    symbols: Type.Array(SymbolInput, { minItems: 1, maxItems: 500 }),
    start_date: DateString,
    end_date: DateString,
    timeframe: Type.Optional(StringEnum(TIMEFRAMES, { default: '1d' }))
  },
  {
    $id: 'ValidateMarketDataBody',
    additionalProperties: false,
    examples: [{ symbols: ['AAPL', 'EURUSD', 'BTC-USD'], start_date: '2023-01-03', end_date: '2023-06-30', timeframe: '1d' }]
  }
)
export type ValidateMarketDataBody = Static<typeof ValidateMarketDataBody>

/** The verdict on one requested symbol (and on the date range for that symbol). */
export const SymbolVerdict = Type.Object(
  {
    input: Type.String({ description: 'The symbol as sent' }),
    symbol: Type.Union([Type.String(), Type.Null()], { description: 'Canonical symbol, null when unknown' }),
    valid: Type.Boolean(),
    error_code: Type.Optional(StringEnum(ERROR_CODES)),
    message: Type.Optional(Type.String()),
    suggestions: Type.Optional(Type.Array(Type.String())),
    first_date: Type.Optional(DateString),
    last_date: Type.Optional(DateString),
    trading_sessions: Type.Optional(Type.Integer({ description: 'Trading sessions of the symbol\'s market in the requested range' }))
  },
  {
    $id: 'SymbolVerdict',
    additionalProperties: false,
    examples: [{ input: 'EURUSD', symbol: 'EUR/USD', valid: true, first_date: '2010-01-04', last_date: '2025-12-31', trading_sessions: 129 }]
  }
)
export type SymbolVerdict = Static<typeof SymbolVerdict>

export const DateRangeVerdict = Type.Object(
  {
    start_date: Type.String(),
    end_date: Type.String(),
    timeframe: TimeframeField,
    valid: Type.Boolean(),
    error_code: Type.Optional(StringEnum(ERROR_CODES)),
    message: Type.Optional(Type.String()),
    trading_sessions: Type.Optional(Type.Integer({ description: 'Days on which at least one requested symbol trades' })),
    estimated_ticks: Type.Optional(Type.Integer({ description: 'Timeline steps a simulation over this request would have' }))
  },
  {
    $id: 'DateRangeVerdict',
    additionalProperties: false,
    examples: [{ start_date: '2023-01-03', end_date: '2023-06-30', timeframe: '1d', valid: true, trading_sessions: 179, estimated_ticks: 179 }]
  }
)
export type DateRangeVerdict = Static<typeof DateRangeVerdict>

/** One problem found, in the same shape as an error body so clients handle both alike. */
export const MarketDataError = Type.Object(
  {
    error_code: StringEnum(ERROR_CODES),
    message: Type.String(),
    details: Type.Record(Type.String(), Type.Unknown())
  },
  { $id: 'MarketDataError', additionalProperties: false }
)
export type MarketDataError = Static<typeof MarketDataError>

export const MarketDataValidation = Type.Object(
  {
    valid: Type.Boolean(),
    symbols: Type.Array(Type.Unsafe<SymbolVerdict>(Type.Ref('SymbolVerdict'))),
    date_range: Type.Unsafe<DateRangeVerdict>(Type.Ref('DateRangeVerdict')),
    errors: Type.Array(Type.Unsafe<MarketDataError>(Type.Ref('MarketDataError')))
  },
  { $id: 'MarketDataValidation', additionalProperties: false }
)
export type MarketDataValidation = Static<typeof MarketDataValidation>

export const MAX_BARS_PER_REQUEST = 50000

export const BarsQuery = Type.Object(
  {
    start: DateString,
    end: DateString,
    timeframe: Type.Optional(StringEnum(TIMEFRAMES, { default: '1d' })),
    adjusted: Type.Optional(Type.Boolean({ description: 'Apply split/dividend adjustment when the source has it' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BARS_PER_REQUEST, default: 10000 }))
  },
  { $id: 'BarsQuery', additionalProperties: false }
)
export type BarsQuery = Static<typeof BarsQuery>

export const BarsResponse = Type.Object(
  {
    symbol: Type.String(),
    timeframe: TimeframeField,
    bars: Type.Array(Type.Unsafe<Bar>(Type.Ref('Bar'))),
    synthetic: Type.Boolean(),
    truncated: Type.Boolean({ description: 'True when `limit` cut the range short' })
  },
  { $id: 'BarsResponse', additionalProperties: false }
)
export type BarsResponse = Static<typeof BarsResponse>

/** Every $id'd schema of this file, in dependency order, for `app.addSchema`. */
export const marketDataSchemas = [
  Timeframe,
  AssetClass,
  Market,
  Bar,
  BarSourceKind,
  TimeframeAvailability,
  SymbolInfo,
  ListSymbolsQuery,
  SymbolList,
  ValidateMarketDataBody,
  SymbolVerdict,
  DateRangeVerdict,
  MarketDataError,
  MarketDataValidation,
  BarsQuery,
  BarsResponse
]
