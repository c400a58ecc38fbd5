// Symbol normalisation: every spelling a user may type (aapl, brk-b, eurusd, C:EURUSD, btc-usd, X:BTCUSD)
// maps to one canonical form per asset class (AAPL, BRK.B, EUR/USD, BTC/USD) by lookup in the catalogue,
// with close-match suggestions for unknown symbols.
import type { AssetClass } from '../../schemas/market-data.js'

/** Quote currencies recognised when splitting an unseparated crypto pair, longest first. */
const CRYPTO_QUOTES = ['USDT', 'USDC', 'BUSD', 'USD', 'EUR', 'GBP', 'JPY', 'BTC', 'ETH']

interface CompactKey {
  key: string
  /** Asset class implied by a vendor prefix (`C:` forex, `X:` crypto), else null. */
  cls: AssetClass | null
}

/**
 * Upper-cased input with vendor prefix and separators (`/ - _ . :`) removed: the key under which all
 * spellings of a symbol meet. A char loop rather than regexes because it runs on every lookup.
 */
export function compactKey (input: string): CompactKey {
  let start = 0
  let cls: AssetClass | null = null
  if (input.length > 2 && input.charCodeAt(1) === 58 /* : */) {
    const p = input.charCodeAt(0) | 0x20
    if (p === 99 /* c */) cls = 'forex'
    else if (p === 120 /* x */) cls = 'crypto'
    start = 2
  }
  let key = ''
  for (let i = start; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c === 47 || c === 45 || c === 95 || c === 46 || c === 58) continue
    key += c >= 97 && c <= 122 ? String.fromCharCode(c - 32) : input[i]
  }
  return { key, cls }
}

function splitPair (input: string, cls: 'forex' | 'crypto'): [string, string] | null {
  const up = input.toUpperCase().replace(/^[CX]:/, '')
  const parts = up.split(/[/_\-.]/).filter((p) => p.length > 0)
  if (parts.length === 2) return [parts[0], parts[1]]
  const flat = parts.join('')
  if (cls === 'forex') return flat.length === 6 ? [flat.slice(0, 3), flat.slice(3)] : null
  for (const q of CRYPTO_QUOTES) {
    if (flat.length > q.length + 1 && flat.endsWith(q)) return [flat.slice(0, -q.length), q]
  }
  return null
}

/**
 * The canonical spelling of a symbol of a known asset class, without a catalogue (used to name symbols
 * found in data files): stocks upper-case with a dot before a share class (BRK.B), pairs as BASE/QUOTE.
 */
export function canonicalForm (input: string, assetClass: AssetClass): string {
  if (assetClass === 'stock') return input.trim().toUpperCase().replace(/[-/_]/g, '.')
  const pair = splitPair(input.trim(), assetClass)
  return pair === null ? input.trim().toUpperCase() : `${pair[0]}/${pair[1]}`
}

/** Other accepted spellings of a canonical symbol, as listed in the catalogue. */
export function aliasesFor (symbol: string, assetClass: AssetClass): string[] {
  if (assetClass === 'stock') {
    if (!symbol.includes('.')) return []
    return [symbol.replace('.', '-'), symbol.replace('.', '/')]
  }
  const [base, quote] = symbol.split('/')
  if (quote === undefined) return []
  const prefix = assetClass === 'forex' ? 'C:' : 'X:'
  return [`${base}${quote}`, `${prefix}${base}${quote}`, `${base}-${quote}`, `${base}_${quote}`]
}

export interface IndexedSymbol {
  symbol: string
  asset_class: AssetClass
  aliases: readonly string[]
}

const CLASS_PRIORITY: Record<AssetClass, number> = { stock: 0, forex: 1, crypto: 2 }

/** Resolves user input against the catalogue's symbols through two Map lookups. */
export class SymbolIndex {
  private readonly exact = new Map<string, string>()
  private readonly compact = new Map<string, IndexedSymbol[]>()
  private readonly keys: Array<{ key: string, symbol: string }> = []

  constructor (entries: Iterable<IndexedSymbol>) {
    for (const e of entries) {
      this.exact.set(e.symbol.toUpperCase(), e.symbol)
      for (const a of e.aliases) if (!this.exact.has(a.toUpperCase())) this.exact.set(a.toUpperCase(), e.symbol)
      const { key } = compactKey(e.symbol)
      let list = this.compact.get(key)
      if (list === undefined) {
        list = []
        this.compact.set(key, list)
        this.keys.push({ key, symbol: e.symbol })
      }
      list.push(e)
      list.sort((a, b) => CLASS_PRIORITY[a.asset_class] - CLASS_PRIORITY[b.asset_class])
    }
  }

  /** Canonical symbol for any accepted spelling, or null when the catalogue has no such symbol. */
  resolve (input: string): string | null {
    const hit = this.exact.get(input.toUpperCase())
    if (hit !== undefined) return hit
    const { key, cls } = compactKey(input)
    const list = this.compact.get(key)
    if (list === undefined) return null
    if (cls === null) return list[0].symbol
    for (const e of list) if (e.asset_class === cls) return e.symbol
    return null
  }

  /** Up to `max` catalogue symbols close to an unknown input: shared prefix or small edit distance. */
  suggest (input: string, max = 3): string[] {
    const { key } = compactKey(input)
    if (key.length === 0) return []
    const limit = key.length <= 3 ? 1 : 2
    const scored: Array<{ symbol: string, score: number }> = []
    for (const k of this.keys) {
      const prefix = key.length >= 2 && (k.key.startsWith(key) || key.startsWith(k.key))
      if (!prefix && Math.abs(k.key.length - key.length) > limit) continue
      const dist = editDistance(key, k.key, limit + 1)
      if (prefix || dist <= limit) scored.push({ symbol: k.symbol, score: prefix ? Math.min(dist, 1) : dist })
    }
    scored.sort((a, b) => a.score - b.score || a.symbol.localeCompare(b.symbol))
    return scored.slice(0, max).map((s) => s.symbol)
  }
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so APPL is 1 from AAPL), capped. */
export function editDistance (a: string, b: string, cap = Infinity): number {
  const n = a.length
  const m = b.length
  if (Math.abs(n - m) >= cap) return cap
  let prev2 = new Array<number>(m + 1).fill(0)
  let prev = Array.from({ length: m + 1 }, (_, j) => j)
  let cur = new Array<number>(m + 1).fill(0)
  for (let i = 1; i <= n; i++) {
    cur[0] = i
    let rowMin = cur[0]
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1)
      cur[j] = v
      if (v < rowMin) rowMin = v
    }
    if (rowMin >= cap) return cap
    const t = prev2
    prev2 = prev
    prev = cur
    cur = t
  }
  return Math.min(prev[m], cap)
}
