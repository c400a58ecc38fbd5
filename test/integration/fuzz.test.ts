// Seeded, schema-driven fuzzing over the real transports (issue 8, "Tests that keep it so"). Every REST route
// that takes a JSON body (found in the app's own OpenAPI document), every querystring, and every WebSocket
// message type the dispatcher knows gets a realistic valid example and 500+ mutations of it (test/fixtures/fuzz.ts).
// Asserted for each input: no 5xx / INTERNAL_ERROR; every error carries a known error_code; an input the schema
// (or the depth cap) refuses is refused; a WebSocket stays open unless the server closes it on purpose (1008,
// 1009, 4008); and after each family the server still answers GET /health. Reproduce with FUZZ_SEED=<seed>.
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import secureJson from 'secure-json-parse'
import type { TSchema } from '@sinclair/typebox'
import { allSchemas } from '../../schemas/index.js'
import { ERROR_CODES } from '../../schemas/errors.js'
import { KEYS, listen, tokenFor } from '../fixtures/app.js'
import { jsonDepth } from '../../server/json-depth.js'
import { DEFAULT_PLAN_LIMITS } from '../../server/plans.js'
import { messageCost } from '../../server/ws/message-costs.js'
import { OMIT, Rng, exampleOf, isValidInput, mutant, referenceMap, seedFor, withoutAstral, type Mutant, type Overrides } from '../fixtures/fuzz.js'

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed0008)
const COUNT = Number(process.env.FUZZ_COUNT ?? 500)
const QUERY_COUNT = Number(process.env.FUZZ_QUERY_COUNT ?? 500)
const REST_CONCURRENCY = 6
const WS_CHUNK = 50
/** The enterprise plan's message bucket (plans.ts), which the WebSocket families are paced to. */
const RATE = DEFAULT_PLAN_LIMITS.enterprise.ws_messages_per_second
const BURST = DEFAULT_PLAN_LIMITS.enterprise.ws_message_burst
const REPLY_TIMEOUT_MS = 30_000
/** Close codes the server may use on purpose: policy (flood), message too big, slow consumer. */
const DELIBERATE_CLOSES = new Set([1008, 1009, 4008])
const KNOWN_CODES = new Set<string>(ERROR_CODES)

const { app, baseUrl, wsUrl } = await listen(t)
const MAX_DEPTH = app.config.maxJsonDepth
const refs = referenceMap(allSchemas)
const token = await tokenFor(baseUrl, KEYS.ent)
const auth = { authorization: `Bearer ${token}` }

const ORDER = { order_id: 'fz-1', symbol: 'AAPL', side: 'buy', type: 'market', quantity: 1, time_in_force: 'day' }
const COMMON: Overrides = {
  symbols: ['AAPL'],
  start_date: '2023-01-03',
  end_date: '2023-01-31',
  start: '2023-01-03',
  end: '2023-01-31',
  metadata: { strategy: 'fuzz', params: { fast: 5, slow: 20 }, tags: ['a', 'b'] },
  orders: [ORDER],
  order_id: 'fz-1',
  batch_id: 'batch-1',
  sequence_id: 1,
  last_processed_sequence_id: 0,
  processing_status: 'ready',
  client_time: '2023-01-03T00:00:00.000Z',
  idempotency_key: OMIT,
  cursor: OMIT
}

async function api (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined }
}

async function newSession (start?: Record<string, unknown>): Promise<string> {
  const created = await api('POST', '/sessions', { symbols: ['AAPL'], start_date: '2023-01-03', end_date: '2023-01-31' })
  if (created.status !== 201) throw new Error(`fixture session: ${created.status} ${JSON.stringify(created.json)}`)
  const id = created.json.session_id as string
  if (start !== undefined) {
    const started = await api('POST', `/sessions/${id}/start`, start)
    if (started.status !== 200) throw new Error(`fixture start: ${started.status} ${JSON.stringify(started.json)}`)
  }
  return id
}

