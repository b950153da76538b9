/**
 * Node: the kernel module from build/, compiled once, instantiated with a pool of worker threads
 * over shared memory when more than one thread is asked for. The build is the relaxed-SIMD one
 * (build/kernels-fma*.wasm) where V8 runs it, else plain SIMD; FREQREG_KERNELS=simd or fma forces one.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { bestKernelBuild, kernelFile, relaxedSimdAvailable, type KernelBuild } from '../wasm/features.js';
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

/**
 * Node 20 (V8 11.3) runs relaxed SIMD only behind --experimental-wasm-relaxed-simd, a flag
 * NODE_OPTIONS refuses; set at run time it takes effect for every module compiled afterwards, in
 * this thread and in workers started later. Newer Node validates the probe and is left alone.
 */
export function enableRelaxedSimd(): void {
  if (relaxedSimdAvailable()) return;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // A runtime without V8 flags keeps the plain build.
  }
}

/** The kernel build in use: FREQREG_KERNELS ('simd' or 'fma') if set, else the fastest this Node runs. */
export function kernelBuild(): KernelBuild {
  const forced = process.env.FREQREG_KERNELS;
  if (forced !== undefined && forced !== '' && forced !== 'auto') {
    if (forced !== 'simd' && forced !== 'fma') fail('engine', 'USAGE', `FREQREG_KERNELS=${forced}: expected simd, fma or auto`);
    if (forced === 'fma') {
      enableRelaxedSimd();
      if (!relaxedSimdAvailable()) fail('wasm', 'WASM_FEATURE', 'FREQREG_KERNELS=fma: this runtime does not run relaxed SIMD; use simd');
    }
    return forced;
  }
  enableRelaxedSimd();
  return bestKernelBuild();
}

export { defaultThreads, maxThreads } from './cores.js';

/** Maximum kernel memory in Node (bytes). */
export const NODE_MAX_MEMORY = 2 ** 31;

export async function loadKernels(threads: number): Promise<{ kernels: KernelInstance; parallel: Parallel }> {
  if (!Number.isInteger(threads) || threads < 1 || threads > maxThreads()) {
    fail('engine', 'USAGE', `${threads} threads: from 1 to ${maxThreads()}, the cores available`);
  }
  if (threads <= 1) {
    const kernels = await instantiateKernels(compiled(kernelFile(kernelBuild(), false)), { maxBytes: NODE_MAX_MEMORY });
    return { kernels, parallel: serialParallel(kernels.exports) };
  }
  const module = compiled(kernelFile(kernelBuild(), true));
  const memory = new WebAssembly.Memory({ initial: 16, maximum: NODE_MAX_MEMORY / PAGE_BYTES, shared: true });
  const kernels = await instantiateKernels(module, { memory, maxBytes: NODE_MAX_MEMORY });
  return { kernels, parallel: createThreadPool(module, memory, kernels.exports, threads) };
}
