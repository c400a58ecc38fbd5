import t from 'tap'
import { MAX_HELD_PUSHES, pushAfterReply, repliesFirst } from '../../../server/ws/reply-first.js'
import type { WsConnection } from '../../../server/ws/connection.js'
import type { WsHandlerContext } from '../../../server/ws/dispatcher.js'

/** A connection that records what it is sent, and a handler context on it. */
function fake (): { conn: WsConnection, sent: string[], ctx: WsHandlerContext } {
  const sent: string[] = []
  const conn = { send: (type: string) => { sent.push(type); return true } } as unknown as WsConnection
  const ctx: WsHandlerContext = { conn, requestId: 'r', reply: (type) => { sent.push(`${type}#r`) }, refund: () => {} }
  return { conn, sent, ctx }
}

t.test('a push made while the request runs goes out after its reply', async (t) => {
  const { conn, sent, ctx } = fake()
  await repliesFirst(async (c: WsHandlerContext) => {
    pushAfterReply(conn, 'session_updated', {})
    await new Promise((resolve) => setImmediate(resolve))
    c.reply('session_created', {})
  })(ctx, {})
  t.same(sent, ['session_created#r', 'session_updated'])
  pushAfterReply(conn, 'session_updated', {})
  t.same(sent.length, 3, 'and later pushes go out at once')
})

t.test('a failed request: the pushes wait for the error reply the connection sends on the rejection', async (t) => {
  const { conn, sent, ctx } = fake()
  const failing = repliesFirst(async () => {
    pushAfterReply(conn, 'session_updated', {})
    throw new Error('no')
  })(ctx, {}) as Promise<void>
  await failing.catch(() => { sent.push('session_error#r') })
  t.same(sent, ['session_error#r'])
  await new Promise((resolve) => setImmediate(resolve))
  t.same(sent, ['session_error#r', 'session_updated'])
})

t.test('a handler that throws synchronously, or returns without a promise, releases too', async (t) => {
  const { conn, sent, ctx } = fake()
  t.throws(() => repliesFirst(() => { pushAfterReply(conn, 'a', {}); throw new Error('sync') })(ctx, {}))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(sent, ['a'])
  repliesFirst(() => { pushAfterReply(conn, 'b', {}); ctx.reply('c', {}) })(ctx, {})
  t.same(sent, ['a', 'c#r', 'b'])
})

t.test('at most MAX_HELD_PUSHES wait; more go out at once', async (t) => {
  const { conn, sent, ctx } = fake()
  repliesFirst(() => {
    for (let i = 0; i <= MAX_HELD_PUSHES; i++) pushAfterReply(conn, 'p', {})
    t.equal(sent.length, 1, 'the one past the bound was sent')
  })(ctx, {})
  t.equal(sent.length, MAX_HELD_PUSHES + 1)
})
