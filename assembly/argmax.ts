// Per-pixel argmax over classes: the segmentation mask.
//
//   logits (K, P)   P pixels per class plane
//   out    (P)      u8 class index; ties go to the lowest class (only a strictly greater value
//                   replaces the best so far), so all-zero logits give class 0. Comparisons with
//                   NaN are false: a NaN never replaces the best, and a NaN in class 0 keeps
//                   class 0. Requires 1 ≤ K ≤ 256.
//
// Only pixels [p0, p1) are written. Byte pointers; logits 4-byte aligned, out any alignment.

/** Argmax over K class planes for pixels [p0, p1); ties to the lowest class. */
export function argmax_f32_u8(outPtr: usize, logitsPtr: usize, K: i32, P: i32, p0: i32, p1: i32): void {
  const plane = <usize>P << 2;
  let p = p0;
  // 16 pixels per step: 4 vectors of best values and their i32 classes, narrowed to 16 bytes.
  for (; p + 16 <= p1; p += 16) {
    let q = logitsPtr + (<usize>p << 2);
    let m0 = v128.load(q), m1 = v128.load(q, 16), m2 = v128.load(q, 32), m3 = v128.load(q, 48);
    let i0 = i32x4.splat(0), i1 = i32x4.splat(0), i2 = i32x4.splat(0), i3 = i32x4.splat(0);
    for (let k = 1; k < K; k++) {
      q += plane;
      const kv = i32x4.splat(k);
      const v0 = v128.load(q), v1 = v128.load(q, 16), v2 = v128.load(q, 32), v3 = v128.load(q, 48);
      const g0 = f32x4.gt(v0, m0), g1 = f32x4.gt(v1, m1), g2 = f32x4.gt(v2, m2), g3 = f32x4.gt(v3, m3);
      m0 = v128.bitselect(v0, m0, g0); i0 = v128.bitselect(kv, i0, g0);
      m1 = v128.bitselect(v1, m1, g1); i1 = v128.bitselect(kv, i1, g1);
      m2 = v128.bitselect(v2, m2, g2); i2 = v128.bitselect(kv, i2, g2);
      m3 = v128.bitselect(v3, m3, g3); i3 = v128.bitselect(kv, i3, g3);
    }
    v128.store(outPtr + <usize>p, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(i0, i1), i16x8.narrow_i32x4_s(i2, i3)));
  }
  if (p < p1) argmax_f32_u8_ref(outPtr, logitsPtr, K, P, p, p1);
}

/** Scalar twin of argmax_f32_u8. */
export function argmax_f32_u8_ref(outPtr: usize, logitsPtr: usize, K: i32, P: i32, p0: i32, p1: i32): void {
  for (let p = p0; p < p1; p++) {
    let best = load<f32>(logitsPtr + (<usize>p << 2));
    let bi = 0;
    for (let k = 1; k < K; k++) {
      const v = load<f32>(logitsPtr + ((<usize>k * P + p) << 2));
      if (v > best) { best = v; bi = k; }
    }
    store<u8>(outPtr + <usize>p, <u8>bi);
  }
}
