/**
 * Kernel benchmark over the upstream UNet's shapes (bench/cases.ts), on 1 and 2 threads, against
 * the measured SIMD ceiling of the machine (bench/ceiling.ts).
 *
 *   node dist-bench/bench/kernels.js [--quick] [--filter=conv3x3] [--json=path] [--threads=1,2]
 *
 * Validates every case once (SIMD kernel vs its scalar twin on the twin's first output channels
 * or pixels, on a copy cropped to 8 rows), then times it: one cold call, then warm calls until `minTime` has passed; reports
 * the median warm time, GFLOP/s (nominal: 9 taps per 3x3 output), GB/s (compulsory traffic) and
 * the scalar twin's rate on that cropped part. 3x3 convolutions run twice: direct and Winograd [f23]
 * (whose GFLOP/s are direct-equivalent). --variant=direct|f23 keeps one.
 * --quick crops every case to a few rows (same channels and width, so the same per-row work) and
 * shortens the timing; without it, the full 959×640 shapes run (a minute or two).
 * Every case that splits over output channels (or pixels: argmax) also runs on 2 threads, the
 * engines' way (src/engines/dense.ts: contiguous channel ranges, one scratch per thread, share 0
 * on the calling thread), on the shared-memory build (build/kernels-mt.wasm). The 4-D IDCT runs
 * as one call (the engines expand one layer at a time on one thread), so it has no 2-thread row.
 * Every row runs on both kernel builds, plain SIMD and relaxed-SIMD FMA (build/kernels-fma*.wasm),
 * side by side (--builds=simd,fma keeps some); `ceiling` is each kernel's executed GFLOP/s as a
 * share of its build's ceiling with as many threads.
 * Writes JSON to bench/results/kernels-<date>.json (or --json) and prints a table.
 */
import Benchmark from 'benchmark';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import type { KernelInstance } from '../src/wasm/instance.js';
import type { KernelExports } from '../src/wasm/exports.js';
import { splitRange, type KernelCall, type Parallel } from '../src/wasm/parallel.js';
import { PACKAGE_ROOT } from '../src/node/data.js';
import { loadKernels } from '../src/node/kernels.js';
import { kernelFile, type KernelBuild } from '../src/wasm/features.js';
import { CEILING_LABEL, measureCeiling, type Ceiling } from './ceiling.js';
import { CONV3X3_SCRATCH_FLOATS, CONVT_SCRATCH_FLOATS, IDCT_SCRATCH_FLOATS, IDCT_TABLE_FLOATS } from '../src/wasm/kernels.js';
import { UPSTREAM_CASES, bytes, crop, describe, flops, type KernelCase } from './cases.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const filter = args.find((a) => a.startsWith('--filter='))?.slice(9);
const jsonOut = args.find((a) => a.startsWith('--json='))?.slice(7);
const minTime = quick ? 0.1 : 1.0; // seconds of warm calls per case
/** --quick: rows per case so that one call is about this much work (at least 8 rows, so the top and bottom rows, which skip a third of the taps, weigh little). */
const quickFlop = 2e8;
const twinChannels = 2; // scalar twins are validated and timed on this many output channels (pixels: 4096)

// --quick: one thread only (the end-to-end part of the run covers two).
const threadCounts = (args.find((a) => a.startsWith('--threads='))?.slice(10) ?? (quick ? '1' : '1,2')).split(',').map(Number);

const builds = (args.find((a) => a.startsWith('--builds='))?.slice(9) ?? 'simd,fma').split(',') as KernelBuild[];
const ceilings = {} as Record<KernelBuild, Ceiling>;
for (const build of builds) {
  const c = (ceilings[build] = await measureCeiling(quick, build));
  console.log(`${CEILING_LABEL[build]}: ${c.chains.map((x) => `${x.chains}: ${x.gflops.toFixed(1)}`).join(', ')} GFLOP/s`);
  console.log(`  → 1 thread ${c.best.gflops.toFixed(1)} GFLOP/s (${c.best.chains} chains), 2 threads ${c.twoThreads.toFixed(1)} GFLOP/s`);
}
const ceiling = ceilings.simd ?? ceilings.fma;
const ceilingFor = (threads: number, build: KernelBuild) => (threads === 1 ? ceilings[build].best.gflops : ceilings[build].twoThreads);

/** The kernel instance in use: single-threaded (build/kernels.wasm) or the 2-thread pool (kernels-mt.wasm). */
let k: KernelInstance;
let ex: KernelExports;
let parallel: Parallel | undefined;
const call = (name: keyof KernelExports, a: number[]) => (ex[name] as unknown as (...x: number[]) => void)(...a);

