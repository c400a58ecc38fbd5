// The only file that listens: loads config, keeps generated development credentials in the state folder
// (dev-secrets.ts), builds the app, prints the development API key when one was generated, and shuts down
// gracefully on SIGINT/SIGTERM (WebSocket clients get connection_closing + 1001).
// Stdout is one ordered stream: the log lines and, in development, the start banner in a single write, never
// interleaved; with NODE_ENV=production the banner is one JSON line at info like every other. Log lines are
// JSON, except on a terminal in development (LOG_FORMAT=auto), where they are readable (log-format.ts).
import { buildApp, loggerOptions } from './app.js'
import { loadConfig, ConfigError, describeStorage, describeRedis, type Config } from './config.js'
import { keepDevSecrets } from './dev-secrets.js'
import { prettyLogStream } from './log-format.js'
import { StorageStartError } from './ports/storage.js'

async function main (): Promise<void> {
  let config
  let keptIn: string | undefined
  try {
    ({ config, file: keptIn } = await keepDevSecrets(loadConfig()))
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`simutrador-server: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  let app
  try {
    // pino's default destination writes stdout asynchronously on its own, so a banner written meanwhile could
    // land between (or inside) its lines. Through process.stdout every write is in order and whole.
    app = await buildApp(config, { logger: { ...loggerOptions(config.logLevel, config.instanceId) as object, stream: logStream(config) } })
    await app.ready()
  } catch (err) {
    if (err instanceof StorageStartError) {
      process.stderr.write(`simutrador-server: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  if (config.jwt.generated && keptIn !== undefined) {
    app.log.warn(`JWT_SECRET is not set: tokens are signed with the development secret kept in ${keptIn}, so they survive restarts. Set JWT_SECRET (≥ 32 bytes) for anything but development.`)
  } else if (config.jwt.generated) {
    app.log.warn('JWT_SECRET is not set: using a random secret for this process (tokens die with it). Set JWT_SECRET (≥ 32 bytes) to keep tokens across restarts.')
  }
  const address = await app.listen({ port: config.port, host: config.host })

  const base = address.replace('[::1]', 'localhost')
  if (config.production) {
    app.log.info({ url: base, dashboard: `${base}/`, docs: `${base}/docs`, websocket: `${base.replace(/^http/, 'ws')}/ws/simulate`, state: describeStorage(config.storage), bus: describeRedis(config), market_data: app.marketData.describeSources() }, `SimuTrador is listening on ${base}`)
  } else {
    printBanner(base, config, keptIn, app.marketData.describeSources())
  }

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'error during shutdown')
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
}

/** Where log records go: stdout, as JSON or (a terminal in development, or LOG_FORMAT=pretty) readable lines. */
function logStream (config: Config): { write: (chunk: string) => void } {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && !config.production && process.stdout.isTTY)
  if (!pretty) return process.stdout
  const color = process.stdout.isTTY && process.env.NO_COLOR === undefined
  return prettyLogStream((text) => { process.stdout.write(text) }, { color })
}

/** The development banner: where to point a browser, curl or the SDK, and the generated key. One write. */
function printBanner (base: string, config: Config, keptIn: string | undefined, marketData: string): void {
  const lines = [
    '',
    `  SimuTrador is listening on ${base}`,
    `  Dashboard:   ${base}/`,
    `  Swagger UI:  ${base}/docs`,
    `  WebSocket:   ${base.replace(/^http/, 'ws')}/ws/simulate?token=<access_token>`,
    `  State:       ${describeStorage(config.storage)}`,
    `  Shared bus:  ${describeRedis(config)}`,
    `  Market data: ${marketData}`
  ]
  if (config.devKeyGenerated) {
    const dev = config.apiKeys[0]
    lines.push(
      '',
      keptIn !== undefined
        ? `  Development API key (user '${dev.user_id}', plan '${dev.plan}'), kept in ${keptIn}: it survives restarts:`
        : `  Development API key (user '${dev.user_id}', plan '${dev.plan}'), valid until this process exits:`,
      `    ${dev.key}`,
      '',
      '  Get a token:',
      `    curl -s -X POST ${base}/auth/token -H 'X-API-Key: ${dev.key}'`
    )
  }
  // Blank lines around it set it apart from the JSON log lines; it is one write, so nothing lands inside.
  process.stdout.write(lines.join('\n') + '\n\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`simutrador-server: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
