/**
 * Every SIMD kernel against a float64 reference written here and against its scalar twin, on
 * seeded random inputs over shape sweeps (widths around the vector width, odd sizes, one channel,
 * ≥ 3 main-loop iterations) and on small variants of the upstream UNet's cases (bench/cases.ts).
 * Outputs are pre-filled with NaN so a missed write shows; a guard word after each buffer must
 * survive; channel ranges are split in two calls to check that ranges write exactly their part.
 */
import t, { type Test } from 'tap';
import { instantiateKernels } from '../src/wasm/instance.js';
import type { KernelExports } from '../src/wasm/exports.js';
import { dctBasis } from '../src/dct.js';
import { CONV3X3_SCRATCH_FLOATS, CONVT_SCRATCH_FLOATS, IDCT_SCRATCH_FLOATS, IDCT_TABLE_FLOATS } from '../src/wasm/kernels.js';
import { kernelBuild, kernelModuleBytes, rng } from './helpers.js';
import { UPSTREAM_CASES, UPSTREAM_WEIGHTS, describe, shrink, type KernelCase } from '../bench/cases.js';

// ---- tolerances ----
/** SIMD kernel vs its twin where both sum in the same order (conv, pool, copy, argmax): bitwise. */
const TOL_EXACT = 0;
/**
 * Convolutions of the relaxed-SIMD build (FREQREG_KERNELS=fma) vs their scalar twins: same order,
 * but each multiply-add rounds once instead of twice, so they agree to TOL_SUM, not bitwise.
 */
const FMA_BUILD = kernelBuild() === 'fma';
/** float32 sums of ≤ 600 products vs float64, relative to Σ|product|: (n·2^-24 worst case, √n typical). */
const TOL_SUM = 1e-5;
/** Winograd F(2×2,3×3) vs float64, relative to Σ|product|: the transforms add a few roundings of partial sums. */
const TOL_WINOGRAD = 4e-5;
/** norm: outputs are O(1); (x − mean)·inv in float32 loses about |mean/std|·2^-24 (mean/std ≤ 200 here). */
const TOL_NORM = 3e-5;
/** IDCT vs float64, relative to ‖X‖₂ (orthonormal: ‖x‖₂ = ‖X‖₂): float32 sums of ≤ 17 terms. */
const TOL_IDCT = 2e-6;
/** Long dense IDCTs (Lee): factors 1/(2cos) reach N/π and amplify float32 rounding (measured 2.4e-6 at N = 1024). */
const TOL_IDCT_LONG = 1e-5;
/** Bit pattern written after every buffer (a NaN no kernel produces). */
const GUARD = 0x7fa5a5a5;
const GUARD_WORDS = 4;

const bytes = kernelModuleBytes();
const kernels = await instantiateKernels(bytes);
const ex: KernelExports = kernels.exports;
const arena = kernels.arena;

/** Allocates n floats plus guard words; fills with `init` (NaN by default). */
function buf(n: number, init?: ArrayLike<number> | number): number {
  const p = arena.alloc(4 * (n + GUARD_WORDS));
  const f = new Float32Array(kernels.memory.buffer, p, n);
  if (init === undefined || typeof init === 'number') f.fill(init ?? NaN);
  else f.set(init);
  new Uint32Array(kernels.memory.buffer, p + 4 * n, GUARD_WORDS).fill(GUARD);
  return p;
}
const view = (p: number, n: number) => new Float32Array(kernels.memory.buffer, p, n);
const guardOk = (p: number, nBytes: number) => new Uint32Array(kernels.memory.buffer.slice(p + nBytes, p + nBytes + 4 * GUARD_WORDS)).every((g) => g === GUARD);

function randoms(n: number, r: () => number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = offset + scale * (2 * r() - 1);
  return a;
}

/** Formats flat index i of a tensor of shape dims as (a, b, c). */
function pos(i: number, dims: number[]): string {
  const idx: number[] = [];
  for (let d = dims.length - 1; d >= 0; d--) {
    idx.unshift(i % dims[d]!);
    i = Math.floor(i / dims[d]!);
  }
  return `(${idx.join(',')})`;
}

/**
 * Compares got with want elementwise: |got − want| ≤ tol(i) (NaN never passes). Returns '' or a
 * message with the first mismatch position, the largest difference and a few pairs.
 */