/** A seeded fill (xorshift) so every run times the same data. */
function fillRandom(ptr: number, n: number, seed: number): void {
  const f = new Float32Array(k.memory.buffer, ptr, n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    f[i] = s / 2 ** 31 - 1;
  }
}

/** Allocates and fills the buffers of a case; returns the SIMD and twin calls' arguments. */
interface Setup {
  simd: keyof KernelExports; twin: keyof KernelExports; args: () => number[]; argsTwin: () => number[]; out: number; outN: number; twinOut: number;
  /** How the call splits over threads: the argument indices of the range [start, end) over `n`, and of the scratch pointer (`floats` per thread). */
  split?: { start: number; n: number; align?: number; scratch?: { index: number; floats: number } };
}

function setup(c: KernelCase, variant: string): Setup {
  const A = k.arena;
  const f32 = (n: number, seed: number) => {
    const p = A.allocF32(n);
    fillRandom(p, n, seed);
    return p;
  };
  switch (c.op) {
    case 'conv3x3':
    case 'conv1x1': {
      const kk = c.op === 'conv3x3' ? 9 : 1;
      const i = f32(c.C * c.H * c.W, 1), w = f32(c.K * c.C * kk, 2), o = A.allocF32(c.K * c.H * c.W), t = A.allocF32(c.K * c.H * c.W);
      if (variant === 'f23' && c.op === 'conv3x3') {
        const u = A.allocF32(16 * c.K * c.C), sc = A.allocF32(ex.conv2d_f32_3x3p1_f23_scratch(c.C, c.W));
        ex.conv2d_f32_3x3p1_f23_weights(u, w, c.K, c.C);
        return { simd: 'conv2d_f32_3x3p1_f23', twin: 'conv2d_f32_3x3p1_ref', args: () => [o, i, u, c.C, c.H, c.W, c.K, 0, c.K, sc], argsTwin: () => [t, i, w, c.C, c.H, c.W, 0, Math.min(c.K, twinChannels), 0], out: o, outN: Math.min(c.K, twinChannels) * c.H * c.W, twinOut: t,
          split: { start: 7, n: c.K, scratch: { index: 9, floats: ex.conv2d_f32_3x3p1_f23_scratch(c.C, c.W) } } };
      }
      const n = c.op === 'conv3x3' ? 'conv2d_f32_3x3p1' : 'conv2d_f32_1x1';
      const sc = c.op === 'conv3x3' ? A.allocF32(CONV3X3_SCRATCH_FLOATS(c.C, c.W)) : 0;
      return { simd: n, twin: `${n}_ref`, args: () => [o, i, w, c.C, c.H, c.W, 0, c.K, sc], argsTwin: () => [t, i, w, c.C, c.H, c.W, 0, Math.min(c.K, twinChannels), sc], out: o, outN: Math.min(c.K, twinChannels) * c.H * c.W, twinOut: t,
        // outc (K = 2) is not split: the engines run it on one thread
        split: c.K >= 8 ? { start: 6, n: c.K, scratch: c.op === 'conv3x3' ? { index: 8, floats: CONV3X3_SCRATCH_FLOATS(c.C, c.W) } : undefined } : undefined };
    }
    case 'convT': {
      const i = f32(c.Cin * c.H * c.W, 1), w = f32(c.Cin * c.Cout * 4, 2), o = A.allocF32(4 * c.Cout * c.H * c.W), t = A.allocF32(4 * c.Cout * c.H * c.W);
      const sc = A.allocF32(CONVT_SCRATCH_FLOATS(c.Cin, c.W));
      return { simd: 'conv_transpose2d_f32_2x2s2', twin: 'conv_transpose2d_f32_2x2s2_ref', args: () => [o, i, w, c.Cin, c.Cout, c.H, c.W, 0, c.Cout, sc], argsTwin: () => [t, i, w, c.Cin, c.Cout, c.H, c.W, 0, Math.min(c.Cout, twinChannels), sc], out: o, outN: 4 * Math.min(c.Cout, twinChannels) * c.H * c.W, twinOut: t,
        split: { start: 7, n: c.Cout, scratch: { index: 9, floats: CONVT_SCRATCH_FLOATS(c.Cin, c.W) } } };
    }
    case 'norm': {
      const P = c.H * c.W, i = f32(c.C * P, 1), o = A.allocF32(c.C * P), t = A.allocF32(c.C * P);
      return { simd: 'norm_relu_f32', twin: 'norm_relu_f32_ref', args: () => [o, i, P, 0, c.C], argsTwin: () => [t, i, P, 0, Math.min(c.C, twinChannels)], out: o, outN: Math.min(c.C, twinChannels) * P, twinOut: t, split: { start: 3, n: c.C } };
    }
    case 'pool': {
      const i = f32(c.C * c.H * c.W, 1), m = c.C * (c.H >> 1) * (c.W >> 1), o = A.allocF32(m), t = A.allocF32(m);
      return { simd: 'maxpool2d_f32_2x2', twin: 'maxpool2d_f32_2x2_ref', args: () => [o, i, c.H, c.W, 0, c.C], argsTwin: () => [t, i, c.H, c.W, 0, Math.min(c.C, twinChannels)], out: o, outN: Math.min(c.C, twinChannels) * (c.H >> 1) * (c.W >> 1), twinOut: t, split: { start: 4, n: c.C } };
    }
    case 'concat': {
      const i = f32(c.C * c.h * c.w, 1), o = A.allocF32(2 * c.C * c.H * c.W), t = A.allocF32(2 * c.C * c.H * c.W);
      const top = (c.H - c.h) >> 1, left = (c.W - c.w) >> 1;
      return { simd: 'pad_concat_f32', twin: 'pad_concat_f32_ref', args: () => [o, i, c.h, c.w, c.H, c.W, top, left, c.C, 0, c.C], argsTwin: () => [t, i, c.h, c.w, c.H, c.W, top, left, c.C, 0, Math.min(c.C, twinChannels)], out: o + 4 * c.C * c.H * c.W, outN: Math.min(c.C, twinChannels) * c.H * c.W, twinOut: t + 4 * c.C * c.H * c.W, split: { start: 9, n: c.C } };
    }
    case 'argmax': {
      const P = c.H * c.W, i = f32(c.K * P, 1), o = A.alloc(P), t = A.alloc(P);
      return { simd: 'argmax_f32_u8', twin: 'argmax_f32_u8_ref', args: () => [o, i, c.K, P, 0, P], argsTwin: () => [t, i, c.K, P, 0, Math.min(P, 4096)], out: o, outN: Math.min(P, 4096) / 4, twinOut: t, split: { start: 4, n: P, align: 16 } };
    }
    case 'idct4d': {
      const n = c.O * c.I * c.KH * c.KW, w = A.allocF32(n), t = A.allocF32(n);
      const tabs = new Map<number, number>();
      for (const len of [c.O, c.I, c.KH, c.KW]) if (!tabs.has(len)) { const p = A.allocF32(IDCT_TABLE_FLOATS(len)); ex.idct_table_f32(p, len); tabs.set(len, p); }
      const scratch = A.allocF32(IDCT_SCRATCH_FLOATS(Math.max(c.O, c.I, c.KH, c.KW)));
      const [ka, kb, kc, kd] = c.corner;
      const corner = (p: number) => () => {
        // re-scatter the corner each call (the transform is in place)
        fillRandom(p, Math.min(n, ka * c.I * c.KH * c.KW), 3);
        return [p, c.O, c.I, c.KH, c.KW, ka, kb, kc, kd, tabs.get(c.O)!, tabs.get(c.I)!, tabs.get(c.KH)!, tabs.get(c.KW)!, scratch];
      };
      return { simd: 'idct4d_f32', twin: 'idct4d_f32_ref', args: corner(w), argsTwin: corner(t), out: w, outN: n, twinOut: t };
    }
  }
}

