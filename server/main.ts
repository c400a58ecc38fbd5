// The only file that listens: loads config, builds the app, prints the development API key when one was
// generated, and shuts down gracefully on SIGINT/SIGTERM (WebSocket clients get connection_closing + 1001).
import { buildApp } from './app.js'
import { loadConfig, ConfigError, describeStorage, describeRedis } from './config.js'
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
    app = await buildApp(config)
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
  const lines = [
    '',
    `  SimuTrador is listening on ${base}`,
    `  Dashboard:   ${base}/`,
    `  Swagger UI:  ${base}/docs`,
    `  WebSocket:   ${base.replace(/^http/, 'ws')}/ws/simulate?token=<access_token>`,
    `  State:       ${describeStorage(config.storage)}`,
    `  Shared bus:  ${describeRedis(config)}`
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
  process.stdout.write(lines.join('\n') + '\n\n')

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

main().catch((err: unknown) => {
  process.stderr.write(`simutrador-server: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