// Fixture sessions, all made before any fuzzing (valid mutants of create_session use up the plan's session
// quota): a running one that waits for tick_ack (flow control, nobody attached), so orders reach the engine;
// a ready one; one to start over REST, one to start and one to delete over WebSocket; and a second running one
// for strategy_error, which ends its run.
const running = await newSession({ flow_control: true })
const failing = await newSession({ flow_control: true })
const ready = await newSession()
const restStart = await newSession()
const wsStart = await newSession()
const wsDelete = await newSession()
const fixtures = new Set([running, failing, ready, restStart, wsStart, wsDelete])

/** Delete the sessions valid mutants created, so later families still have session quota. */
async function deleteFuzzSessions (): Promise<void> {
  for (let page = 0; page < 20; page++) {
    const list = await api('GET', '/sessions?limit=100')
    const extra = (list.json.sessions as Array<{ session_id: string }>).filter((s) => !fixtures.has(s.session_id))
    if (extra.length === 0) return
    for (const s of extra) await api('DELETE', `/sessions/${s.session_id}`)
  }
}

interface Failure { family: string, index: number, label: string, got: string, bytes: number }
const tally = new Map<string, { sent: number, failed: number }>()

function count (kind: string, failed: boolean): void {
  const row = tally.get(kind) ?? { sent: 0, failed: 0 }
  row.sent++
  if (failed) row.failed++
  tally.set(kind, row)
}

/** An error body must name a code from the one enum; returns a complaint or undefined. */
function badErrorBody (body: any): string | undefined {
  if (body === null || typeof body !== 'object') return `error body is not an object: ${JSON.stringify(body)?.slice(0, 120)}`
  if (!KNOWN_CODES.has(body.error_code)) return `unknown error_code ${JSON.stringify(body.error_code)}`
  if (body.error_code === 'INTERNAL_ERROR') return `INTERNAL_ERROR: ${String(body.message).slice(0, 120)}`
  return undefined
}

async function healthy (t: Test, family: string): Promise<void> {
  const started = Date.now()
  const res = await fetch(`${baseUrl}/health`)
  t.equal(res.status, 200, `GET /health answers 200 after ${family} (${Date.now() - started} ms)`)
  await res.body?.cancel()
}

/**
 * A mutant's label as printable ASCII, for TAP comments and diagnostics: labels quote the unicode mutants
 * (U+2028, RTL overrides, lone surrogates …), and a line separator inside a comment ends the subtest's TAP
 * stream early for the parser, which then reports the subtest as unfinished.
 */
function printable (label: string): string {
  return label.replace(/[^\x20-\x7e]/gu, (c) => [...c].map((u) => `\\u{${(u.codePointAt(0) ?? 0).toString(16)}}`).join(''))
}

function report (t: Test, family: string, failures: Failure[], sent: number, ms: number): void {
  t.comment(`${family}: ${sent} inputs in ${ms} ms, ${failures.length} failed`)
  t.same(failures.slice(0, 12), [], `${family}: every mutant answered cleanly (${failures.length} of ${sent} failed; first 12 shown)`)
}

// ── REST bodies ────────────────────────────────────────────────────────────────────────────────────

/** The TypeBox schema whose property and required sets equal an OpenAPI body/query schema's. */
function schemaMatching (json: { properties?: Record<string, unknown>, required?: string[] }): TSchema[] {
  const keys = Object.keys(json.properties ?? {}).sort().join(',')
  const required = [...(json.required ?? [])].sort().join(',')
  return allSchemas.filter((s) => s.type === 'object' && typeof s.$id === 'string' &&
    Object.keys(s.properties ?? {}).sort().join(',') === keys && [...(s.required ?? [])].sort().join(',') === required)
}

/** Session ids in paths: each route gets a session in the state where its body matters. */
const PATH_IDS: Record<string, string> = {
  'POST /market-data/validate': '',
  'POST /sessions': '',
  'PATCH /sessions/{id}': ready,
  'POST /sessions/{id}/start': restStart,
  'POST /sessions/{id}/orders': running,
  'PATCH /sessions/{id}/orders/{order_id}': running
}