function time(fn: () => void, budget: number): { cold: number; median: number; runs: number } {
  const t0 = performance.now();
  fn();
  const cold = (performance.now() - t0) / 1e3;
  // benchmark.js: cycles of calls until `budget` seconds have passed (at least 5 samples); each
  // sample is one cycle's mean seconds per call (--quick: 2 short cycles).
  const bench = new Benchmark({ fn, maxTime: budget, minSamples: quick ? 2 : 5, minTime: quick ? 0.005 : 0.05, initCount: 1 });
  bench.run({ async: false });
  if (bench.error) throw bench.error;
  const sample = [...bench.stats.sample].sort((a, b) => a - b);
  return { cold, median: sample[sample.length >> 1]!, runs: bench.count * sample.length };
}

/** The call of `s` split over `threads` the engines' way; 1 thread = the plain call. */
function runner(s: Setup, threads: number): () => void {
  if (threads === 1 || !s.split) return () => call(s.simd, s.args());
  const { start, n, align, scratch } = s.split;
  const extra = Array.from({ length: threads }, (_, t) => (t > 0 && scratch ? k.arena.allocF32(scratch.floats) : 0));
  return () => {
    const base = s.args();
    const shares = splitRange(n, threads, align).filter(([a, b]) => b > a).map(([a, b], t) => {
      const a2 = [...base];
      a2[start] = a;
      a2[start + 1] = b;
      if (scratch && t > 0) a2[scratch.index] = extra[t]!;
      return [[s.simd, ...a2] as KernelCall];
    });
    parallel!.run(shares);
  };
}