function compare(what: string, got: ArrayLike<number>, want: ArrayLike<number>, dims: number[], tol: (i: number) => number): string {
  let first = -1, bad = 0, maxD = 0, maxI = -1;
  const pairs: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (tol(i) === Infinity) continue; // not compared here
    if (!(d <= tol(i))) {
      if (first < 0) first = i;
      bad++;
      if (pairs.length < 4) pairs.push(`${pos(i, dims)} got ${got[i]} want ${want[i]}`);
    }
    if (!(d <= maxD)) { maxD = d; maxI = i; }
  }
  if (first < 0) return '';
  return `${what}: ${bad} of ${want.length} differ, first at ${pos(first, dims)}; max |diff| ${maxD} at ${pos(maxI, dims)}; ${pairs.join('; ')}`;
}

type Result = string[]; // failure messages

/** Runs `fn` with an arena mark and releases everything it allocated. */
function scoped<T>(fn: () => T): T {
  const m = arena.mark();
  try {
    return fn();
  } finally {
    arena.release(m);
  }
}

// ---- float64 references ----

function refConv3x3(x: Float32Array, w: Float32Array, C: number, K: number, H: number, W: number) {
  const out = new Float64Array(K * H * W), abs = new Float64Array(K * H * W);
  for (let co = 0; co < K; co++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        let s = 0, a = 0;
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < 3; ky++) {
            const yy = y + ky - 1;
            if (yy < 0 || yy >= H) continue;
            for (let kx = 0; kx < 3; kx++) {
              const xs = xx + kx - 1;
              if (xs < 0 || xs >= W) continue;
              const p = w[((co * C + c) * 3 + ky) * 3 + kx]! * x[(c * H + yy) * W + xs]!;
              s += p; a += Math.abs(p);
            }
          }
        out[(co * H + y) * W + xx] = s;
        abs[(co * H + y) * W + xx] = a;
      }
  return { out, abs };
}

function refConv1x1(x: Float32Array, w: Float32Array, C: number, K: number, P: number) {
  const out = new Float64Array(K * P), abs = new Float64Array(K * P);
  for (let co = 0; co < K; co++)
    for (let p = 0; p < P; p++) {
      let s = 0, a = 0;
      for (let c = 0; c < C; c++) {
        const q = w[co * C + c]! * x[c * P + p]!;
        s += q; a += Math.abs(q);
      }
      out[co * P + p] = s; abs[co * P + p] = a;
    }
  return { out, abs };
}

function refConvT(x: Float32Array, w: Float32Array, Cin: number, Cout: number, H: number, W: number) {
  const out = new Float64Array(Cout * 4 * H * W), abs = new Float64Array(Cout * 4 * H * W);
  for (let co = 0; co < Cout; co++)
    for (let y = 0; y < 2 * H; y++)
      for (let xx = 0; xx < 2 * W; xx++) {
        let s = 0, a = 0;
        for (let ci = 0; ci < Cin; ci++) {
          const q = x[(ci * H + (y >> 1)) * W + (xx >> 1)]! * w[(ci * Cout + co) * 4 + (y & 1) * 2 + (xx & 1)]!;
          s += q; a += Math.abs(q);
        }
        out[(co * 2 * H + y) * 2 * W + xx] = s; abs[(co * 2 * H + y) * 2 * W + xx] = a;
      }
  return { out, abs };
}

// ---- per-op checks: run SIMD (in two channel ranges) and twin, compare with the reference ----

type Pair = readonly [simd: keyof KernelExports, twin: keyof KernelExports];
const call = (name: keyof KernelExports, ...args: number[]) => (ex[name] as unknown as (...a: number[]) => void)(...args);

/** Splits [0, n) at a point that leaves a ragged first block (exercises the tail clamps). */
const splitAt = (n: number) => (n > 5 ? 5 : n >> 1);

