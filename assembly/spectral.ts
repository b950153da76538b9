// Spectral kernels: the frequency-domain forward pass of src/engines/spectral.ts
// (docs: fr-unet.md, "Executing in the frequency domain"). A layer never forms dense weights
// or full-channel activations: it works on a few maps per layer, P_b (input channels
// projected on frequency b) and Q_a (spatial convs of the P maps), and forms each channel only
// in registers, inside spectral_fuse_f32.
//
// Maps are float32 planes. Pointers are byte offsets (4-byte alignment is enough: v128 loads
// and stores are unaligned) and point at pixel (0, 0) of map 0; map and row strides are in
// elements. Every kernel writes rows [y0, y1) only, so threads sharing the memory can split a
// call by rows. Each SIMD kernel has a scalar twin `_ref` with the same signature, and calls its
// own scalar twin's body for the column tails. Contracts: src/wasm/exports.ts.
// The consumer tables' rows are padded to a multiple of 4 (twin: padded4 in src/engines/spectral-oracle.ts).

import { madd } from './madd';

// @ts-ignore: decorator
@inline function padded4(n: i32): i32 {
  return (n + 3) & ~3;
}

// @ts-ignore: decorator
@inline function at(ptr: usize, index: i32): usize {
  return ptr + (<usize>index << 2);
}

// ---------------------------------------------------------------------------------------------
// spectral_fuse_f32: expand → (ReLU) → (2×2 max-pool) → project, per pixel.
//   channel_o(p) = Σ_a F[o,a] q_a(p)                      F (channels, na)
//   out_g(p)     = Σ_o G[o,g] relu(channel_o(p)) (+ b_g)  G (channels, padded4(nOut)), g < nOut; b: biasPtr ≠ 0
//   pool_g(p')   = Σ_o Gp[o,g] max_{2×2} relu(channel_o)  Gp (channels, padded4(nPool)), g < nPool
// Rows go in pairs (y, y+1) when nPool > 0 and y + 1 < y1 (the caller starts ranges on even rows,
// and a lone last row of an odd height is projected on `out` only). ReLU and the norm already
// folded into F are monotonic, so pooling the pre-ReLU channel and then clamping is exact.
// ---------------------------------------------------------------------------------------------

/** Scalar fused pass over `rows` (1, or 2 = a pooled pair) from row y, columns [x0, x1) (x0 even when pooling). */
function fuseBlock(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, y: i32, rows: i32, x0: i32, x1: i32, relu: i32, biasPtr: usize,
): void {
  const gs = padded4(nOut), gps = padded4(nPool);
  const halfW = width >> 1;
  const floor: f32 = relu ? <f32>0 : <f32>-Infinity;
  for (let x = x0; x < x1; x++) {
    const pooled = rows == 2 && (x & 1) == 0 && (x >> 1) < halfW;
    for (let r = 0; r < rows; r++) for (let g = 0; g < nOut; g++) store<f32>(at(outPtr, g * outMapStride + (y + r) * outRowStride + x), 0);
    if (pooled) for (let g = 0; g < nPool; g++) store<f32>(at(poolPtr, g * poolMapStride + (y >> 1) * poolRowStride + (x >> 1)), 0);
    for (let o = 0; o < channels; o++) {
      let m: f32 = -Infinity;
      const cols = pooled ? 2 : 1;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          let v: f32 = 0;
          for (let a = 0; a < na; a++) {
            v += load<f32>(at(fPtr, o * na + a)) * load<f32>(at(qPtr, a * qMapStride + (y + r) * qRowStride + x + c));
          }
          const n = floor < v ? v : floor; // f32x4.pmax(floor, v)
          m = m < n ? n : m;
          if (c == 0) {
            for (let g = 0; g < nOut; g++) {
              const p = at(outPtr, g * outMapStride + (y + r) * outRowStride + x);
              store<f32>(p, load<f32>(p) + load<f32>(at(gPtr, o * gs + g)) * n);
            }
          }
        }
      }
      if (pooled) {
        for (let g = 0; g < nPool; g++) {
          const p = at(poolPtr, g * poolMapStride + (y >> 1) * poolRowStride + (x >> 1));
          store<f32>(p, load<f32>(p) + load<f32>(at(gpPtr, o * gps + g)) * m);
        }
      }
    }
    if (biasPtr) {
      for (let r = 0; r < rows; r++) for (let g = 0; g < nOut; g++) {
        const p = at(outPtr, g * outMapStride + (y + r) * outRowStride + x);
        store<f32>(p, load<f32>(p) + load<f32>(at(biasPtr, g)));
      }
    }
  }
}

