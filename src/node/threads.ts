/**
 * A pool of worker threads, each with its own instance of the kernel module over one shared
 * memory (build/kernels-mt.wasm). The calling thread runs share 0 itself and then blocks on
 * Atomics.wait until the workers have run theirs — the engines stay synchronous.
 *
 * Control block per worker (Int32Array on a SharedArrayBuffer): [state, errorLength, ...error
 * bytes]; state 0 = busy, 1 = done, 2 = failed.
 */
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import type { KernelExports } from '../wasm/exports.js';
import { runCalls, type KernelCall, type Parallel } from '../wasm/parallel.js';

const CONTROL_BYTES = 4096;
const STATE_BUSY = 0, STATE_DONE = 1, STATE_FAILED = 2;
/** How long a share may take before the pool gives up on a worker (ms). */
const SHARE_TIMEOUT_MS = 10 * 60 * 1000;

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

  return {
    threads,
    run(shares) {
      if (shares.length > threads) throw new Error(`${shares.length} shares for ${threads} threads`);
      for (let t = 1; t < shares.length; t++) {
        Atomics.store(workers[t - 1].ctl, 0, STATE_BUSY);
        workers[t - 1].worker.postMessage(shares[t]);
      }
      let failure: unknown;
      try {
        if (shares.length > 0) runCalls(exports, shares[0] as KernelCall[]);
      } catch (e) {
        failure = e;
      }
      for (let t = 1; t < shares.length; t++) {
        const { ctl, control } = workers[t - 1];
        const deadline = Date.now() + SHARE_TIMEOUT_MS;
        while (Atomics.load(ctl, 0) === STATE_BUSY) {
          if (Date.now() > deadline) throw new FreqregError('wasm', 'WASM_TRAP', `worker ${t} did not finish its share`);
          Atomics.wait(ctl, 0, STATE_BUSY, 1000);
        }
        if (Atomics.load(ctl, 0) === STATE_FAILED && failure === undefined) {
          const msg = new TextDecoder().decode(new Uint8Array(control, 8, Atomics.load(ctl, 1)).slice());
          failure = new FreqregError('wasm', 'WASM_TRAP', `worker ${t}: ${msg}`);
        }
      }
      if (failure !== undefined) throw failure;
    },
    async dispose() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
