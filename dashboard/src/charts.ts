// Charts with TradingView Lightweight Charts 5 (Apache-2.0; its logo link is the attribution the licence asks
// for, and the page footer names it). Values are parsed to numbers for drawing only; tables show the API's strings.
import { createChart, createSeriesMarkers, AreaSeries, CandlestickSeries, LineSeries, type IChartApi, type ISeriesApi, type SeriesMarker, type Time, type UTCTimestamp } from 'lightweight-charts'
import { decimate } from './decimate.js'

/** Most points drawn per series; longer series are thinned for display (min/max per bucket). */
export const MAX_DRAWN_POINTS = 4000

export function toTime (iso: string): UTCTimestamp {
  return Math.floor(Date.parse(iso) / 1000) as UTCTimestamp
}

function baseChart (el: HTMLElement, height: number): IChartApi {
  return createChart(el, {
    height,
    autoSize: true,
    layout: { attributionLogo: true, background: { color: '#ffffff' }, textColor: '#1f2937' },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderVisible: false },
    grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } }
  })
}

/** Strictly increasing times (the library requires it): a later point at the same second replaces the earlier. */
function uniqueByTime (points: Array<{ time: number, value: number }>): Array<{ time: number, value: number }> {
  const out: Array<{ time: number, value: number }> = []
  for (const p of points) {
    const last = out[out.length - 1]
    if (last !== undefined && last.time >= p.time) { if (last.time === p.time) last.value = p.value; continue }
    out.push({ ...p })
  }
  return out
}

export class LineChart {
  readonly chart: IChartApi
  readonly series: ISeriesApi<'Line'> | ISeriesApi<'Area'>
  constructor (el: HTMLElement, opts: { color: string, area?: boolean, height?: number, invert?: boolean }) {
    this.chart = baseChart(el, opts.height ?? 260)
    this.series = opts.area === true
      ? this.chart.addSeries(AreaSeries, { lineColor: opts.color, topColor: `${opts.color}55`, bottomColor: `${opts.color}05`, lineWidth: 2 })
      : this.chart.addSeries(LineSeries, { color: opts.color, lineWidth: 2 })
    if (opts.invert === true) this.series.priceScale().applyOptions({ invertScale: true })
  }

  set (points: Array<{ time: number, value: number }>): void {
    const drawn = decimate(uniqueByTime(points), MAX_DRAWN_POINTS)
    this.series.setData(drawn.map((p) => ({ time: p.time as UTCTimestamp, value: p.value })))
    this.chart.timeScale().fitContent()
  }

  remove (): void { this.chart.remove() }
}

export interface FillMarker { time: string, side: 'buy' | 'sell', price: string, quantity: number }

export class PriceChart {
  readonly chart: IChartApi
  readonly series: ISeriesApi<'Candlestick'>
  constructor (el: HTMLElement) {
    this.chart = baseChart(el, 300)
    this.series = this.chart.addSeries(CandlestickSeries, { upColor: '#15803d', downColor: '#b91c1c', wickUpColor: '#15803d', wickDownColor: '#b91c1c', borderVisible: false })
  }

  set (bars: Array<{ timestamp: string, open: number, high: number, low: number, close: number }>, fills: FillMarker[]): void {
    this.series.setData(bars.map((b) => ({ time: toTime(b.timestamp), open: b.open, high: b.high, low: b.low, close: b.close })))
    const barTimes = bars.map((b) => toTime(b.timestamp))
    // A marker sits on the bar at or before its fill time; shape and text (B/S), not only colour, give the side.
    const markers: Array<SeriesMarker<Time>> = fills.map((f) => {
      const t = toTime(f.time)
      let at = barTimes[0] ?? t
      for (const bt of barTimes) { if (bt <= t) at = bt; else break }
      return f.side === 'buy'
        ? { time: at as UTCTimestamp, position: 'belowBar', color: '#15803d', shape: 'arrowUp', text: `B ${f.quantity} @ ${f.price}` }
        : { time: at as UTCTimestamp, position: 'aboveBar', color: '#b91c1c', shape: 'arrowDown', text: `S ${f.quantity} @ ${f.price}` }
    })
    markers.sort((a, b) => (a.time as number) - (b.time as number))
    createSeriesMarkers(this.series, markers)
    this.chart.timeScale().fitContent()
  }

  remove (): void { this.chart.remove() }
}
