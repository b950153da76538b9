/**
 * freqreg for browsers: the core (./index.ts) plus WebAssembly threads on Web Workers where the
 * page is cross-origin isolated, and one thread where it is not.
 *
 *   // inside a dedicated Worker (threads block with Atomics.wait, which a page's main thread may not)
 *   const seg = await createBrowserSegmenter({ model, kernels, kernelsMt, xz,
 *     spawnWorker: () => new Worker(new URL('./kernel-worker.js', import.meta.url), { type: 'module' }) });
 *   const { classes, ms } = await seg.segment(imageData);
 */
import { FreqregError } from './errors.js';
import { createSegmenter, type Segmenter, type SegmenterOptions } from './segmenter.js';
import { PAGE_BYTES } from './wasm/instance.js';
import { createWebThreadPool, defaultBrowserThreads, threadsAvailable } from './browser/threads.js';

export * from './index.js';
export { createWebThreadPool, defaultBrowserThreads, threadsAvailable } from './browser/threads.js';

/** Kernel memory ceiling in browsers (bytes); a shared memory reserves its maximum up front. */
export const BROWSER_MAX_MEMORY = 2 ** 31;

export interface BrowserSegmenterOptions extends Omit<SegmenterOptions, 'kernels' | 'memory' | 'parallel'> {
  /** build/kernels.wasm, compiled or as bytes: the one-thread path. */
  kernels: WebAssembly.Module | BufferSource;
  /** build/kernels-mt.wasm (shared memory), compiled or as bytes; threads are used only if given. */
  kernelsMt?: WebAssembly.Module | BufferSource;
  /** Threads wanted (default: `defaultBrowserThreads()`); 1 where threads are unavailable. */
  threads?: number;
  /** Starts one kernel worker (src/browser/kernel-worker.ts, built as a module script). */
  spawnWorker?: () => Worker;
}

/**
 * A segmenter on `threads` threads when the runtime has them (SharedArrayBuffer, cross-origin
 * isolation, Worker) and build/kernels-mt.wasm and a worker script are given; else on one.
 */
export async function createBrowserSegmenter(options: BrowserSegmenterOptions): Promise<Segmenter> {
  const { kernelsMt, spawnWorker, threads: wanted, ...rest } = options;
  const threads = Math.min(wanted ?? defaultBrowserThreads(), threadsAvailable() ? Infinity : 1);
  if (threads <= 1 || !kernelsMt || !spawnWorker) return createSegmenter({ ...rest, kernels: options.kernels });
  const module = kernelsMt instanceof WebAssembly.Module ? kernelsMt : await WebAssembly.compile(kernelsMt);
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
    console.warn(`freqreg: running on one thread: ${e.message}`);
    return createSegmenter({ ...rest, kernels: options.kernels });
  }
}
