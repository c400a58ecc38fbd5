import t from 'tap'
import { UnattendedWatch } from '../../../server/simulation/unattended-watch.js'

const turn = async (ms = 0): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('fires once after its delay; arming again restarts the countdown; clear stops it', async (t) => {
  let fired = 0
  const w = new UnattendedWatch(20, () => { fired++ })
  w.arm()
  w.arm()
  const deadline = Date.now() + 10_000
  while (fired === 0 && Date.now() < deadline) await turn(5)
  t.equal(fired, 1)
  w.arm()
  w.clear()
  await turn(60)
  t.equal(fired, 1, 'cleared before it fired')
})

t.test('a delay of 0 is off: arming does nothing', async (t) => {
  let fired = 0
  const w = new UnattendedWatch(0, () => { fired++ })
  w.arm()
  await turn(20)
  t.equal(fired, 0)
})
