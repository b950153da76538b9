/**
 * freqreg for browsers: the core (./index.ts) plus WebAssembly threads on Web Workers where the
 * page is cross-origin isolated, and one thread where it is not.
 *
 *   // inside a dedicated Worker (threads block with Atomics.wait, which a page's main thread may not)
 *   const seg = await createBrowserSegmenter({ model, kernels, kernelsMt, xz,
 *     spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }) });
 *   const { classes, ms } = await seg.segment(imageData);
 *
 * Called where threads cannot work (a page's main thread, a page that is not cross-origin
 * isolated), it runs on one thread and says why once on the console (`threadsNote` of the result).
 */
import { FreqregError } from './errors.js';
import { createSegmenter, type Segmenter, type SegmenterOptions } from './segmenter.js';
import { PAGE_BYTES } from './wasm/instance.js';
import { compileWasm, type WasmSource } from './wasm/source.js';
import { createWebThreadPool, defaultBrowserThreads, whyNoThreads } from './browser/threads.js';

export * from './index.js';
export { canBlock, createWebThreadPool, defaultBrowserThreads, threadsAvailable, whyNoThreads } from './browser/threads.js';

/** Kernel memory ceiling in browsers (bytes); a shared memory reserves its maximum up front. */
export const BROWSER_MAX_MEMORY = 2 ** 31;

export interface BrowserSegmenterOptions extends Omit<SegmenterOptions, 'kernels' | 'memory' | 'parallel'> {
  /** build/kernels.wasm (compiled, bytes, a Response or a URL): the one-thread path. */
  kernels: WasmSource;
  /** build/kernels-mt.wasm (shared memory), in the same forms; threads are used only if given. */
  kernelsMt?: WasmSource;
  /** Threads wanted (default: `defaultBrowserThreads()`); 1 where threads are unavailable. */
  threads?: number;
  /** Starts one kernel worker (src/browser/kernel-worker.ts, built as a module script). */
  spawnWorker?: () => Worker;
}

/** A browser segmenter: `threadsNote` says why it runs on one thread where more were asked for. */
export interface BrowserSegmenter extends Segmenter {
  readonly threadsNote?: string;
}

function oneThread(options: BrowserSegmenterOptions, rest: Omit<BrowserSegmenterOptions, 'kernelsMt' | 'spawnWorker' | 'threads'>, note?: string): Promise<BrowserSegmenter> {
  if (note) console.warn(`freqreg: running on one thread: ${note}`);
  return createSegmenter({ ...rest, kernels: options.kernels }).then((s) => Object.assign(s, { threadsNote: note }));
}

/**
 * A segmenter on `threads` threads when the runtime has them (SharedArrayBuffer, cross-origin
 * isolation, Worker, a thread that may block) and build/kernels-mt.wasm and a worker script are
 * given; else on one.
 */
export async function createBrowserSegmenter(options: BrowserSegmenterOptions): Promise<BrowserSegmenter> {
  const { kernelsMt, spawnWorker, threads: wanted, ...rest } = options;
  const why = whyNoThreads();
  const threads = why ? 1 : wanted ?? defaultBrowserThreads();
  // Say why only when threads were asked for, explicitly or by passing kernels-mt.wasm and a worker.
  const askedForThreads = wanted !== undefined ? wanted > 1 : kernelsMt !== undefined && spawnWorker !== undefined;
  if (why) return oneThread(options, rest, askedForThreads ? why : undefined);
  if (threads <= 1) return oneThread(options, rest);
  if (!kernelsMt || !spawnWorker) {
    return oneThread(options, rest, askedForThreads ? 'threads need kernelsMt (build/kernels-mt.wasm) and spawnWorker (starting the kernel worker script)' : undefined);
  }
  const module = await compileWasm(kernelsMt, 'the threaded kernel module');
  const maxBytes = options.maxBytes ?? BROWSER_MAX_MEMORY;
  const memory = new WebAssembly.Memory({ initial: 16, maximum: Math.floor(maxBytes / PAGE_BYTES), shared: true });
  try {
    return await createSegmenter({
      ...rest,
      kernels: module,
      memory,
      maxBytes,
      parallel: (k) => createWebThreadPool(module, memory, k.exports, threads, spawnWorker),
    });
  } catch (e) {
    // Kernel workers that cannot start (a missing script, a blocked Worker): one thread still works.
    if (!(e instanceof FreqregError && e.code === 'ENGINE_UNAVAILABLE' && /kernel worker/.test(e.message))) throw e;
    return oneThread(options, rest, e.message);
  }
}