function checkConvLike(c: KernelCase, seed: number): Result {
  return scoped(() => {
    const r = rng(seed);
    let inN: number, wN: number, outN: number, K: number, dims: number[], pair: Pair;
    let args: (o: number, i: number, w: number, a: number, b: number) => number[];
    let ref: (x: Float32Array, w: Float32Array) => { out: Float64Array; abs: Float64Array };
    let scratchCheck = () => true;
    if (c.op === 'conv3x3' || c.op === 'conv1x1') {
      const k = c.op === 'conv3x3' ? 9 : 1;
      inN = c.C * c.H * c.W; wN = c.K * c.C * k; outN = c.K * c.H * c.W; K = c.K; dims = [c.K, c.H, c.W];
      pair = c.op === 'conv3x3' ? ['conv2d_f32_3x3p1', 'conv2d_f32_3x3p1_ref'] : ['conv2d_f32_1x1', 'conv2d_f32_1x1_ref'];
      if (c.op === 'conv3x3') {
        const sN = CONV3X3_SCRATCH_FLOATS(c.C, c.W);
        const sc = buf(sN);
        scratchCheck = () => guardOk(sc, 4 * sN);
        args = (o, i, w, a, b) => [o, i, w, c.C, c.H, c.W, a, b, sc];
      } else args = (o, i, w, a, b) => [o, i, w, c.C, c.H, c.W, a, b];
      ref = c.op === 'conv3x3' ? (x, w) => refConv3x3(x, w, c.C, c.K, c.H, c.W) : (x, w) => refConv1x1(x, w, c.C, c.K, c.H * c.W);
    } else if (c.op === 'convT') {
      inN = c.Cin * c.H * c.W; wN = c.Cin * c.Cout * 4; outN = c.Cout * 4 * c.H * c.W; K = c.Cout; dims = [c.Cout, 2 * c.H, 2 * c.W];
      pair = ['conv_transpose2d_f32_2x2s2', 'conv_transpose2d_f32_2x2s2_ref'];
      const sN = CONVT_SCRATCH_FLOATS(c.Cin, c.W);
      const sc = buf(sN);
      scratchCheck = () => guardOk(sc, 4 * sN);
      args = (o, i, w, a, b) => [o, i, w, c.Cin, c.Cout, c.H, c.W, a, b, sc];
      ref = (x, w) => refConvT(x, w, c.Cin, c.Cout, c.H, c.W);
    } else throw new Error(`not a conv case: ${c.op}`);
    const x = randoms(inN, r), w = randoms(wN, r);
    const ip = buf(inN, x), wp = buf(wN, w), op = buf(outN), tp = buf(outN);
    const s = splitAt(K);
    call(pair[0], ...args(op, ip, wp, 0, s));
    call(pair[0], ...args(op, ip, wp, s, K));
    call(pair[1], ...args(tp, ip, wp, 0, K));
    const want = ref(x, w);
    const fused = FMA_BUILD && c.op !== 'convT'; // the transposed conv keeps its plain multiply and add
    const twinTolerance = (i: number) => (fused ? TOL_SUM * want.abs[i]! + 1e-30 : TOL_EXACT);
    const fails = [
      compare(`${pair[0]} vs float64`, view(op, outN), want.out, dims, (i) => TOL_SUM * want.abs[i]! + 1e-30),
      compare(`${pair[1]} vs float64`, view(tp, outN), want.out, dims, (i) => TOL_SUM * want.abs[i]! + 1e-30),
      compare(`${pair[0]} vs ${pair[1]}`, view(op, outN), view(tp, outN), dims, twinTolerance),
    ];
    if (!guardOk(op, 4 * outN) || !guardOk(tp, 4 * outN)) fails.push('guard word after the output overwritten');
    if (!guardOk(ip, 4 * inN) || !guardOk(wp, 4 * wN)) fails.push('guard word after an input overwritten');
    if (!scratchCheck()) fails.push('scratch overrun');
    if (c.op === 'convT' || c.op === 'conv3x3') {
      // Without scratch (pointer 0): the planes read in place.
      const np = buf(outN);
      if (c.op === 'convT') ex.conv_transpose2d_f32_2x2s2(np, ip, wp, c.Cin, c.Cout, c.H, c.W, 0, K, 0);
      else ex.conv2d_f32_3x3p1(np, ip, wp, c.C, c.H, c.W, 0, K, 0);
      fails.push(compare(`${pair[0]} (no scratch) vs twin`, view(np, outN), view(tp, outN), dims, twinTolerance));
    }
    if (c.op === 'conv3x3') {
      // Winograd: transformed weights, two channel ranges, a scratch per call with a guard.
      const u = buf(16 * c.K * c.C), sN = ex.conv2d_f32_3x3p1_f23_scratch(c.C, c.W), sc = buf(sN), wo = buf(outN);
      ex.conv2d_f32_3x3p1_f23_weights(u, wp, c.K, c.C);
      ex.conv2d_f32_3x3p1_f23(wo, ip, u, c.C, c.H, c.W, c.K, 0, s, sc);
      ex.conv2d_f32_3x3p1_f23(wo, ip, u, c.C, c.H, c.W, c.K, s, c.K, sc);
      fails.push(compare('conv2d_f32_3x3p1_f23 vs float64', view(wo, outN), want.out, dims, (i) => TOL_WINOGRAD * want.abs[i]! + 1e-30));
      if (!guardOk(wo, 4 * outN) || !guardOk(sc, 4 * sN) || !guardOk(u, 4 * 16 * c.K * c.C)) fails.push('conv2d_f32_3x3p1_f23: guard word overwritten');
    }
    // A range writes only its channels.
    const rp = buf(outN);
    const a = Math.min(1, K), b = Math.min(K, a + 2);
    call(pair[0], ...args(rp, ip, wp, a, b));
    const plane = outN / K;
    const rv = view(rp, outN);
    for (let i = 0; i < outN; i++) {
      const ch = Math.floor(i / plane);
      if ((ch < a || ch >= b) && !Number.isNaN(rv[i])) { fails.push(`range [${a}, ${b}) wrote channel ${ch} at ${pos(i, dims)}`); break; }
    }
    return fails.filter((m) => m);
  });
}

