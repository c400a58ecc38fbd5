// What file-based sources share: the optional manifest.json that names symbols' asset class, market and
// name, turning a file's symbol into a canonical catalogue entry, and the data-error helper.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AssetClass, BarSourceKind, Market, SymbolInfo, Timeframe, TimeframeAvailability } from '../../../schemas/market-data.js'
import { AppError } from '../../app-error.js'
import { aliasesFor, canonicalForm } from '../symbols.js'

/** Folder names the data manager (and people) use for each timeframe, in either file layout. */
export const TIMEFRAME_FOLDERS: Readonly<Record<Timeframe, readonly string[]>> = {
  '1d': ['daily', '1d', '1day', 'day'],
  '1h': ['1h', '60min', '1hour', 'hour', '60m'],
  '1m': ['1min', '1m', '1minute', 'minute']
}

/** The timeframe a folder name stands for, if any (case-insensitive). */
export function timeframeOfFolder (name: string): Timeframe | undefined {
  const n = name.toLowerCase()
  return (Object.keys(TIMEFRAME_FOLDERS) as Timeframe[]).find((tf) => TIMEFRAME_FOLDERS[tf].includes(n))
}

export interface ManifestEntry {
  asset_class?: AssetClass
  market?: Market
  name?: string
  currency?: string
}

export type Manifest = Record<string, ManifestEntry>

const ASSET_CLASSES = new Set(['stock', 'forex', 'crypto'])
const MARKETS = new Set(['NYSE', 'NASDAQ', 'FOREX', 'CRYPTO'])

/** A data-file problem: the operator's files are wrong, so it is an internal error naming the file. */
export function dataError (file: string, line: number | null, problem: string): AppError {
  return new AppError('INTERNAL_ERROR', line === null ? `${file}: ${problem}` : `${file}:${line}: ${problem}`, { file, line })
}

/** `manifest.json` of a data folder (symbol → {asset_class, market, name}); empty when absent. */
export async function readManifest (dir: string): Promise<Manifest> {
  const file = join(dir, 'manifest.json')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return {}
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw dataError(file, null, `invalid JSON (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw dataError(file, null, 'expected an object of symbol → {asset_class, market, name}')
  const out: Manifest = {}
  for (const [symbol, raw] of Object.entries(parsed as Record<string, unknown>)) {
    const e = (raw ?? {}) as Record<string, unknown>
    if (e.asset_class !== undefined && !ASSET_CLASSES.has(e.asset_class as string)) throw dataError(file, null, `${symbol}: asset_class must be stock, forex or crypto`)
    if (e.market !== undefined && !MARKETS.has(e.market as string)) throw dataError(file, null, `${symbol}: market must be NYSE, NASDAQ, FOREX or CRYPTO`)
    out[symbol.toUpperCase()] = {
      asset_class: e.asset_class as AssetClass | undefined,
      market: e.market as Market | undefined,
      name: typeof e.name === 'string' ? e.name : undefined,
      currency: typeof e.currency === 'string' ? e.currency : undefined
    }
  }
  return out
}

/**
 * The catalogue identity of a file symbol: the manifest's word first, then a vendor prefix (`C:` forex,
 * `X:` crypto), else a US stock on NYSE.
 */
export function describeFileSymbol (fileSymbol: string, manifest: Manifest): { symbol: string, asset_class: AssetClass, market: Market, name: string, currency: string } {
  const m = manifest[fileSymbol.toUpperCase()] ?? {}
  const prefix = fileSymbol.slice(0, 2).toUpperCase()
  const assetClass: AssetClass = m.asset_class ?? (m.market === 'FOREX' || prefix === 'C:' ? 'forex' : m.market === 'CRYPTO' || prefix === 'X:' ? 'crypto' : 'stock')
  const market: Market = m.market ?? (assetClass === 'forex' ? 'FOREX' : assetClass === 'crypto' ? 'CRYPTO' : 'NYSE')
  const symbol = canonicalForm(fileSymbol, assetClass)
  const currency = m.currency ?? (assetClass === 'stock' ? 'USD' : symbol.split('/')[1] ?? 'USD')
  return { symbol, asset_class: assetClass, market, name: m.name ?? symbol, currency }
}

export function fileSymbolInfo (fileSymbol: string, manifest: Manifest, source: BarSourceKind, timeframes: TimeframeAvailability[]): SymbolInfo {
  const d = describeFileSymbol(fileSymbol, manifest)
  const aliases = aliasesFor(d.symbol, d.asset_class)
  if (fileSymbol.toUpperCase() !== d.symbol && !aliases.includes(fileSymbol.toUpperCase())) aliases.push(fileSymbol.toUpperCase())
  return { ...d, timeframes, aliases, synthetic: false, source }
}
