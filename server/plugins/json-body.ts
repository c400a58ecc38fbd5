// The application/json body parser for every route: refuses text nested deeper than MAX_JSON_DEPTH before
// parsing (VALIDATION_FAILED with details.max_depth), so nothing recursive downstream (schema checks,
// canonical JSON, structured clones) ever sees a 3,000-level value, and refuses a NUL in any string or key
// (nul-strings.ts), as it does for the query string and path params of every request. Everything else is
// Fastify's own parser: bodyLimit, prototype-poisoning refusal and the empty-body error stay exactly as they were.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { assertJsonDepth } from '../json-depth.js'
import { assertNoNul, jsonMayHoldNul } from '../nul-strings.js'

export interface JsonBodyOptions {
  /** Deepest nesting of arrays/objects accepted (config.maxJsonDepth). */
  maxDepth: number
}

export default fp(async function jsonBodyPlugin (app: FastifyInstance, opts: JsonBodyOptions) {
  // `__proto__` and `constructor.prototype` keys are errors (400), as with Fastify's default options.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function parseBoundedJson (request, body, done) {
    const text = body as string
    // Routes whose body is optional take an empty one as absent (route-options.ts makes it `{}`).
    if (text.length === 0 && request.routeOptions.config.optionalBody === true) {
      done(null, undefined)
      return
    }
    try {
      assertJsonDepth(text, opts.maxDepth)
    } catch (err) {
      done(err as Error, undefined)
      return
    }
    if (!jsonMayHoldNul(text)) {
      parseJson(request, text, done)
      return
    }
    parseJson(request, text, (err, body) => {
      if (err !== null) { done(err, undefined); return }
      try {
        assertNoNul(body, 'body')
      } catch (refused) {
        done(refused as Error, undefined)
        return
      }
      done(null, body)
    })
  })

  // Query strings and path params are decoded by Fastify (`%00` becomes NUL): checked before validation, auth
  // or any handler sees them. Header values cannot hold NUL: Node's HTTP parser answers such a request 400.
  app.addHook('preValidation', async (request) => {
    assertNoNul(request.query, 'querystring')
    assertNoNul(request.params, 'params')
  })
}, { name: 'json-body' })