const doc = app.swagger() as { paths: Record<string, Record<string, any>> }
const bodyRoutes: Array<{ key: string, method: string, path: string, schema: TSchema, headers: string[] }> = []
const queryRoutes: Array<{ key: string, path: string, schema: TSchema }> = []
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    const key = `${method.toUpperCase()} ${path}`
    const body = op.requestBody?.content?.['application/json']?.schema
    if (body !== undefined) {
      const [schema, ...more] = schemaMatching(body)
      if (schema === undefined || more.length > 0) throw new Error(`${key}: no single TypeBox schema matches its body`)
      const headers = (op.parameters ?? []).filter((p: any) => p.in === 'header').map((p: any) => p.name as string)
      bodyRoutes.push({ key, method: method.toUpperCase(), path, schema, headers })
    }
    const query = (op.parameters ?? []).filter((p: any) => p.in === 'query')
    if (query.length > 0 && method === 'get') {
      const props = Object.fromEntries(query.map((p: any) => [p.name, p.schema]))
      const required = query.filter((p: any) => p.required === true).map((p: any) => p.name as string)
      const [schema] = schemaMatching({ properties: props, required })
      if (schema === undefined) throw new Error(`${key}: no TypeBox schema matches its querystring`)
      queryRoutes.push({ key, path, schema })
    }
  }
}

t.test(`every REST body and WebSocket message type has a fuzz target (seed ${SEED})`, async (t) => {
  t.same(bodyRoutes.map((r) => r.key).sort(), Object.keys(PATH_IDS).sort(), 'a new body route needs a session in PATH_IDS')
  t.ok(app.ws.dispatcher.types.length >= 15, `dispatcher message types: ${app.ws.dispatcher.types.join(', ')}`)
})