export function spectral_fuse_f32_ref(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, height: i32, y0: i32, y1: i32, relu: i32, biasPtr: usize, scratchPtr: usize,
): void {
  let y = y0;
  while (y < y1) {
    const rows = nPool > 0 && y + 1 < y1 ? 2 : 1;
    fuseBlock(outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
      qPtr, qMapStride, qRowStride, na, fPtr, channels, width, y, rows, 0, width, relu, biasPtr);
    y += rows;
  }
}

/**
 * Full-resolution projection of the 4 pixels at (x, y) (x + 4 ≤ width) on the out consumers, 4
 * consumers at a time: the 4 accumulators stay in registers over the channel loop; with na = 4
 * the 4 Q vectors too. With na = 4 a channel's 4 F and 4 G values come as one v128 load each,
 * broadcast by lane shuffles: 8 separate splat loads, which V8 issues together at the top of the
 * loop, pushed the live values past the 15 registers it allocates and spilled an accumulator,
 * putting a store and a reload on its dependency chain (the FMA build: 25 → 45 GFLOP/s).
 * With h ≠ 0 the clamped channel values are kept too, 4 floats at h + 64·o (for fusePoolPair).
 */
// @ts-ignore: decorator
@inline function fuseColumn(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, x: i32, y: i32, floor: v128, biasPtr: usize, h: usize,
): void {
  const gs = <usize>padded4(nOut) << 2;
  const qMap = <usize>qMapStride << 2;
  const fStride = <usize>na << 2;
  const outMap = <usize>outMapStride << 2;
  const q = at(qPtr, y * qRowStride + x);
  // One pass per group of 4 consumers; with h, at least one (the first keeps the channel values).
  for (let gb = 0; gb < nOut || (gb == 0 && h != 0); gb += 4) {
    const keep = gb == 0 && h != 0;
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let g = gPtr + (<usize>gb << 2);
    let f = fPtr, hk = h;
    if (na == 4 && nOut - gb <= 2) {
      // 0, 1 or 2 consumers left (the classes of a 2-class head): project on those only.
      const q0 = v128.load(q), q1 = v128.load(q + qMap), q2 = v128.load(q + 2 * qMap), q3 = v128.load(q + 3 * qMap);
      for (let o = 0; o < channels; o++) {
        let v = f32x4.mul(v128.load32_splat(f), q0);
        v = madd(v128.load32_splat(f, 4), q1, v);
        v = madd(v128.load32_splat(f, 8), q2, v);
        v = madd(v128.load32_splat(f, 12), q3, v);
        const n = f32x4.pmax(floor, v);
        if (keep) v128.store(hk, n);
        c0 = madd(v128.load32_splat(g), n, c0);
        c1 = madd(v128.load32_splat(g, 4), n, c1);
        f += 16;
        g += gs;
        hk += 64;
      }
    } else if (na == 4) {
      const q0 = v128.load(q), q1 = v128.load(q + qMap), q2 = v128.load(q + 2 * qMap), q3 = v128.load(q + 3 * qMap);
      for (let o = 0; o < channels; o++) {
        const fv = v128.load(f), gv = v128.load(g);
        let v = f32x4.mul(v128.shuffle<f32>(fv, fv, 0, 0, 0, 0), q0);
        v = madd(v128.shuffle<f32>(fv, fv, 1, 1, 1, 1), q1, v);
        v = madd(v128.shuffle<f32>(fv, fv, 2, 2, 2, 2), q2, v);
        v = madd(v128.shuffle<f32>(fv, fv, 3, 3, 3, 3), q3, v);
        const n = f32x4.pmax(floor, v);
        if (keep) v128.store(hk, n);
        c0 = madd(v128.shuffle<f32>(gv, gv, 0, 0, 0, 0), n, c0);
        c1 = madd(v128.shuffle<f32>(gv, gv, 1, 1, 1, 1), n, c1);
        c2 = madd(v128.shuffle<f32>(gv, gv, 2, 2, 2, 2), n, c2);
        c3 = madd(v128.shuffle<f32>(gv, gv, 3, 3, 3, 3), n, c3);
        f += 16;
        g += gs;
        hk += 64;
      }
    } else {
      for (let o = 0; o < channels; o++) {
        let v = f32x4.splat(0);
        let qa = q;
        for (let a = 0; a < na; a++) {
          v = madd(v128.load32_splat(f + (<usize>a << 2)), v128.load(qa), v);
          qa += qMap;
        }
        const n = f32x4.pmax(floor, v);
        if (keep) v128.store(hk, n);
        const gv = v128.load(g);
        c0 = madd(v128.shuffle<f32>(gv, gv, 0, 0, 0, 0), n, c0);
        c1 = madd(v128.shuffle<f32>(gv, gv, 1, 1, 1, 1), n, c1);
        c2 = madd(v128.shuffle<f32>(gv, gv, 2, 2, 2, 2), n, c2);
        c3 = madd(v128.shuffle<f32>(gv, gv, 3, 3, 3, 3), n, c3);
        f += fStride;
        g += gs;
        hk += 64;
      }
    }
    const p = at(outPtr, gb * outMapStride + y * outRowStride + x), b = at(biasPtr, gb);
    if (gb < nOut) v128.store(p, withBias(c0, biasPtr, b));
    if (gb + 1 < nOut) v128.store(p + outMap, withBias(c1, biasPtr, b + 4));
    if (gb + 2 < nOut) v128.store(p + 2 * outMap, withBias(c2, biasPtr, b + 8));
    if (gb + 3 < nOut) v128.store(p + 3 * outMap, withBias(c3, biasPtr, b + 12));
  }
}

