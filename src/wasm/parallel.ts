/**
 * Running kernel calls on several threads that share one WebAssembly memory. An engine splits a
 * layer into shares (output channels or rows), one list of kernel calls per thread; `run` returns
 * when every share is done. Share 0 runs on the calling thread. This file is runtime-agnostic:
 * `serialParallel` runs every share on the calling thread (edge runtimes, no SharedArrayBuffer);
 * the Node pool is in src/node/threads.ts.
 */
import { FreqregError } from '../errors.js';
import type { KernelExports } from './exports.js';

/** One kernel call: the export's name and its numeric arguments. */
export type KernelCall = readonly [name: keyof KernelExports, ...args: number[]];

export interface Parallel {
  readonly threads: number;
  run(shares: readonly (readonly KernelCall[])[]): void;
  dispose(): Promise<void>;
}

/** Calls each kernel of `calls` on `exports`, turning a WebAssembly trap into a FreqregError. */
export function runCalls(exports: KernelExports, calls: readonly KernelCall[]): void {
  for (const [name, ...args] of calls) {
    const fn = exports[name] as unknown as (...a: number[]) => unknown;
    try {
      fn(...args);
    } catch (e) {
      throw new FreqregError('wasm', 'WASM_TRAP', `${String(name)}(${args.join(', ')}): ${(e as Error).message}`);
    }
  }
}

export function serialParallel(exports: KernelExports): Parallel {
  return {
    threads: 1,
    run(shares) {
      for (const share of shares) runCalls(exports, share);
    },
    async dispose() {},
  };
}

/** Splits [0, n) into `parts` contiguous ranges of near-equal size (a multiple of `align` where possible). */
export function splitRange(n: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    let end = p === parts - 1 ? n : Math.round(((p + 1) * n) / parts / align) * align;
    end = Math.min(Math.max(end, start), n);
    out.push([start, end]);
    start = end;
  }
  return out;
}
