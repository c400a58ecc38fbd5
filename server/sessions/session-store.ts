// The session storage port now lives with the other ports (server/ports/); re-exported for existing imports.
export type * from '../ports/session-store.js'