function checkNorm(c: { C: number; H: number; W: number }, seed: number, offset = 0, scale = 1): Result {
  return scoped(() => {
    const r = rng(seed);
    const P = c.H * c.W, n = c.C * P;
    const x = randoms(n, r, scale, offset);
    const want = new Float64Array(n);
    for (let ch = 0; ch < c.C; ch++) {
      let s = 0;
      for (let i = 0; i < P; i++) s += x[ch * P + i]!;
      const m = s / P;
      let q = 0;
      for (let i = 0; i < P; i++) q += (x[ch * P + i]! - m) ** 2;
      const inv = 1 / Math.sqrt(q / P + 1e-5);
      for (let i = 0; i < P; i++) want[ch * P + i] = Math.max((x[ch * P + i]! - m) * inv, 0);
    }
    const ip = buf(n, x), op = buf(n), tp = buf(n, x);
    const s = splitAt(c.C);
    ex.norm_relu_f32(op, ip, P, 0, s);
    ex.norm_relu_f32(op, ip, P, s, c.C);
    ex.norm_relu_f32_ref(tp, tp, P, 0, c.C); // in place
    const inPlace = buf(n, x);
    ex.norm_relu_f32(inPlace, inPlace, P, 0, c.C);
    const dims = [c.C, c.H, c.W];
    const fails = [
      compare('norm_relu_f32 vs float64', view(op, n), want, dims, () => TOL_NORM),
      compare('norm_relu_f32 in place vs out of place', view(inPlace, n), view(op, n), dims, () => TOL_EXACT),
      compare('norm_relu_f32_ref (in place) vs float64', view(tp, n), want, dims, () => TOL_NORM),
    ];
    if (!guardOk(op, 4 * n) || !guardOk(tp, 4 * n) || !guardOk(inPlace, 4 * n)) fails.push('guard word overwritten');
    return fails.filter((m) => m);
  });
}

function checkPool(c: { C: number; H: number; W: number }, seed: number): Result {
  return scoped(() => {
    const r = rng(seed);
    const n = c.C * c.H * c.W, Ho = c.H >> 1, Wo = c.W >> 1, m = c.C * Ho * Wo;
    const x = randoms(n, r);
    const want = new Float64Array(m);
    for (let ch = 0; ch < c.C; ch++)
      for (let y = 0; y < Ho; y++)
        for (let xx = 0; xx < Wo; xx++) {
          const at = (dy: number, dx: number) => x[(ch * c.H + 2 * y + dy) * c.W + 2 * xx + dx]!;
          want[(ch * Ho + y) * Wo + xx] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
        }
    const ip = buf(n, x), op = buf(m), tp = buf(m);
    const s = splitAt(c.C);
    ex.maxpool2d_f32_2x2(op, ip, c.H, c.W, 0, s);
    ex.maxpool2d_f32_2x2(op, ip, c.H, c.W, s, c.C);
    ex.maxpool2d_f32_2x2_ref(tp, ip, c.H, c.W, 0, c.C);
    const dims = [c.C, Ho, Wo];
    const fails = [
      compare('maxpool2d_f32_2x2 vs float64', view(op, m), want, dims, () => TOL_EXACT),
      compare('maxpool2d_f32_2x2_ref vs float64', view(tp, m), want, dims, () => TOL_EXACT),
    ];
    if (!guardOk(op, 4 * m) || !guardOk(tp, 4 * m)) fails.push('guard word overwritten');
    return fails.filter((f) => f);
  });
}

