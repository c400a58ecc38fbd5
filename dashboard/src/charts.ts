// Charts with TradingView Lightweight Charts 5 (Apache-2.0; its logo link is the attribution the licence asks
// for, and the page footer names it). Values are parsed to numbers for drawing only; tables show the API's strings.
// Axes read like the tables: thousands separators, 2 decimals, a % unit on percentages.
import { createChart, createSeriesMarkers, AreaSeries, BaselineSeries, CandlestickSeries, type AutoscaleInfoProvider, type IChartApi, type ISeriesApi, type MouseEventParams, type SeriesMarker, type Time, type UTCTimestamp } from 'lightweight-charts'
import { decimate } from './decimate.js'
import { capGroups, describeGroup, groupByBar, markerCap, netSide, type FillMarker, type MarkerGroup } from './fill-markers.js'
import { formatNumber, formatPrice, formatTime } from './format.js'

/** Most points drawn per series; longer series are thinned for display (min/max per bucket). */
export const MAX_DRAWN_POINTS = 4000

export interface ChartPoint { time: number, value: number }

export function toTime (iso: string): UTCTimestamp {
  return Math.floor(Date.parse(iso) / 1000) as UTCTimestamp
}

const money = (p: number): string => formatNumber(p)
const percent = (p: number): string => `${formatNumber(p)} %`
const price = (p: number): string => formatPrice(String(p))

function baseChart (el: HTMLElement, height: number, format: (p: number) => string): IChartApi {
  return createChart(el, {
    height,
    autoSize: true,
    layout: { attributionLogo: true, background: { color: '#ffffff' }, textColor: '#1f2937' },
    localization: { priceFormatter: format },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderVisible: false },
    grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } }
  })
}

/** Strictly increasing times (the library requires it): a later point at the same second replaces the earlier. */
function uniqueByTime (points: readonly ChartPoint[]): ChartPoint[] {
  const out: ChartPoint[] = []
  for (const p of points) {
    const last = out[out.length - 1]
    if (last !== undefined && last.time >= p.time) { if (last.time === p.time) last.value = p.value; continue }
    out.push({ ...p })
  }
  return out
}

function drawable (points: readonly ChartPoint[]): Array<{ time: UTCTimestamp, value: number }> {
  return decimate(uniqueByTime(points), MAX_DRAWN_POINTS).map((p) => ({ time: p.time as UTCTimestamp, value: p.value }))
}

/** The equity curve: an area in the accent colour, money on the axis. */
export class EquityChart {
  readonly chart: IChartApi
  readonly series: ISeriesApi<'Area'>
  constructor (el: HTMLElement) {
    this.chart = baseChart(el, 260, money)
    this.series = this.chart.addSeries(AreaSeries, { lineColor: '#2563eb', topColor: '#2563eb55', bottomColor: '#2563eb05', lineWidth: 2 })
  }

  set (points: readonly ChartPoint[]): void {
    this.series.setData(drawable(points))
    this.chart.timeScale().fitContent()
  }

  remove (): void { this.chart.remove() }
}

/** The underwater scale: from the deepest point up to exactly 0 (a flat run still shows 0 at the top). */
const zeroAtTop: AutoscaleInfoProvider = (original) => {
  const r = original()
  return r?.priceRange == null ? r : { ...r, priceRange: { minValue: Math.min(r.priceRange.minValue, -0.1), maxValue: 0 } }
}

/**
 * Drawdown as an underwater curve: 0 at the top, a fall of x % drawn at −x %, the water between the line and 0
 * shaded. The scale is never inverted, so a deeper drawdown always looks lower.
 */
