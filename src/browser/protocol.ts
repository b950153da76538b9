/**
 * Messages between the browser thread pool (./threads.ts) and its kernel workers
 * (./kernel-worker.ts). The layout of the control block is the Node pool's (src/node/threads.ts).
 */
import type { KernelCall } from '../wasm/parallel.js';

export { CONTROL_BYTES, STATE_BUSY, STATE_DONE, STATE_FAILED } from '../wasm/shares.js';

/** First message to a worker: the module to instantiate on the shared memory, and its control block. */
export interface KernelWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}

/** Every later message: one share (kernel calls to run in order). */
export type KernelWorkerShare = readonly KernelCall[];

/** The worker's one reply, after the init message. */
export type KernelWorkerReply = { ready: true } | { ready: false; error: string };
