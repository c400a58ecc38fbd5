// Market-data REST routes: catalogue, one symbol, validation verdicts and bars. Adapters over MarketDataService.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BarsQuery, ListSymbolsQuery, ValidateMarketDataBody } from '../../schemas/market-data.js'
import { authenticated, bearer, errorResponses } from './route-options.js'

const SymbolParams = Type.Object({ symbol: Type.String({ minLength: 1, maxLength: 32 }) }, { additionalProperties: false })

const marketDataRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = authenticated(app)

  app.get('/market-data/symbols', {
    ...auth,
    schema: {
      operationId: 'listSymbols',
      tags: ['market-data'],
      summary: 'The symbol catalogue (filter by asset class, market, or a search string)',
      security: bearer,
      querystring: ListSymbolsQuery,
      response: { 200: Type.Ref('SymbolList'), ...errorResponses(400, 401, 429) }
    }
  }, async (request) => app.marketData.listSymbols(request.query))

  app.get('/market-data/symbols/:symbol', {
    ...auth,
    schema: {
      operationId: 'getSymbol',
      tags: ['market-data'],
      summary: 'One catalogue entry; aliases accepted (eurusd, BTC-USD, BRK-B)',
      security: bearer,
      params: SymbolParams,
      response: { 200: Type.Ref('SymbolInfo'), ...errorResponses(400, 401, 422, 429) }
    }
  }, async (request) => app.marketData.getSymbol(request.params.symbol))

  app.post('/market-data/validate', {
    ...auth,
    schema: {
      operationId: 'validateMarketData',
      tags: ['market-data'],
      summary: 'Per-symbol and date-range verdicts for a prospective session',
      description: 'Always 200 with `valid` true or false; every problem is listed at once with its error_code.',
      security: bearer,
      body: ValidateMarketDataBody,
      response: { 200: Type.Ref('MarketDataValidation'), ...errorResponses(400, 401, 429) }
    }
  }, async (request) => app.sessionOps.validateMarketData(request.body))

  app.get('/market-data/bars/:symbol', {
    ...auth,
    schema: {
      operationId: 'getBars',
      tags: ['market-data'],
      summary: 'OHLCV bars of one symbol (warm-up, charts)',
      security: bearer,
      params: SymbolParams,
      querystring: BarsQuery,
      response: { 200: Type.Ref('BarsResponse'), ...errorResponses(400, 401, 422, 429) }
    }
  }, async (request) => await app.marketData.getBars(request.params.symbol, request.query))
}

export default marketDataRoutes