async function pool<T> (items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

for (const route of bodyRoutes) {
  const family = route.key
  const seed = seedFor(SEED, family)
  t.test(`${family}: ${COUNT} mutated bodies (seed ${SEED}, family seed ${seed})`, async (t) => {
    const url = `${baseUrl}${route.path.replace('{id}', PATH_IDS[route.key]).replace('{order_id}', String(COMMON.order_id))}`
    const base = exampleOf(route.schema, refs, COMMON)
    t.ok(isValidInput(JSON.stringify(base), route.schema, allSchemas, MAX_DEPTH), `the base example is valid: ${JSON.stringify(base)}`)
    const rng = new Rng(seed)
    const cases: Array<Mutant & { index: number }> = [{ kind: 'base', label: 'base', text: JSON.stringify(base), index: 0 }]
    for (let i = 1; i <= COUNT; i++) cases.push({ ...mutant(base, route.schema, refs, rng), index: i })
    const failures: Failure[] = []
    let slowest = { ms: 0, label: '' }
    const started = Date.now()
    await pool(cases, REST_CONCURRENCY, async (c) => {
      const headers: Record<string, string> = { ...auth, 'content-type': 'application/json' }
      // Half of the creates carry an Idempotency-Key: the body is then canonicalised for the key's fingerprint.
      if (route.headers.includes('idempotency-key') && c.index % 2 === 1) headers['idempotency-key'] = `fz-${seed}-${c.index}`
      const t0 = Date.now()
      let status = 0
      let text = ''
      try {
        const res = await fetch(url, { method: route.method, headers, body: c.text })
        status = res.status
        text = await res.text()
      } catch (err) {
        text = `transport error: ${(err as Error).message}`
      }
      const ms = Date.now() - t0
      if (ms > slowest.ms) slowest = { ms, label: c.label }
      let complaint: string | undefined
      if (status === 0 || status >= 500) complaint = `${status} ${text.slice(0, 160)}`
      else if (status >= 400) {
        let body: unknown
        try { body = JSON.parse(text) } catch { body = text }
        complaint = badErrorBody(body)
      } else {
        const refusal = mustRefuse(c.text, route.schema)
        // Ajv counts maxLength in code points, TypeBox in UTF-16 units: an astral character may tip only one of them.
        if (refusal !== undefined && mustRefuse(withoutAstral(c.text), route.schema) !== undefined) complaint = `accepted (${status}) an input that ${refusal}`
      }
      count(`rest:${c.kind}`, complaint !== undefined)
      if (complaint !== undefined) failures.push({ family, index: c.index, label: printable(c.label), got: complaint, bytes: c.text.length })
    })
    t.comment(`${family}: slowest ${slowest.ms} ms (${printable(slowest.label)})`)
    report(t, family, failures, cases.length, Date.now() - started)
    await healthy(t, family)
    await deleteFuzzSessions()
  })
}

// ── REST querystrings ──────────────────────────────────────────────────────────────────────────────

const QUERY_VALUES = ['abc', '-1', '0', '1.5', 'true', '', '1e309', 'NaN', '9'.repeat(400), '2023-02-30', '2023-1-3', 'ready,paused',
  '😀', '\u202e', '\u0000', '__proto__', 'constructor']
const RAW_QUERY = ['%', '%zz', '%E0%A4%A', '%00', '%uD800', '%ED%A0%80', '%C0%AF', '+', '%2B%2B', '&&&', '=', '==', 'a=b=c']
const QUERY_KEYS = ['__proto__', 'constructor', 'prototype', '__proto__[polluted]', 'constructor[prototype][x]', 'a[b][c][d]', 'zz', '', 'limit[]', 'toString']

function queryMutant (base: Array<[string, string]>, rng: Rng): { label: string, query: string } {
  const pairs = base.map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)] as [string, string])
  const i = pairs.length > 0 ? rng.int(pairs.length) : -1
  switch (rng.int(8)) {
    case 0: if (i >= 0) { const v = rng.pick(QUERY_VALUES); pairs[i][1] = encodeURIComponent(v); return { label: `value(${JSON.stringify(v).slice(0, 20)})@${base[i][0]}`, query: join(pairs) } } break
    case 1: if (i >= 0) { const v = rng.pick(RAW_QUERY); pairs[i][1] = v; return { label: `raw_encoding(${v})@${base[i][0]}`, query: join(pairs) } } break
    case 2: if (i >= 0) { pairs.splice(i, 1); return { label: `drop@${base[i][0]}`, query: join(pairs) } } break
    case 3: { const k = rng.pick(QUERY_KEYS); pairs.push([encodeURIComponent(k), '1']); return { label: `extra_key(${k})`, query: join(pairs) } }
    case 4: if (i >= 0) { pairs.push([pairs[i][0], rng.pick(['1', 'x', ''])]); return { label: `repeated@${base[i][0]}`, query: join(pairs) } } break
    case 5: if (i >= 0) { const n = rng.pick([1024, 4096, 8000]); pairs[i][1] = 'A'.repeat(n); return { label: `huge(${n})@${base[i][0]}`, query: join(pairs) } } break
    case 6: if (i >= 0) { const k = rng.pick(['[', ']', '[]', '.']); pairs[i][0] = `${pairs[i][0]}${encodeURIComponent(k)}`; return { label: `mangled_key(${k})@${base[i][0]}`, query: join(pairs) } } break
    default: break
  }
  return { label: 'empty_query', query: '' }
}
function join (pairs: Array<[string, string]>): string { return pairs.map(([k, v]) => `${k}=${v}`).join('&') }

const QUERY_PATH_IDS: Record<string, string> = { id: running, symbol: 'AAPL' }
for (const route of queryRoutes) {
  const family = `${route.key} ?query`
  const seed = seedFor(SEED, family)
  t.test(`${family}: ${QUERY_COUNT} mutated querystrings (seed ${SEED}, family seed ${seed})`, async (t) => {
    const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => QUERY_PATH_IDS[name])
    const base = Object.entries(exampleOf(route.schema, refs, { ...COMMON, state: 'ready' }) as Record<string, unknown>).map(([k, v]) => [k, String(v)] as [string, string])
    const rng = new Rng(seed)
    const cases = [{ label: 'base', query: join(base), index: 0 }]
    for (let i = 1; i <= QUERY_COUNT; i++) cases.push({ ...queryMutant(base, rng), index: i })
    const failures: Failure[] = []
    const started = Date.now()
    await pool(cases, REST_CONCURRENCY, async (c) => {
      let complaint: string | undefined
      try {
        const res = await fetch(`${baseUrl}${path}?${c.query}`, { headers: auth })
        const text = await res.text()
        if (res.status >= 500) complaint = `${res.status} ${text.slice(0, 160)}`
        else if (res.status >= 400) complaint = badErrorBody(JSON.parse(text))
        else if (c.index === 0 && res.status !== 200) complaint = `base query answered ${res.status}`
      } catch (err) {
        complaint = `transport error: ${(err as Error).message}`
      }
      count('query', complaint !== undefined)
      if (complaint !== undefined) failures.push({ family, index: c.index, label: printable(c.label), got: complaint, bytes: c.query.length })
    })
    report(t, family, failures, cases.length, Date.now() - started)
    await healthy(t, family)
  })
}

