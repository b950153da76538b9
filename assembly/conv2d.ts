// 2-D convolutions over one planar CHW float32 image, stride 1, no bias.
//
//   in  (C, H, W)        activations
//   w   (K, C, kh, kw)   weights, PyTorch layout
//   out (K, H, W)        only output channels [co0, co1) are written (whole planes)
//
// Pointers are byte offsets, 4-byte alignment is enough (v128 loads and stores are unaligned).
// `out` must not overlap `in` or `w`. Output channel ranges let several threads that share the
// memory split one call: disjoint [co0, co1) ranges write disjoint bytes.
//
// SIMD kernels block 4 output channels × 2 vectors of 4 pixels (8 accumulators, 11 live v128
// values: under the 16 xmm registers V8 allocates on x64). A block whose channels run past co1
// repeats the last channel's weights and skips those stores, so one code path serves every
// channel count. Column tails are covered by overlapping the last block with the previous one
// (stores are plain writes, so recomputing a pixel is harmless).

// Where a vector of 4 output pixels sits in its row: decides how its 3 taps are loaded.
const MID: i32 = 0; // x ≥ 1 and x + 5 ≤ W: the taps x-1, x, x+1 are plain loads
const LEFT: i32 = 1; // x = 0: tap x-1 is [0, r0, r1, r2]
const RIGHT: i32 = 2; // x = W-4: tap x+1 is [r(W-3), r(W-2), r(W-1), 0]

/** The 4 input values under tap `kx` (0, 1, 2 = column offset -1, 0, +1) of the vector at `p` (= row + x). */
// @ts-ignore: decorator
@inline function tap3(p: usize, kx: i32, mode: i32): v128 {
  if (kx == 0) {
    if (mode == LEFT) return v128.shuffle<f32>(f32x4.splat(0), v128.load(p), 3, 4, 5, 6);
    return v128.load(p - 4);
  }
  if (kx == 1) return v128.load(p);
  if (mode == RIGHT) return v128.shuffle<f32>(v128.load(p), f32x4.splat(0), 1, 2, 3, 4);
  return v128.load(p + 4);
}

/**
 * out[co..co+3, y, xa..xa+3] and [.., xb..xb+3] for a 3x3 pad-1 convolution. Channels at or past
 * `co1` are computed with the weights of co1-1 and not stored.
 */
