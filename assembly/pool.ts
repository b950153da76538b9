// Max-pooling 2x2, stride 2, floor mode (PyTorch MaxPool2d(2)).
//
//   in  (C, H, W)
//   out (C, H/2, W/2)   out[c, y, x] = max of in[c, 2y..2y+1, 2x..2x+1]; an odd last row or
//                       column is dropped
//
// Only channels [c0, c1) are written. Byte pointers, 4-byte alignment; `out` must not overlap
// `in`. NaN propagates (f32x4.max and the twin's comparison both return NaN for a NaN input).

/** Max-pool 2x2 (floor) over channels [c0, c1). */
export function maxpool2d_f32_2x2(outPtr: usize, inPtr: usize, H: i32, W: i32, c0: i32, c1: i32): void {
  const Ho = H >> 1, Wo = W >> 1;
  const rowBytes = <usize>W << 2;
  for (let c = c0; c < c1; c++) {
    for (let y = 0; y < Ho; y++) {
      const r0 = inPtr + ((<usize>c * H + (y << 1)) * W << 2);
      const r1 = r0 + rowBytes;
      const o = outPtr + ((<usize>c * Ho + y) * Wo << 2);
      let x = 0;
      // 8 outputs from 16 input columns per step
      for (; x + 8 <= Wo; x += 8) {
        const i = <usize>x << 3;
        const m0 = f32x4.max(v128.load(r0 + i), v128.load(r1 + i));
        const m1 = f32x4.max(v128.load(r0 + i, 16), v128.load(r1 + i, 16));
        const m2 = f32x4.max(v128.load(r0 + i, 32), v128.load(r1 + i, 32));
        const m3 = f32x4.max(v128.load(r0 + i, 48), v128.load(r1 + i, 48));
        v128.store(o + (<usize>x << 2), f32x4.max(v128.shuffle<f32>(m0, m1, 0, 2, 4, 6), v128.shuffle<f32>(m0, m1, 1, 3, 5, 7)));
        v128.store(o + (<usize>x << 2), f32x4.max(v128.shuffle<f32>(m2, m3, 0, 2, 4, 6), v128.shuffle<f32>(m2, m3, 1, 3, 5, 7)), 16);
      }
      for (; x < Wo; x++) {
        const i = <usize>x << 3;
        const m = max(max(load<f32>(r0 + i), load<f32>(r0 + i, 4)), max(load<f32>(r1 + i), load<f32>(r1 + i, 4)));
        store<f32>(o + (<usize>x << 2), m);
      }
    }
  }
}

/** Scalar twin of maxpool2d_f32_2x2. */
export function maxpool2d_f32_2x2_ref(outPtr: usize, inPtr: usize, H: i32, W: i32, c0: i32, c1: i32): void {
  const Ho = H >> 1, Wo = W >> 1;
  for (let c = c0; c < c1; c++) {
    for (let y = 0; y < Ho; y++) {
      for (let x = 0; x < Wo; x++) {
        let m = load<f32>(inPtr + (((<usize>c * H + 2 * y) * W + 2 * x) << 2));
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const v = load<f32>(inPtr + (((<usize>c * H + 2 * y + dy) * W + 2 * x + dx) << 2));
            if (!(v <= m)) m = v; // a NaN wins, as in PyTorch
          }
        }
        store<f32>(outPtr + (((<usize>c * Ho + y) * Wo + x) << 2), m);
      }
    }
  }
}
