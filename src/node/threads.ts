/**
 * A pool of worker threads, each with its own instance of the kernel module over one shared
 * memory (build/kernels-mt.wasm). Running a layer's shares and the control block are in
 * src/wasm/shares.ts, shared with the browser pool.
 */
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import type { KernelExports } from '../wasm/exports.js';
import type { Parallel } from '../wasm/parallel.js';
import { CONTROL_BYTES, STATE_DONE, STATE_FAILED, runShares, type ShareWorker } from '../wasm/shares.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control } = workerData;
const ctl = new Int32Array(control);
const instance = new WebAssembly.Instance(module, { env: { memory } });
const ex = instance.exports;
parentPort.on('message', (calls) => {
  try {
    for (const call of calls) ex[call[0]](...call.slice(1));
    Atomics.store(ctl, 0, ${STATE_DONE});
  } catch (e) {
    const msg = new TextEncoder().encode(String(e && e.message || e)).subarray(0, ${CONTROL_BYTES - 8});
    new Uint8Array(control, 8, msg.length).set(msg);
    Atomics.store(ctl, 1, msg.length);
    Atomics.store(ctl, 0, ${STATE_FAILED});
  }
  Atomics.notify(ctl, 0);
});
`;

export function createThreadPool(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number): Parallel {
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'threads need a shared WebAssembly memory');
  }
  const workers = Array.from({ length: threads - 1 }, () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control } });
    worker.unref();
    return { worker, ctl: new Int32Array(control), control };
  });

  const pool: ShareWorker[] = workers.map(({ worker, ctl, control }) => ({ post: (share) => worker.postMessage(share), ctl, control }));
  return {
    threads,
    run(shares) {
      runShares(exports, pool, shares);
    },
    async dispose() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