/** c + the bias at b, where there is a bias (biasPtr ≠ 0). */
// @ts-ignore: decorator
@inline function withBias(c: v128, biasPtr: usize, b: usize): v128 {
  return biasPtr ? f32x4.add(c, v128.load32_splat(b)) : c;
}

/** Row y, columns [0, width) (width ≥ 4): blocks of 4, the last one overlapping the one before it. */
function fuseRow(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, y: i32, width: i32, floor: v128, biasPtr: usize,
): void {
  for (let xb = 0; xb < width; xb += 4) {
    fuseColumn(outPtr, outMapStride, outRowStride, nOut, gPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels, min(xb, width - 4), y, floor, biasPtr, 0);
  }
}

/**
 * Rows (y, y+1) pooled (width ≥ 8): per group of 4 pooled pixels (8 columns, the last group
 * overlapping the one before it), the 4 blocks of 4 pixels are projected on out by fuseColumn,
 * which keeps their clamped channel values in the scratch (64 bytes a channel); then per channel
 * the 2×2 max (vertical, then horizontal by an even/odd lane shuffle) is projected on the pool
 * consumers, 4 at a time. Columns past the last whole window (an odd width) get out only.
 */
function fusePoolPair(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, y: i32, width: i32, floor: v128, biasPtr: usize, scratchPtr: usize,
): void {
  const halfW = width >> 1;
  const gs = <usize>padded4(nPool) << 2;
  const poolMap = <usize>poolMapStride << 2;
  for (let px = 0; px < halfW; px += 4) {
    const xp = min(px, halfW - 4), x = 2 * xp;
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        fuseColumn(outPtr, outMapStride, outRowStride, nOut, gPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels,
          x + 4 * c, y + r, floor, biasPtr, scratchPtr + <usize>(32 * r + 16 * c));
      }
    }
    const out0 = at(poolPtr, (y >> 1) * poolRowStride + xp);
    for (let gb = 0; gb < nPool; gb += 4) {
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let g = gpPtr + (<usize>gb << 2);
      let h = scratchPtr;
      for (let o = 0; o < channels; o++) {
        // top row columns 0–3, 4–7, then the bottom row's
        const m0 = f32x4.pmax(v128.load(h), v128.load(h, 32)), m1 = f32x4.pmax(v128.load(h, 16), v128.load(h, 48));
        const n = f32x4.pmax(v128.shuffle<f32>(m0, m1, 0, 2, 4, 6), v128.shuffle<f32>(m0, m1, 1, 3, 5, 7));
        const gv = v128.load(g);
        c0 = madd(v128.shuffle<f32>(gv, gv, 0, 0, 0, 0), n, c0);
        c1 = madd(v128.shuffle<f32>(gv, gv, 1, 1, 1, 1), n, c1);
        c2 = madd(v128.shuffle<f32>(gv, gv, 2, 2, 2, 2), n, c2);
        c3 = madd(v128.shuffle<f32>(gv, gv, 3, 3, 3, 3), n, c3);
        g += gs;
        h += 64;
      }
      const p = out0 + (<usize>gb * poolMap);
      v128.store(p, c0);
      if (gb + 1 < nPool) v128.store(p + poolMap, c1);
      if (gb + 2 < nPool) v128.store(p + 2 * poolMap, c2);
      if (gb + 3 < nPool) v128.store(p + 3 * poolMap, c3);
    }
  }
  if (2 * halfW < width) {
    for (let r = 0; r < 2; r++) {
      fuseColumn(outPtr, outMapStride, outRowStride, nOut, gPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels, width - 4, y + r, floor, biasPtr, 0);
    }
  }
}

