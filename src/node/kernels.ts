/**
 * Node: the kernel module from build/, compiled once, instantiated with a pool of worker threads
 * over shared memory when more than one thread is asked for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { instantiateKernels, PAGE_BYTES, type KernelInstance } from '../wasm/instance.js';
import { serialParallel, type Parallel } from '../wasm/parallel.js';
import { PACKAGE_ROOT } from './data.js';
import { maxThreads } from './cores.js';
import { createThreadPool } from './threads.js';

const modules = new Map<string, WebAssembly.Module>();

function compiled(file: string): WebAssembly.Module {
  let m = modules.get(file);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(join(PACKAGE_ROOT, 'build', file)));
    modules.set(file, m);
  }
  return m;
}

export { defaultThreads, maxThreads } from './cores.js';

/** Maximum kernel memory in Node (bytes). */
export const NODE_MAX_MEMORY = 2 ** 31;

export async function loadKernels(threads: number): Promise<{ kernels: KernelInstance; parallel: Parallel }> {
  if (!Number.isInteger(threads) || threads < 1 || threads > maxThreads()) {
    fail('engine', 'USAGE', `${threads} threads: from 1 to ${maxThreads()}, the cores available`);
  }
  if (threads <= 1) {
    const kernels = await instantiateKernels(compiled('kernels.wasm'), { maxBytes: NODE_MAX_MEMORY });
    return { kernels, parallel: serialParallel(kernels.exports) };
  }
  const module = compiled('kernels-mt.wasm');
  const memory = new WebAssembly.Memory({ initial: 16, maximum: NODE_MAX_MEMORY / PAGE_BYTES, shared: true });
  const kernels = await instantiateKernels(module, { memory, maxBytes: NODE_MAX_MEMORY });
  return { kernels, parallel: createThreadPool(module, memory, kernels.exports, threads) };
}
