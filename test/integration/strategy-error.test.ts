// A strategy whose own code throws, through the SDK's runStrategy over a real server: the original error
// comes back (same object, its stack intact), and the server has ended the run in state `error` with the
// message, instead of leaving it paused part-way.
import t from 'tap'
import type { SessionClient } from '../../client/session-client.js'
import { isStrategyError, runStrategy, type Strategy } from '../../client/strategy-runner.js'
import { listen, KEYS } from '../fixtures/app.js'
import { connectedClient } from '../fixtures/sdk.js'

const SESSION = { symbols: ['MSFT'], start_date: '2023-03-01', end_date: '2023-03-10', timeframe: '1m' as const }

t.test('strategy exceptions over the SDK', async (t) => {
  const { baseUrl } = await listen(t)
  const connect = async (tt: { teardown: (fn: () => unknown) => void }): Promise<SessionClient> => await connectedClient(tt, { url: baseUrl, apiKey: KEYS.ent })

  t.test('onTick throws: the original error is rethrown and the run ends in state error', async (t) => {
    const client = await connect(t)
    let boom: Error | undefined
    let sessionId = ''
    const strategy: Strategy = {
      onTick (tick) {
        sessionId = tick.session_id
        if (tick.sequence_id === 40) {
          boom = new TypeError('boom: price was undefined')
          throw boom
        }
        return tick.sequence_id === 1 ? [{ symbol: 'MSFT', side: 'buy', type: 'market', quantity: 1 }] : []
      }
    }
    const thrown = await runStrategy(client, strategy, { session: SESSION }).then(() => undefined, (err: unknown) => err)
    t.ok(boom !== undefined && thrown === boom, 'the very error the strategy threw')
    t.match((thrown as Error).stack, /onTick/, 'with its stack')
    t.ok(isStrategyError(thrown), 'marked as the strategy’s own error')
    const session = await client.getSessionStatus(sessionId)
    t.equal(session.state, 'error', 'the run is over, not paused')
    t.equal(session.error_message, 'boom: price was undefined')
    t.ok(session.progress > 0 && session.progress < 0.5, `it stopped early, at progress ${session.progress}`)
  })

  t.test('onFill throws a non-Error: an Error with that text is rethrown and recorded', async (t) => {
    const client = await connect(t)
    let sessionId = ''
    const strategy: Strategy = {
      onTick (tick) {
        sessionId = tick.session_id
        return tick.sequence_id === 3 ? [{ symbol: 'MSFT', side: 'buy', type: 'market', quantity: 1 }] : []
      },
      onFill () {
        // What careless user code does: throw a string.
        throw 'fill handler failed'
      }
    }
    const thrown = await runStrategy(client, strategy, { session: SESSION }).then(() => undefined, (err: unknown) => err)
    t.ok(thrown instanceof Error)
    t.equal((thrown as Error).message, 'fill handler failed')
    t.ok(isStrategyError(thrown))
    const session = await client.getSessionStatus(sessionId)
    t.equal(session.state, 'error')
    t.equal(session.error_message, 'fill handler failed')
  })

  t.test('an SDK failure is not mistaken for a strategy error', async (t) => {
    const client = await connect(t)
    const thrown = await runStrategy(client, { onTick: () => [] }, { session: 'no_such_session_0001' }).then(() => undefined, (err: unknown) => err)
    t.match(thrown, { error_code: 'SESSION_NOT_FOUND' })
    t.notOk(isStrategyError(thrown))
  })

  t.test('a 10 kB message and a long stack are cut to the protocol bounds, not refused', async (t) => {
    const client = await connect(t)
    let sessionId = ''
    const long = 'x'.repeat(10_000)
    const thrown = await runStrategy(client, {
      onTick (tick) {
        sessionId = tick.session_id
        if (tick.sequence_id === 2) throw new Error(long)
        return []
      }
    }, { session: SESSION }).then(() => undefined, (err: unknown) => err)
    t.equal((thrown as Error).message, long, 'the caller still gets the whole message')
    const session = await client.getSessionStatus(sessionId)
    t.equal(session.state, 'error')
    t.equal(session.error_message, long.slice(0, 4096), 'the server keeps the first 4,096 characters')
  })
})
