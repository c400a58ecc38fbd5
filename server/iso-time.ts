// Fast `Date.prototype.toISOString` for hot paths (ticks, bars, frame timestamps): the `YYYY-MM-DDT` prefix
// is cached per UTC day, so consecutive instants of one day cost string concatenation, not a Date.
export class IsoFormatter {
  #dayMs = Number.NaN
  #prefix = ''

  format (ms: number): string {
    const dayMs = ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000)
    if (dayMs !== this.#dayMs) {
      this.#dayMs = dayMs
      this.#prefix = new Date(dayMs).toISOString().slice(0, 11)
    }
    let r = ms - dayMs
    const h = Math.floor(r / 3_600_000)
    r -= h * 3_600_000
    const m = Math.floor(r / 60_000)
    r -= m * 60_000
    const s = Math.floor(r / 1000)
    const milli = Math.round(r - s * 1000)
    return `${this.#prefix}${pad2(h)}:${pad2(m)}:${pad2(s)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`
  }
}

function pad2 (n: number): string {
  return n < 10 ? `0${n}` : `${n}`
}