// @ts-ignore: decorator
@inline function tile3x3(
  outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co: i32, co1: i32,
  y: i32, xa: i32, modeA: i32, xb: i32, modeB: i32,
): void {
  const plane = <usize>H * <usize>W << 2;
  const rowBytes = <usize>W << 2;
  const wStride = <usize>C * 36; // bytes between two output channels' weights
  const last = co1 - 1;
  let w0 = wPtr + <usize>co * wStride;
  let w1 = wPtr + <usize>min(co + 1, last) * wStride;
  let w2 = wPtr + <usize>min(co + 2, last) * wStride;
  let w3 = wPtr + <usize>min(co + 3, last) * wStride;
  const kyLo = y == 0 ? 1 : 0;
  const kyHi = y == H - 1 ? 1 : 2;
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
  // Row y-1 of channel 0 (may be "before" the image; only rows kyLo..kyHi are read).
  let rowA = inPtr + (<usize>(y - 1) * rowBytes) + (<usize>xa << 2);
  let rowB = inPtr + (<usize>(y - 1) * rowBytes) + (<usize>xb << 2);
  for (let c = 0; c < C; c++) {
    for (let ky = kyLo; ky <= kyHi; ky++) {
      const pa = rowA + <usize>ky * rowBytes;
      const pb = rowB + <usize>ky * rowBytes;
      const wo = <usize>ky * 12;
      let va = tap3(pa, 0, modeA), vb = tap3(pb, 0, modeB);
      let s = v128.load32_splat(w0 + wo, 0);
      a0 = f32x4.add(a0, f32x4.mul(s, va)); b0 = f32x4.add(b0, f32x4.mul(s, vb));
      s = v128.load32_splat(w1 + wo, 0);
      a1 = f32x4.add(a1, f32x4.mul(s, va)); b1 = f32x4.add(b1, f32x4.mul(s, vb));
      s = v128.load32_splat(w2 + wo, 0);
      a2 = f32x4.add(a2, f32x4.mul(s, va)); b2 = f32x4.add(b2, f32x4.mul(s, vb));
      s = v128.load32_splat(w3 + wo, 0);
      a3 = f32x4.add(a3, f32x4.mul(s, va)); b3 = f32x4.add(b3, f32x4.mul(s, vb));
      va = tap3(pa, 1, modeA); vb = tap3(pb, 1, modeB);
      s = v128.load32_splat(w0 + wo, 4);
      a0 = f32x4.add(a0, f32x4.mul(s, va)); b0 = f32x4.add(b0, f32x4.mul(s, vb));
      s = v128.load32_splat(w1 + wo, 4);
      a1 = f32x4.add(a1, f32x4.mul(s, va)); b1 = f32x4.add(b1, f32x4.mul(s, vb));
      s = v128.load32_splat(w2 + wo, 4);
      a2 = f32x4.add(a2, f32x4.mul(s, va)); b2 = f32x4.add(b2, f32x4.mul(s, vb));
      s = v128.load32_splat(w3 + wo, 4);
      a3 = f32x4.add(a3, f32x4.mul(s, va)); b3 = f32x4.add(b3, f32x4.mul(s, vb));
      va = tap3(pa, 2, modeA); vb = tap3(pb, 2, modeB);
      s = v128.load32_splat(w0 + wo, 8);
      a0 = f32x4.add(a0, f32x4.mul(s, va)); b0 = f32x4.add(b0, f32x4.mul(s, vb));
      s = v128.load32_splat(w1 + wo, 8);
      a1 = f32x4.add(a1, f32x4.mul(s, va)); b1 = f32x4.add(b1, f32x4.mul(s, vb));
      s = v128.load32_splat(w2 + wo, 8);
      a2 = f32x4.add(a2, f32x4.mul(s, va)); b2 = f32x4.add(b2, f32x4.mul(s, vb));
      s = v128.load32_splat(w3 + wo, 8);
      a3 = f32x4.add(a3, f32x4.mul(s, va)); b3 = f32x4.add(b3, f32x4.mul(s, vb));
    }
    rowA += plane; rowB += plane;
    w0 += 36; w1 += 36; w2 += 36; w3 += 36;
  }
  const oa = outPtr + <usize>co * plane + <usize>y * rowBytes + (<usize>xa << 2);
  const ob = outPtr + <usize>co * plane + <usize>y * rowBytes + (<usize>xb << 2);
  v128.store(oa, a0); v128.store(ob, b0);
  if (co + 1 <= last) { v128.store(oa + plane, a1); v128.store(ob + plane, b1); }
  if (co + 2 <= last) { v128.store(oa + 2 * plane, a2); v128.store(ob + 2 * plane, b2); }
  if (co + 3 <= last) { v128.store(oa + 3 * plane, a3); v128.store(ob + 3 * plane, b3); }
}

/**
 * 3x3 convolution, padding 1, stride 1. in (C, H, W), w (K, C, 3, 3), out (K, H, W); writes
 * output channels [co0, co1). W < 5 falls back to the scalar twin.
 */
export function conv2d_f32_3x3p1(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  if (W < 5) {
    conv2d_f32_3x3p1_ref(outPtr, inPtr, wPtr, C, H, W, co0, co1);
    return;
  }
  for (let co = co0; co < co1; co += 4) {
    for (let y = 0; y < H; y++) {
      // The two row ends together, then pairs of vectors over [4, W-4); the last pair overlaps.
      tile3x3(outPtr, inPtr, wPtr, C, H, W, co, co1, y, 0, LEFT, W - 4, RIGHT);
      let x = 4;
      for (; x + 8 <= W - 4; x += 8) tile3x3(outPtr, inPtr, wPtr, C, H, W, co, co1, y, x, MID, x + 4, MID);
      if (x < W - 4) tile3x3(outPtr, inPtr, wPtr, C, H, W, co, co1, y, x, MID, W - 8, MID);
    }
  }
}

