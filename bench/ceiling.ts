/**
 * The measured arithmetic ceiling of 128-bit WASM SIMD on this machine (bench/assembly/ceiling.ts:
 * independent chains of a = a*m + c on f32x4, 8 flop per chain per step), for each kernel build:
 * 'simd' (f32x4.mul + f32x4.add) and 'fma' (f32x4.relaxed_madd). The best chain count on one
 * thread is the ceiling every kernel's GFLOP/s of that build is compared with; the same kernel on
 * 2 worker threads at once gives the 2-thread ceiling.
 *
 *   node dist-bench/bench/ceiling.js [--quick]     # both builds: table + one JSON line
 *
 * Needs dist-bench/ceiling.wasm and ceiling-fma.wasm (`npm run asbuild:ceiling`, part of `npm run bench`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { PACKAGE_ROOT } from '../src/node/data.js';
import { enableRelaxedSimd } from '../src/node/kernels.js';
import type { KernelBuild } from '../src/wasm/features.js';

export const CEILING_CHAINS = [1, 2, 4, 6, 8, 10, 12, 14] as const;
/** Where `npm run asbuild:ceiling` writes the module of each build. */
export const CEILING_WASM: Record<KernelBuild, string> = {
  simd: join(PACKAGE_ROOT, 'dist-bench', 'ceiling.wasm'),
  fma: join(PACKAGE_ROOT, 'dist-bench', 'ceiling-fma.wasm'),
};

export interface Ceiling {
  /** The multiply-add measured: 'simd' (mul + add) or 'fma' (relaxed_madd). */
  build?: KernelBuild;
  /** GFLOP/s per chain count, one thread (best of `reps` calls). */
  chains: { chains: number; gflops: number }[];
  /** The best of them: the 1-thread ceiling. */
  best: { chains: number; gflops: number };
  /** `best.chains` on 2 threads at once: the sum of both threads' rates. */
  twoThreads: number;
}

/** How a ceiling row names its build. */
export const CEILING_LABEL: Record<KernelBuild, string> = {
  simd: 'SIMD ceiling (f32x4 mul+add, independent chains)',
  fma: 'FMA ceiling (f32x4.relaxed_madd, independent chains)',
};

type MaddFn = (steps: number, m: number, c: number) => number;

function instance(build: KernelBuild): Record<string, MaddFn> {
  if (build === 'fma') enableRelaxedSimd();
  const module = new WebAssembly.Module(readFileSync(CEILING_WASM[build]));
  return new WebAssembly.Instance(module, {}).exports as unknown as Record<string, MaddFn>;
}

/** GFLOP/s of `chains` chains: the best of `reps` calls of `steps` steps (one warm-up call first). */
function rate(ex: Record<string, MaddFn>, chains: number, steps: number, reps: number): number {
  const fn = ex[`madd_chains${chains}`]!;
  fn(steps >> 4, 1 - 2 ** -10, 1e-3);
  let best = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn(steps, 1 - 2 ** -10, 1e-3);
    const s = (performance.now() - t0) / 1e3;
    best = Math.max(best, (8 * chains * steps) / s / 1e9);
  }
  return best;
}

/** About 60 ms per call at the ceiling, whatever the chain count. */
const stepsFor = (chains: number, quick: boolean) => Math.round((quick ? 1 : 2.5) * 1e7 * Math.min(1, 10 / chains) * (chains < 4 ? 0.5 : 1));

export async function measureCeiling(quick = false, build: KernelBuild = 'simd'): Promise<Ceiling> {
  const ex = instance(build);
  const reps = quick ? 2 : 4;
  const chains = CEILING_CHAINS.map((n) => ({ chains: n, gflops: rate(ex, n, stepsFor(n, quick), reps) }));
  const best = chains.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  // Two threads: both workers start together (a shared flag), each reports its own rate.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const self = fileURLToPath(import.meta.url);
  const workers = [0, 1].map(() => new Worker(self, { workerData: { build, chains: best.chains, steps: stepsFor(best.chains, quick), reps, flag } }));
  const rates = workers.map((w) => new Promise<number>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
  await new Promise((r) => setTimeout(r, 200)); // both instantiated and waiting
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  const both = await Promise.all(rates);
  await Promise.all(workers.map((w) => w.terminate()));
  return { build, chains, best, twoThreads: both[0]! + both[1]! };
}

if (!isMainThread && workerData?.flag) {
  const { build, chains, steps, reps, flag } = workerData as { build: KernelBuild; chains: number; steps: number; reps: number; flag: Int32Array };
  const ex = instance(build);
  Atomics.wait(flag, 0, 0);
  parentPort!.postMessage(rate(ex, chains, steps, reps));
} else if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const both: Ceiling[] = [];
  for (const build of ['simd', 'fma'] as const) {
    const c = await measureCeiling(process.argv.includes('--quick'), build);
    console.log(`${CEILING_LABEL[build]}: ${c.chains.map((x) => `${x.chains}: ${x.gflops.toFixed(1)}`).join(', ')} GFLOP/s`);
    console.log(`  1 thread ${c.best.gflops.toFixed(1)} GFLOP/s (${c.best.chains} chains), 2 threads ${c.twoThreads.toFixed(1)} GFLOP/s`);
    both.push(c);
  }
  console.log(JSON.stringify(both));
}
