/**
 * A pool of worker threads, each with its own instance of the kernel module over one shared
 * memory (build/kernels-mt.wasm), each running ./kernel-thread.ts. Running a layer's shares, the
 * mailbox and the control block are in src/wasm/shares.ts, shared with the browser pool.
 */
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import type { KernelExports } from '../wasm/exports.js';
import type { Parallel } from '../wasm/parallel.js';
import { CONTROL_BYTES, MAILBOX_BYTES, exportIndex, postToMailbox, runShares, stopMailbox, type ShareWorker } from '../wasm/shares.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js'; // run from source under a TS loader, or from dist/

export function createThreadPool(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number): Parallel {
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'threads need a shared WebAssembly memory');
  }
  const { names, index } = exportIndex(exports);
  const workers = Array.from({ length: threads - 1 }, () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const mailbox = new SharedArrayBuffer(MAILBOX_BYTES);
    const worker = new Worker(new URL(`./kernel-thread${ext}`, import.meta.url), { workerData: { module, memory, control, mailbox, names } });
    worker.unref();
    return { worker, ctl: new Int32Array(control), control, mailbox };
  });

  const pool: ShareWorker[] = workers.map(({ ctl, control, mailbox }) => ({ post: (share) => postToMailbox(mailbox, index, share), ctl, control }));
  return {
    threads,
    run(shares) {
      runShares(exports, pool, shares);
    },
    async dispose() {
      for (const { mailbox } of workers) stopMailbox(mailbox);
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
