// Loads the strategy module `simulate run` is given, from any folder: .js, .mjs and .cjs through Node's own
// import() (Node ≥ 20.19 reads ES-module syntax in a .js file even where package.json lacks "type":"module"),
// and .ts, .mts and .cts through tsx's scoped tsImport, loaded only when such a file is given. tsx is
// therefore a runtime dependency of the package, used for nothing else: the CLI itself runs compiled code.
import { existsSync, statSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Strategy } from '../strategy-runner.js'
import { UsageError } from './errors.js'

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])
const JAVASCRIPT = new Set(['.js', '.mjs', '.cjs'])

/** The module's namespace: native import() for JavaScript, tsx for TypeScript. */
async function importModule (path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href
  if (!TYPESCRIPT.has(extname(path).toLowerCase())) return await import(url) as Record<string, unknown>
  let tsImport: (specifier: string, parent: string) => Promise<unknown>
  try {
    ({ tsImport } = await import('tsx/esm/api'))
  } catch (err) {
    throw new UsageError(`cannot load ${path}: TypeScript strategies need the tsx package (${(err as Error).message.split('\n')[0]})`,
      'Install it next to simutrador (npm install tsx), or compile the strategy to .js first')
  }
  return await tsImport(url, import.meta.url) as Record<string, unknown>
}

/**
 * The strategy a module exports: `createStrategy()`, or a default export that is a Strategy or a factory of
 * one. A CommonJS-shaped module (a .ts or .cjs file read as CommonJS) nests its exports under `default`.
 */
function strategyFrom (mod: Record<string, unknown>): Strategy | undefined {
  for (let scope: unknown = mod, depth = 0; depth < 3 && scope !== null && typeof scope === 'object'; depth++) {
    const exports = scope as Record<string, unknown>
    const candidate = exports.createStrategy ?? exports.default
    const value = typeof candidate === 'function' ? (candidate as () => unknown)() : candidate
    if (value !== null && typeof value === 'object' && typeof (value as Strategy).onTick === 'function') return value as Strategy
    scope = exports.default
  }
  return undefined
}

/** Loads `file` (relative to the working directory) and returns its strategy, or a UsageError that says why not. */
export async function loadStrategy (file: string): Promise<Strategy> {
  const path = resolve(file)
  const ext = extname(path).toLowerCase()
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`strategy file ${file} does not exist`)
  if (!TYPESCRIPT.has(ext) && !JAVASCRIPT.has(ext)) {
    throw new UsageError(`cannot load strategy ${file}: expected a .js, .mjs, .cjs, .ts, .mts or .cts file (or a .py file, run by the Python SDK)`)
  }
  let mod: Record<string, unknown>
  try {
    mod = await importModule(path)
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`cannot load strategy ${file}: ${(err as Error).message}`)
  }
  const strategy = strategyFrom(mod)
  if (strategy === undefined) throw new UsageError(`${file} must export createStrategy() returning an object with onTick(tick, ctx)`)
  return strategy
}
