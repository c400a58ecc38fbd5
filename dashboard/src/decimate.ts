// Display-only thinning of long series (a year of minute equity points is ~100k): keep each bucket's first,
// lowest and highest points so peaks and troughs (drawdowns) survive. The data itself is never changed.

export interface Point { time: number, value: number }

/** At most about `maxPoints` points of `points` (sorted by time), keeping the first, the last and each bucket's extremes. */
export function decimate<P extends Point> (points: readonly P[], maxPoints: number): P[] {
  if (maxPoints < 4) throw new RangeError('maxPoints must be at least 4')
  if (points.length <= maxPoints) return points.slice()
  const buckets = Math.floor((maxPoints - 2) / 2)
  const size = (points.length - 2) / buckets
  const out: P[] = [points[0]]
  for (let b = 0; b < buckets; b++) {
    const from = 1 + Math.floor(b * size)
    const to = Math.min(points.length - 1, 1 + Math.floor((b + 1) * size))
    let lo = from
    let hi = from
    for (let i = from; i < to; i++) {
      if (points[i].value < points[lo].value) lo = i
      if (points[i].value > points[hi].value) hi = i
    }
    if (lo === hi) out.push(points[lo])
    else if (lo < hi) out.push(points[lo], points[hi])
    else out.push(points[hi], points[lo])
  }
  out.push(points[points.length - 1])
  return out
}

/** Monthly returns (in percent, display only) from daily equity closes: month "YYYY-MM" → (last / previous month's last − 1) × 100. */
export function monthlyReturns (points: ReadonlyArray<{ date: string, equity: string }>, initialCapital: string): Array<{ month: string, return_pct: number }> {
  const lastOfMonth = new Map<string, number>()
  for (const p of points) lastOfMonth.set(p.date.slice(0, 7), Number(p.equity))
  let previous = Number(initialCapital)
  const out: Array<{ month: string, return_pct: number }> = []
  for (const [month, equity] of lastOfMonth) {
    out.push({ month, return_pct: previous === 0 ? 0 : (equity / previous - 1) * 100 })
    previous = equity
  }
  return out
}