function checkConcat(c: { C: number; h: number; w: number; H: number; W: number }, seed: number): Result {
  return scoped(() => {
    const r = rng(seed);
    const n = c.C * c.h * c.w, cOff = 1, Ct = c.C + 2, m = Ct * c.H * c.W;
    const top = (c.H - c.h) >> 1, left = (c.W - c.w) >> 1;
    const x = randoms(n, r);
    const want = new Float64Array(m).fill(NaN); // channels outside [cOff, cOff + C) untouched
    for (let ch = 0; ch < c.C; ch++)
      for (let y = 0; y < c.H; y++)
        for (let xx = 0; xx < c.W; xx++) {
          const yy = y - top, xs = xx - left;
          const inside = yy >= 0 && yy < c.h && xs >= 0 && xs < c.w;
          want[((cOff + ch) * c.H + y) * c.W + xx] = inside ? x[(ch * c.h + yy) * c.w + xs]! : 0;
        }
    const ip = buf(n, x), op = buf(m), tp = buf(m);
    const s = splitAt(c.C);
    ex.pad_concat_f32(op, ip, c.h, c.w, c.H, c.W, top, left, cOff, 0, s);
    ex.pad_concat_f32(op, ip, c.h, c.w, c.H, c.W, top, left, cOff, s, c.C);
    ex.pad_concat_f32_ref(tp, ip, c.h, c.w, c.H, c.W, top, left, cOff, 0, c.C);
    const dims = [Ct, c.H, c.W];
    const same = (i: number) => (Number.isNaN(want[i]) ? Infinity : TOL_EXACT);
    const fails = [
      compare('pad_concat_f32 vs float64', view(op, m), want, dims, same),
      compare('pad_concat_f32_ref vs float64', view(tp, m), want, dims, same),
    ];
    const untouched = (p: number) => view(p, m).every((v, i) => !Number.isNaN(want[i]) || Number.isNaN(v));
    if (!untouched(op) || !untouched(tp)) fails.push('wrote outside channels [cOff, cOff + C)');
    if (!guardOk(op, 4 * m) || !guardOk(tp, 4 * m)) fails.push('guard word overwritten');
    return fails.filter((f) => f);
  });
}

function checkArgmax(c: { K: number; H: number; W: number }, seed: number): Result {
  return scoped(() => {
    const r = rng(seed);
    const P = c.H * c.W, n = c.K * P;
    // Few distinct levels so ties are common; every 7th pixel all zero (the UNet's dead pixels).
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (i % P) % 7 === 0 ? 0 : Math.floor(r() * 3) - 1;
    const want = new Uint8Array(P);
    for (let p = 0; p < P; p++) {
      let b = 0;
      for (let k = 1; k < c.K; k++) if (x[k * P + p]! > x[b * P + p]!) b = k;
      want[p] = b;
    }
    const mem = () => new Uint8Array(kernels.memory.buffer);
    const op = arena.alloc(P + 16), tp = arena.alloc(P + 16);
    mem().fill(0xee, op, op + P + 16);
    mem().fill(0xee, tp, tp + P + 16);
    const ip = buf(n, x);
    const s = splitAt(P);
    ex.argmax_f32_u8(op, ip, c.K, P, 0, s);
    ex.argmax_f32_u8(op, ip, c.K, P, s, P);
    ex.argmax_f32_u8_ref(tp, ip, c.K, P, 0, P);
    const dims = [c.H, c.W];
    const fails = [
      compare('argmax_f32_u8 vs float64', mem().slice(op, op + P), want, dims, () => TOL_EXACT),
      compare('argmax_f32_u8_ref vs float64', mem().slice(tp, tp + P), want, dims, () => TOL_EXACT),
    ];
    if (!mem().slice(op + P, op + P + 16).every((b) => b === 0xee)) fails.push('guard bytes overwritten');
    return fails.filter((f) => f);
  });
}

/** Table and scratch for IDCT lengths; returns table pointers keyed by N. */
function idctTables(ns: number[]): Map<number, number> {
  const tabs = new Map<number, number>();
  for (const N of new Set(ns)) {
    const p = buf(IDCT_TABLE_FLOATS(N), 0);
    ex.idct_table_f32(p, N);
    tabs.set(N, p);
  }
  return tabs;
}

/**
 * 1-D IDCT of `count` vectors of length N (first K coefficients) in two layouts: vectors
 * contiguous (stride 1, vstride N) and interleaved (stride count, vstride 1, the SIMD layout).
 */
