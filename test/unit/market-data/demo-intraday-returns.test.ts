// The demo's minute bars must not carry a predictable trend: conditioning a path on the day's high and low
// is allowed to shape its range, not to make the next minute's return guessable from the last one.
import t from 'tap'
import { MarketDataService } from '../../../server/market-data/market-data-service.js'

/** Lag-1 autocorrelation of close-to-close returns within each trading day. */
function lag1Autocorrelation (close: Float64Array, day: Int32Array): number {
  const r: number[] = []
  const next: number[] = []
  for (let i = 2; i < close.length; i++) {
    if (day[i] !== day[i - 1] || day[i - 1] !== day[i - 2]) continue
    r.push(close[i - 1] / close[i - 2] - 1)
    next.push(close[i] / close[i - 1] - 1)
  }
  const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length
  const ma = mean(r)
  const mb = mean(next)
  let cov = 0; let va = 0; let vb = 0
  for (let i = 0; i < r.length; i++) {
    cov += (r[i] - ma) * (next[i] - mb)
    va += (r[i] - ma) ** 2
    vb += (next[i] - mb) ** 2
  }
  return cov / Math.sqrt(va * vb)
}

t.test('minute returns of the demo data are not autocorrelated', async (t) => {
  const md = new MarketDataService({ now: () => Date.UTC(2026, 5, 1) })
  for (const symbol of ['AAPL', 'EUR/USD', 'BTC/USD']) {
    const s = await md.loadSeries(symbol, '1m', '2023-03-01', '2023-03-31')
    const rho = lag1Autocorrelation(s.close, s.day)
    t.ok(Math.abs(rho) < 0.1, `${symbol}: lag-1 autocorrelation ${rho.toFixed(3)} is within ±0.1`)
  }
})