/** Scalar twin of conv2d_f32_3x3p1 (any W ≥ 1): the specification. */
export function conv2d_f32_3x3p1_ref(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  for (let co = co0; co < co1; co++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let s: f32 = 0;
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < 3; ky++) {
            const yy = y + ky - 1;
            if (yy < 0 || yy >= H) continue;
            for (let kx = 0; kx < 3; kx++) {
              const xx = x + kx - 1;
              if (xx < 0 || xx >= W) continue;
              const wv = load<f32>(wPtr + ((((<usize>co * C + c) * 3 + ky) * 3 + kx) << 2));
              const iv = load<f32>(inPtr + ((((<usize>c * H) + yy) * W + xx) << 2));
              s += wv * iv;
            }
          }
        }
        store<f32>(outPtr + ((((<usize>co * H) + y) * W + x) << 2), s);
      }
    }
  }
}

/**
 * out[co..co+3, p..p+3] and [.., q..q+3] of a 1x1 convolution over P = H·W pixels (see tile3x3
 * for the channel clamp).
 */
// @ts-ignore: decorator
@inline function tile1x1(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, P: i32, co: i32, co1: i32, p: i32, q: i32): void {
  const plane = <usize>P << 2;
  const wStride = <usize>C << 2;
  const last = co1 - 1;
  let w0 = wPtr + <usize>co * wStride;
  let w1 = wPtr + <usize>min(co + 1, last) * wStride;
  let w2 = wPtr + <usize>min(co + 2, last) * wStride;
  let w3 = wPtr + <usize>min(co + 3, last) * wStride;
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
  let pa = inPtr + (<usize>p << 2);
  let pb = inPtr + (<usize>q << 2);
  for (let c = 0; c < C; c++) {
    const va = v128.load(pa), vb = v128.load(pb);
    let s = v128.load32_splat(w0);
    a0 = f32x4.add(a0, f32x4.mul(s, va)); b0 = f32x4.add(b0, f32x4.mul(s, vb));
    s = v128.load32_splat(w1);
    a1 = f32x4.add(a1, f32x4.mul(s, va)); b1 = f32x4.add(b1, f32x4.mul(s, vb));
    s = v128.load32_splat(w2);
    a2 = f32x4.add(a2, f32x4.mul(s, va)); b2 = f32x4.add(b2, f32x4.mul(s, vb));
    s = v128.load32_splat(w3);
    a3 = f32x4.add(a3, f32x4.mul(s, va)); b3 = f32x4.add(b3, f32x4.mul(s, vb));
    pa += plane; pb += plane;
    w0 += 4; w1 += 4; w2 += 4; w3 += 4;
  }
  const oa = outPtr + <usize>co * plane + (<usize>p << 2);
  const ob = outPtr + <usize>co * plane + (<usize>q << 2);
  v128.store(oa, a0); v128.store(ob, b0);
  if (co + 1 <= last) { v128.store(oa + plane, a1); v128.store(ob + plane, b1); }
  if (co + 2 <= last) { v128.store(oa + 2 * plane, a2); v128.store(ob + 2 * plane, b2); }
  if (co + 3 <= last) { v128.store(oa + 3 * plane, a3); v128.store(ob + 3 * plane, b3); }
}

/**
 * 1x1 convolution. in (C, H, W), w (K, C, 1, 1), out (K, H, W); writes output channels
 * [co0, co1). H·W < 4 falls back to the scalar twin.
 */
