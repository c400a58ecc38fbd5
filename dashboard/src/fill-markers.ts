// Fills as price-chart markers that never hide the candles: each fill goes to the bar it traded in, the fills
// of one bar make one small arrow (the net side: more buys up, more sells down, as many of each a dot), and
// past the density cap neighbouring bars are merged into one marker per bucket. No text on the chart: the
// counts, quantities and prices are the marker's hover label.
import { MAX_MARKERS, MIN_MARKER_SPACING_PX } from './display-limits.js'

export interface FillMarker { time: string, side: 'buy' | 'sell', price: string, quantity: number }

/** The fills of one bar or of a bucket of neighbouring bars: one marker, placed on the bar `time`. */
export interface MarkerGroup {
  /** Bar time (epoch seconds) the marker sits on: the bucket's first bar with fills. */
  time: number
  /** The bars it covers, first and last (epoch seconds): hovering anywhere between shows its label. */
  from: number
  to: number
  buys: number
  sells: number
  buyQuantity: number
  sellQuantity: number
  /** Lowest and highest fill price, as numbers (for the label only). */
  low: number
  high: number
}

/** Markers allowed on a chart `width` px wide. */
export function markerCap (width: number): number {
  return Math.max(1, Math.min(MAX_MARKERS, Math.floor(width / MIN_MARKER_SPACING_PX)))
}

/** Index of the last bar at or before `t` (the first bar when `t` precedes every bar). */
function barAt (barTimes: readonly number[], t: number): number {
  let lo = 0
  let hi = barTimes.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (barTimes[mid] <= t) lo = mid
    else hi = mid - 1
  }
  return lo
}

function merge (into: MarkerGroup, g: MarkerGroup): void {
  into.to = g.to
  into.buys += g.buys
  into.sells += g.sells
  into.buyQuantity += g.buyQuantity
  into.sellQuantity += g.sellQuantity
  into.low = Math.min(into.low, g.low)
  into.high = Math.max(into.high, g.high)
}

/** One group per bar that has fills, in time order. `barTimes` ascending, epoch seconds; fill times ISO. */
export function groupByBar (fills: readonly FillMarker[], barTimes: readonly number[]): MarkerGroup[] {
  if (barTimes.length === 0) return []
  const byBar = new Map<number, MarkerGroup>()
  for (const f of fills) {
    const bar = barTimes[barAt(barTimes, Math.floor(Date.parse(f.time) / 1000))]
    const price = Number(f.price)
    let g = byBar.get(bar)
    if (g === undefined) {
      g = { time: bar, from: bar, to: bar, buys: 0, sells: 0, buyQuantity: 0, sellQuantity: 0, low: price, high: price }
      byBar.set(bar, g)
    }
    if (f.side === 'buy') { g.buys++; g.buyQuantity += f.quantity } else { g.sells++; g.sellQuantity += f.quantity }
    g.low = Math.min(g.low, price)
    g.high = Math.max(g.high, price)
  }
  return [...byBar.values()].sort((a, b) => a.time - b.time)
}

/** At most `cap` groups: consecutive bars' groups merged into equal buckets when there are more. */
export function capGroups (groups: readonly MarkerGroup[], cap: number): MarkerGroup[] {
  if (groups.length <= cap) return groups.map((g) => ({ ...g }))
  const size = Math.ceil(groups.length / cap)
  const out: MarkerGroup[] = []
  for (let i = 0; i < groups.length; i += size) {
    const bucket = { ...groups[i] }
    for (let j = i + 1; j < Math.min(groups.length, i + size); j++) merge(bucket, groups[j])
    out.push(bucket)
  }
  return out
}

/** The net side of a group: more buys → 'buy', more sells → 'sell', as many → 'both'. */
export function netSide (g: MarkerGroup): 'buy' | 'sell' | 'both' {
  return g.buys > g.sells ? 'buy' : g.sells > g.buys ? 'sell' : 'both'
}

/** The hover label: what the marker stands for, in words. */
export function describeGroup (g: MarkerGroup, formatTime: (epochSeconds: number) => string, formatPrice: (p: number) => string): string {
  const parts: string[] = []
  if (g.buys > 0) parts.push(`${g.buys} buy${g.buys === 1 ? '' : 's'} (${g.buyQuantity} shares)`)
  if (g.sells > 0) parts.push(`${g.sells} sell${g.sells === 1 ? '' : 's'} (${g.sellQuantity} shares)`)
  const when = g.from === g.to ? formatTime(g.from) : `${formatTime(g.from)} – ${formatTime(g.to)}`
  const prices = g.low === g.high ? `at ${formatPrice(g.low)}` : `at ${formatPrice(g.low)} – ${formatPrice(g.high)}`
  return `${parts.join(', ')} ${prices}; ${when}`
}
