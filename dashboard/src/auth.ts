// Sign-in state: the API key lives in memory only (to renew the token before it expires); the token is kept
// in sessionStorage so a reload in the same tab stays signed in until it expires. Never localStorage, never a URL.
import createClient from 'openapi-fetch'
import { createSimutradorClient, tokenExpiry, type paths, type Schemas, type SimutradorClient } from '../../generated-client/index.js'

const STORAGE_KEY = 'simutrador.token'
/** Renew this long before expiry (the WebSocket gets `token_expiring` about a minute before). */
const RENEW_MARGIN_MS = 120_000

export interface SignedIn { client: SimutradorClient & { tokens: { get: () => Promise<string> } }, userId: string, plan: string }

type Listener = (state: SignedIn | undefined, reason?: string) => void

let current: SignedIn | undefined
let renewTimer: ReturnType<typeof setTimeout> | undefined
const listeners = new Set<Listener>()

export function onAuthChange (fn: Listener): void { listeners.add(fn) }
export function signedIn (): SignedIn | undefined { return current }

function emit (reason?: string): void { for (const fn of listeners) fn(current, reason) }

/** An unauthenticated client for POST /auth/token (the only call without a bearer token). */
const anonymous = createClient<paths>({ baseUrl: location.origin })

/** How long before expiry to renew: two minutes, or a quarter of a short token's life. */
function renewMargin (token: string): number {
  const exp = tokenExpiry(token)
  return exp === undefined ? RENEW_MARGIN_MS : Math.min(RENEW_MARGIN_MS, Math.max(1000, (exp - Date.now()) / 4))
}

function adopt (token: string, userId: string, plan: string, apiKey: string | undefined): void {
  const margin = renewMargin(token)
  const client = createSimutradorClient({ baseUrl: location.origin, accessToken: token, refreshMarginSec: margin / 2000, ...(apiKey !== undefined ? { apiKey } : {}) })
  current = { client, userId, plan }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ token, userId, plan }))
  scheduleRenewal(token, apiKey, margin)
}

/**
 * Renew the token before it expires (with the key in memory); listeners hear 'renewed' and the WebSocket
 * reconnects with the new token before the server closes it (4001). Without the key, sign out at expiry.
 */
function scheduleRenewal (token: string, apiKey: string | undefined, margin: number): void {
  clearTimeout(renewTimer)
  const exp = tokenExpiry(token)
  if (exp === undefined) return
  const at = apiKey !== undefined ? exp - margin : exp
  renewTimer = setTimeout(() => {
    if (apiKey === undefined) { signOut('Your sign-in expired: enter your API key again.'); return }
    void exchange(apiKey).then((r) => {
      if ('message' in r) signOut(`Renewing the sign-in failed: ${r.message}`)
      else { adopt(r.access_token, r.user_id, r.plan, apiKey); emit('renewed') }
    })
  }, Math.max(1000, at - Date.now()))
}

async function exchange (apiKey: string): Promise<Schemas['TokenResponse'] | { message: string }> {
  try {
    const { data, error } = await anonymous.POST('/auth/token', { params: { header: { 'x-api-key': apiKey } } })
    if (data !== undefined) return data
    return { message: error?.message ?? 'The server refused the key' }
  } catch {
    return { message: 'The server could not be reached. Check that it is running and try again.' }
  }
}

/** Exchange the key; on failure return the server's message. */
export async function signIn (apiKey: string): Promise<string | undefined> {
  const r = await exchange(apiKey)
  if ('message' in r) return r.message
  adopt(r.access_token, r.user_id, r.plan, apiKey)
  emit()
  return undefined
}

export function signOut (reason?: string): void {
  clearTimeout(renewTimer)
  current = undefined
  sessionStorage.removeItem(STORAGE_KEY)
  emit(reason)
}

/** A token from this tab's earlier page load, while it is still valid. */
export function restore (): void {
  const raw = sessionStorage.getItem(STORAGE_KEY)
  if (raw === null) return
  try {
    const { token, userId, plan } = JSON.parse(raw) as { token: string, userId: string, plan: string }
    const exp = tokenExpiry(token)
    if (exp === undefined || exp - 5000 < Date.now()) { sessionStorage.removeItem(STORAGE_KEY); return }
    adopt(token, userId, plan, undefined)
  } catch {
    sessionStorage.removeItem(STORAGE_KEY)
  }
}

/** The current token (renewed by the client's token cache when close to expiry). */
export async function currentToken (): Promise<string> {
  if (current === undefined) throw new Error('Not signed in')
  return await current.client.tokens.get()
}
