/**
 * A pool of worker threads, each with its own instance of the kernel module over one shared
 * memory (build/kernels-mt.wasm). Running a layer's shares and the control block are in
 * src/wasm/shares.ts, shared with the browser pool; here shares travel through a mailbox.
 */
import { Worker } from 'node:worker_threads';
import { FreqregError } from '../errors.js';
import type { KernelExports } from '../wasm/exports.js';
import type { Parallel } from '../wasm/parallel.js';
import {
  CONTROL_BYTES, MAILBOX_BYTES, STATE_DONE, STATE_FAILED, exportIndex, postToMailbox, runShares, stopMailbox, type ShareWorker,
} from '../wasm/shares.js';

/** The Node twin of serveMailbox (src/wasm/shares.ts), as the source of an eval'd worker. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, mailbox, names } = workerData;
const ctl = new Int32Array(control);
const head = new Int32Array(mailbox, 0, 2);
const box = new Float64Array(mailbox, 8);
const instance = new WebAssembly.Instance(module, { env: { memory } });
const fns = names.map((name) => instance.exports[name]);
let seen = 0;
for (;;) {
  Atomics.wait(head, 0, seen);
  const sequence = Atomics.load(head, 0);
  if (sequence === seen) continue;
  seen = sequence;
  if (Atomics.load(head, 1) === 1) break;
  try {
    let at = 1;
    for (let c = 0, n = box[0]; c < n; c++) {
      const argc = box[at + 1];
      fns[box[at]](...box.subarray(at + 2, at + 2 + argc));
      at += 2 + argc;
    }
    Atomics.store(ctl, 0, ${STATE_DONE});
  } catch (e) {
    const msg = new TextEncoder().encode(String(e && e.message || e)).subarray(0, ${CONTROL_BYTES - 8});
    new Uint8Array(control, 8, msg.length).set(msg);
    Atomics.store(ctl, 1, msg.length);
    Atomics.store(ctl, 0, ${STATE_FAILED});
  }
  Atomics.notify(ctl, 0);
}
`;

export function createThreadPool(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number): Parallel {
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'threads need a shared WebAssembly memory');
  }
  const { names, index } = exportIndex(exports);
  const workers = Array.from({ length: threads - 1 }, () => {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const mailbox = new SharedArrayBuffer(MAILBOX_BYTES);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, mailbox, names } });
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