export function conv2d_f32_1x1(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  const P = H * W;
  if (P < 4) {
    conv2d_f32_1x1_ref(outPtr, inPtr, wPtr, C, H, W, co0, co1);
    return;
  }
  for (let co = co0; co < co1; co += 4) {
    let p = 0;
    for (; p + 8 <= P; p += 8) tile1x1(outPtr, inPtr, wPtr, C, P, co, co1, p, p + 4);
    if (p < P) tile1x1(outPtr, inPtr, wPtr, C, P, co, co1, max(P - 8, 0), P - 4);
  }
}

/** Scalar twin of conv2d_f32_1x1. */
export function conv2d_f32_1x1_ref(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32): void {
  const P = H * W;
  for (let co = co0; co < co1; co++) {
    for (let p = 0; p < P; p++) {
      let s: f32 = 0;
      for (let c = 0; c < C; c++) {
        s += load<f32>(wPtr + ((<usize>co * C + c) << 2)) * load<f32>(inPtr + ((<usize>c * P + p) << 2));
      }
      store<f32>(outPtr + ((<usize>co * P + p) << 2), s);
    }
  }
}

// ---- Winograd F(2×2, 3×3) (Lavin & Gray 2015): 16 multiplies per 2×2 output tile and channel
// pair instead of 36. Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A with
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 -1 -1].
// Weights are transformed once per layer (conv2d_f32_3x3p1_f23_weights); each band of two output
// rows transforms its input tiles into scratch, then 16 small GEMMs (one per ξ = 4i + j) run with
// the same 4-channel × 8-tile register block as the 1x1 kernel, and the output transform writes
// the two rows. The specification is conv2d_f32_3x3p1_ref on the untransformed weights (the tests
// compare the two); rounding differs from the direct kernel by a few ulps of Σ|w·x|.

/** Output-channel block × tile block of the Winograd GEMM (twin: wino23ScratchFloats in src/wasm/kernels.ts). */
const F23_TILES: i32 = 8;

/**
 * Winograd weights U (16, K, C) from w (K, C, 3, 3): U[4i+j, k, c] = (G g Gᵀ)[i, j]. Scalar (once
 * per layer).
 */
export function conv2d_f32_3x3p1_f23_weights(uPtr: usize, wPtr: usize, K: i32, C: i32): void {
  const plane = <usize>K * C << 2; // bytes of one ξ slice of U
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < C; c++) {
      const g = wPtr + ((<usize>k * C + c) * 36); // (3, 3)
      const u = uPtr + ((<usize>k * C + c) << 2);
      for (let x = 0; x < 3; x++) {
        // column x of G g: (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2) over rows y
        const a = load<f32>(g + (<usize>x << 2)), b = load<f32>(g + 12 + (<usize>x << 2)), d = load<f32>(g + 24 + (<usize>x << 2));
        store<f32>(u + <usize>x * plane, a); // temporarily (i, x) at ξ slots 0..2 of rows i; finished below
        store<f32>(u + <usize>(4 + x) * plane, (a + b + d) * 0.5);
        store<f32>(u + <usize>(8 + x) * plane, (a - b + d) * 0.5);
        store<f32>(u + <usize>(12 + x) * plane, d);
      }
      for (let i = 0; i < 4; i++) {
        // row i of (G g) Gᵀ
        const r = u + <usize>(4 * i) * plane;
        const r0 = load<f32>(r), r1 = load<f32>(r + plane), r2 = load<f32>(r + 2 * plane);
        store<f32>(r, r0);
        store<f32>(r + plane, (r0 + r1 + r2) * 0.5);
        store<f32>(r + 2 * plane, (r0 - r1 + r2) * 0.5);
        store<f32>(r + 3 * plane, r2);
      }
    }
  }
}

/** Floats of scratch conv2d_f32_3x3p1_f23 needs (twin: src/wasm/kernels.ts). */
// V (16, C, Tp) with Tp = ceil(ceil(W/2) / 8)·8, then M (16, 4, 8).

