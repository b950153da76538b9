/**
 * How the spectral schedules run their kernels: every step is split by rows into one kernel call
 * per share (thread), on the WASM kernels or their TypeScript oracle over the same memory.
 */
import type { Arena } from '../wasm/instance.js';
import { splitRange, type KernelCall, type Parallel } from '../wasm/parallel.js';
import type { SpectralKernels } from './spectral-oracle.js';

export interface Exec {
  arena: Arena;
  memory: WebAssembly.Memory;
  /** Threads the rows are split over (one accumulator slot each where a step sums). */
  shares: number;
  /** One kernel call per share over rows [0, n), split at multiples of `align`. */
  rows(n: number, align: number, make: (y0: number, y1: number, share: number) => KernelCall): void;
  /** A float64 view (valid until memory grows). */
  f64(ptr: number, n: number): Float64Array;
  /**
   * Sums the per-share float64 slots of `n` values at `ptr` (one slot of `stride` values per
   * share, shares added in order) and clears them for the next step.
   */
  sumShares(ptr: number, n: number, stride: number): Float64Array;
}

export function createExec(arena: Arena, memory: WebAssembly.Memory, k: SpectralKernels, parallel: Parallel | undefined, useJs: boolean): Exec {
  const shares = parallel ? parallel.threads : 1;
  const run = (calls: KernelCall[][]) => {
    if (useJs || !parallel) {
      for (const share of calls) for (const [name, ...args] of share) (k[name as keyof SpectralKernels] as (...a: number[]) => void)(...args);
    } else parallel.run(calls);
  };
  return {
    arena, memory, shares,
    rows(n, align, make) {
      run(splitRange(n, shares, align).map(([y0, y1], s) => (y1 > y0 ? [make(y0, y1, s)] : [])));
    },
    f64: (ptr, n) => new Float64Array(memory.buffer, ptr, n),
    sumShares(ptr, n, stride) {
      const all = new Float64Array(memory.buffer, ptr, shares * stride);
      const out = new Float64Array(n);
      for (let s = 0; s < shares; s++) for (let i = 0; i < n; i++) out[i] += all[s * stride + i];
      all.fill(0);
      return out;
    },
  };
}
