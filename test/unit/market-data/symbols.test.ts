import t from 'tap'
import { SymbolIndex, canonicalForm, aliasesFor, editDistance } from '../../../server/market-data/symbols.js'
import type { AssetClass } from '../../../schemas/market-data.js'

const entries: Array<{ symbol: string, asset_class: AssetClass }> = [
  { symbol: 'AAPL', asset_class: 'stock' },
  { symbol: 'MSFT', asset_class: 'stock' },
  { symbol: 'GOOGL', asset_class: 'stock' },
  { symbol: 'BRK.B', asset_class: 'stock' },
  { symbol: 'EUR/USD', asset_class: 'forex' },
  { symbol: 'GBP/USD', asset_class: 'forex' },
  { symbol: 'BTC/USD', asset_class: 'crypto' },
  { symbol: 'ETH/USD', asset_class: 'crypto' }
]
const index = new SymbolIndex(entries.map((e) => ({ ...e, aliases: aliasesFor(e.symbol, e.asset_class) })))

t.test('stock spellings resolve to the upper-case canonical form', async (t) => {
  t.equal(index.resolve('aapl'), 'AAPL')
  t.equal(index.resolve('AAPL'), 'AAPL')
})

t.test('class shares resolve to BRK.B from brk-b, BRK/B and BRK.B', async (t) => {
  for (const s of ['brk-b', 'BRK/B', 'BRK.B', 'brk.b']) t.equal(index.resolve(s), 'BRK.B', s)
})

t.test('forex spellings resolve to EUR/USD', async (t) => {
  for (const s of ['eur/usd', 'EURUSD', 'eurusd', 'C:EURUSD', 'EUR-USD', 'EUR_USD', 'c:eurusd']) t.equal(index.resolve(s), 'EUR/USD', s)
})

t.test('crypto spellings resolve to BTC/USD', async (t) => {
  for (const s of ['btc-usd', 'BTC/USD', 'BTCUSD', 'X:BTCUSD', 'btc_usd']) t.equal(index.resolve(s), 'BTC/USD', s)
})

t.test('a vendor prefix of the wrong class does not resolve', async (t) => {
  t.equal(index.resolve('X:EURUSD'), null)
  t.equal(index.resolve('C:BTCUSD'), null)
})

t.test('a six-letter pair string only resolves when that pair is listed', async (t) => {
  t.equal(index.resolve('USDJPY'), null)
  const withJpy = new SymbolIndex([{ symbol: 'USD/JPY', asset_class: 'forex', aliases: aliasesFor('USD/JPY', 'forex') }])
  t.equal(withJpy.resolve('usdjpy'), 'USD/JPY')
})

t.test('unknown symbols get at most three close suggestions', async (t) => {
  t.same(index.suggest('APPL'), ['AAPL'])
  t.same(index.suggest('GOOG'), ['GOOGL'])
  t.ok(index.suggest('MSFTX').includes('MSFT'))
  t.same(index.suggest('ZZZZZZZZ'), [])
  t.ok(index.suggest('BTC').includes('BTC/USD'))
  t.ok(index.suggest('A').length <= 3)
})

t.test('canonicalForm names file symbols without a catalogue', async (t) => {
  t.equal(canonicalForm('brk-b', 'stock'), 'BRK.B')
  t.equal(canonicalForm('EURUSD', 'forex'), 'EUR/USD')
  t.equal(canonicalForm('btcusdt', 'crypto'), 'BTC/USDT')
  t.equal(canonicalForm('X:ETHUSD', 'crypto'), 'ETH/USD')
})

t.test('edit distance counts an adjacent transposition as one edit', async (t) => {
  t.equal(editDistance('APPL', 'AAPL'), 1)
  t.equal(editDistance('KITTEN', 'SITTING'), 3)
})
