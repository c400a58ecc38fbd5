// What the session page draws at most (docs/dashboard.md names the same figures): fill markers per price chart,
// trades per table page. DOM-free, so the browser tests read the same constants.

/** At most this many fill markers on one price chart, and at most one per MIN_MARKER_SPACING_PX of its width. */
export const MAX_MARKERS = 120
export const MIN_MARKER_SPACING_PX = 10

/** Rows of the trades table on one page (the sort orders all the trades first). */
export const TRADES_PER_PAGE = 25
