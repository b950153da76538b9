// Transposed 2-D convolution, kernel 2x2, stride 2, no padding, no bias (the UNet's upsampling).
//
//   in  (Cin, H, W)
//   w   (Cin, Cout, 2, 2)   PyTorch ConvTranspose2d layout
//   out (Cout, 2H, 2W)      out[co, 2y+dy, 2x+dx] = Σ_ci in[ci, y, x] · w[ci, co, dy, dx]
//
// Only output channels [co0, co1) are written (whole planes). Byte pointers, 4-byte alignment;
// `out` must not overlap `in` or `w`.

/**
 * One output channel, one input row, input columns xa..xa+3 and xb..xb+3: 8 accumulators
 * (2 vectors × dy × dx), interleaved on store into output rows row0 (dy 0) and row0 + 2W (dy 1).
 * `inRow` advances by `inStride` bytes per input channel, `wp` (4 floats: dy, dx) by `wStride`.
 */
// @ts-ignore: decorator
@inline function tile2x2s2(row0: usize, inRow: usize, inStride: usize, wp: usize, wStride: usize, Cin: i32, W: i32, xa: i32, xb: i32): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let b00 = f32x4.splat(0), b01 = f32x4.splat(0), b10 = f32x4.splat(0), b11 = f32x4.splat(0);
  let pa = inRow + (<usize>xa << 2);
  let pb = inRow + (<usize>xb << 2);
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
    pa += inStride; pb += inStride;
    wp += wStride;
  }
  const row1 = row0 + (<usize>W << 3);
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
 * writes output channels [co0, co1). Scratch: Cin·(W + 4) floats (one per thread), or 0 for none
 * (slower when Cin is large). W < 4 falls back to the scalar twin.
 * With scratch, input row y of every channel is first copied together (Cin·W floats) and, per
 * output channel, its Cin weight quads (w[:, co] is strided by Cout·16 bytes) are gathered: with
 * Cin = 1024 the strided originals touch a page per channel, which measured 3× slower.
 */
export function conv_transpose2d_f32_2x2s2(outPtr: usize, inPtr: usize, wPtr: usize, Cin: i32, Cout: i32, H: i32, W: i32, co0: i32, co1: i32, scratch: usize): void {
  if (W < 4) {
    conv_transpose2d_f32_2x2s2_ref(outPtr, inPtr, wPtr, Cin, Cout, H, W, co0, co1, scratch);
    return;
  }
  const rowBytes = <usize>W << 2;
  const plane = <usize>H * rowBytes;
  const packed = scratch != 0;
  const rows = scratch; // (Cin, W): row y of every input channel
  const wq = scratch + <usize>Cin * rowBytes; // (Cin, 4): w[:, co, :, :]
  const wStride = <usize>Cout << 4;
  const inStride = packed ? rowBytes : plane;
  for (let y = 0; y < H; y++) {
    if (packed) {
      for (let ci = 0; ci < Cin; ci++) memory.copy(rows + <usize>ci * rowBytes, inPtr + <usize>ci * plane + <usize>y * rowBytes, rowBytes);
    }
    const inRow = packed ? rows : inPtr + <usize>y * rowBytes;
    for (let co = co0; co < co1; co++) {
      let wp = wPtr + (<usize>co << 4);
      if (packed) {
        for (let ci = 0; ci < Cin; ci++) v128.store(wq + (<usize>ci << 4), v128.load(wp + <usize>ci * wStride));
        wp = wq;
      }
      const ws: usize = packed ? 16 : wStride;
      const row0 = outPtr + (<usize>co * (plane << 2)) + (<usize>y * (rowBytes << 2)); // out[co, 2y, 0]
      let x = 0;
      for (; x + 8 <= W; x += 8) tile2x2s2(row0, inRow, inStride, wp, ws, Cin, W, x, x + 4);
      if (x < W) tile2x2s2(row0, inRow, inStride, wp, ws, Cin, W, max(W - 8, 0), W - 4);
    }
  }
}

/** Scalar twin of conv_transpose2d_f32_2x2s2 (any W ≥ 1; the scratch is not used). */
export function conv_transpose2d_f32_2x2s2_ref(outPtr: usize, inPtr: usize, wPtr: usize, Cin: i32, Cout: i32, H: i32, W: i32, co0: i32, co1: i32, scratch: usize): void {
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