/** Input transform of band ty: V[ξ, c, t] = (Bᵀ d B)[i, j] for the 4×4 patch at rows 2ty-1.., cols 2t-1... */
function f23Input(vPtr: usize, inPtr: usize, C: i32, H: i32, W: i32, ty: i32, T: i32, Tp: i32): void {
  const vPlane = <usize>C * Tp << 2; // bytes of one ξ slice of V
  const y0 = 2 * ty - 1;
  for (let c = 0; c < C; c++) {
    const ch = inPtr + (<usize>c * H * W << 2);
    const vc = vPtr + (<usize>c * Tp << 2);
    for (let t = 0; t < T; t++) {
      const x0 = 2 * t - 1;
      // 4×4 patch, zero outside the image; rows combined first: (Bᵀ d) rows
      let p00: f32 = 0, p01: f32 = 0, p02: f32 = 0, p03: f32 = 0;
      let p10: f32 = 0, p11: f32 = 0, p12: f32 = 0, p13: f32 = 0;
      let p20: f32 = 0, p21: f32 = 0, p22: f32 = 0, p23: f32 = 0;
      let p30: f32 = 0, p31: f32 = 0, p32: f32 = 0, p33: f32 = 0;
      const inside = y0 >= 0 && y0 + 4 <= H && x0 >= 0 && x0 + 4 <= W;
      if (inside) {
        const r = ch + ((<usize>y0 * W + x0) << 2), rb = <usize>W << 2;
        p00 = load<f32>(r); p01 = load<f32>(r, 4); p02 = load<f32>(r, 8); p03 = load<f32>(r, 12);
        p10 = load<f32>(r + rb); p11 = load<f32>(r + rb, 4); p12 = load<f32>(r + rb, 8); p13 = load<f32>(r + rb, 12);
        p20 = load<f32>(r + 2 * rb); p21 = load<f32>(r + 2 * rb, 4); p22 = load<f32>(r + 2 * rb, 8); p23 = load<f32>(r + 2 * rb, 12);
        p30 = load<f32>(r + 3 * rb); p31 = load<f32>(r + 3 * rb, 4); p32 = load<f32>(r + 3 * rb, 8); p33 = load<f32>(r + 3 * rb, 12);
      } else {
        p00 = px(ch, H, W, y0, x0); p01 = px(ch, H, W, y0, x0 + 1); p02 = px(ch, H, W, y0, x0 + 2); p03 = px(ch, H, W, y0, x0 + 3);
        p10 = px(ch, H, W, y0 + 1, x0); p11 = px(ch, H, W, y0 + 1, x0 + 1); p12 = px(ch, H, W, y0 + 1, x0 + 2); p13 = px(ch, H, W, y0 + 1, x0 + 3);
        p20 = px(ch, H, W, y0 + 2, x0); p21 = px(ch, H, W, y0 + 2, x0 + 1); p22 = px(ch, H, W, y0 + 2, x0 + 2); p23 = px(ch, H, W, y0 + 2, x0 + 3);
        p30 = px(ch, H, W, y0 + 3, x0); p31 = px(ch, H, W, y0 + 3, x0 + 1); p32 = px(ch, H, W, y0 + 3, x0 + 2); p33 = px(ch, H, W, y0 + 3, x0 + 3);
      }
      // Bᵀ d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
      const a0 = p00 - p20, a1 = p01 - p21, a2 = p02 - p22, a3 = p03 - p23;
      const b0 = p10 + p20, b1 = p11 + p21, b2 = p12 + p22, b3 = p13 + p23;
      const c0 = p20 - p10, c1 = p21 - p11, c2 = p22 - p12, c3 = p23 - p13;
      const d0 = p10 - p30, d1 = p11 - p31, d2 = p12 - p32, d3 = p13 - p33;
      // (Bᵀ d) B: the same on columns
      const o = vc + (<usize>t << 2);
      store<f32>(o, a0 - a2); store<f32>(o + vPlane, a1 + a2); store<f32>(o + 2 * vPlane, a2 - a1); store<f32>(o + 3 * vPlane, a1 - a3);
      store<f32>(o + 4 * vPlane, b0 - b2); store<f32>(o + 5 * vPlane, b1 + b2); store<f32>(o + 6 * vPlane, b2 - b1); store<f32>(o + 7 * vPlane, b1 - b3);
      store<f32>(o + 8 * vPlane, c0 - c2); store<f32>(o + 9 * vPlane, c1 + c2); store<f32>(o + 10 * vPlane, c2 - c1); store<f32>(o + 11 * vPlane, c1 - c3);
      store<f32>(o + 12 * vPlane, d0 - d2); store<f32>(o + 13 * vPlane, d1 + d2); store<f32>(o + 14 * vPlane, d2 - d1); store<f32>(o + 15 * vPlane, d1 - d3);
    }
  }
}

