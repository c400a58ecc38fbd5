// docs/errors.md lists every code of the one enum once, with the HTTP status the server really sends for it.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { ERROR_CODES } from '../../schemas/errors.js'
import { httpStatusFor } from '../../server/app-error.js'

t.test('the error table of docs/errors.md is the enum, with its HTTP statuses', async (t) => {
  const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])])
  t.same(rows.map((r) => r[0]), [...ERROR_CODES], 'every code, once, in the enum\'s order')
  for (const [code, status] of rows) t.equal(status, httpStatusFor(code as typeof ERROR_CODES[number]), `${code as string} is ${status as number}`)
})
