/**
 * Messages between the browser thread pool (./threads.ts) and its kernel workers
 * (./kernel-worker.ts). The layout of the control block is the Node pool's (src/node/threads.ts).
 */

export { CONTROL_BYTES, STATE_BUSY, STATE_DONE, STATE_FAILED } from '../wasm/shares.js';

/**
 * The one message to a worker: the module to instantiate on the shared memory, its control block,
 * and its mailbox, through which every share comes (src/wasm/shares.ts), exports numbered as `names`.
 */
export interface KernelWorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  mailbox: SharedArrayBuffer;
  names: string[];
}

/** The worker's one reply, after the init message. */
export type KernelWorkerReply = { ready: true } | { ready: false; error: string };