// ── WebSocket messages ─────────────────────────────────────────────────────────────────────────────

interface Frame { type: string, data: any, request_id?: string }

/** A raw `ws` client that files replies by request_id and resolves barrier pings. */
class FuzzSocket {
  readonly ws: WebSocket
  readonly byId = new Map<string, Frame[]>()
  readonly unattributed: Frame[] = []
  closeCode: number | undefined
  readonly closed: Promise<void>
  readonly #barriers = new Map<string, () => void>()

  constructor () {
    this.ws = new WebSocket(`${wsUrl}?token=${token}`)
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code) => {
        this.closeCode = code
        for (const release of this.#barriers.values()) release()
        resolve()
      })
    })
    this.ws.on('error', () => {})
    this.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Frame
      if (frame.request_id === undefined) { this.unattributed.push(frame); return }
      const release = this.#barriers.get(frame.request_id)
      if (release !== undefined && frame.type === 'pong') { this.#barriers.delete(frame.request_id); release(); return }
      // The user's message bucket refused the barrier itself (expensive types drain it): ask again when told.
      if (release !== undefined && rateLimited(frame)) {
        const id = frame.request_id
        setTimeout(() => { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'ping', data: {}, request_id: id })) }, retryAfter([frame]))
        return
      }
      const list = this.byId.get(frame.request_id) ?? []
      list.push(frame)
      this.byId.set(frame.request_id, list)
    })
  }

  async open (): Promise<void> {
    await new Promise<void>((resolve, reject) => { this.ws.once('open', resolve); this.ws.once('error', reject) })
  }

  /** Resolves once every message sent before it has been handled (the server handles a connection's messages in order). */
  async barrier (id: string): Promise<boolean> {
    if (this.ws.readyState !== WebSocket.OPEN) return false
    const done = new Promise<void>((resolve) => { this.#barriers.set(id, resolve) })
    this.ws.send(JSON.stringify({ type: 'ping', data: {}, request_id: id }))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, REPLY_TIMEOUT_MS) })
    const outcome = await Promise.race([done, timeout])
    clearTimeout(timer)
    if (outcome === 'timeout') throw new Error(`no pong for barrier ${id} within ${REPLY_TIMEOUT_MS} ms`)
    return this.ws.readyState === WebSocket.OPEN
  }

  close (): void { this.ws.close() }
}

function rateLimited (f: Frame): boolean {
  return f.type === 'error' && (f.data as { error_code?: unknown } | undefined)?.error_code === 'RATE_LIMIT_EXCEEDED'
}

/** The longest retry_after_ms among refusals by the message bucket (each message type costs its own tokens). */
function retryAfter (frames: Frame[]): number {
  return Math.max(1, ...frames.map((f) => Number((f.data as { retry_after_ms?: unknown } | undefined)?.retry_after_ms ?? 1)))
}

/**
 * Why the server must refuse `text` as `schema`'s value, or undefined when it may accept it. A value at
 * exactly the depth cap is either way over WebSocket, where the envelope adds one level.
 */
function mustRefuse (text: string, schema: TSchema): string | undefined {
  const depth = jsonDepth(text, MAX_DEPTH + 1)
  if (depth > MAX_DEPTH) return `nests deeper than ${MAX_DEPTH}`
  if (!isValidInput(text, schema, allSchemas, Number.POSITIVE_INFINITY)) return 'the schema refuses'
  return undefined
}