// @ts-ignore: decorator
@inline function px(ch: usize, H: i32, W: i32, y: i32, x: i32): f32 {
  return y >= 0 && y < H && x >= 0 && x < W ? load<f32>(ch + ((<usize>y * W + x) << 2)) : 0;
}

/** Writes 4 tiles' 2×2 outputs (y0 for dx 0, y1 for dx 1) into output row `row` at column 2t, clipped to W. */
// @ts-ignore: decorator
@inline function f23Store(row: usize, t: i32, W: i32, y0: v128, y1: v128): void {
  const lo = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), hi = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7);
  const x = 2 * t;
  const p = row + (<usize>x << 2);
  if (x + 8 <= W) {
    v128.store(p, lo);
    v128.store(p, hi, 16);
    return;
  }
  const n = W - x; // 1..7 valid columns
  if (n > 0) store<f32>(p, f32x4.extract_lane(lo, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(lo, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(lo, 2), 8);
  if (n > 3) store<f32>(p, f32x4.extract_lane(lo, 3), 12);
  if (n > 4) store<f32>(p, f32x4.extract_lane(hi, 0), 16);
  if (n > 5) store<f32>(p, f32x4.extract_lane(hi, 1), 20);
  if (n > 6) store<f32>(p, f32x4.extract_lane(hi, 2), 24);
}

/**
 * 3x3 convolution, padding 1, stride 1, by Winograd F(2×2, 3×3). in (C, H, W); u (16, K, C) from
 * conv2d_f32_3x3p1_f23_weights; out (K, H, W), output channels [co0, co1). Scratch:
 * 16·C·Tp + 512 floats, Tp = ceil(ceil(W/2) / 8)·8 (one per thread). Any H, W ≥ 1.
 */
export function conv2d_f32_3x3p1_f23(outPtr: usize, inPtr: usize, uPtr: usize, C: i32, H: i32, W: i32, K: i32, co0: i32, co1: i32, scratch: usize): void {
  const T = (W + 1) >> 1;
  const Tp = (T + F23_TILES - 1) & ~(F23_TILES - 1);
  const vPlane = <usize>C * Tp << 2;
  const vPtr = scratch;
  const mPtr = scratch + (vPlane << 4); // (16, 4, 8)
  const uPlane = <usize>K * C << 2;
  const plane = <usize>H * W << 2;
  const rowBytes = <usize>W << 2;
  const last = co1 - 1;
  memory.fill(vPtr, 0, vPlane << 4); // tiles T..Tp stay zero
  for (let ty = 0; ty < (H + 1) >> 1; ty++) {
    f23Input(vPtr, inPtr, C, H, W, ty, T, Tp);
    const twoRows = 2 * ty + 1 < H;
    for (let co = co0; co < co1; co += 4) {
      const k1 = min(co + 1, last), k2 = min(co + 2, last), k3 = min(co + 3, last);
      for (let t = 0; t < T; t += F23_TILES) {
        // 16 GEMMs: M[ξ, j, 0..7] = Σ_c U[ξ, co+j, c] · V[ξ, c, t..t+7]
        for (let xi = 0; xi < 16; xi++) {
          let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
          let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
          let pv = vPtr + <usize>xi * vPlane + (<usize>t << 2);
          const ub = uPtr + <usize>xi * uPlane;
          let w0 = ub + (<usize>co * C << 2), w1 = ub + (<usize>k1 * C << 2);
          let w2 = ub + (<usize>k2 * C << 2), w3 = ub + (<usize>k3 * C << 2);
          const tpb = <usize>Tp << 2;
          for (let c = 0; c < C; c++) {
            const va = v128.load(pv), vb = v128.load(pv, 16);
            let s = v128.load32_splat(w0);
            a0 = f32x4.add(a0, f32x4.mul(s, va)); b0 = f32x4.add(b0, f32x4.mul(s, vb));
            s = v128.load32_splat(w1);
            a1 = f32x4.add(a1, f32x4.mul(s, va)); b1 = f32x4.add(b1, f32x4.mul(s, vb));
            s = v128.load32_splat(w2);
            a2 = f32x4.add(a2, f32x4.mul(s, va)); b2 = f32x4.add(b2, f32x4.mul(s, vb));
            s = v128.load32_splat(w3);
            a3 = f32x4.add(a3, f32x4.mul(s, va)); b3 = f32x4.add(b3, f32x4.mul(s, vb));
            pv += tpb;
            w0 += 4; w1 += 4; w2 += 4; w3 += 4;
          }
          const m = mPtr + (<usize>xi << 7);
          v128.store(m, a0); v128.store(m, b0, 16);
          v128.store(m, a1, 32); v128.store(m, b1, 48);
          v128.store(m, a2, 64); v128.store(m, b2, 80);
          v128.store(m, a3, 96); v128.store(m, b3, 112);
        }
        // Output transform Aᵀ M A per channel j and 4-tile half h.
        for (let j = 0; j < 4; j++) {
          if (co + j > last) break;
          const orow = outPtr + <usize>(co + j) * plane + <usize>(2 * ty) * rowBytes;
          for (let h = 0; h < 2; h++) {
            const tt = t + 4 * h;
            if (tt >= T) break;
            const m = mPtr + (<usize>j << 5) + (<usize>h << 4);
            // rows i of M (each 4 columns jj), ξ = 4i + jj at byte offset ξ·128
            const m00 = v128.load(m), m01 = v128.load(m, 128), m02 = v128.load(m, 256), m03 = v128.load(m, 384);
            const m10 = v128.load(m, 512), m11 = v128.load(m, 640), m12 = v128.load(m, 768), m13 = v128.load(m, 896);
            const m20 = v128.load(m, 1024), m21 = v128.load(m, 1152), m22 = v128.load(m, 1280), m23 = v128.load(m, 1408);
            const m30 = v128.load(m, 1536), m31 = v128.load(m, 1664), m32 = v128.load(m, 1792), m33 = v128.load(m, 1920);
            // Aᵀ M: s = row0 + row1 + row2, d = row1 - row2 - row3
            const s0 = f32x4.add(f32x4.add(m00, m10), m20), s1 = f32x4.add(f32x4.add(m01, m11), m21);
            const s2 = f32x4.add(f32x4.add(m02, m12), m22), s3 = f32x4.add(f32x4.add(m03, m13), m23);
            const d0 = f32x4.sub(f32x4.sub(m10, m20), m30), d1 = f32x4.sub(f32x4.sub(m11, m21), m31);
            const d2 = f32x4.sub(f32x4.sub(m12, m22), m32), d3 = f32x4.sub(f32x4.sub(m13, m23), m33);
            // (Aᵀ M) A on columns
            f23Store(orow, tt, W, f32x4.add(f32x4.add(s0, s1), s2), f32x4.sub(f32x4.sub(s1, s2), s3));
            if (twoRows) f23Store(orow + rowBytes, tt, W, f32x4.add(f32x4.add(d0, d1), d2), f32x4.sub(f32x4.sub(d1, d2), d3));
          }
        }
      }
    }
  }
}