/**
 * Winograd F(2×2, 3×3) computes a 2×2 output tile from 16 products per (input, output) channel
 * pair instead of 36: its executed work is 16/36 of the direct convolution's (the tile
 * transforms, O(C + K) per tile against O(C·K), are left out: under 2% for C, K ≥ 64).
 */
const WINOGRAD_F23_WORK = 16 / 36;

interface Row {
  build: KernelBuild; variant: string; name: string; shape: string; threads: number; gflop: number; cold_s: number; median_s: number; runs: number;
  /** Nominal (direct-convolution) GFLOP/s; `executed_gflops` counts what the kernel really computes (Winograd: 16/36 of it). */
  gflops: number; executed_gflops: number; gbs: number; ceiling_share: number; twin_gflops: number; speedup: number; valid: boolean;
}
const rows: Row[] = [];
const variantArg = args.find((a) => a.startsWith('--variant='))?.slice(10);
for (const threads of threadCounts) for (const build of builds) {
  if (parallel) await parallel.dispose();
  process.env.FREQREG_KERNELS = build;
  ({ kernels: k, parallel } = await loadKernels(threads));
  ex = k.exports;
  const file = kernelFile(build, threads > 1);
  console.log(`\n${threads} thread(s), ${file}${threads > 1 ? ' (channel ranges split as the engines do)' : ''}:`);
  console.log(`  ${'kernel'.padEnd(44)} ${'shape'.padEnd(40)} ${'median'.padStart(12)} ${'GFLOP/s'.padStart(7)}  ${'GB/s'.padStart(6)}  ceiling  ${threads === 1 ? 'scalar twin GFLOP/s, SIMD ×' : ''}`);
  for (const full of UPSTREAM_CASES) for (const variant of full.op === 'conv3x3' ? ['direct', 'f23'] : ['simd']) {
    if (filter && !full.op.includes(filter) && !full.name.includes(filter)) continue;
    if (variantArg && variant !== variantArg && variant !== 'simd') continue;
    const perRow = flops(full) / ('H' in full ? full.H : 1);
    const c = quick ? crop(full, Math.max(8, Math.floor(quickFlop / Math.max(perRow, 1)))) : full;
    // Validate and time the twin on the quick crop (the twins are slow), time the kernel on `c`.
    const small = quick ? c : crop(full, 8);
    let mark = k.arena.mark();
    const v = setup(small, variant);
    if (threads > 1 && !v.split) { k.arena.release(mark); continue; }
    // Validate: the SIMD kernel (split over the threads) and its twin agree on the twin's part.
    call(v.twin, v.argsTwin());
    runner(v, threads)();
    const a = new Float32Array(k.memory.buffer, v.out, v.outN), b = new Float32Array(k.memory.buffer, v.twinOut, v.outN);
    let m = 0, d = 0;
    for (let i = 0; i < v.outN; i++) { m = Math.max(m, Math.abs(b[i]!)); d = Math.max(d, Math.abs(a[i]! - b[i]!)); }
    // Winograd, the IDCT and the norm's statistics round differently from their twins: a few ulps
    // of the output scale; everything else sums in the twin's order and must match bitwise.
    // The FMA build's convolutions round each multiply-add once, their twins twice.
    const rounding = c.op === 'idct4d' || c.op === 'norm' || variant === 'f23' || (build === 'fma' && /^conv[13]/.test(c.op));
    const valid = a.every((x) => !Number.isNaN(x)) && (rounding ? d <= 1e-5 * m : d === 0);
    const tt = threads === 1 ? time(() => call(v.twin, v.argsTwin()), quick ? 0.05 : 0.2) : undefined;
    k.arena.release(mark);
    mark = k.arena.mark();
    const s = setup(c, variant);
    const tm = time(runner(s, threads), minTime);
    const work = flops(c);
    const twinWork = (() => {
      const t = small;
      switch (t.op) {
        case 'conv3x3': case 'conv1x1': return flops({ ...t, K: Math.min(t.K, twinChannels) });
        case 'convT': return flops({ ...t, Cout: Math.min(t.Cout, twinChannels) });
        case 'norm': case 'pool': return flops({ ...t, C: Math.min(t.C, twinChannels) });
        case 'concat': return bytes({ ...t, C: Math.min(t.C, twinChannels) });
        case 'argmax': return flops({ ...t, H: 1, W: Math.min(t.H * t.W, 4096) });
        case 'idct4d': return flops(t);
      }
    })();
    const twinRate = tt ? twinWork / tt.median / 1e9 : NaN;
    const rate = c.op === 'concat' ? bytes(c) / tm.median / 1e9 : work / tm.median / 1e9;
    const gflops = work / tm.median / 1e9;
    const executed = gflops * (variant === 'f23' ? WINOGRAD_F23_WORK : 1);
    rows.push({
      build, variant, name: full.name, shape: describe(c), threads, gflop: work / 1e9, cold_s: tm.cold, median_s: tm.median, runs: tm.runs,
      gflops, executed_gflops: executed, gbs: bytes(c) / tm.median / 1e9, ceiling_share: c.op === 'concat' ? NaN : executed / ceilingFor(threads, build),
      twin_gflops: c.op === 'concat' ? NaN : twinRate, speedup: rate / twinRate, valid,
    });
    k.arena.release(mark);
    const r = rows[rows.length - 1]!;
    const pct = Number.isNaN(r.ceiling_share) ? '     -' : `${(100 * r.ceiling_share).toFixed(1).padStart(5)}%`;
    const twin = threads > 1 ? '' : `  twin ${Number.isNaN(r.twin_gflops) ? '   -   ' : r.twin_gflops.toFixed(2).padStart(7)} ×${r.speedup.toFixed(1)}`;
    console.log(`${r.valid ? ' ' : '!'} ${(r.name + (variant === 'simd' ? '' : ` [${variant}]`)).padEnd(44)} ${r.shape.padEnd(40)} ${(r.median_s * 1e3).toFixed(2).padStart(9)} ms ${r.gflops.toFixed(2).padStart(7)} ${r.gbs.toFixed(2).padStart(7)}  ${pct}${twin}`);
  }
}
await parallel?.dispose();