/** Whether the server can read a request_id from `text`: JSON without prototype-poisoning keys (secure-json-parse). */
function isJsonFrame (text: string): boolean {
  try { secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }); return true } catch { return false }
}

/**
 * A frame whose envelope is wrong but whose request_id is intact. `refuse`: the envelope alone must be refused,
 * so "no error" is a failure whatever the data.
 */
function envelopeMutant (type: string, id: string, data: string, rng: Rng): { label: string, frame: string, refuse: boolean } {
  const rid = JSON.stringify(id)
  const options: Array<{ label: string, frame: string, refuse: boolean }> = [
    { label: 'envelope(unknown_type)', frame: `{"type":"no_such_type","request_id":${rid},"data":${data}}`, refuse: true },
    { label: 'envelope(type_case)', frame: `{"type":${JSON.stringify(type.toUpperCase())},"request_id":${rid},"data":${data}}`, refuse: true },
    { label: 'envelope(type_long)', frame: `{"type":${JSON.stringify('a'.repeat(65))},"request_id":${rid},"data":${data}}`, refuse: true },
    { label: 'envelope(type_number)', frame: `{"type":123,"request_id":${rid},"data":${data}}`, refuse: true },
    { label: 'envelope(type_missing)', frame: `{"request_id":${rid},"data":${data}}`, refuse: true },
    { label: 'envelope(extra_key)', frame: `{"type":${JSON.stringify(type)},"request_id":${rid},"data":${data},"extra":1}`, refuse: true },
    { label: 'envelope(timestamp_object)', frame: `{"type":${JSON.stringify(type)},"request_id":${rid},"data":${data},"timestamp":{}}`, refuse: true },
    { label: 'envelope(timestamp_huge)', frame: `{"type":${JSON.stringify(type)},"request_id":${rid},"data":${data},"timestamp":${JSON.stringify('9'.repeat(65))}}`, refuse: true },
    { label: 'envelope(data_first)', frame: `{"data":${data},"type":${JSON.stringify(type)},"request_id":${rid}}`, refuse: false }
  ]
  return rng.pick(options)
}

/** Real sessions for the messages that name one; delete_session gets throwaway sessions so the others survive. */
function wsOverrides (type: string): Overrides {
  switch (type) {
    case 'create_session': return { ...COMMON, session_id: OMIT }
    case 'start_simulation': return { ...COMMON, session_id: wsStart }
    case 'delete_session': return { ...COMMON, session_id: wsDelete }
    case 'get_session': return { ...COMMON, session_id: ready }
    case 'strategy_error': return { ...COMMON, session_id: failing, message: 'boom' }
    default: return { ...COMMON, session_id: running }
  }
}

