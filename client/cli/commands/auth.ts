// `simutrador auth login | status | logout`: exchange an API key for a token and keep both in the
// credentials file (0600), show who the stored login is and what the plan allows, and forget it. With
// several --url (instances of one service) the login is stored under each of them, so any one of the URLs
// later finds it, and logout forgets it under each.
import type { Command } from 'commander'
import { authedClient, contextFrom, restClient, serverList, storedLogin, unwrap, type GlobalOptions } from '../api.js'
import { credentialsPath, deleteCredentials, saveCredentials } from '../credentials.js'
import { OperationError, UsageError } from '../errors.js'
import { formatFields, printJson, printLine } from '../output.js'
import { promptApiKey } from '../prompts.js'

export function registerAuthCommands (program: Command): void {
  const auth = program.command('auth').description('Log in with an API key, show the login, log out')

  auth.command('login')
    .description('Exchange an API key for an access token and store both for later commands')
    .addHelpText('after', '\nThe key comes from --api-key, else SIMUTRADOR_API_KEY, else a prompt (on a terminal).')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      const apiKey = ctx.apiKey ?? (process.stdin.isTTY && process.stdout.isTTY ? await promptApiKey() : undefined)
      if (apiKey === undefined) {
        throw new UsageError('no API key', 'Pass --api-key KEY, set SIMUTRADOR_API_KEY, or run on a terminal to be prompted.')
      }
      const client = restClient(ctx)
      const token = unwrap(await client.POST('/auth/token', { params: { header: { 'x-api-key': apiKey } } }))
      const expiresAt = new Date(Date.now() + token.expires_in * 1000).toISOString()
      // One after the other: each save rewrites the whole file.
      for (const server of ctx.servers) {
        await saveCredentials(server, { api_key: apiKey, access_token: token.access_token, expires_at: expiresAt, user_id: token.user_id, plan: token.plan })
      }
      if (ctx.json) {
        printJson({ server: ctx.server, servers: ctx.servers, user_id: token.user_id, plan: token.plan, expires_at: expiresAt, credentials_file: credentialsPath() })
        return
      }
      printLine(`Logged in to ${ctx.servers.join(', ')} as ${token.user_id} (plan ${token.plan}).`)
      printLine(`Token valid until ${expiresAt}; credentials saved in ${credentialsPath()}`)
    })

  auth.command('status')
    .description('Show the stored login for the server, its plan limits and current usage')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      if (ctx.apiKey === undefined && await storedLogin(ctx) === undefined) {
        throw new OperationError({ error_code: 'UNAUTHORIZED', message: `Not logged in to ${serverList(ctx.servers)}`, details: { hint: 'run `simutrador auth login`' } })
      }
      const { client, persist } = await authedClient(ctx)
      const me = unwrap(await client.GET('/me'))
      await persist()
      const token = client.tokens.peek()
      const tokenExpiresAt = token !== undefined && Number.isFinite(token.expiresAt) ? new Date(token.expiresAt).toISOString() : null
      const source = ctx.apiKey !== undefined ? 'api key (flag or SIMUTRADOR_API_KEY)' : 'stored login'
      if (ctx.json) {
        printJson({ server: ctx.server, servers: ctx.servers, user_id: me.user_id, plan: me.plan, source, token_expires_at: tokenExpiresAt, limits: me.limits, usage: me.usage })
        return
      }
      printLine(formatFields([
        [ctx.servers.length === 1 ? 'Server' : 'Servers', ctx.servers.join(', ')],
        ['User', me.user_id],
        ['Plan', me.plan],
        ['Credentials', source],
        ['Token expires', tokenExpiresAt ?? 'unknown'],
        ['Sessions', `${me.usage.active_sessions} active of ${me.limits.concurrent_sessions}; ${me.usage.sessions_created_last_hour} created in the last hour of ${me.limits.sessions_per_hour}`],
        ['Symbols/session', String(me.limits.symbols_per_session)],
        ['WebSockets', `${me.usage.open_connections} open of ${me.limits.ws_connections}`]
      ]))
    })

  auth.command('logout')
    .description('Forget the stored API key and token for the server')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFrom(cmd.optsWithGlobals<GlobalOptions>())
      let removed = false
      for (const server of ctx.servers) removed = await deleteCredentials(server) || removed
      if (ctx.json) { printJson({ server: ctx.server, servers: ctx.servers, logged_out: removed }); return }
      printLine(removed ? `Logged out of ${ctx.servers.join(', ')}.` : `Not logged in to ${serverList(ctx.servers)}; nothing to do.`)
    })
}
