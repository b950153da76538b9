// Instance normalization + ReLU: the upstream BatchNorm2d(affine=False,
// track_running_stats=False) on a batch of one image, followed by ReLU.
//
//   x   (C, P)  P = H·W pixels per channel
//   out (C, P)  out = max((x - mean_c) / sqrt(var_c + eps), 0), var biased (÷ P)
//
// Only channels [c0, c1) are read and written. In place (out == x) is allowed; partial overlap
// is not. Byte pointers, 4-byte alignment.
//
// Statistics: channels reach 613,760 pixels, so sums are taken of x - shift (shift = the
// channel's first value, which removes the bulk of the mean before squaring), in float32
// vectors over blocks of NORM_BLOCK pixels, each block flushed into float64 totals.

/** BatchNorm2d's default eps (PyTorch). Twin: none in src/ (the host never needs it). */
const EPS: f64 = 1e-5;
/** Pixels per float32 partial sum before flushing to float64 (64 per lane). */
const NORM_BLOCK: i32 = 256;

/** Instance norm + ReLU over channels [c0, c1) of (C, P); out may equal x. */
export function norm_relu_f32(outPtr: usize, xPtr: usize, P: i32, c0: i32, c1: i32): void {
  const zero = f32x4.splat(0);
  for (let c = c0; c < c1; c++) {
    const xp = xPtr + (<usize>c * P << 2);
    const op = outPtr + (<usize>c * P << 2);
    const shift = load<f32>(xp);
    const vs = f32x4.splat(shift);
    let s1: f64 = 0, s2: f64 = 0;
    let i = 0;
    for (; i + NORM_BLOCK <= P; i += NORM_BLOCK) {
      let u0 = zero, u1 = zero, q0 = zero, q1 = zero;
      let p = xp + (<usize>i << 2);
      const end = p + (<usize>NORM_BLOCK << 2);
      for (; p < end; p += 32) {
        const d0 = f32x4.sub(v128.load(p), vs);
        const d1 = f32x4.sub(v128.load(p, 16), vs);
        u0 = f32x4.add(u0, d0); u1 = f32x4.add(u1, d1);
        q0 = f32x4.add(q0, f32x4.mul(d0, d0)); q1 = f32x4.add(q1, f32x4.mul(d1, d1));
      }
      const u = f32x4.add(u0, u1), q = f32x4.add(q0, q1);
      s1 += <f64>f32x4.extract_lane(u, 0) + <f64>f32x4.extract_lane(u, 1) + <f64>f32x4.extract_lane(u, 2) + <f64>f32x4.extract_lane(u, 3);
      s2 += <f64>f32x4.extract_lane(q, 0) + <f64>f32x4.extract_lane(q, 1) + <f64>f32x4.extract_lane(q, 2) + <f64>f32x4.extract_lane(q, 3);
    }
    for (; i < P; i++) {
      const d = <f64>load<f32>(xp + (<usize>i << 2)) - <f64>shift;
      s1 += d; s2 += d * d;
    }
    const m = s1 / <f64>P; // mean of x - shift
    const variance = max(s2 / <f64>P - m * m, 0);
    const inv = 1 / Math.sqrt(variance + EPS);
    const mean = <f64>shift + m;
    // y = max((x - mean)·inv, 0): subtracting first keeps a constant channel at exactly 0.
    const fm = <f32>mean, fi = <f32>inv;
    const vm = f32x4.splat(fm), vi = f32x4.splat(fi);
    i = 0;
    for (; i + 8 <= P; i += 8) {
      const off = <usize>i << 2;
      const y0 = f32x4.max(f32x4.mul(f32x4.sub(v128.load(xp + off), vm), vi), zero);
      const y1 = f32x4.max(f32x4.mul(f32x4.sub(v128.load(xp + off, 16), vm), vi), zero);
      v128.store(op + off, y0);
      v128.store(op + off, y1, 16);
    }
    for (; i < P; i++) {
      const off = <usize>i << 2;
      store<f32>(op + off, max((load<f32>(xp + off) - fm) * fi, <f32>0));
    }
  }
}

/** Scalar twin of norm_relu_f32: two passes in float64. */
export function norm_relu_f32_ref(outPtr: usize, xPtr: usize, P: i32, c0: i32, c1: i32): void {
  for (let c = c0; c < c1; c++) {
    const xp = xPtr + (<usize>c * P << 2);
    const op = outPtr + (<usize>c * P << 2);
    let s: f64 = 0;
    for (let i = 0; i < P; i++) s += <f64>load<f32>(xp + (<usize>i << 2));
    const mean = s / <f64>P;
    let q: f64 = 0;
    for (let i = 0; i < P; i++) {
      const d = <f64>load<f32>(xp + (<usize>i << 2)) - mean;
      q += d * d;
    }
    const inv = 1 / Math.sqrt(q / <f64>P + EPS);
    for (let i = 0; i < P; i++) {
      const v = (<f64>load<f32>(xp + (<usize>i << 2)) - mean) * inv;
      store<f32>(op + (<usize>i << 2), <f32>max(v, 0));
    }
  }
}