export function spectral_fuse_f32(
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, height: i32, y0: i32, y1: i32, relu: i32, biasPtr: usize, scratchPtr: usize,
): void {
  const floor = f32x4.splat(relu ? <f32>0 : <f32>-Infinity);
  let y = y0;
  while (y < y1) {
    const rows = nPool > 0 && y + 1 < y1 ? 2 : 1;
    if (width >= 8) {
      // SIMD: 4-pixel blocks (out), 4 pooled pixels from 8 columns (pool).
      if (rows == 2) {
        fusePoolPair(outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
          qPtr, qMapStride, qRowStride, na, fPtr, channels, y, width, floor, biasPtr, scratchPtr);
      } else fuseRow(outPtr, outMapStride, outRowStride, nOut, gPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels, y, width, floor, biasPtr);
    } else {
      // Narrower than one block: the scalar pass.
      fuseBlock(outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
        qPtr, qMapStride, qRowStride, na, fPtr, channels, width, y, rows, 0, width, relu, biasPtr);
    }
    y += rows;
  }
}

// ---------------------------------------------------------------------------------------------
// spectral_conv2d_f32_3x3p1: q_a = Σ_{pairs p = (a, b)} K_p ⋆ p_b (3×3 cross-correlation, pad 1).
// The P maps carry a zero one-pixel border, so every tap is a plain load. Pairs are sorted by a;
// the first pair of each a writes, the next ones add; an a without pairs is zeroed.
// ---------------------------------------------------------------------------------------------

/** Scalar: one pair over row y, columns [x0, x1). */
function convPairRow(q: usize, p: usize, rowStride: i32, taps: usize, first: bool, x0: i32, x1: i32): void {
  const row = <usize>rowStride << 2;
  for (let x = x0; x < x1; x++) {
    const o = at(q, x);
    let s: f32 = first ? 0 : load<f32>(o);
    let src = at(p, x - 1) - row;
    let k = taps;
    for (let ky = 0; ky < 3; ky++) {
      s += load<f32>(k) * load<f32>(src);
      s += load<f32>(k, 4) * load<f32>(src, 4);
      s += load<f32>(k, 8) * load<f32>(src, 8);
      src += row;
      k += 12;
    }
    store<f32>(o, s);
  }
}

/**
 * SIMD: one pair over row y, columns [0, xs) (xs a multiple of 4). The taps of kernel rows 0–1,
 * then of row 2, in two passes over the row: V8 loads all of a step's inputs before its
 * multiply-adds, and nine taps with nine inputs spilled to the stack (the same chain of
 * multiply-adds in the same order, so the same sums).
 */
function convPairRowSimd(q: usize, p: usize, rowStride: i32, taps: usize, first: bool, xs: i32): void {
  const row = <usize>rowStride << 2;
  const r0 = at(p, -1) - row;
  if (first) convTaps2(q, r0, row, taps, xs, true);
  else convTaps2(q, r0, row, taps, xs, false);
  convTaps1(q, r0 + 2 * row, taps + 24, xs);
}

