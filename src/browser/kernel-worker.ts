/**
 * A kernel worker of the browser thread pool (./threads.ts), loaded as a module Worker: instantiates
 * build/kernels-mt.wasm on the shared memory it is sent, replies ready, then serves the shares put
 * in its mailbox (src/wasm/shares.ts) until stopped, reporting through its control block.
 */
import { serveMailbox } from '../wasm/shares.js';
import type { KernelWorkerInit, KernelWorkerReply } from './protocol.js';

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(message: KernelWorkerReply): void;
}

const scope = globalThis as unknown as WorkerScope;
type KernelFns = Record<string, (...args: number[]) => unknown>;

scope.onmessage = (e: MessageEvent<KernelWorkerInit>) => {
  scope.onmessage = null;
  const init = e.data;
  let fns: ((...args: number[]) => unknown)[];
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as unknown as KernelFns;
    fns = init.names.map((name) => exports[name]);
    const missing = init.names.find((name) => typeof exports[name] !== 'function');
    if (missing) throw new Error(`the module has no export ${missing}`);
  } catch (err) {
    scope.postMessage({ ready: false, error: String((err as Error)?.message ?? err) });
    return;
  }
  scope.postMessage({ ready: true });
  // Blocks this worker from here on: every later share comes through the mailbox.
  serveMailbox(fns, init.control, init.mailbox);
};
