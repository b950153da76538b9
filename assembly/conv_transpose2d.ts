// Transposed 2-D convolution, kernel 2x2, stride 2, no padding, no bias (the UNet's upsampling).
//
//   in  (Cin, H, W)
//   w   (Cin, Cout, 2, 2)   PyTorch ConvTranspose2d layout
//   out (Cout, 2H, 2W)      out[co, 2y+dy, 2x+dx] = Σ_ci in[ci, y, x] · w[ci, co, dy, dx]
//
// Only output channels [co0, co1) are written (whole planes). Byte pointers, 4-byte alignment;
// `out` must not overlap `in` or `w`.

/**
 * Output channel `co`, input row y, input columns xa..xa+3 and xb..xb+3: 8 accumulators
 * (2 vectors × dy × dx), interleaved on store into output rows 2y and 2y+1.
 */
// @ts-ignore: decorator
@inline function tile2x2s2(outPtr: usize, inPtr: usize, wPtr: usize, Cin: i32, Cout: i32, H: i32, W: i32, co: i32, y: i32, xa: i32, xb: i32): void {
  const plane = <usize>H * <usize>W << 2;
  const wStride = <usize>Cout << 4; // bytes between w[ci, co] and w[ci+1, co]
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let b00 = f32x4.splat(0), b01 = f32x4.splat(0), b10 = f32x4.splat(0), b11 = f32x4.splat(0);
  let pa = inPtr + ((<usize>y * W + xa) << 2);
  let pb = inPtr + ((<usize>y * W + xb) << 2);
  let wp = wPtr + (<usize>co << 4);
  for (let ci = 0; ci < Cin; ci++) {
    const va = v128.load(pa), vb = v128.load(pb);
    let s = v128.load32_splat(wp, 0); // dy 0, dx 0
    a00 = f32x4.add(a00, f32x4.mul(s, va)); b00 = f32x4.add(b00, f32x4.mul(s, vb));
    s = v128.load32_splat(wp, 4); // dy 0, dx 1
    a01 = f32x4.add(a01, f32x4.mul(s, va)); b01 = f32x4.add(b01, f32x4.mul(s, vb));
    s = v128.load32_splat(wp, 8); // dy 1, dx 0
    a10 = f32x4.add(a10, f32x4.mul(s, va)); b10 = f32x4.add(b10, f32x4.mul(s, vb));
    s = v128.load32_splat(wp, 12); // dy 1, dx 1
    a11 = f32x4.add(a11, f32x4.mul(s, va)); b11 = f32x4.add(b11, f32x4.mul(s, vb));
    pa += plane; pb += plane;
    wp += wStride;
  }
  const W2 = <usize>W << 1;
  const row0 = outPtr + ((<usize>co * (<usize>H << 1) + (<usize>y << 1)) * W2 << 2);
  const row1 = row0 + (W2 << 2);
  const oa = <usize>xa << 3, ob = <usize>xb << 3;
  v128.store(row0 + oa, v128.shuffle<f32>(a00, a01, 0, 4, 1, 5));
  v128.store(row0 + oa, v128.shuffle<f32>(a00, a01, 2, 6, 3, 7), 16);
  v128.store(row1 + oa, v128.shuffle<f32>(a10, a11, 0, 4, 1, 5));
  v128.store(row1 + oa, v128.shuffle<f32>(a10, a11, 2, 6, 3, 7), 16);
  v128.store(row0 + ob, v128.shuffle<f32>(b00, b01, 0, 4, 1, 5));
  v128.store(row0 + ob, v128.shuffle<f32>(b00, b01, 2, 6, 3, 7), 16);
  v128.store(row1 + ob, v128.shuffle<f32>(b10, b11, 0, 4, 1, 5));
  v128.store(row1 + ob, v128.shuffle<f32>(b10, b11, 2, 6, 3, 7), 16);
}

/**
 * Transposed convolution 2x2 stride 2: in (Cin, H, W), w (Cin, Cout, 2, 2), out (Cout, 2H, 2W);
 * writes output channels [co0, co1). W < 4 falls back to the scalar twin.
 */
export function conv_transpose2d_f32_2x2s2(outPtr: usize, inPtr: usize, wPtr: usize, Cin: i32, Cout: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  if (W < 4) {
    conv_transpose2d_f32_2x2s2_ref(outPtr, inPtr, wPtr, Cin, Cout, H, W, co0, co1);
    return;
  }
  for (let co = co0; co < co1; co++) {
    for (let y = 0; y < H; y++) {
      let x = 0;
      for (; x + 8 <= W; x += 8) tile2x2s2(outPtr, inPtr, wPtr, Cin, Cout, H, W, co, y, x, x + 4);
      if (x < W) tile2x2s2(outPtr, inPtr, wPtr, Cin, Cout, H, W, co, y, max(W - 8, 0), W - 4);
    }
  }
}

/** Scalar twin of conv_transpose2d_f32_2x2s2 (any W ≥ 1). */
export function conv_transpose2d_f32_2x2s2_ref(outPtr: usize, inPtr: usize, wPtr: usize, Cin: i32, Cout: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  const W2 = W << 1;
  for (let co = co0; co < co1; co++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            let s: f32 = 0;
            for (let ci = 0; ci < Cin; ci++) {
              s += load<f32>(inPtr + (((<usize>ci * H + y) * W + x) << 2)) *
                load<f32>(wPtr + ((((<usize>ci * Cout + co) << 2) + (dy << 1) + dx) << 2));
            }
            store<f32>(outPtr + (((<usize>co * (H << 1) + (y << 1) + dy) * W2 + (x << 1) + dx) << 2), s);
          }
        }
      }
    }
  }
}