/** s ← (first ? 0 : s) + Σ of kernel rows 0 and 1 (6 taps at `taps`), rows r0 and r0 + row of p. */
// @ts-ignore: decorator
@inline function convTaps2(q: usize, r0: usize, row: usize, taps: usize, xs: i32, first: bool): void {
  const k0 = v128.load32_splat(taps), k1 = v128.load32_splat(taps, 4), k2 = v128.load32_splat(taps, 8);
  const k3 = v128.load32_splat(taps, 12), k4 = v128.load32_splat(taps, 16), k5 = v128.load32_splat(taps, 20);
  for (let x = 0; x < xs; x += 4) {
    const o = at(q, x), a = r0 + (<usize>x << 2), b = a + row;
    let s = first ? f32x4.splat(0) : v128.load(o);
    s = madd(k0, v128.load(a), s);
    s = madd(k1, v128.load(a, 4), s);
    s = madd(k2, v128.load(a, 8), s);
    s = madd(k3, v128.load(b), s);
    s = madd(k4, v128.load(b, 4), s);
    s = madd(k5, v128.load(b, 8), s);
    v128.store(o, s);
  }
}

/** s ← s + Σ of kernel row 2 (3 taps at `taps`), row r2 of p. */
function convTaps1(q: usize, r2: usize, taps: usize, xs: i32): void {
  const k6 = v128.load32_splat(taps), k7 = v128.load32_splat(taps, 4), k8 = v128.load32_splat(taps, 8);
  for (let x = 0; x < xs; x += 4) {
    const o = at(q, x), c = r2 + (<usize>x << 2);
    let s = v128.load(o);
    s = madd(k6, v128.load(c), s);
    s = madd(k7, v128.load(c, 4), s);
    s = madd(k8, v128.load(c, 8), s);
    v128.store(o, s);
  }
}

function conv3x3(
  qPtr: usize, qMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, y0: i32, y1: i32, simd: bool,
): void {
  const xs = simd ? width & ~3 : 0;
  for (let y = y0; y < y1; y++) {
    let pair = 0;
    for (let a = 0; a < na; a++) {
      const q = at(qPtr, a * qMapStride + y * rowStride);
      let first = true;
      while (pair < nPairs && load<i32>(at(pairsPtr, 2 * pair)) == a) {
        const p = at(pPtr, load<i32>(at(pairsPtr, 2 * pair + 1)) * pMapStride + y * rowStride);
        const taps = at(tapsPtr, 9 * pair);
        if (xs > 0) convPairRowSimd(q, p, rowStride, taps, first, xs);
        convPairRow(q, p, rowStride, taps, first, xs, width);
        first = false;
        pair++;
      }
      if (first) memory.fill(q, 0, <usize>width << 2);
    }
  }
}

export function spectral_conv2d_f32_3x3p1(
  qPtr: usize, qMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, y0: i32, y1: i32,
): void {
  conv3x3(qPtr, qMapStride, pPtr, pMapStride, rowStride, pairsPtr, tapsPtr, nPairs, na, width, y0, y1, true);
}

export function spectral_conv2d_f32_3x3p1_ref(
  qPtr: usize, qMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, y0: i32, y1: i32,
): void {
  conv3x3(qPtr, qMapStride, pPtr, pMapStride, rowStride, pairsPtr, tapsPtr, nPairs, na, width, y0, y1, false);
}

// ---------------------------------------------------------------------------------------------
// spectral_scatter_f32_2x2s2: the transposed conv (2×2, stride 2) folded with the concatenation's
// share of the next conv: out_b[top + 2y + ky, left + 2x + kx] += K_p[ky,kx] p_a[y,x], p = (a, b).
// ---------------------------------------------------------------------------------------------

function scatter(
  outPtr: usize, outMapStride: i32, outRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, srcWidth: i32, srcHeight: i32, top: i32, left: i32,
  y0: i32, y1: i32, simd: bool,
): void {
  const ya = max(y0, top), yb = min(y1, top + 2 * srcHeight);
  const xs = simd ? srcWidth & ~3 : 0;
  for (let Y = ya; Y < yb; Y++) {
    const ky = (Y - top) & 1, y = (Y - top) >> 1;
    for (let pair = 0; pair < nPairs; pair++) {
      const a = load<i32>(at(pairsPtr, 2 * pair)), b = load<i32>(at(pairsPtr, 2 * pair + 1));
      const src = at(pPtr, a * pMapStride + y * pRowStride);
      const dst = at(outPtr, b * outMapStride + Y * outRowStride + left);
      const k0 = load<f32>(at(tapsPtr, 4 * pair + 2 * ky)), k1 = load<f32>(at(tapsPtr, 4 * pair + 2 * ky + 1));
      if (xs > 0) {
        const kk = f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(k0), 1, k1), 3, k1); // [k0, k1, k0, k1]
        for (let x = 0; x < xs; x += 4) {
          const s = v128.load(at(src, x));
          const d = at(dst, 2 * x);
          v128.store(d, f32x4.add(v128.load(d), f32x4.mul(kk, v128.shuffle<f32>(s, s, 0, 0, 1, 1))));
          v128.store(d, f32x4.add(v128.load(d, 16), f32x4.mul(kk, v128.shuffle<f32>(s, s, 2, 2, 3, 3))), 16);
        }
      }
      for (let x = xs; x < srcWidth; x++) {
        const s = load<f32>(at(src, x));
        const d = at(dst, 2 * x);
        store<f32>(d, load<f32>(d) + k0 * s);
        store<f32>(d, load<f32>(d, 4) + k1 * s, 4);
      }
    }
  }
}

