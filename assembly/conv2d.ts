// 2-D convolutions over one planar CHW float32 image, stride 1, no bias.
//
//   in  (C, H, W)        activations
//   w   (K, C, kh, kw)   weights, PyTorch layout
//   out (K, H, W)        only output channels [co0, co1) are written (whole planes)
//
// Pointers are byte offsets, 4-byte alignment is enough (v128 loads and stores are unaligned).
// `out` must not overlap `in`, `w` or scratch. Output channel ranges let several threads that
// share the memory split one call: disjoint [co0, co1) ranges write disjoint bytes.
//
// Kernels:
//   conv2d_f32_3x3p1      direct, 4 output channels × 2 vectors of 4 pixels per register tile
//   conv2d_f32_3x3p1_f23  Winograd F(2×2, 3×3) on pre-transformed weights: 2.25× fewer
//                         multiplies, the fast path (see its section below)
//   conv2d_f32_1x1        direct, same tile
// and their scalar twins *_ref (the 3x3 twin is the specification of both 3x3 kernels).
//
// Direct tiles hold 8 accumulators and 11 live v128 values, under the 16 xmm registers V8
// allocates on x64 (a 4×3 tile measured no faster). A tile whose channels run past co1 repeats
// the last channel's weights and skips those stores, so one code path serves every channel count.
// Column tails are covered by overlapping the last tile with the previous one (stores are plain
// writes, so recomputing a pixel is harmless) instead of a scalar tail.

import { madd } from './madd';

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
 * `co1` are computed with the weights of co1-1 and not stored. `rows` is the address of input
 * row y-1, column 0 of channel 0 (rows y-1, y, y+1 follow each other), `chan` the bytes between
 * two channels' rows.
 */
