// Keyset cursors for session listings: the (created_at, session_id) of the last row served, opaque to
// clients. Keyset (not offset) paging walks every session exactly once even while sessions come and go.
import { AppError } from '../app-error.js'

export interface CursorKey {
  readonly created_at: number
  readonly session_id: string
}

const SESSION_ID_RE = /^[A-Za-z0-9_-]{1,64}$/

export function encodeCursor (key: CursorKey): string {
  return Buffer.from(`${key.created_at}:${key.session_id}`, 'utf8').toString('base64url')
}

export function decodeCursor (cursor: string): CursorKey {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const colon = text.indexOf(':')
  const createdAt = Number(text.slice(0, colon))
  const sessionId = text.slice(colon + 1)
  if (colon < 1 || !Number.isSafeInteger(createdAt) || createdAt < 0 || !SESSION_ID_RE.test(sessionId)) {
    throw new AppError('VALIDATION_FAILED', 'cursor is not a cursor returned by this API', { field: 'cursor' })
  }
  return { created_at: createdAt, session_id: sessionId }
}

/** Order of listings: newest first, ties broken by session_id descending. Negative = `a` comes first. */
export function compareListOrder (a: CursorKey, b: CursorKey): number {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at
  return a.session_id < b.session_id ? 1 : a.session_id > b.session_id ? -1 : 0
}