export class UnderwaterChart {
  readonly chart: IChartApi
  readonly series: ISeriesApi<'Baseline'>
  constructor (readonly el: HTMLElement) {
    this.chart = baseChart(el, 180, percent)
    this.series = this.chart.addSeries(BaselineSeries, {
      baseValue: { type: 'price', price: 0 },
      topLineColor: '#b91c1c', topFillColor1: '#b91c1c00', topFillColor2: '#b91c1c00',
      bottomLineColor: '#b91c1c', bottomFillColor1: '#b91c1c22', bottomFillColor2: '#b91c1c55',
      lineWidth: 2,
      // Zero stays the top of the scale (a flat run still shows 0 at the top, not in the middle).
      autoscaleInfoProvider: zeroAtTop
    })
    el.dataset.inverted = String(this.series.priceScale().options().invertScale)
  }

  /** `drawdownPct` ≥ 0 per point (the API's sign), drawn below zero. */
  set (points: ReadonlyArray<{ time: number, drawdownPct: number }>): void {
    const data = drawable(points.map((p) => ({ time: p.time, value: p.drawdownPct === 0 ? 0 : -p.drawdownPct })))
    this.series.setData(data)
    const values = data.map((p) => p.value)
    this.el.dataset.minValue = String(values.length === 0 ? 0 : Math.min(...values))
    this.el.dataset.maxValue = String(values.length === 0 ? 0 : Math.max(...values))
    this.chart.timeScale().fitContent()
  }

  remove (): void { this.chart.remove() }
}

function markerOf (g: MarkerGroup): SeriesMarker<Time> {
  const side = netSide(g)
  const time = g.time as UTCTimestamp
  if (side === 'buy') return { time, position: 'belowBar', color: '#15803d', shape: 'arrowUp', size: 0.7 }
  if (side === 'sell') return { time, position: 'aboveBar', color: '#b91c1c', shape: 'arrowDown', size: 0.7 }
  return { time, position: 'aboveBar', color: '#6b7280', shape: 'circle', size: 0.5 }
}

/** Candles with the fills as small arrows (fill-markers.ts), their label in a tooltip under the pointer. */
export class PriceChart {
  readonly chart: IChartApi
  readonly series: ISeriesApi<'Candlestick'>
  #groups: MarkerGroup[] = []
  constructor (readonly el: HTMLElement, readonly tooltip: HTMLElement) {
    this.chart = baseChart(el, 300, price)
    this.series = this.chart.addSeries(CandlestickSeries, { upColor: '#15803d', downColor: '#b91c1c', wickUpColor: '#15803d', wickDownColor: '#b91c1c', borderVisible: false })
    this.chart.subscribeCrosshairMove((p) => { this.#hover(p) })
  }

  /** Draws the bars and the fills' markers; returns how many markers were drawn. */
  set (bars: Array<{ timestamp: string, open: number, high: number, low: number, close: number }>, fills: readonly FillMarker[]): number {
    this.series.setData(bars.map((b) => ({ time: toTime(b.timestamp), open: b.open, high: b.high, low: b.low, close: b.close })))
    this.#groups = capGroups(groupByBar(fills, bars.map((b) => toTime(b.timestamp))), markerCap(this.el.clientWidth))
    const plugin = createSeriesMarkers(this.series, this.#groups.map(markerOf))
    this.chart.timeScale().fitContent()
    return plugin.markers().length
  }

  #hover (p: MouseEventParams<Time>): void {
    const t = typeof p.time === 'number' ? p.time : undefined
    const g = t === undefined || p.point === undefined ? undefined : this.#groups.find((x) => x.from <= t && t <= x.to)
    if (g === undefined || p.point === undefined) { this.tooltip.hidden = true; return }
    this.tooltip.textContent = describeGroup(g, (s) => formatTime(new Date(s * 1000).toISOString()), (x) => formatPrice(String(x)))
    this.tooltip.hidden = false
    const left = Math.min(Math.max(0, p.point.x + 12), Math.max(0, this.el.clientWidth - this.tooltip.offsetWidth))
    this.tooltip.style.left = `${left}px`
    this.tooltip.style.top = `${Math.max(0, p.point.y - this.tooltip.offsetHeight - 8)}px`
  }

  remove (): void { this.chart.remove() }
}