function checkIdct1d(N: number, K: number, count: number, interleaved: boolean, seed: number): Result {
  return scoped(() => {
    const r = rng(seed);
    const total = N * count;
    const [stride, vstride] = interleaved ? [count, 1] : [1, N];
    const X = randoms(total, r); // entries j ≥ K are garbage the kernel must ignore
    const want = new Float64Array(total), norm = new Float64Array(count);
    for (let v = 0; v < count; v++) {
      let q = 0;
      for (let k = 0; k < K; k++) q += X[v * vstride + k * stride]! ** 2;
      norm[v] = Math.sqrt(q);
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += dctBasis(N, k, n) * X[v * vstride + k * stride]!;
        want[v * vstride + n * stride] = s;
      }
    }
    const tab = idctTables([N]).get(N)!;
    const scratch = buf(IDCT_SCRATCH_FLOATS(N));
    const ip = buf(total, X), op = buf(total), tp = buf(total), inPlace = buf(total, X);
    ex.idct_f32(op, ip, N, K, count, stride, vstride, tab, scratch);
    ex.idct_f32(inPlace, inPlace, N, K, count, stride, vstride, tab, scratch);
    ex.idct_f32_ref(tp, ip, N, K, count, stride, vstride, tab, scratch);
    const vecOf = (i: number) => (interleaved ? i % count : Math.floor(i / N));
    const rel = N >= 256 ? TOL_IDCT_LONG : TOL_IDCT;
    const tol = (i: number) => rel * norm[vecOf(i)]! + 1e-30;
    const dims = interleaved ? [N, count] : [count, N];
    const fails = [
      compare('idct_f32 vs float64', view(op, total), want, dims, tol),
      compare('idct_f32 in place vs float64', view(inPlace, total), want, dims, tol),
      compare('idct_f32_ref vs float64', view(tp, total), want, dims, tol),
    ];
    if (!guardOk(op, 4 * total) || !guardOk(inPlace, 4 * total) || !guardOk(tp, 4 * total)) fails.push('guard word overwritten');
    if (!guardOk(scratch, 4 * IDCT_SCRATCH_FLOATS(N))) fails.push('scratch overrun');
    if (!guardOk(ip, 4 * total) || !view(ip, total).every((v, i) => v === X[i])) fails.push('input modified');
    return fails.filter((f) => f);
  });
}

/** Random sparse coefficients in the corner (about `fill` of them non-zero), as (O, I, KH, KW) positions. */
function sparseCorner(corner: number[], r: () => number, fill: number) {
  const [ka, kb, kc, kd] = corner as [number, number, number, number];
  const entries: [number, number, number, number, number][] = [];
  for (let a = 0; a < ka; a++)
    for (let b = 0; b < kb; b++)
      for (let c = 0; c < kc; c++)
        for (let d = 0; d < kd; d++) if (r() < fill) entries.push([a, b, c, d, 2 * r() - 1]);
  return entries;
}

function checkIdct4d(shape: [number, number, number, number], corner: [number, number, number, number], seed: number, fill: number): Result {
  return scoped(() => {
    const r = rng(seed);
    const [O, I, KH, KW] = shape;
    const n = O * I * KH * KW;
    const coef = sparseCorner(corner, r, fill);
    let norm = 0;
    const want = new Float64Array(n);
    for (const [a, b, c, d, v] of coef) {
      norm += v * v;
      for (let o = 0; o < O; o++) {
        const po = v * dctBasis(O, a, o);
        for (let i = 0; i < I; i++) {
          const pi = po * dctBasis(I, b, i);
          for (let y = 0; y < KH; y++)
            for (let x = 0; x < KW; x++) want[((o * I + i) * KH + y) * KW + x] += pi * dctBasis(KH, c, y) * dctBasis(KW, d, x);
        }
      }
    }
    norm = Math.sqrt(norm);
    // Outside the corner: garbage the kernel must not read. Inside: zeros, then the coefficients.
    const init = randoms(n, r, 1e3);
    const [ka, kb, kc, kd] = corner;
    for (let a = 0; a < ka; a++) for (let b = 0; b < kb; b++) for (let c = 0; c < kc; c++) for (let d = 0; d < kd; d++) init[((a * I + b) * KH + c) * KW + d] = 0;
    for (const [a, b, c, d, v] of coef) init[((a * I + b) * KH + c) * KW + d] = v;
    const tabs = idctTables([O, I, KH, KW]);
    const scratch = buf(IDCT_SCRATCH_FLOATS(Math.max(O, I, KH, KW)));
    const wp = buf(n, init), tp = buf(n, init);
    const t4 = [tabs.get(O)!, tabs.get(I)!, tabs.get(KH)!, tabs.get(KW)!] as const;
    ex.idct4d_f32(wp, O, I, KH, KW, ka, kb, kc, kd, ...t4, scratch);
    ex.idct4d_f32_ref(tp, O, I, KH, KW, ka, kb, kc, kd, ...t4, scratch);
    const tol = () => TOL_IDCT * norm + 1e-30;
    const fails = [
      compare('idct4d_f32 vs float64', view(wp, n), want, shape, tol),
      compare('idct4d_f32_ref vs float64', view(tp, n), want, shape, tol),
    ];
    if (!guardOk(wp, 4 * n) || !guardOk(tp, 4 * n)) fails.push('guard word overwritten');
    if (!guardOk(scratch, 4 * IDCT_SCRATCH_FLOATS(Math.max(O, I, KH, KW)))) fails.push('scratch overrun');
    return fails.filter((f) => f);
  });
}

