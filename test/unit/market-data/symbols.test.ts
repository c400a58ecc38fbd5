import t from 'tap'
import { SymbolIndex, canonicalForm, aliasesFor, compactKey, editDistance } from '../../../server/market-data/symbols.js'
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

t.test('canonicalForm: separators, share classes, and crypto quotes longest first', async (t) => {
  const cases: Array<[string, AssetClass, string]> = [
    [' brk/b ', 'stock', 'BRK.B'],
    ['bf_b', 'stock', 'BF.B'],
    ['eur-usd', 'forex', 'EUR/USD'],
    ['C:gbp_jpy', 'forex', 'GBP/JPY'],
    ['EURUSDX', 'forex', 'EURUSDX'],
    ['BTCBUSD', 'crypto', 'BTC/BUSD'],
    ['ETHUSDT', 'crypto', 'ETH/USDT'],
    ['X:SOLUSDC', 'crypto', 'SOL/USDC'],
    ['ethbtc', 'crypto', 'ETH/BTC'],
    ['OPUSD', 'crypto', 'OP/USD'],
    ['XUSD', 'crypto', 'XUSD'],
    ['doge', 'crypto', 'DOGE']
  ]
  for (const [input, cls, expected] of cases) t.equal(canonicalForm(input, cls), expected, `${input} (${cls})`)
})

t.test('aliasesFor lists the spellings the catalogue accepts', async (t) => {
  t.same(aliasesFor('AAPL', 'stock'), [])
  t.same(aliasesFor('BRK.B', 'stock'), ['BRK-B', 'BRK/B'])
  t.same(aliasesFor('EUR/USD', 'forex'), ['EURUSD', 'C:EURUSD', 'EUR-USD', 'EUR_USD'])
  t.same(aliasesFor('BTC/USD', 'crypto'), ['BTCUSD', 'X:BTCUSD', 'BTC-USD', 'BTC_USD'])
  t.same(aliasesFor('DOGE', 'crypto'), [], 'a pair symbol without a quote has no pair spellings')
})

t.test('compactKey: a vendor prefix only at the start, every separator dropped, case folded', async (t) => {
  t.same(compactKey('c:eur/usd'), { key: 'EURUSD', cls: 'forex' })
  t.same(compactKey('x:btc-usd'), { key: 'BTCUSD', cls: 'crypto' })
  t.same(compactKey('Q:ABC'), { key: 'ABC', cls: null }, 'an unknown vendor letter is dropped without a class')
  t.same(compactKey('X:'), { key: 'X', cls: null }, 'too short to carry a prefix')
  t.same(compactKey('ab:c_d.e-f/g'), { key: 'ABCDEFG', cls: null })
  t.same(compactKey('brk.b2'), { key: 'BRKB2', cls: null }, 'digits kept')
})

t.test('one compact key in two classes: a plain spelling prefers the stock, a prefix picks its class', async (t) => {
  // Listed crypto first, so the preference is the class order, not insertion order.
  const idx = new SymbolIndex([
    { symbol: 'ABC/USD', asset_class: 'crypto', aliases: aliasesFor('ABC/USD', 'crypto') },
    { symbol: 'ABC/USD', asset_class: 'forex', aliases: [] },
    { symbol: 'ABCUSD', asset_class: 'stock', aliases: [] }
  ])
  t.equal(idx.resolve('abc.usd'), 'ABCUSD', 'no exact spelling: the stock wins')
  t.equal(idx.resolve('X:ABC.USD'), 'ABC/USD')
  t.equal(idx.resolve('C:ABCUSD'), 'ABC/USD')
})

t.test('an alias never shadows another symbol\'s canonical spelling', async (t) => {
  const idx = new SymbolIndex([
    { symbol: 'BTCUSD', asset_class: 'stock', aliases: [] },
    { symbol: 'BTC/USD', asset_class: 'crypto', aliases: aliasesFor('BTC/USD', 'crypto') }
  ])
  t.equal(idx.resolve('btcusd'), 'BTCUSD', 'the stock listed as BTCUSD keeps its name')
  t.equal(idx.resolve('X:BTCUSD'), 'BTC/USD')
  t.equal(idx.resolve('btc-usd'), 'BTC/USD')
})

t.test('suggestions: one edit for short inputs, two for longer, best first, nothing for an empty key', async (t) => {
  const idx = new SymbolIndex(['IBM', 'IBKR', 'GE', 'GM', 'AMZN', 'AMD', 'AMAT'].map((symbol) => ({ symbol, asset_class: 'stock' as const, aliases: [] })))
  t.same(idx.suggest('IMB'), ['IBM'], 'a transposition is one edit')
  t.same(idx.suggest('IXX'), [], 'three letters: two edits is too far')
  t.same(idx.suggest('AMZNN'), ['AMZN'])
  t.same(idx.suggest('AMXX'), ['AMAT', 'AMD', 'AMZN'], 'four letters: within two edits, ties alphabetical')
  t.same(idx.suggest('AM', 2), ['AMAT', 'AMD'], 'a shared prefix counts; max caps the list')
  t.same(idx.suggest('-/_'), [])
  t.equal(editDistance('ABCDEF', 'ZZZZZZ', 2), 2, 'capped distance stops early')
  t.equal(editDistance('A', 'ABCD', 2), 2, 'length difference alone reaches the cap')
})
