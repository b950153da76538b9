/**
 * Running one layer's shares on a pool of workers that share the kernel memory — the part of the
 * Node pool (src/node/threads.ts) and the browser pool (src/browser/threads.ts) that is the same.
 *
 * Control block per worker (Int32Array on a SharedArrayBuffer of CONTROL_BYTES): [state,
 * errorLength, ...error bytes from byte 8]; state STATE_BUSY while a share runs, then STATE_DONE or
 * STATE_FAILED (with the error text). The calling thread posts shares 1…n, runs share 0 itself,
 * then blocks on Atomics.wait until every worker is done — so the engines stay synchronous.
 */
import { FreqregError } from '../errors.js';
import type { KernelExports } from './exports.js';
import { runCalls, type KernelCall } from './parallel.js';

export const CONTROL_BYTES = 4096;
export const STATE_BUSY = 0, STATE_DONE = 1, STATE_FAILED = 2;
/** How long a share may take before the pool gives up on a worker (ms). */
export const SHARE_TIMEOUT_MS = 10 * 60 * 1000;

export interface ShareWorker {
  /** Sends one share (kernel calls to run in order) to the worker. */
  post(share: readonly KernelCall[]): void;
  control: SharedArrayBuffer;
  ctl: Int32Array;
}

export function runShares(exports: KernelExports, workers: readonly ShareWorker[], shares: readonly (readonly KernelCall[])[]): void {
  if (shares.length > workers.length + 1) throw new Error(`${shares.length} shares for ${workers.length + 1} threads`);
  for (let t = 1; t < shares.length; t++) {
    Atomics.store(workers[t - 1].ctl, 0, STATE_BUSY);
    workers[t - 1].post(shares[t]);
  }
  let failure: unknown;
  try {
    if (shares.length > 0) runCalls(exports, shares[0]);
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
}