for (const type of app.ws.dispatcher.types) {
  const family = `ws ${type}`
  const seed = seedFor(SEED, family)
  t.test(`${family}: ${COUNT} mutated messages (seed ${SEED}, family seed ${seed})`, async (t) => {
    const schema = app.ws.dispatcher.lookup(type).spec.schema
    const base = exampleOf(schema, refs, wsOverrides(type))
    t.ok(isValidInput(JSON.stringify(base), schema, allSchemas, MAX_DEPTH), `the base example is valid: ${JSON.stringify(base)}`)
    const rng = new Rng(seed)
    const cases: Array<Mutant & { index: number, frame: string, id: string, refuse?: string }> = []
    const frameOf = (data: string, id: string): string => `{"type":${JSON.stringify(type)},"request_id":${JSON.stringify(id)},"data":${data}}`
    cases.push({ kind: 'base', label: 'base', text: JSON.stringify(base), index: 0, id: `${type}-0`, frame: frameOf(JSON.stringify(base), `${type}-0`) })
    for (let i = 1; i <= COUNT; i++) {
      const id = `${type}-${i}`
      if (rng.chance(0.05)) {
        // The envelope itself: a bad type or an unknown key must be refused whatever the data.
        const e = envelopeMutant(type, id, JSON.stringify(base), rng)
        cases.push({ kind: 'envelope', label: e.label, text: JSON.stringify(base), index: i, id, frame: e.frame, ...(e.refuse ? { refuse: 'has a bad envelope' } : {}) })
        continue
      }
      const m = mutant(base, schema, refs, rng)
      cases.push({ ...m, index: i, id, frame: frameOf(m.text, id) })
    }
    const failures: Failure[] = []
    const started = Date.now()
    let sock = new FuzzSocket()
    await sock.open()
    const sockets = [sock]
    t.teardown(() => { for (const s of sockets) s.close() })
    const closes: number[] = []
    let anonymousExpected = 0
    const cost = messageCost(type)
    const chunkSize = Math.min(WS_CHUNK, Math.floor(BURST / cost) - 1)
    for (let from = 0; from < cases.length; from += chunkSize) {
      const chunk = cases.slice(from, from + chunkSize)
      // Paced to the user's message bucket (an expensive type costs many tokens; the previous family may have
      // drained it): every frame is judged, none refused for the rate.
      await new Promise((resolve) => setTimeout(resolve, Math.ceil(1000 * chunkSize * cost / RATE)))
      for (const c of chunk) sock.ws.send(c.frame)
      const stillOpen = await sock.barrier(`barrier-${type}-${from}`)
      for (const c of chunk) {
        const replies = sock.byId.get(c.id) ?? []
        const errors = replies.filter((f) => f.type === 'error' || f.type === 'session_error')
        // A frame that is not JSON has no readable request_id (unless the server peeks one): its error comes anonymous.
        if (!isJsonFrame(c.frame) && errors.length === 0 && stillOpen) anonymousExpected++
        let complaint = errors.map((e) => badErrorBody(e.data)).find((x) => x !== undefined)
        const refusal = complaint === undefined && errors.length === 0 && stillOpen && isJsonFrame(c.frame) ? (c.refuse ?? mustRefuse(c.text, schema)) : undefined
        if (refusal !== undefined) complaint = `no error for an input that ${refusal} (replies: ${replies.map((r) => r.type).join(',') || 'none'})`
        count(`ws:${c.kind}`, complaint !== undefined)
        if (complaint !== undefined) failures.push({ family, index: c.index, label: printable(c.label), got: complaint, bytes: c.frame.length })
      }
      if (!stillOpen) {
        await sock.closed
        const code = sock.closeCode ?? -1
        closes.push(code)
        if (!DELIBERATE_CLOSES.has(code)) {
          failures.push({ family, index: chunk[0].index, label: `connection closed ${code} during chunk ${chunk.map((c) => c.label).join(' | ').slice(0, 300)}`, got: `close ${code}`, bytes: 0 })
          break
        }
        sock = new FuzzSocket()
        await sock.open()
        sockets.push(sock)
      }
    }
    // Every frame that is not JSON and got no attributed error must get exactly one clean anonymous error.
    const anonymousErrors = sockets.flatMap((s) => s.unattributed).filter((f) => f.type === 'error' || f.type === 'session_error')
    for (const e of anonymousErrors) {
      const complaint = badErrorBody(e.data)
      if (complaint !== undefined) failures.push({ family, index: -1, label: 'unattributed error', got: complaint, bytes: 0 })
    }
    // After a deliberate close, frames sent behind the closing one were never read: at most one error each then.
    if (closes.length === 0) t.equal(anonymousErrors.length, anonymousExpected, `${family}: one error per frame that is not JSON`)
    else t.ok(anonymousErrors.length <= anonymousExpected, `${family}: no more errors than frames that are not JSON`)
    if (closes.length > 0) t.comment(`${family}: server closed the connection on purpose ${closes.length}× (${closes.join(', ')}) and it was reopened`)
    report(t, family, failures, cases.length, Date.now() - started)
    await healthy(t, family)
    await deleteFuzzSessions()
  })
}

t.test(`fuzz tally by mutation class (seed ${SEED})`, async (t) => {
  const rows = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b))
  for (const [kind, { sent, failed }] of rows) t.comment(`${kind.padEnd(24)} sent ${String(sent).padStart(5)}  failed ${failed}`)
  t.ok(rows.reduce((n, [, r]) => n + r.sent, 0) >= COUNT * (bodyRoutes.length + app.ws.dispatcher.types.length), 'every family sent its inputs')
})
