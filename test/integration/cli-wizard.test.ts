// The `session create` wizard on a real terminal: the CLI runs under `script` (util-linux), which gives it a
// pseudo-terminal, and the test types into it as a user would. Each wrong answer is refused at its own
// prompt with the server's rule (a date that does not exist, an end before the start, capital out of
// range, a symbol the server's catalogue does not know); the corrected answers create the session on a real
// server. Ctrl-C at a prompt exits 130 without
// a stack.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { listen, KEYS } from '../fixtures/app.js'
import { childEnv } from '../fixtures/child-env.js'
import { CLI_ARGS, tempDir } from '../fixtures/cli.js'

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]/g // eslint-disable-line no-control-regex
const BACKSPACES = '\x7f'.repeat(12)

interface Terminal {
  /** Resolves when `re` appears in the screen output after the previous match. */
  waitFor: (re: RegExp) => Promise<void>
  type: (keys: string) => void
  exit: Promise<{ code: number | null, output: string }>
}

function terminal (args: string[], env: Record<string, string>): Terminal {
  // The sources (as every CLI test runs them), not dist/: the test sees the current code, never a stale build.
  const command = [process.execPath, ...CLI_ARGS, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  // A new pseudo-terminal is 0 columns wide: give it a size, or every character wraps onto its own line.
  const child = spawn('script', ['-q', '-e', '-c', `stty cols 120 rows 40; exec ${command}`, '/dev/null'], { env: childEnv({ ...env, TERM: 'xterm' }) })
  let output = ''
  let from = 0
  const waiters: Array<{ re: RegExp, resolve: () => void }> = []
  const check = (): void => {
    const w = waiters[0]
    if (w === undefined) return
    const text = output.slice(from).replace(ANSI, '')
    const m = w.re.exec(text)
    if (m === null) return
    // The next wait looks only at what the terminal shows after this point.
    from = output.length
    waiters.shift()
    w.resolve()
  }
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); check() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); check() })
  const exit = new Promise<{ code: number | null, output: string }>((resolve) => { child.on('close', (code) => { resolve({ code, output: output.replace(ANSI, '') }) }) })
  return {
    waitFor: async (re) => await new Promise<void>((resolve, reject) => {
      waiters.push({ re, resolve })
      check()
      void exit.then((r) => { reject(new Error(`exited (${r.code ?? 'signal'}) while waiting for ${re}:\n${r.output}`)) })
    }),
    type: (keys) => { child.stdin.write(keys) },
    exit
  }
}

const hasScript = spawnSync('script', ['--version']).status === 0

t.test('the session wizard on a terminal', { skip: hasScript ? false : 'needs script(1) from util-linux' }, async (t) => {
  const { baseUrl } = await listen(t)
  const env = async (): Promise<Record<string, string>> => ({ SIMUTRADOR_URL: baseUrl, SIMUTRADOR_CONFIG_DIR: await tempDir(t), SIMUTRADOR_API_KEY: KEYS.dev, NO_COLOR: '1' })

  t.test('refuses each wrong answer at its prompt, then creates the session', async (t) => {
    const term = terminal(['session', 'create'], await env())
    await term.waitFor(/Symbols \(comma-separated\)/)
    term.type('AA PL\r')
    await term.waitFor(/'AA PL' is not a symbol/)
    term.type(`${BACKSPACES}aapl\r`)
    await term.waitFor(/Start date/)
    term.type(`${BACKSPACES}2023-02-30\r`)
    await term.waitFor(/start_date: 2023-02-30 is not a calendar date/)
    term.type(`${BACKSPACES}2023-01-03\r`)
    await term.waitFor(/End date/)
    term.type(`${BACKSPACES}2022-12-30\r`)
    await term.waitFor(/end_date: 2022-12-30 is before the start date 2023-01-03/)
    term.type(`${BACKSPACES}2999-01-01\r`)
    await term.waitFor(/end_date: 2999-01-01 is in the future/)
    term.type(`${BACKSPACES}2023-03-31\r`)
    await term.waitFor(/Bar size/)
    term.type('\r')
    await term.waitFor(/Initial capital/)
    term.type(`${BACKSPACES}500\r`)
    await term.waitFor(/INSUFFICIENT_CAPITAL: initial_capital must be from 1000\.00 to 10000000\.00 \(got 500\.00\)/)
    term.type(`${BACKSPACES}25000.50\r`)
    const r = await term.exit
    t.equal(r.code, 0, r.output)
    t.match(r.output, /Created session sess_\w+/)
    t.match(r.output, /Symbols\s+AAPL/)
    t.match(r.output, /Period\s+2023-01-03 → 2023-03-31 \(1d bars/)
    t.match(r.output, /Capital\s+25000\.50/)
  })

  t.test('checks each symbol against the server\'s catalogue at its prompt, with the server\'s suggestion', async (t) => {
    const term = terminal(['session', 'create', '--start', '2023-01-03', '--end', '2023-03-31', '--timeframe', '1d', '--capital', '100000'], await env())
    await term.waitFor(/Symbols \(comma-separated\)/)
    term.type('msft,AAPX\r')
    await term.waitFor(/INVALID_SYMBOL: Unknown symbol 'AAPX' \(did you mean AAPL\?\)/)
    term.type(`${BACKSPACES}msft,aapl\r`)
    const r = await term.exit
    t.equal(r.code, 0, r.output)
    t.match(r.output, /Symbols\s+MSFT, AAPL/)
  })

  t.test('Ctrl-C at a prompt exits 130 without a stack', async (t) => {
    const term = terminal(['session', 'create', '--symbols', 'AAPL'], await env())
    await term.waitFor(/Start date/)
    term.type('\x03')
    const r = await term.exit
    t.equal(r.code, 130, r.output)
    t.match(r.output, /Cancelled\./)
    t.notMatch(r.output, /\n\s+at /, 'no stack')
    t.notMatch(r.output, /Error/)
  })
})