export function spectral_scatter_f32_2x2s2(
  outPtr: usize, outMapStride: i32, outRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, srcWidth: i32, srcHeight: i32, top: i32, left: i32,
  y0: i32, y1: i32,
): void {
  scatter(outPtr, outMapStride, outRowStride, pPtr, pMapStride, pRowStride, pairsPtr, tapsPtr, nPairs, srcWidth, srcHeight, top, left, y0, y1, true);
}

export function spectral_scatter_f32_2x2s2_ref(
  outPtr: usize, outMapStride: i32, outRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, srcWidth: i32, srcHeight: i32, top: i32, left: i32,
  y0: i32, y1: i32,
): void {
  scatter(outPtr, outMapStride, outRowStride, pPtr, pMapStride, pRowStride, pairsPtr, tapsPtr, nPairs, srcWidth, srcHeight, top, left, y0, y1, false);
}

// ---------------------------------------------------------------------------------------------
// Statistics of the Q maps for the norm, accumulated in float64 (one slot per thread):
// spectral_sum_f64 adds Σ q_a; spectral_center_cov_f64 centres q_a in place with the float32
// mean, then adds Σ q_a q_b for b ≥ a (products rounded to float32, sums in float64).
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function sum2(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** Σ of row values [0, width), float64; SIMD over [0, xs). */
function rowSum(p: usize, width: i32, xs: i32): f64 {
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  for (let x = 0; x < xs; x += 4) {
    const v = v128.load(at(p, x));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
  }
  let s = sum2(f64x2.add(lo, hi));
  for (let x = xs; x < width; x++) s += <f64>load<f32>(at(p, x));
  return s;
}

/** Σ of row products a[x]·b[x] (float32 products), float64; SIMD over [0, xs). */
function rowDot(pa: usize, pb: usize, width: i32, xs: i32): f64 {
  let lo = f64x2.splat(0), hi = f64x2.splat(0);
  for (let x = 0; x < xs; x += 4) {
    const v = f32x4.mul(v128.load(at(pa, x)), v128.load(at(pb, x)));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
  }
  let s = sum2(f64x2.add(lo, hi));
  for (let x = xs; x < width; x++) s += <f64>(load<f32>(at(pa, x)) * load<f32>(at(pb, x)));
  return s;
}

function sumMaps(sumPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, width: i32, y0: i32, y1: i32, xs: i32): void {
  for (let a = 0; a < na; a++) {
    let s: f64 = 0;
    for (let y = y0; y < y1; y++) s += rowSum(at(qPtr, a * qMapStride + y * qRowStride), width, xs);
    const out = sumPtr + (<usize>a << 3);
    store<f64>(out, load<f64>(out) + s);
  }
}

export function spectral_sum_f64(sumPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, width: i32, y0: i32, y1: i32): void {
  sumMaps(sumPtr, qPtr, qMapStride, qRowStride, na, width, y0, y1, width & ~3);
}

export function spectral_sum_f64_ref(sumPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, width: i32, y0: i32, y1: i32): void {
  sumMaps(sumPtr, qPtr, qMapStride, qRowStride, na, width, y0, y1, 0);
}

function centerCov(
  covPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, meanPtr: usize, na: i32, width: i32, y0: i32, y1: i32, xs: i32,
): void {
  for (let y = y0; y < y1; y++) {
    for (let a = 0; a < na; a++) {
      const p = at(qPtr, a * qMapStride + y * qRowStride);
      const m = load<f32>(at(meanPtr, a));
      const mv = f32x4.splat(m);
      for (let x = 0; x < xs; x += 4) v128.store(at(p, x), f32x4.sub(v128.load(at(p, x)), mv));
      for (let x = xs; x < width; x++) store<f32>(at(p, x), load<f32>(at(p, x)) - m);
    }
    for (let a = 0; a < na; a++) {
      const pa = at(qPtr, a * qMapStride + y * qRowStride);
      for (let b = a; b < na; b++) {
        const out = covPtr + (<usize>(a * na + b) << 3);
        store<f64>(out, load<f64>(out) + rowDot(pa, at(qPtr, b * qMapStride + y * qRowStride), width, xs));
      }
    }
  }
}

export function spectral_center_cov_f64(
  covPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, meanPtr: usize, na: i32, width: i32, y0: i32, y1: i32,
): void {
  centerCov(covPtr, qPtr, qMapStride, qRowStride, meanPtr, na, width, y0, y1, width & ~3);
}

export function spectral_center_cov_f64_ref(
  covPtr: usize, qPtr: usize, qMapStride: i32, qRowStride: i32, meanPtr: usize, na: i32, width: i32, y0: i32, y1: i32,
): void {
  centerCov(covPtr, qPtr, qMapStride, qRowStride, meanPtr, na, width, y0, y1, 0);
}

// ---------------------------------------------------------------------------------------------
// spectral_project_f32: the image on the first conv's input frequencies,
//   p_b(y, x) = Σ_i B[i, b] x_i(y, x)       (B (cin, nb) float64; products and sums in float64,
//                                            rounded to float32 once)
// Rows [y0, y1) of p from the image rows at xPtr (row y0 first; the host passes one band).
// ---------------------------------------------------------------------------------------------

function project(
  pPtr: usize, pMapStride: i32, pRowStride: i32, xPtr: usize, xMapStride: i32, xRowStride: i32,
  cin: i32, nb: i32, basisPtr: usize, width: i32, y0: i32, y1: i32, xs: i32,
): void {
  const xMap = <usize>xMapStride << 2;
  for (let y = y0; y < y1; y++) {
    const xRow = xPtr + (<usize>((y - y0) * xRowStride) << 2);
    for (let b = 0; b < nb; b++) {
      const pRow = at(pPtr, b * pMapStride + y * pRowStride);
      // Four pixels at a time: two float64 pairs per pixel quad, in the scalar loop's order.
      for (let x = 0; x < xs; x += 4) {
        let lo = f64x2.splat(0), hi = f64x2.splat(0);
        let xi = xRow + (<usize>x << 2);
        for (let i = 0; i < cin; i++) {
          const v = v128.load(xi);
          const B = f64x2.splat(load<f64>(basisPtr + (<usize>(i * nb + b) << 3)));
          lo = f64x2.add(lo, f64x2.mul(B, f64x2.promote_low_f32x4(v)));
          hi = f64x2.add(hi, f64x2.mul(B, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1))));
          xi += xMap;
        }
        const l = f32x4.demote_f64x2_zero(lo), h = f32x4.demote_f64x2_zero(hi);
        v128.store(pRow + (<usize>x << 2), v128.shuffle<f32>(l, h, 0, 1, 4, 5));
      }
      for (let x = xs; x < width; x++) {
        let s: f64 = 0;
        for (let i = 0; i < cin; i++) s += load<f64>(basisPtr + (<usize>(i * nb + b) << 3)) * <f64>load<f32>(xRow + (<usize>(i * xMapStride + x) << 2));
        store<f32>(pRow + (<usize>x << 2), <f32>s);
      }
    }
  }
}

export function spectral_project_f32(
  pPtr: usize, pMapStride: i32, pRowStride: i32, xPtr: usize, xMapStride: i32, xRowStride: i32,
  cin: i32, nb: i32, basisPtr: usize, width: i32, y0: i32, y1: i32,
): void {
  project(pPtr, pMapStride, pRowStride, xPtr, xMapStride, xRowStride, cin, nb, basisPtr, width, y0, y1, width & ~3);
}

export function spectral_project_f32_ref(
  pPtr: usize, pMapStride: i32, pRowStride: i32, xPtr: usize, xMapStride: i32, xRowStride: i32,
  cin: i32, nb: i32, basisPtr: usize, width: i32, y0: i32, y1: i32,
): void {
  project(pPtr, pMapStride, pRowStride, xPtr, xMapStride, xRowStride, cin, nb, basisPtr, width, y0, y1, 0);
}
