// The arithmetic ceiling of 128-bit WASM SIMD on this machine: independent chains of
// a = a*m + c on f32x4 (8 flop per chain per step) through the kernels' own multiply-add
// (assembly/madd.ts): f32x4.mul then f32x4.add, or one f32x4.relaxed_madd in the relaxed-SIMD
// build (dist-bench/ceiling-fma.wasm, ~50 GFLOP/s per core, 8 chains). With too few chains
// the add latency bounds the rate; with too many the chains spill out of registers; the best
// count is the machine's ceiling (measured on a 2-vCPU x64 guest: about 45 GFLOP/s per core, 12 chains).
// Built on its own (not part of build/kernels.wasm) by `npm run asbuild:ceiling`:
//   asc bench/assembly/ceiling.ts --config /dev/null -o dist-bench/ceiling.wasm -O3 --noAssert --enable simd --runtime stub --use abort=
//   (the same with --enable relaxed-simd -o dist-bench/ceiling-fma.wasm)
// Each function runs `steps` steps of its chains and returns the sum of their lanes, so nothing
// can be optimized away; m and c come from the caller so nothing folds to constants.

import { madd } from '../../assembly/madd';

// @ts-ignore: decorator
@inline function lanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** 1 chain: 8 flop per step. */
export function madd_chains1(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
  }
  return lanes(a0);
}

/** 2 chains: 16 flop per step. */
export function madd_chains2(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
  }
  return lanes(a0) + lanes(a1);
}

/** 4 chains: 32 flop per step. */
export function madd_chains4(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3);
}

/** 6 chains: 48 flop per step. */
export function madd_chains6(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  let a4 = f32x4.splat(<f32>5 * c);
  let a5 = f32x4.splat(<f32>6 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc);
    a5 = madd(a5, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3) + lanes(a4) + lanes(a5);
}

/** 8 chains: 64 flop per step. */
export function madd_chains8(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  let a4 = f32x4.splat(<f32>5 * c);
  let a5 = f32x4.splat(<f32>6 * c);
  let a6 = f32x4.splat(<f32>7 * c);
  let a7 = f32x4.splat(<f32>8 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc);
    a5 = madd(a5, vm, vc);
    a6 = madd(a6, vm, vc);
    a7 = madd(a7, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3) + lanes(a4) + lanes(a5) + lanes(a6) + lanes(a7);
}

/** 10 chains: 80 flop per step. */
export function madd_chains10(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  let a4 = f32x4.splat(<f32>5 * c);
  let a5 = f32x4.splat(<f32>6 * c);
  let a6 = f32x4.splat(<f32>7 * c);
  let a7 = f32x4.splat(<f32>8 * c);
  let a8 = f32x4.splat(<f32>9 * c);
  let a9 = f32x4.splat(<f32>10 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc);
    a5 = madd(a5, vm, vc);
    a6 = madd(a6, vm, vc);
    a7 = madd(a7, vm, vc);
    a8 = madd(a8, vm, vc);
    a9 = madd(a9, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3) + lanes(a4) + lanes(a5) + lanes(a6) + lanes(a7) + lanes(a8) + lanes(a9);
}

/** 12 chains: 96 flop per step. */
export function madd_chains12(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  let a4 = f32x4.splat(<f32>5 * c);
  let a5 = f32x4.splat(<f32>6 * c);
  let a6 = f32x4.splat(<f32>7 * c);
  let a7 = f32x4.splat(<f32>8 * c);
  let a8 = f32x4.splat(<f32>9 * c);
  let a9 = f32x4.splat(<f32>10 * c);
  let a10 = f32x4.splat(<f32>11 * c);
  let a11 = f32x4.splat(<f32>12 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc);
    a5 = madd(a5, vm, vc);
    a6 = madd(a6, vm, vc);
    a7 = madd(a7, vm, vc);
    a8 = madd(a8, vm, vc);
    a9 = madd(a9, vm, vc);
    a10 = madd(a10, vm, vc);
    a11 = madd(a11, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3) + lanes(a4) + lanes(a5) + lanes(a6) + lanes(a7) + lanes(a8) + lanes(a9) + lanes(a10) + lanes(a11);
}

/** 14 chains: 112 flop per step. */
export function madd_chains14(steps: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let a0 = f32x4.splat(<f32>1 * c);
  let a1 = f32x4.splat(<f32>2 * c);
  let a2 = f32x4.splat(<f32>3 * c);
  let a3 = f32x4.splat(<f32>4 * c);
  let a4 = f32x4.splat(<f32>5 * c);
  let a5 = f32x4.splat(<f32>6 * c);
  let a6 = f32x4.splat(<f32>7 * c);
  let a7 = f32x4.splat(<f32>8 * c);
  let a8 = f32x4.splat(<f32>9 * c);
  let a9 = f32x4.splat(<f32>10 * c);
  let a10 = f32x4.splat(<f32>11 * c);
  let a11 = f32x4.splat(<f32>12 * c);
  let a12 = f32x4.splat(<f32>13 * c);
  let a13 = f32x4.splat(<f32>14 * c);
  for (let i = 0; i < steps; i++) {
    a0 = madd(a0, vm, vc);
    a1 = madd(a1, vm, vc);
    a2 = madd(a2, vm, vc);
    a3 = madd(a3, vm, vc);
    a4 = madd(a4, vm, vc);
    a5 = madd(a5, vm, vc);
    a6 = madd(a6, vm, vc);
    a7 = madd(a7, vm, vc);
    a8 = madd(a8, vm, vc);
    a9 = madd(a9, vm, vc);
    a10 = madd(a10, vm, vc);
    a11 = madd(a11, vm, vc);
    a12 = madd(a12, vm, vc);
    a13 = madd(a13, vm, vc);
  }
  return lanes(a0) + lanes(a1) + lanes(a2) + lanes(a3) + lanes(a4) + lanes(a5) + lanes(a6) + lanes(a7) + lanes(a8) + lanes(a9) + lanes(a10) + lanes(a11) + lanes(a12) + lanes(a13);
}