// Totals for the dense forward pass (full-size equivalent: quick rates × full work).
const totals: { build: KernelBuild; threads: number; variant: string; gflop: number; gflops: number; seconds: number; ceiling_share: number }[] = [];
for (const build of builds) for (const threads of threadCounts) for (const v of ['direct', 'f23']) {
  const pick = (r: Row) => r.build === build && /^conv/.test(r.shape) && (r.variant === v || r.variant === 'simd');
  const convRows = rows.filter((r) => r.threads === threads && pick(r));
  // outc (not split over threads: the engines run it on one) counts with its 1-thread time
  for (const r of rows) if (r.threads === 1 && pick(r) && !convRows.some((x) => x.name === r.name && x.variant === r.variant)) convRows.push(r);
  if (!convRows.some((r) => r.variant === v)) continue;
  let fullWork = 0, fullTime = 0;
  for (const r of convRows) {
    const full = UPSTREAM_CASES.find((c) => c.name === r.name)!;
    fullWork += flops(full);
    fullTime += flops(full) / (r.gflops * 1e9);
  }
  let executedWork = 0;
  for (const r of convRows) executedWork += (r.executed_gflops / r.gflops) * flops(UPSTREAM_CASES.find((c) => c.name === r.name)!);
  const gflops = fullWork / fullTime / 1e9, executed = executedWork / fullTime / 1e9;
  totals.push({ build, threads, variant: v, gflop: fullWork / 1e9, gflops, seconds: fullTime, ceiling_share: executed / ceilingFor(threads, build) });
  console.log(`convolutions (3x3 ${v}, ${build}), ${threads} thread(s): ${(fullWork / 1e9).toFixed(1)} GFLOP per 959×640 image at ${gflops.toFixed(2)} GFLOP/s${v === 'f23' ? ' direct-equivalent' : ''} (${(100 * executed / ceilingFor(threads, build)).toFixed(0)}% of the ceiling) → ${fullTime.toFixed(2)} s`);
}
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, v8: process.versions.v8, quick };
const out = jsonOut ?? join(PACKAGE_ROOT, 'bench', 'results', `kernels-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine, ceiling, ceilingFma: ceilings.fma, rows, totals }, null, 2));
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; JSON: ${out}`);
if (rows.some((r) => !r.valid)) {
  console.error('validation failed (rows marked !)');
  process.exitCode = 1;
}