// @ts-ignore: decorator
@inline function tile3x3(
  outPtr: usize, rows: usize, chan: usize, wPtr: usize, C: i32, H: i32, W: i32, co: i32, co1: i32,
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
  let rowA = rows + (<usize>xa << 2);
  let rowB = rows + (<usize>xb << 2);
  for (let c = 0; c < C; c++) {
    for (let ky = kyLo; ky <= kyHi; ky++) {
      const pa = rowA + <usize>ky * rowBytes;
      const pb = rowB + <usize>ky * rowBytes;
      const wo = <usize>ky * 12;
      let va = tap3(pa, 0, modeA), vb = tap3(pb, 0, modeB);
      let s = v128.load32_splat(w0 + wo, 0);
      a0 = madd(s, va, a0); b0 = madd(s, vb, b0);
      s = v128.load32_splat(w1 + wo, 0);
      a1 = madd(s, va, a1); b1 = madd(s, vb, b1);
      s = v128.load32_splat(w2 + wo, 0);
      a2 = madd(s, va, a2); b2 = madd(s, vb, b2);
      s = v128.load32_splat(w3 + wo, 0);
      a3 = madd(s, va, a3); b3 = madd(s, vb, b3);
      va = tap3(pa, 1, modeA); vb = tap3(pb, 1, modeB);
      s = v128.load32_splat(w0 + wo, 4);
      a0 = madd(s, va, a0); b0 = madd(s, vb, b0);
      s = v128.load32_splat(w1 + wo, 4);
      a1 = madd(s, va, a1); b1 = madd(s, vb, b1);
      s = v128.load32_splat(w2 + wo, 4);
      a2 = madd(s, va, a2); b2 = madd(s, vb, b2);
      s = v128.load32_splat(w3 + wo, 4);
      a3 = madd(s, va, a3); b3 = madd(s, vb, b3);
      va = tap3(pa, 2, modeA); vb = tap3(pb, 2, modeB);
      s = v128.load32_splat(w0 + wo, 8);
      a0 = madd(s, va, a0); b0 = madd(s, vb, b0);
      s = v128.load32_splat(w1 + wo, 8);
      a1 = madd(s, va, a1); b1 = madd(s, vb, b1);
      s = v128.load32_splat(w2 + wo, 8);
      a2 = madd(s, va, a2); b2 = madd(s, vb, b2);
      s = v128.load32_splat(w3 + wo, 8);
      a3 = madd(s, va, a3); b3 = madd(s, vb, b3);
    }
    rowA += chan; rowB += chan;
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
 * output channels [co0, co1). Scratch: 3·C·W floats (one per thread), or 0 for none (reads the
 * planes in place: up to 1.4× slower on full-size layers, where C rows of C planes touch C pages).
 * W < 5 falls back to the scalar twin.
 */
export function conv2d_f32_3x3p1(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32, scratch: usize): void {
  if (W < 5) {
    conv2d_f32_3x3p1_ref(outPtr, inPtr, wPtr, C, H, W, co0, co1, scratch);
    return;
  }
  const rowBytes = <usize>W << 2;
  const plane = <usize>H * rowBytes;
  const packed = scratch != 0;
  const chan: usize = packed ? 3 * rowBytes : plane;
  // Rows outermost: rows y-1..y+1 of every input plane (3·C·W floats) stay in cache for all
  // channel blocks; the weights stream once per row. With scratch they are first copied together.
  for (let y = 0; y < H; y++) {
    let rows = inPtr + <usize>(y - 1) * rowBytes; // row y-1 of channel 0 (wraps for y = 0; never read then)
    if (packed) {
      const y0 = max(y - 1, 0), y1 = min(y + 1, H - 1); // rows outside the image are never read
      for (let c = 0; c < C; c++) {
        const dst = scratch + <usize>c * chan + <usize>(y0 - y + 1) * rowBytes;
        memory.copy(dst, inPtr + <usize>c * plane + <usize>y0 * rowBytes, <usize>(y1 - y0 + 1) * rowBytes);
      }
      rows = scratch;
    }
    for (let co = co0; co < co1; co += 4) {
      // The two row ends together, then pairs of vectors over [4, W-4); the last pair overlaps.
      tile3x3(outPtr, rows, chan, wPtr, C, H, W, co, co1, y, 0, LEFT, W - 4, RIGHT);
      let x = 4;
      for (; x + 8 <= W - 4; x += 8) tile3x3(outPtr, rows, chan, wPtr, C, H, W, co, co1, y, x, MID, x + 4, MID);
      if (x < W - 4) tile3x3(outPtr, rows, chan, wPtr, C, H, W, co, co1, y, x, MID, W - 8, MID);
    }
  }
}

/** Scalar twin of conv2d_f32_3x3p1 (any W ≥ 1; the scratch is not used): the specification. */
export function conv2d_f32_3x3p1_ref(outPtr: usize, inPtr: usize, wPtr: usize, C: i32, H: i32, W: i32, co0: i32, co1: i32, scratch: usize): void {
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
    a0 = madd(s, va, a0); b0 = madd(s, vb, b0);
    s = v128.load32_splat(w1);
    a1 = madd(s, va, a1); b1 = madd(s, vb, b1);
    s = v128.load32_splat(w2);
    a2 = madd(s, va, a2); b2 = madd(s, vb, b2);
    s = v128.load32_splat(w3);
    a3 = madd(s, va, a3); b3 = madd(s, vb, b3);
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
// Weights are transformed once per layer (conv2d_f32_3x3p1_f23_weights). The image is cut into
// bands of about 128 tiles (several tile rows, or a segment of one); per band and chunk of input
// channels the tiles are transformed into scratch (V), then 16 small GEMMs (one per ξ = 4i + j)
// run with the same 4-channel × 8-tile register block as the 1x1 kernel, and the output transform
// stores (first chunk) or adds (later chunks) the 2×2 outputs. The specification is
// conv2d_f32_3x3p1_ref on the untransformed weights (the tests compare the two); rounding differs
// from the direct kernel by a few ulps of Σ|w·x| (measured ≤ 3e-8 relative on unit inputs).

/** Tiles per GEMM block (2 vectors). */
const F23_TILES: i32 = 8;
/** A band of tile rows holds at least this many tiles, so each U element loaded serves that many. */
const F23_BAND_TILES: i32 = 128;
/** Cb·Tn bound: the V chunk (16 ξ × Cb channels × Tn tiles) stays near 1 MiB, within L2. */
const F23_CHUNK: i32 = 16384;

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

// Geometry shared by the kernel and conv2d_f32_3x3p1_f23_scratch. Tiles of a row: T = ceil(W/2),
// padded to T4 (a multiple of 4, so 4 tiles of a vector never straddle two rows). A band is R tile
// rows × S tiles of each (S = T4 up to F23_BAND_TILES; wider rows are cut into segments); its Tn
// tiles (padded to 8) form the GEMM's columns; channels go in chunks of Cb.
// @ts-ignore: decorator
@inline function f23T4(W: i32): i32 { return (((W + 1) >> 1) + 3) & ~3; }
// @ts-ignore: decorator
@inline function f23S(W: i32): i32 { return min(f23T4(W), F23_BAND_TILES); }
// @ts-ignore: decorator
@inline function f23R(W: i32): i32 { const s = f23S(W); return (F23_BAND_TILES + s - 1) / s; }
// @ts-ignore: decorator
@inline function f23Tn(W: i32): i32 { return (f23R(W) * f23S(W) + F23_TILES - 1) & ~(F23_TILES - 1); }
// @ts-ignore: decorator
@inline function f23Cb(C: i32, W: i32): i32 { return max(1, min(C, F23_CHUNK / f23Tn(W))); }

/** Floats of scratch conv2d_f32_3x3p1_f23 needs for C input channels of width W: V (Tn/8, 16, Cb, 8) + M (16, 4, 8). */
export function conv2d_f32_3x3p1_f23_scratch(C: i32, W: i32): i32 {
  return 16 * f23Cb(C, W) * f23Tn(W) + 512;
}

/** Input transform of one tile: the 4×4 patch at (y0, x0) of plane `ch` (zero outside) → 16 floats at o, o+xs, … */
function f23Tile(o: usize, xs: usize, ch: usize, H: i32, W: i32, y0: i32, x0: i32): void {
  let p00: f32 = 0, p01: f32 = 0, p02: f32 = 0, p03: f32 = 0;
  let p10: f32 = 0, p11: f32 = 0, p12: f32 = 0, p13: f32 = 0;
  let p20: f32 = 0, p21: f32 = 0, p22: f32 = 0, p23: f32 = 0;
  let p30: f32 = 0, p31: f32 = 0, p32: f32 = 0, p33: f32 = 0;
  p00 = px(ch, H, W, y0, x0); p01 = px(ch, H, W, y0, x0 + 1); p02 = px(ch, H, W, y0, x0 + 2); p03 = px(ch, H, W, y0, x0 + 3);
  p10 = px(ch, H, W, y0 + 1, x0); p11 = px(ch, H, W, y0 + 1, x0 + 1); p12 = px(ch, H, W, y0 + 1, x0 + 2); p13 = px(ch, H, W, y0 + 1, x0 + 3);
  p20 = px(ch, H, W, y0 + 2, x0); p21 = px(ch, H, W, y0 + 2, x0 + 1); p22 = px(ch, H, W, y0 + 2, x0 + 2); p23 = px(ch, H, W, y0 + 2, x0 + 3);
  p30 = px(ch, H, W, y0 + 3, x0); p31 = px(ch, H, W, y0 + 3, x0 + 1); p32 = px(ch, H, W, y0 + 3, x0 + 2); p33 = px(ch, H, W, y0 + 3, x0 + 3);
  // Bᵀ d: rows (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
  const a0 = p00 - p20, a1 = p01 - p21, a2 = p02 - p22, a3 = p03 - p23;
  const b0 = p10 + p20, b1 = p11 + p21, b2 = p12 + p22, b3 = p13 + p23;
  const c0 = p20 - p10, c1 = p21 - p11, c2 = p22 - p12, c3 = p23 - p13;
  const d0 = p10 - p30, d1 = p11 - p31, d2 = p12 - p32, d3 = p13 - p33;
  // (Bᵀ d) B: the same on columns; ξ = 4i + j
  store<f32>(o, a0 - a2); store<f32>(o + xs, a1 + a2); store<f32>(o + 2 * xs, a2 - a1); store<f32>(o + 3 * xs, a1 - a3);
  store<f32>(o + 4 * xs, b0 - b2); store<f32>(o + 5 * xs, b1 + b2); store<f32>(o + 6 * xs, b2 - b1); store<f32>(o + 7 * xs, b1 - b3);
  store<f32>(o + 8 * xs, c0 - c2); store<f32>(o + 9 * xs, c1 + c2); store<f32>(o + 10 * xs, c2 - c1); store<f32>(o + 11 * xs, c1 - c3);
  store<f32>(o + 12 * xs, d0 - d2); store<f32>(o + 13 * xs, d1 + d2); store<f32>(o + 14 * xs, d2 - d1); store<f32>(o + 15 * xs, d1 - d3);
}

/**
 * Column half of the input transform for 4 tiles side by side: r0..r2 hold 12 consecutive
 * (row-combined) values X[0..11] from column 2tx-1; tile l uses X[2l .. 2l+3]. Stores the 4
 * outputs j = 0..3 of row i (ξ = 4i + j) at o + j·xs.
 */
// @ts-ignore: decorator
@inline function f23Cols4(o: usize, xs: usize, r0: v128, r1: v128, r2: v128): void {
  const e = v128.shuffle<f32>(r1, r2, 0, 2, 4, 6); // X4 X6 X8 X10
  const f = v128.shuffle<f32>(r1, r2, 1, 3, 5, 7); // X5 X7 X9 X11
  const d0 = v128.shuffle<f32>(r0, r1, 0, 2, 4, 6); // X0 X2 X4 X6
  const d1 = v128.shuffle<f32>(r0, r1, 1, 3, 5, 7); // X1 X3 X5 X7
  const d2 = v128.shuffle<f32>(r0, e, 2, 4, 5, 6); // X2 X4 X6 X8
  const d3 = v128.shuffle<f32>(r0, f, 3, 4, 5, 6); // X3 X5 X7 X9
  v128.store(o, f32x4.sub(d0, d2));
  v128.store(o + xs, f32x4.add(d1, d2));
  v128.store(o + 2 * xs, f32x4.sub(d2, d1));
  v128.store(o + 3 * xs, f32x4.sub(d1, d3));
}

/**
 * Input transform of channels [c0, c0+cn) for the band of R tile rows from ty0 and S tiles from
 * tx0: V[t/8, ξ, c-c0, t%8] = (Bᵀ d B)[i, j], d = the 4×4 patch at rows 2ty-1.., cols 2tx-1..
 * (zero outside the image), t = r·S + (tx - tx0). Groups of 4 tiles inside the image go through
 * SIMD (rows combined on whole vectors, columns deinterleaved by shuffles), the rest one by one.
 */
function f23Input(vPtr: usize, inPtr: usize, H: i32, W: i32, ty0: i32, R: i32, tx0: i32, S: i32, c0: i32, cn: i32, Cb: i32): void {
  const xs = <usize>Cb << 5; // bytes between ξ slices of one tile block
  const rb = <usize>W << 2;
  for (let cl = 0; cl < cn; cl++) {
    const ch = inPtr + (<usize>(c0 + cl) * H * W << 2);
    for (let r = 0; r < R; r++) {
      const y0 = 2 * (ty0 + r) - 1;
      const rowsIn = y0 >= 0 && y0 + 4 <= H;
      for (let tx = tx0; tx < tx0 + S; tx += 4) {
        const t = r * S + tx - tx0; // a multiple of 4: the 4 tiles share one vector of V
        const o = vPtr + <usize>(t >> 3) * (xs << 4) + (<usize>cl << 5) + (<usize>(t & 7) << 2);
        const x0 = 2 * tx - 1;
        if (rowsIn && x0 >= 0 && x0 + 12 <= W) {
          const q = ch + ((<usize>y0 * W + x0) << 2);
          const q0a = v128.load(q), q0b = v128.load(q, 16), q0c = v128.load(q, 32);
          const q1a = v128.load(q + rb), q1b = v128.load(q + rb, 16), q1c = v128.load(q + rb, 32);
          const q2a = v128.load(q + 2 * rb), q2b = v128.load(q + 2 * rb, 16), q2c = v128.load(q + 2 * rb, 32);
          const q3a = v128.load(q + 3 * rb), q3b = v128.load(q + 3 * rb, 16), q3c = v128.load(q + 3 * rb, 32);
          // Bᵀ d on whole rows: (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
          f23Cols4(o, xs, f32x4.sub(q0a, q2a), f32x4.sub(q0b, q2b), f32x4.sub(q0c, q2c));
          f23Cols4(o + 4 * xs, xs, f32x4.add(q1a, q2a), f32x4.add(q1b, q2b), f32x4.add(q1c, q2c));
          f23Cols4(o + 8 * xs, xs, f32x4.sub(q2a, q1a), f32x4.sub(q2b, q1b), f32x4.sub(q2c, q1c));
          f23Cols4(o + 12 * xs, xs, f32x4.sub(q1a, q3a), f32x4.sub(q1b, q3b), f32x4.sub(q1c, q3c));
        } else {
          for (let l = 0; l < 4; l++) f23Tile(o + (<usize>l << 2), xs, ch, H, W, y0, x0 + 2 * l);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function px(ch: usize, H: i32, W: i32, y: i32, x: i32): f32 {
  return y >= 0 && y < H && x >= 0 && x < W ? load<f32>(ch + ((<usize>y * W + x) << 2)) : 0;
}

/**
 * Writes (acc: adds to) 4 tiles' 2×2 outputs (y0 for dx 0, y1 for dx 1) into output row `row` at
 * column 2t, clipped to W.
 */
// @ts-ignore: decorator
@inline function f23Store(row: usize, t: i32, W: i32, y0: v128, y1: v128, acc: bool): void {
  let lo = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), hi = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7);
  const x = 2 * t;
  const p = row + (<usize>x << 2);
  if (x + 8 <= W) {
    if (acc) { lo = f32x4.add(lo, v128.load(p)); hi = f32x4.add(hi, v128.load(p, 16)); }
    v128.store(p, lo);
    v128.store(p, hi, 16);
    return;
  }
  const n = W - x; // 1..7 valid columns
  if (n > 0) store<f32>(p, f32x4.extract_lane(lo, 0) + (acc ? load<f32>(p) : 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(lo, 1) + (acc ? load<f32>(p, 4) : 0), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(lo, 2) + (acc ? load<f32>(p, 8) : 0), 8);
  if (n > 3) store<f32>(p, f32x4.extract_lane(lo, 3) + (acc ? load<f32>(p, 12) : 0), 12);
  if (n > 4) store<f32>(p, f32x4.extract_lane(hi, 0) + (acc ? load<f32>(p, 16) : 0), 16);
  if (n > 5) store<f32>(p, f32x4.extract_lane(hi, 1) + (acc ? load<f32>(p, 20) : 0), 20);
  if (n > 6) store<f32>(p, f32x4.extract_lane(hi, 2) + (acc ? load<f32>(p, 24) : 0), 24);
}

/**
 * 3x3 convolution, padding 1, stride 1, by Winograd F(2×2, 3×3). in (C, H, W); u (16, K, C) from
 * conv2d_f32_3x3p1_f23_weights; out (K, H, W), output channels [co0, co1). Scratch:
 * conv2d_f32_3x3p1_f23_scratch(C, W) floats, one per thread. Any H, W ≥ 1.
 * Loops: bands of R tile rows × S tiles → channel chunks of Cb (input transform into V, ≈ 1 MiB) → blocks of
 * 4 output channels (their U rows, 16·4·Cb floats, stay in L1/L2) → 8-tile blocks → 16 GEMMs
 * into M → output transform, stored on the first chunk and added on the next ones.
 */
export function conv2d_f32_3x3p1_f23(outPtr: usize, inPtr: usize, uPtr: usize, C: i32, H: i32, W: i32, K: i32, co0: i32, co1: i32, scratch: usize): void {
  const T = (W + 1) >> 1, T4 = f23T4(W), Smax = f23S(W), Rmax = f23R(W), Tn = f23Tn(W), Cb = f23Cb(C, W);
  const TY = (H + 1) >> 1;
  const vPtr = scratch;
  const xs = <usize>Cb << 5; // bytes of one (tile block, ξ) slice of V
  const mPtr = scratch + <usize>(Tn >> 3) * (xs << 4); // (16, 4, 8)
  const uPlane = <usize>K * C << 2;
  const plane = <usize>H * W << 2;
  const rowBytes = <usize>W << 2;
  const last = co1 - 1;
  memory.fill(vPtr, 0, <usize>(Tn >> 3) * (xs << 4)); // padding tiles stay zero
  for (let ty0 = 0; ty0 < TY; ty0 += Rmax) for (let tx0 = 0; tx0 < T4; tx0 += Smax) {
    const R = min(Rmax, TY - ty0), S = min(Smax, T4 - tx0);
    const tbEnd = (R * S + F23_TILES - 1) >> 3;
    for (let c0 = 0; c0 < C; c0 += Cb) {
      const cn = min(Cb, C - c0);
      const acc = c0 > 0;
      f23Input(vPtr, inPtr, H, W, ty0, R, tx0, S, c0, cn, Cb);
      for (let co = co0; co < co1; co += 4) {
        const k1 = min(co + 1, last), k2 = min(co + 2, last), k3 = min(co + 3, last);
        for (let tb = 0; tb < tbEnd; tb++) {
          // 16 GEMMs: M[ξ, j, 0..7] = Σ_c U[ξ, co+j, c] · V[tb, ξ, c, 0..7]
          for (let xi = 0; xi < 16; xi++) {
            let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
            let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
            let pv = vPtr + (<usize>(tb * 16 + xi)) * xs;
            const ub = uPtr + <usize>xi * uPlane + (<usize>c0 << 2);
            let w0 = ub + (<usize>co * C << 2), w1 = ub + (<usize>k1 * C << 2);
            let w2 = ub + (<usize>k2 * C << 2), w3 = ub + (<usize>k3 * C << 2);
            for (let c = 0; c < cn; c++) {
              const va = v128.load(pv), vb = v128.load(pv, 16);
              let s = v128.load32_splat(w0);
              a0 = madd(s, va, a0); b0 = madd(s, vb, b0);
              s = v128.load32_splat(w1);
              a1 = madd(s, va, a1); b1 = madd(s, vb, b1);
              s = v128.load32_splat(w2);
              a2 = madd(s, va, a2); b2 = madd(s, vb, b2);
              s = v128.load32_splat(w3);
              a3 = madd(s, va, a3); b3 = madd(s, vb, b3);
              pv += 32;
              w0 += 4; w1 += 4; w2 += 4; w3 += 4;
            }
            const m = mPtr + (<usize>xi << 7);
            v128.store(m, a0); v128.store(m, b0, 16);
            v128.store(m, a1, 32); v128.store(m, b1, 48);
            v128.store(m, a2, 64); v128.store(m, b2, 80);
            v128.store(m, a3, 96); v128.store(m, b3, 112);
          }
          // Output transform Aᵀ M A per channel j and 4-tile half h.
          for (let h = 0; h < 2; h++) {
            const t = tb * F23_TILES + 4 * h;
            const r = t / S, tx = tx0 + t % S;
            if (r >= R || tx >= T) continue;
            const ty = ty0 + r;
            const twoRows = 2 * ty + 1 < H;
            for (let j = 0; j < 4; j++) {
              if (co + j > last) break;
              const orow = outPtr + <usize>(co + j) * plane + <usize>(2 * ty) * rowBytes;
              const m = mPtr + (<usize>j << 5) + (<usize>h << 4);
              // M[i][jj] = ξ 4i + jj at byte offset ξ·128
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
              f23Store(orow, tx, W, f32x4.add(f32x4.add(s0, s1), s2), f32x4.sub(f32x4.sub(s1, s2), s3), acc);
              if (twoRows) f23Store(orow + rowBytes, tx, W, f32x4.add(f32x4.add(d0, d1), d2), f32x4.sub(f32x4.sub(d1, d2), d3), acc);
            }
          }
        }
      }
    }
  }
}
