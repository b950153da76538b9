/**
 * Checking a spectral kernel against its scalar twin and its TypeScript oracle (src/engines/
 * spectral-oracle.ts) on the same memory: each variant runs on a fresh copy of a region, and the
 * whole region is compared afterwards.
 */
import type { Test } from 'tap';
import { createOracleKernels } from '../../src/engines/spectral-oracle.js';
import type { KernelInstance } from '../../src/wasm/instance.js';
import { rng } from '../helpers.js';

/** SIMD kernels against their scalar twins: same sums in a different order. */
export const TOL_KERNEL_RELATIVE = 1e-5;

type Variant = 'simd' | 'ref' | 'oracle';
const VARIANTS: Variant[] = ['simd', 'ref', 'oracle'];

/**
 * Runs `call` on fresh copies of the same memory region with each variant and compares the
 * whole region afterwards (outputs prefilled with NaN by `setup`, so a missed write shows).
 */
export async function crossCheck(
  t: Test, k: KernelInstance, label: string, floats: number,
  setup: (mem: Float32Array, base: number, r: () => number) => void,
  call: (fn: (name: string, ...args: number[]) => void, base: number) => void,
  f64Slots?: [number, number], // [offset in floats, count of f64] compared as float64
): Promise<void> {
  const mark = k.arena.mark();
  const base = k.arena.allocF32(floats);
  const mem = k.arena.f32(base, floats);
  setup(mem, base, rng(floats));
  const initial = mem.slice();
  const oracle = createOracleKernels(k.memory) as unknown as Record<string, (...a: number[]) => void>;
  const ex = k.exports as unknown as Record<string, (...a: number[]) => void>;
  const results: Float32Array[] = [];
  for (const v of VARIANTS) {
    k.arena.f32(base, floats).set(initial);
    call((name, ...args) => (v === 'oracle' ? oracle[name] : ex[v === 'ref' ? `${name}_ref` : name])(...args), base);
    results.push(k.arena.f32(base, floats).slice());
  }
  k.arena.release(mark);
  const [simd, ref, orc] = results;
  let scale = 0;
  for (let i = 0; i < floats; i++) if (Number.isFinite(ref[i])) scale = Math.max(scale, Math.abs(ref[i]));
  const skip = new Set<number>();
  if (f64Slots) {
    const [off, n] = f64Slots;
    for (let i = off; i < off + 2 * n; i++) skip.add(i);
    const as64 = (a: Float32Array) => new Float64Array(a.buffer, a.byteOffset + off * 4, n);
    const [s64, r64, o64] = results.map(as64);
    let worst = 0, mag = 0;
    for (let i = 0; i < n; i++) {
      mag = Math.max(mag, Math.abs(r64[i]));
      worst = Math.max(worst, Math.abs(s64[i] - r64[i]), Math.abs(o64[i] - r64[i]));
    }
    t.ok(worst <= TOL_KERNEL_RELATIVE * Math.max(mag, 1), `${label}: float64 sums agree (worst ${worst.toExponential(2)}, magnitude ${mag.toExponential(2)})`);
  }
  let bad = -1, nan = -1;
  for (let i = 0; i < floats && bad < 0; i++) {
    if (skip.has(i)) continue;
    const a = simd[i], b = ref[i], c = orc[i];
    if (Number.isNaN(b) || Number.isNaN(a) || Number.isNaN(c)) {
      if (!(Number.isNaN(a) && Number.isNaN(b) && Number.isNaN(c))) bad = i;
      else if (!Number.isNaN(initial[i]) && nan < 0) nan = i;
      continue;
    }
    if (Math.abs(a - b) > TOL_KERNEL_RELATIVE * scale || Math.abs(c - b) > TOL_KERNEL_RELATIVE * scale) bad = i;
  }
  t.equal(bad, -1, `${label}: simd, ref and oracle agree over the region`, bad >= 0 ? { index: bad, simd: simd[bad], ref: ref[bad], oracle: orc[bad], initial: initial[bad] } : {});
  t.equal(nan, -1, `${label}: no NaN produced`);
  // Every NaN-prefilled output must have been written.
  let missed = 0;
  for (let i = 0; i < floats; i++) if (Number.isNaN(initial[i]) && Number.isNaN(ref[i])) missed++;
  t.equal(missed, 0, `${label}: every output written`);
}

/** A padded map set: `maps` planes of (h + 2) × stride, stride = w + 3 (one column of slack). */
export function geometry(w: number, h: number) {
  const stride = w + 3, mapSize = (h + 2) * stride;
  return { stride, mapSize, interior: stride + 1 };
}