function check(c: KernelCase, seed: number): Result {
  switch (c.op) {
    case 'conv3x3':
    case 'conv1x1':
    case 'convT': return checkConvLike(c, seed);
    case 'norm': return checkNorm(c, seed);
    case 'pool': return checkPool(c, seed);
    case 'concat': return checkConcat(c, seed);
    case 'argmax': return checkArgmax(c, seed);
    case 'idct4d': return checkIdct4d([c.O, c.I, c.KH, c.KW], c.corner, seed, 0.25);
  }
}

/** One assertion per case: passes, or fails with every message. */
function expectPass(t: Test, name: string, fails: Result): void {
  t.ok(fails.length === 0, name, fails.length ? { diagnostic: true, failures: fails } : {});
}

// ---- sweeps ----

/** Widths around the vector width (4) and the 2-vector tile (8), plus ≥ 3 main-loop iterations. */
const WS = [1, 2, 3, 4, 5, 7, 8, 9, 17, 33];

t.test('conv2d_f32_3x3p1 sweep', async (t) => {
  for (const [C, K] of [[1, 1], [3, 5], [2, 9]] as const)
    for (const H of [1, 2, 5])
      for (const W of WS) expectPass(t, `conv2d 3x3p1 C=${C} K=${K} H=${H} W=${W}`, check({ op: 'conv3x3', name: '', C, K, H, W }, 1000 * C + 100 * H + W));
  // Winograd's blocking (128 tiles per band): row segments (W = 959, 300), channel chunks of 128
  // (C = 130) and bands of several tile rows (W ≤ 8: 16 tile rows per band).
  for (const [C, K, H, W] of [[40, 5, 3, 959], [130, 5, 3, 9], [130, 3, 3, 300], [3, 5, 70, 9], [2, 3, 9, 61]] as const)
    expectPass(t, `conv2d 3x3p1 C=${C} K=${K} H=${H} W=${W}`, check({ op: 'conv3x3', name: '', C, K, H, W }, 1500 + C + H + W));
});

t.test('conv2d_f32_1x1 sweep', async (t) => {
  for (const [C, K] of [[1, 1], [4, 2], [3, 9]] as const)
    for (const H of [1, 3])
      for (const W of WS) expectPass(t, `conv2d 1x1 C=${C} K=${K} H=${H} W=${W}`, check({ op: 'conv1x1', name: '', C, K, H, W }, 2000 + 100 * C + 10 * H + W));
});

t.test('conv_transpose2d_f32_2x2s2 sweep', async (t) => {
  for (const [Cin, Cout] of [[1, 1], [3, 5], [5, 2]] as const)
    for (const H of [1, 3])
      for (const W of WS) expectPass(t, `conv_transpose2d 2x2s2 Cin=${Cin} Cout=${Cout} H=${H} W=${W}`, check({ op: 'convT', name: '', Cin, Cout, H, W }, 3000 + 100 * Cin + 10 * H + W));
});

t.test('norm_relu_f32 sweep', async (t) => {
  for (const C of [1, 3])
    for (const H of [1, 3, 7])
      for (const W of WS) expectPass(t, `norm_relu C=${C} H=${H} W=${W}`, checkNorm({ C, H, W }, 4000 + 100 * C + 10 * H + W));
  // A real-size channel whose mean is 100 standard deviations away from 0.
  expectPass(t, 'norm_relu C=2 H=640 W=959 mean=100 std≈0.58', checkNorm({ C: 2, H: 640, W: 959 }, 4999, 100, 1));
});

t.test('maxpool2d_f32_2x2 sweep', async (t) => {
  for (const C of [1, 3])
    for (const H of [1, 2, 3, 5])
      for (const W of [...WS, 34, 35]) expectPass(t, `maxpool2d 2x2 C=${C} H=${H} W=${W}`, checkPool({ C, H, W }, 5000 + 100 * C + 10 * H + W));
});

