// The reply to a request comes before the pushes its own change causes: while a connection's session-family
// request is being handled, session pushes to that connection wait, and go out right after its reply (or
// error). So a client that creates a session hears `session_created` (its reply), then `session_updated`.
// Both session-event buses deliver an instance's own events synchronously, inside the request that made them.
import type { WsConnection } from './connection.js'
import type { WsHandlerContext } from './dispatcher.js'

/**
 * Pushes one connection may have waiting behind a request; past it they go out at once (order then as they
 * come), so a slow request under a flood of changes never buffers without bound.
 */
export const MAX_HELD_PUSHES = 256

interface Held { depth: number, pushes: Array<[type: string, data: unknown]> }

const held = new WeakMap<WsConnection, Held>()

/** Sends a push (no request_id) to `conn`, after the reply of the request it is handling, if any. */
export function pushAfterReply (conn: WsConnection, type: string, data: unknown): void {
  const h = held.get(conn)
  if (h === undefined || h.pushes.length >= MAX_HELD_PUSHES) {
    conn.send(type, data)
    return
  }
  h.pushes.push([type, data])
}

function hold (conn: WsConnection): () => void {
  let h = held.get(conn)
  if (h === undefined) {
    h = { depth: 0, pushes: [] }
    held.set(conn, h)
  }
  const entry = h
  entry.depth++
  return () => {
    if (--entry.depth > 0) return
    held.delete(conn)
    for (const [type, data] of entry.pushes) conn.send(type, data)
  }
}

type Handle<D> = (ctx: WsHandlerContext, data: D) => void | Promise<void>

/**
 * `handle` with the connection's pushes held until its reply is out. A handler replies before it settles; a
 * failure's error reply is sent by the connection once the rejection reaches it, so the release then waits
 * for the next turn of the event loop.
 */
export function repliesFirst<D> (handle: Handle<D>): Handle<D> {
  return (ctx, data) => {
    const release = hold(ctx.conn)
    let result: void | Promise<void>
    try {
      result = handle(ctx, data)
    } catch (err) {
      setImmediate(release)
      throw err
    }
    if (!(result instanceof Promise)) {
      release()
      return
    }
    return result.then(release, (err: unknown) => {
      setImmediate(release)
      throw err
    })
  }
}
