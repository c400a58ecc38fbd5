import t from 'tap'
import { fillLimit, fillMarket, fillStop, fillStopLimit, FILL_POLICY_VERSION } from '../../../server/simulation/fills.js'
import { formatMoney, parseMoney } from '../../../server/money.js'

const bar = { open: 100, high: 102, low: 97 }
const px = (s: string): [bigint, number] => [parseMoney(s), Number(s)]

t.test('the policy is versioned', async (t) => {
  t.equal(FILL_POLICY_VERSION, '1.0.0')
})

t.test('market buy fills at the open plus slippage', async (t) => {
  // 100 × (1 + 10/10000) = 100.10
  const d = fillMarket('buy', bar, 10)
  t.equal(formatMoney(d.price), '100.10')
  t.equal(d.reason, 'market_open')
  t.equal(d.phase, 'open')
  t.equal(d.slippageBps, 10)
})

t.test('market sell fills at the open minus slippage', async (t) => {
  // 100 × (1 − 10/10000) = 99.90
  t.equal(formatMoney(fillMarket('sell', bar, 10).price), '99.90')
})

t.test('market buy slippage is capped at the bar high', async (t) => {
  // 100 × 1.05 = 105 > high 102 → 102, i.e. 200 bps actually paid
  const d = fillMarket('buy', bar, 500)
  t.equal(formatMoney(d.price), '102.00')
  t.equal(d.slippageBps, 200)
})

t.test('market sell slippage is capped at the bar low', async (t) => {
  // 100 × 0.95 = 95 < low 97 → 97
  t.equal(formatMoney(fillMarket('sell', bar, 500).price), '97.00')
})

t.test('market without slippage is the open exactly', async (t) => {
  t.equal(formatMoney(fillMarket('buy', { open: 101.37, high: 102, low: 100 }, 0).price), '101.37')
})

t.test('buy limit above the open fills at the open (gap down through the limit)', async (t) => {
  const d = fillLimit('buy', bar, ...px('101'))
  t.equal(formatMoney(d?.price ?? 0n), '100.00')
  t.equal(d?.reason, 'limit_open')
})

t.test('buy limit touched inside the bar fills at the limit', async (t) => {
  const d = fillLimit('buy', bar, ...px('98.5'))
  t.equal(formatMoney(d?.price ?? 0n), '98.50')
  t.equal(d?.reason, 'limit_touch')
  t.equal(d?.phase, 'intrabar')
})

t.test('buy limit below the low does not fill', async (t) => {
  t.equal(fillLimit('buy', bar, ...px('96.99')), null)
})

t.test('buy limit exactly at the low fills at the limit', async (t) => {
  t.equal(formatMoney(fillLimit('buy', bar, ...px('97'))?.price ?? 0n), '97.00')
})

t.test('sell limit below the open fills at the open (gap up through the limit)', async (t) => {
  t.equal(formatMoney(fillLimit('sell', bar, ...px('99'))?.price ?? 0n), '100.00')
})

t.test('sell limit touched inside the bar fills at the limit', async (t) => {
  const d = fillLimit('sell', bar, ...px('101.25'))
  t.equal(formatMoney(d?.price ?? 0n), '101.25')
  t.equal(d?.reason, 'limit_touch')
})

t.test('sell limit above the high does not fill', async (t) => {
  t.equal(fillLimit('sell', bar, ...px('102.01')), null)
})

t.test('buy stop gapped through at the open fills at the open', async (t) => {
  const d = fillStop('buy', bar, ...px('99'))
  t.equal(formatMoney(d?.price ?? 0n), '100.00')
  t.equal(d?.reason, 'stop_gap_open')
})

t.test('buy stop touched inside the bar fills at the stop', async (t) => {
  const d = fillStop('buy', bar, ...px('101.5'))
  t.equal(formatMoney(d?.price ?? 0n), '101.50')
  t.equal(d?.reason, 'stop_touch')
})

t.test('sell stop gapped through at the open fills at the (worse) open', async (t) => {
  // stop 105, bar opens at 100 → sold at 100, not 105
  t.equal(formatMoney(fillStop('sell', bar, ...px('105'))?.price ?? 0n), '100.00')
})

t.test('sell stop touched inside the bar fills at the stop', async (t) => {
  t.equal(formatMoney(fillStop('sell', bar, ...px('98'))?.price ?? 0n), '98.00')
})

t.test('stop not reached does not fill', async (t) => {
  t.equal(fillStop('buy', bar, ...px('102.5')), null)
  t.equal(fillStop('sell', bar, ...px('96')), null)
})

t.test('buy stop-limit triggered inside the bar with limit ≥ stop fills at the stop', async (t) => {
  const r = fillStopLimit('buy', bar, ...px('101'), ...px('101.5'), false)
  t.equal(r.triggered, true)
  t.equal(formatMoney(r.fill?.price ?? 0n), '101.00')
  t.equal(r.fill?.reason, 'stop_limit_stop')
})

t.test('buy stop-limit triggered inside the bar with limit < stop waits for the next bar', async (t) => {
  const r = fillStopLimit('buy', bar, ...px('101'), ...px('99'), false)
  t.equal(r.triggered, true)
  t.equal(r.fill, null)
})

t.test('a triggered stop-limit follows the limit rules on later bars', async (t) => {
  const r = fillStopLimit('buy', bar, ...px('101'), ...px('99'), true)
  t.equal(formatMoney(r.fill?.price ?? 0n), '99.00')
  t.equal(r.fill?.reason, 'stop_limit_touch')
})

t.test('buy stop-limit gapped through at the open uses the limit rules on the whole bar', async (t) => {
  // opens 100 ≥ stop 99: triggered; open 100 > limit 99.5 but low 97 ≤ 99.5 → at the limit
  const r = fillStopLimit('buy', bar, ...px('99'), ...px('99.5'), false)
  t.equal(formatMoney(r.fill?.price ?? 0n), '99.50')
  // limit 100.5 ≥ open → at the open
  const r2 = fillStopLimit('buy', bar, ...px('99'), ...px('100.5'), false)
  t.equal(formatMoney(r2.fill?.price ?? 0n), '100.00')
  t.equal(r2.fill?.reason, 'stop_limit_open')
})

t.test('sell stop-limit not reached stays untriggered', async (t) => {
  const r = fillStopLimit('sell', bar, ...px('96'), ...px('95'), false)
  t.same(r, { fill: null, triggered: false })
})
