// The only file that listens: loads config, builds the app, prints the development API key when one was
// generated, and shuts down gracefully on SIGINT/SIGTERM (WebSocket clients get connection_closing + 1001).
// Stdout is one ordered stream: the JSON log lines and, in development, the start banner in a single write,
// never interleaved; with NODE_ENV=production the banner is one JSON line at info like every other.
import { buildApp, loggerOptions } from './app.js'
import { loadConfig, ConfigError, describeStorage, describeRedis, type Config } from './config.js'
import { StorageStartError } from './ports/storage.js'

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
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
    app = await buildApp(config, { logger: { ...loggerOptions(config.logLevel, config.instanceId) as object, stream: process.stdout } })
    await app.ready()
  } catch (err) {
    if (err instanceof StorageStartError) {
      process.stderr.write(`simutrador-server: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  if (config.jwt.generated) {
    app.log.warn('JWT_SECRET is not set: using a random secret for this process (tokens die with it). Set JWT_SECRET (≥ 32 bytes) to keep tokens across restarts.')
  }
  const address = await app.listen({ port: config.port, host: config.host })

  const base = address.replace('[::1]', 'localhost')
  if (config.production) {
    app.log.info({ url: base, dashboard: `${base}/`, docs: `${base}/docs`, websocket: `${base.replace(/^http/, 'ws')}/ws/simulate`, state: describeStorage(config.storage), bus: describeRedis(config), market_data: app.marketData.describeSources() }, `SimuTrador is listening on ${base}`)
  } else {
    printBanner(base, config, app.marketData.describeSources())
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

/** The development banner: where to point a browser, curl or the SDK, and the generated key. One write. */
function printBanner (base: string, config: Config, marketData: string): void {
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
      `  Development API key (user '${dev.user_id}', plan '${dev.plan}'), valid until this process exits:`,
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