t.test('pad_concat_f32 sweep', async (t) => {
  for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [2, 3], [3, 1]] as const)
    for (const h of [1, 3])
      for (const w of WS) expectPass(t, `pad_concat C=2 h=${h} w=${w} H=${h + dy} W=${w + dx}`, checkConcat({ C: 2, h, w, H: h + dy, W: w + dx }, 6000 + 10 * h + w));
});

t.test('argmax_f32_u8 sweep', async (t) => {
  for (const K of [1, 2, 3, 5])
    for (const W of [...WS, 16, 48, 50]) expectPass(t, `argmax K=${K} H=2 W=${W}`, checkArgmax({ K, H: 2, W }, 7000 + 100 * K + W));
});

t.test('idct_f32 sweep', async (t) => {
  for (const N of [1, 2, 3, 4, 5, 8, 16, 17, 64, 1024])
    for (const K of new Set([1, Math.min(2, N), Math.min(4, N), N]))
      for (const [count, inter] of [[3, false], [1, true], [5, true], [9, true], [70, true]] as const) {
        if (N === 1024 && count > 9) continue; // the float64 reference is N²·count
        expectPass(t, `idct N=${N} K=${K} count=${count} ${inter ? 'interleaved' : 'contiguous'}`, checkIdct1d(N, K, count, inter, 8000 + N + 10 * K + count));
      }
});

t.test('idct4d_f32 sweep', async (t) => {
  const shapes: [[number, number, number, number], [number, number, number, number], number][] = [
    [[8, 6, 3, 3], [4, 4, 3, 3], 0.25],
    [[8, 6, 3, 3], [4, 4, 3, 3], 1],
    [[5, 3, 2, 2], [4, 3, 2, 2], 0.3],
    [[2, 17, 1, 1], [2, 17, 1, 1], 0.5],
    [[1, 1, 1, 1], [1, 1, 1, 1], 1],
    [[9, 70, 3, 3], [4, 4, 3, 3], 0.1],
    [[64, 3, 3, 3], [4, 3, 3, 3], 0.25],
    [[16, 16, 2, 2], [16, 16, 2, 2], 0.5], // dense enough for the Lee path along O and I
  ];
  for (const [shape, corner, fill] of shapes)
    expectPass(t, `idct4d ${shape.join('x')} corner ${corner.join('x')} fill=${fill}`, checkIdct4d(shape, corner, 9000 + shape[0] + shape[1], fill));
});

t.test('upstream cases, small variants (bench/cases.ts)', async (t) => {
  let seed = 10000;
  for (const c of UPSTREAM_CASES) {
    const s = shrink(c);
    expectPass(t, `${c.name}: ${describe(s)}`, check(s, seed++));
  }
});

t.test('idct4d_f32 expands every upstream layer shape (31,024,960 weights) to finite weights', async (t) => {
  const total = UPSTREAM_WEIGHTS.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
  t.equal(total, 31_024_960);
  scoped(() => {
    const r = rng(12345);
    const largest = Math.max(...UPSTREAM_WEIGHTS.map((w) => w.shape.reduce((a, b) => a * b, 1)));
    const wp = buf(largest);
    const scratch = buf(IDCT_SCRATCH_FLOATS(Math.max(...UPSTREAM_WEIGHTS.flatMap((w) => w.shape))));
    const tabs = idctTables(UPSTREAM_WEIGHTS.flatMap((w) => w.shape));
    let ms = 0;
    for (const w of UPSTREAM_WEIGHTS) {
      const [O, I, KH, KW] = w.shape;
      const [ka, kb, kc, kd] = w.corner;
      const f = view(wp, O * I * KH * KW);
      for (let a = 0; a < ka; a++) for (let b = 0; b < kb; b++) for (let c = 0; c < kc; c++) for (let d = 0; d < kd; d++) f[((a * I + b) * KH + c) * KW + d] = r() < 0.23 ? 2 * r() - 1 : 0;
      const t0 = performance.now();
      ex.idct4d_f32(wp, O, I, KH, KW, ka, kb, kc, kd, tabs.get(O)!, tabs.get(I)!, tabs.get(KH)!, tabs.get(KW)!, scratch);
      ms += performance.now() - t0;
      if (!view(wp, O * I * KH * KW).every(Number.isFinite)) t.fail(`${w.name}: non-finite weight`);
    }
    t.comment(`23 layers in ${ms.toFixed(1)} ms (timing only: npm run bench measures it)`);
  });
});
