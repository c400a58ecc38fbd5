// `simutrador simulate run FILE` loads .js, .mjs and .ts strategies from any folder (issue 12): the CLI runs in
// a temp folder outside the repository, whose package.json says "type":"module" or says nothing about the
// type (which used to fail with "Cannot require() ES Module … in a cycle"). Each file buys and later sells
// its own quantity, so the session's one trade proves which file ran; bad files get a usage error (exit 2).
import t from 'tap'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { listen, KEYS } from '../fixtures/app.js'
import { json, runCli, tempDir } from '../fixtures/cli.js'

const QUANTITY = { js: 1, mjs: 2, ts: 3 } as const
type Ext = keyof typeof QUANTITY

/** A strategy that buys QTY AAPL on the first tick and sells it on the third: one round-trip trade of QTY. */
function strategySource (ext: Ext): string {
  const ts = ext === 'ts'
  return [
    // Type-only import of the package (erased) and a sibling TypeScript module (resolved by tsx), as a user's
    // project would have them.
    ts ? "import type { Strategy, StrategyOrder } from 'simutrador'\nimport { QTY } from './quantity.js'" : `const QTY = ${QUANTITY[ext]}`,
    `export function createStrategy ()${ts ? ': Strategy' : ''} {`,
    '  let ticks = 0',
    '  return {',
    `    onTick ()${ts ? ': StrategyOrder[]' : ''} {`,
    '      ticks++',
    "      if (ticks === 1) return [{ symbol: 'AAPL', side: 'buy', type: 'market', quantity: QTY }]",
    "      if (ticks === 3) return [{ symbol: 'AAPL', side: 'sell', type: 'market', quantity: QTY }]",
    '      return []',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n')
}

const FOLDERS = {
  'type module': { name: 'my-strategies', version: '1.0.0', type: 'module' },
  'no type field': { name: 'my-strategies', version: '1.0.0' }
}

t.test('strategies of every extension run from a folder outside the repository', async (t) => {
  const { baseUrl } = await listen(t)
  const root = await tempDir(t)
  for (const [label, pkg] of Object.entries(FOLDERS)) {
    const dir = join(root, label.replace(/ /g, '-'))
    await mkdir(dir)
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg))
    await writeFile(join(dir, 'quantity.ts'), `export const QTY: number = ${QUANTITY.ts}\n`)
    for (const ext of Object.keys(QUANTITY) as Ext[]) {
      await writeFile(join(dir, `strategy.${ext}`), strategySource(ext))
      await t.test(`${label}: strategy.${ext}`, async (t) => {
        const r = await runCli(['simulate', 'run', `strategy.${ext}`, '--symbols', 'AAPL', '--start', '2023-01-03', '--end', '2023-01-13', '--json'],
          { url: baseUrl, configDir: join(dir, '.config'), cwd: dir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
        t.equal(r.code, 0, r.stderr)
        const out = json<{ session: { state: string }, results: { completed: boolean, trades: Array<{ symbol: string, quantity: number }> } }>(r)
        t.equal(out.results.completed, true, 'the run finished')
        t.match(out.results.trades, [{ symbol: 'AAPL', quantity: QUANTITY[ext] }], `the trade is strategy.${ext}'s own (${QUANTITY[ext]} shares)`)
        t.equal(out.results.trades.length, 1)
        t.notMatch(r.stderr, /require\(\) ES Module|ERR_/, 'no module-system error on the way')
      })
    }
  }
})

t.test('a file that is not a strategy is a usage error, exit 2, before anything is created', async (t) => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'notes.txt'), 'hello')
  await writeFile(join(dir, 'empty.mjs'), 'export const nothing = 1\n')
  await writeFile(join(dir, 'broken.ts'), 'export function createStrategy ( {\n')
  // --session skips session creation; the file is loaded before the server is reached (a dead URL).
  const cases: Array<[string, RegExp]> = [
    ['missing.js', /strategy file missing\.js does not exist/],
    ['notes.txt', /expected a \.js, \.mjs, \.cjs, \.ts, \.mts or \.cts file/],
    ['empty.mjs', /empty\.mjs must export createStrategy\(\)/],
    ['broken.ts', /cannot load strategy broken\.ts: /]
  ]
  for (const [file, message] of cases) {
    const r = await runCli(['simulate', 'run', file, '--session', 'sess_x', '--json'], { url: 'http://127.0.0.1:9', configDir: join(dir, '.config'), cwd: dir, env: { SIMUTRADOR_API_KEY: KEYS.dev } })
    t.equal(r.code, 2, `${file}: exit 2`)
    t.match(r.stderr, message, `${file}: says why`)
  }
})
