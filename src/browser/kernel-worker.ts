/**
 * A kernel worker of the browser thread pool (./threads.ts), loaded as a module Worker: instantiates
 * build/kernels-mt.wasm on the shared memory it is sent, replies ready, then runs each share it
 * receives and reports through its control block (state, error) with Atomics.notify.
 */
import { CONTROL_BYTES, STATE_DONE, STATE_FAILED, type KernelWorkerInit, type KernelWorkerReply, type KernelWorkerShare } from './protocol.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: KernelWorkerReply): void;
}

const scope = globalThis as unknown as WorkerScope;
type KernelFns = Record<string, (...args: number[]) => unknown>;
let exports: KernelFns | undefined;
let control: SharedArrayBuffer;
let ctl: Int32Array;

scope.onmessage = (e: MessageEvent<KernelWorkerInit | KernelWorkerShare>) => {
  if (!exports) {
    const init = e.data as KernelWorkerInit;
    try {
      const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
      exports = instance.exports as unknown as KernelFns;
      control = init.control;
      ctl = new Int32Array(control);
      scope.postMessage({ ready: true });
    } catch (err) {
      scope.postMessage({ ready: false, error: String((err as Error)?.message ?? err) });
    }
    return;
  }
  try {
    for (const [name, ...args] of e.data as KernelWorkerShare) exports[name](...args);
    Atomics.store(ctl, 0, STATE_DONE);
  } catch (err) {
    const msg = new TextEncoder().encode(String((err as Error)?.message ?? err)).subarray(0, CONTROL_BYTES - 8);
    new Uint8Array(control, 8, msg.length).set(msg);
    Atomics.store(ctl, 1, msg.length);
    Atomics.store(ctl, 0, STATE_FAILED);
  }
  Atomics.notify(ctl, 0);
};
