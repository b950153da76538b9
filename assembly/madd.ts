// madd(a, b, c) = a·b + c on f32x4: the one multiply-add of the SIMD kernels, so the plain and
// the relaxed-SIMD builds come from the same loops. The build with `--enable relaxed-simd`
// (asconfig targets fma, fma-mt) makes it f32x4.relaxed_madd, which V8 emits as one fused
// multiply-add on x64 with FMA3 (one rounding instead of two; the spec lets a runtime without FMA
// round twice); every other build keeps the rounded multiply, then the add.

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
