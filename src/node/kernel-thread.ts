/**
 * A kernel thread of the Node pool (./threads.ts), started as a worker: instantiates the shared-
 * memory kernel module it is given on that memory, then serves the shares put in its mailbox
 * (src/wasm/shares.ts) until stopped, reporting through its control block.
 */
import { workerData } from 'node:worker_threads';
import { serveMailbox } from '../wasm/shares.js';

interface KernelThreadData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  mailbox: SharedArrayBuffer;
  names: string[];
}

const { module, memory, control, mailbox, names } = workerData as KernelThreadData;
const instance = new WebAssembly.Instance(module, { env: { memory } });
const exports = instance.exports as Record<string, (...args: number[]) => unknown>;
serveMailbox(names.map((name) => exports[name]), control, mailbox);
