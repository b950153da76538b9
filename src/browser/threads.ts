/**
 * A pool of Web Workers, each with its own instance of build/kernels-mt.wasm over one shared
 * memory: the browser twin of src/node/threads.ts, with the same protocol. The calling thread runs
 * share 0 itself, then blocks on Atomics.wait until the workers have run theirs, so the engines
 * stay synchronous. Atomics.wait is refused on a page's main thread: create and use the pool
 * inside a dedicated Worker (the web page runs its whole engine in one, web/engine-worker.ts).
 *
 * Control block and mailbox per worker: src/wasm/shares.ts. Threads need `crossOriginIsolated` (the page
 * served with COOP/COEP): without it a shared memory cannot be posted to a worker.
 */
import { FreqregError } from '../errors.js';
import type { KernelExports } from '../wasm/exports.js';
import type { Parallel } from '../wasm/parallel.js';
import { CONTROL_BYTES, MAILBOX_BYTES, exportIndex, postToMailbox, runShares, stopMailbox, type ShareWorker } from '../wasm/shares.js';
import type { KernelWorkerInit, KernelWorkerReply } from './protocol.js';

/** How long a worker may take to start and instantiate the module (ms). */
const START_TIMEOUT_MS = 30 * 1000;

/**
 * True where this thread may block in Atomics.wait: a dedicated Worker, not a page's main thread
 * (nor workerd). Asked directly: a wait on a value that does not match returns at once where
 * waiting is allowed and throws where it is not.
 */
export function canBlock(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * True where WebAssembly threads can work: SharedArrayBuffer exists, the context is cross-origin
 * isolated, Workers can be started, and this thread may block (a dedicated Worker).
 */
export function threadsAvailable(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  return typeof SharedArrayBuffer !== 'undefined' && g.crossOriginIsolated === true && typeof g.Worker === 'function' && canBlock();
}

/** Why threads cannot work here, or undefined where they can. */
export function whyNoThreads(): string | undefined {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  if (typeof SharedArrayBuffer === 'undefined' || g.crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (typeof g.Worker !== 'function') return 'this context cannot start Workers';
  if (!canBlock()) return "threads need a dedicated Worker: this thread may not block in Atomics.wait (a page's main thread); create the segmenter inside a Worker";
  return undefined;
}

/** Threads to use by default: the cores the browser reports, at most 8; 1 where threads are unavailable. */
export function defaultBrowserThreads(): number {
  if (!threadsAvailable()) return 1;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(cores, 8));
}

/** Waits for a worker's first reply: ready, or a start failure. */
function started(worker: Worker, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new FreqregError('engine', 'ENGINE_UNAVAILABLE', `kernel worker ${index} did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    worker.onmessage = (e: MessageEvent<KernelWorkerReply>) => {
      clearTimeout(timer);
      if (e.data.ready) resolve();
      else reject(new FreqregError('engine', 'ENGINE_UNAVAILABLE', `kernel worker ${index}: ${e.data.error}`));
    };
    worker.onerror = (e: ErrorEvent) => {
      clearTimeout(timer);
      reject(new FreqregError('engine', 'ENGINE_UNAVAILABLE', `kernel worker ${index} failed to load: ${e.message || 'script error'}`));
    };
  });
}

/**
 * Starts `threads − 1` workers (from `spawn`, e.g. `() => new Worker(url, { type: 'module' })`
 * running src/browser/kernel-worker.ts) and resolves once each has instantiated `module` on
 * `memory`. Workers are started before any share is posted: a browser may not start a worker
 * while its creator is blocked in Atomics.wait.
 */
export async function createWebThreadPool(
  module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number, spawn: () => Worker,
): Promise<Parallel> {
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'threads need a shared WebAssembly memory');
  }
  if (!canBlock()) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', "threads need a dedicated Worker: this thread may not block in Atomics.wait (a page's main thread)");
  }
  const { names, index } = exportIndex(exports);
  const workers = Array.from({ length: threads - 1 }, () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const mailbox = new SharedArrayBuffer(MAILBOX_BYTES);
    return { worker: spawn(), ctl: new Int32Array(control), control, mailbox };
  });
  try {
    await Promise.all(workers.map(({ worker, control, mailbox }, i) => {
      const ready = started(worker, i + 1);
      worker.postMessage({ module, memory, control, mailbox, names } satisfies KernelWorkerInit);
      return ready;
    }));
  } catch (e) {
    for (const w of workers) w.worker.terminate();
    throw e;
  }

  const pool: ShareWorker[] = workers.map(({ ctl, control, mailbox }) => ({ post: (share) => postToMailbox(mailbox, index, share), ctl, control }));
  return {
    threads,
    run(shares) {
      runShares(exports, pool, shares);
    },
    async dispose() {
      for (const w of workers) {
        stopMailbox(w.mailbox);
        w.worker.terminate();
      }
    },
  };
}
