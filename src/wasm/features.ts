/**
 * Which kernel build this runtime runs: build/kernels-fma.wasm (and -fma-mt) use relaxed SIMD's
 * fused multiply-add (`f32x4.relaxed_madd`), build/kernels.wasm (and -mt) plain SIMD. Both come
 * from the same loops (assembly/madd.ts); the relaxed build is faster where the runtime has it
 * (Chromium, workerd, Node ≥ 22; Node 20 behind a V8 flag, see src/node/kernels.ts) and rounds
 * each multiply-add once instead of twice. Detected once by validating a tiny module.
 */

/** The two kernel builds: 'simd' (plain SIMD, runs wherever SIMD does) and 'fma' (relaxed SIMD). */
export type KernelBuild = 'simd' | 'fma';

/**
 * (module (func (export "f") (result i32)
 *   (i32.trunc_sat_f32_s (f32x4.extract_lane 0
 *     (f32x4.relaxed_madd (v128.const f32x4 1 1 1 1) (v128.const f32x4 2 2 2 2) (v128.const f32x4 3 3 3 3))))))
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 66, 1, 64, 0,
  253, 12, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63, 0, 0, 128, 63,
  253, 12, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64, 0, 0, 0, 64,
  253, 12, 0, 0, 64, 64, 0, 0, 64, 64, 0, 0, 64, 64, 0, 0, 64, 64,
  253, 133, 2, 253, 31, 0, 252, 0, 11,
]);

/** True when this runtime validates relaxed-SIMD code (asked every time: a V8 flag may turn it on later). */
export function relaxedSimdAvailable(): boolean {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The faster build this runtime runs: 'fma' where relaxed SIMD validates, else 'simd'. */
export function bestKernelBuild(): KernelBuild {
  return relaxedSimdAvailable() ? 'fma' : 'simd';
}

/**
 * One of two forms of a module by the runtime's features, e.g. for a bundler's asset URLs:
 * `chooseKernels({ simd: kernelsUrl, fma: kernelsFmaUrl })`.
 */
export function chooseKernels<T>(builds: { simd: T; fma: T }): T {
  return builds[bestKernelBuild()];
}

/** The file of a build in build/: kernels.wasm, kernels-mt.wasm (shared memory), kernels-fma.wasm, kernels-fma-mt.wasm. */
export function kernelFile(build: KernelBuild, threaded: boolean): string {
  return `kernels${build === 'fma' ? '-fma' : ''}${threaded ? '-mt' : ''}.wasm`;
}
