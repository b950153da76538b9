/**
 * Where the core gets a WebAssembly module (build/kernels.wasm, build/kernels-mt.wasm,
 * build/xz.wasm) from, in every form a runtime or bundler hands one over:
 *
 *   WebAssembly.Module       compiled already: workerd's `import m from './x.wasm'`, or a module
 *                            compiled once and reused
 *   BufferSource             the file's bytes: Node's readFile, an ArrayBuffer, a Uint8Array
 *   Response, Promise<Response>   a fetch: `fetch(url)` (compiled while streaming where the
 *                            server sends application/wasm)
 *   URL, string              fetched with the platform's fetch: a bundler's asset URL (esbuild's
 *                            `file` loader, vite's `?url`), resolved against the page or worker
 *
 * workerd refuses to compile from bytes ("code generation disallowed by embedder"): there only a
 * compiled module works, and the refusal says so. No `node:` imports here: Node passes bytes.
 */
import { FreqregError } from '../errors.js';

/** A WebAssembly module in any form the core accepts. */
export type WasmSource = WebAssembly.Module | BufferSource | Response | PromiseLike<Response> | URL | string;

/** What `import x from 'freqreg/kernels.wasm'` gives: a compiled module (workerd) or an asset URL (bundlers). */
export type WasmImport = WebAssembly.Module | string;

function isBufferSource(x: unknown): x is BufferSource {
  // By tag, not instanceof: bytes made in another realm (a vm context, an iframe) count too.
  const tag = Object.prototype.toString.call(x);
  return ArrayBuffer.isView(x) || tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

function isResponse(x: unknown): x is Response {
  return typeof Response !== 'undefined' && x instanceof Response;
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/** The refusal for a compile error: code generation forbidden (workerd), or bytes that are not this module. */
function compileFailure(e: unknown, what: string): FreqregError {
  const message = e instanceof Error ? e.message : String(e);
  if (/disallowed|not allowed|code generation/i.test(message)) {
    return new FreqregError('wasm', 'ENGINE_UNAVAILABLE',
      `${what}: this runtime may not compile WebAssembly from bytes (${message}); pass the compiled WebAssembly.Module (in workerd: import the .wasm file, which gives one)`);
  }
  return new FreqregError('wasm', 'ENGINE_UNAVAILABLE', `${what} does not compile (${message}); is it the file from freqreg's build/?`);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'object';
}

/**
 * Compiles bytes synchronously (for the synchronous checkpoint reader); a module passes through.
 * Browsers refuse synchronous compilation of large modules on a page's main thread; build/xz.wasm
 * (12 KB) is under Chromium's limit.
 */
export function compileWasmSync(source: WebAssembly.Module | BufferSource, what: string): WebAssembly.Module {
  if (source instanceof WebAssembly.Module) return source;
  if (!isBufferSource(source)) {
    throw new FreqregError('wasm', 'ENGINE_UNAVAILABLE', `${what}: expected a WebAssembly.Module or its bytes, got ${describe(source)}`);
  }
  try {
    return new WebAssembly.Module(source);
  } catch (e) {
    throw compileFailure(e, what);
  }
}

async function compileResponse(response: Response, what: string): Promise<WebAssembly.Module> {
  if (!response.ok) throw new FreqregError('file', 'DATA_MISSING', `${what}: ${response.url || 'the response'} answered HTTP ${response.status}`);
  const wasmType = /^application\/wasm\b/i.test(response.headers.get('content-type') ?? '');
  try {
    // compileStreaming insists on application/wasm; anything else is read whole first.
    if (wasmType && typeof WebAssembly.compileStreaming === 'function') return await WebAssembly.compileStreaming(response);
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (e) {
    throw compileFailure(e, what);
  }
}

async function fetchWasm(url: URL | string, what: string): Promise<WebAssembly.Module> {
  if (typeof fetch !== 'function') {
    throw new FreqregError('wasm', 'ENGINE_UNAVAILABLE', `${what}: this runtime has no fetch to load ${String(url)}; pass the module's bytes or a compiled WebAssembly.Module`);
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    const hint = typeof location === 'undefined' && !/^[a-z][a-z0-9+.-]*:/i.test(String(url))
      ? ' (a relative URL needs a page or worker to resolve against; in Node pass the bytes: readFile)'
      : /^file:/i.test(String(url)) ? ' (this fetch cannot read file: URLs; pass the bytes: readFile)' : '';
    throw new FreqregError('file', 'DATA_MISSING', `${what}: cannot fetch ${String(url)}: ${(e as Error)?.message ?? e}${hint}`);
  }
  return compileResponse(response, what);
}

/** A compiled module from any WasmSource; `what` names it in errors ("the kernel module"). */
export async function compileWasm(source: WasmSource, what: string): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (isBufferSource(source)) {
    try {
      return await WebAssembly.compile(source);
    } catch (e) {
      throw compileFailure(e, what);
    }
  }
  if (isResponse(source)) return compileResponse(source, what);
  if (typeof source === 'string' || source instanceof URL) return fetchWasm(source, what);
  if (isThenable(source)) {
    let response: unknown;
    try {
      response = await source;
    } catch (e) {
      throw new FreqregError('file', 'DATA_MISSING', `${what}: the fetch failed: ${(e as Error)?.message ?? e}`);
    }
    if (!isResponse(response)) throw new FreqregError('wasm', 'ENGINE_UNAVAILABLE', `${what}: the promise gave ${describe(response)}, expected a Response`);
    return compileResponse(response, what);
  }
  throw new FreqregError('wasm', 'ENGINE_UNAVAILABLE',
    `${what}: expected a WebAssembly.Module, its bytes, a Response or a URL, got ${describe(source)}`);
}
