import t from 'tap'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { BarsResponse, MarketDataValidation, SymbolList, ValidateMarketDataBody, marketDataSchemas } from '../../../schemas/market-data.js'
import { MarketDataService } from '../../../server/market-data/market-data-service.js'

const svc = new MarketDataService({ now: () => Date.parse('2025-06-15T12:00:00Z') })
const compile = <S extends Parameters<typeof TypeCompiler.Compile>[0]>(schema: S) => TypeCompiler.Compile(schema, marketDataSchemas)

t.test('every market-data schema has a unique $id and objects forbid extra properties', async (t) => {
  const ids = marketDataSchemas.map((s) => s.$id)
  t.equal(new Set(ids).size, ids.length)
  for (const s of marketDataSchemas) if (s.type === 'object') t.equal(s.additionalProperties, false, String(s.$id))
})

t.test('service outputs conform to their response schemas', async (t) => {
  const list = compile(SymbolList)
  t.ok(list.Check(svc.listSymbols({})), JSON.stringify([...list.Errors(svc.listSymbols({}))][0]))
  const validation = compile(MarketDataValidation)
  const ok = svc.validate({ symbols: ['AAPL', 'eurusd'], start_date: '2023-01-03', end_date: '2023-01-31', timeframe: '1d' })
  const bad = svc.validate({ symbols: ['APPL', 'AAPL', 'aapl'], start_date: '2023-02-30', end_date: '2023-01-31', timeframe: '1m' })
  t.ok(validation.Check(ok), JSON.stringify([...validation.Errors(ok)][0]))
  t.ok(validation.Check(bad), JSON.stringify([...validation.Errors(bad)][0]))
  const bars = await svc.getBars('BTC/USD', { start: '2023-01-01', end: '2023-01-02', timeframe: '1h' })
  t.ok(compile(BarsResponse).Check(bars))
})

t.test('the validate body refuses unknown properties and malformed symbols', async (t) => {
  const body = compile(ValidateMarketDataBody)
  t.ok(body.Check({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' }))
  t.notOk(body.Check({ symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31', extra: 1 }))
  t.notOk(body.Check({ symbols: ['AA PL'], start_date: '2023-01-03', end_date: '2023-01-31' }))
  t.notOk(body.Check({ symbols: [], start_date: '2023-01-03', end_date: '2023-01-31' }))
})
