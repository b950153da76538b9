// Spectral backward kernels: the gradient of the loss through the frequency-domain forward pass
// of assembly/spectral.ts. The algebra is in src/engines/spectral-backward.ts; contracts in
// src/wasm/exports.ts. Same conventions as assembly/spectral.ts: float32 planar maps, pointers in
// bytes at pixel (0, 0) of map 0, strides in elements, rows [y0, y1) written (so threads split a
// call by rows), sums into one float64 slot per thread; each SIMD kernel beside its scalar twin.

import { madd } from './madd';

// Twin of padded4 in assembly/spectral.ts and src/engines/spectral-oracle.ts.
// @ts-ignore: decorator
@inline function padded4(n: i32): i32 {
  return (n + 3) & ~3;
}

// @ts-ignore: decorator
@inline function at(ptr: usize, index: i32): usize {
  return ptr + (<usize>index << 2);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

// ---------------------------------------------------------------------------------------------
// spectral_backfuse_f32: the backward of expand → norm → ReLU → (2×2 max-pool) → project, per pixel.
//   z_o   = Σ_a F[o,a] q_a                                   (q centred; F = φ_a(o)/σ_o)
//   dh_o  = Σ_g G[o,g] out_g  (+ Σ_g Gp[o,g] pool_g at the first maximum of z_o in its 2×2 window)
//   g_o   = dh_o where z_o > 0, else 0                      (ReLU'(0) = 0)
//   u_a   = Σ_o F[o,a] g_o;  sums[o] += Σ g_o z_o
//   wgrad[o, g] += Σ out_g ReLU(z_o)        (wgradPtr ≠ 0: a dense consumer's weight gradient)
// (Σ g_o itself is not needed per channel: the norm's Jacobian takes Σ_o F[o,a] Σ g_o = Σ u_a,
// which the host sums from the u maps.)
// The first maximum of a window in row-major order takes the pooled gradient (PyTorch's rule).
// Scratch (SIMD kernel), per thread: per-lane row sums, 4·(1 + nOut)·channels floats with a weight
// gradient (else 4·channels), then the slots of a block of pixels (z, then g), 16·channels floats,
// then the list of the channels live in the block, channels int32.
// ---------------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function zAt(qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize, o: i32, y: i32, x: i32): f32 {
  let v: f32 = 0;
  for (let a = 0; a < na; a++) v += load<f32>(at(fPtr, o * na + a)) * load<f32>(at(qPtr, a * qMapStride + y * qRowStride + x));
  return v;
}

/** Scalar backward pass over `rows` (1, or 2 = a pooled pair) from row y, columns [x0, x1) (x0 even when pooling). */
function backfuseBlock(
  uPtr: usize, uMapStride: i32, uRowStride: i32, sumsPtr: usize,
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, y: i32, rows: i32, x0: i32, x1: i32, wgradPtr: usize,
): void {
  const gs = padded4(nOut), gps = padded4(nPool);
  const halfW = width >> 1;
  for (let r = 0; r < rows; r++) {
    const Y = y + r;
    for (let x = x0; x < x1; x++) {
      const pooled = rows == 2 && (x >> 1) < halfW;
      for (let a = 0; a < na; a++) store<f32>(at(uPtr, a * uMapStride + Y * uRowStride + x), 0);
      for (let o = 0; o < channels; o++) {
        const z = zAt(qPtr, qMapStride, qRowStride, na, fPtr, o, Y, x);
        let dh: f32 = 0;
        for (let g = 0; g < nOut; g++) dh += load<f32>(at(gPtr, o * gs + g)) * load<f32>(at(outPtr, g * outMapStride + Y * outRowStride + x));
        if (pooled) {
          const xb = x & ~1;
          let best = 0;
          let bz: f32 = -Infinity;
          for (let k = 0; k < 4; k++) {
            const v = zAt(qPtr, qMapStride, qRowStride, na, fPtr, o, y + (k >> 1), xb + (k & 1));
            if (v > bz) {
              bz = v;
              best = k;
            }
          }
          if (best == (r << 1) + (x & 1)) {
            for (let g = 0; g < nPool; g++) {
              dh += load<f32>(at(gpPtr, o * gps + g)) * load<f32>(at(poolPtr, g * poolMapStride + (y >> 1) * poolRowStride + (x >> 1)));
            }
          }
        }
        const go: f32 = z > 0 ? dh : 0;
        if (wgradPtr) {
          const h: f32 = z > 0 ? z : 0;
          for (let g = 0; g < nOut; g++) {
            const w = wgradPtr + (<usize>(o * nOut + g) << 3);
            store<f64>(w, load<f64>(w) + <f64>(load<f32>(at(outPtr, g * outMapStride + Y * outRowStride + x)) * h));
          }
        }
        for (let a = 0; a < na; a++) {
          const p = at(uPtr, a * uMapStride + Y * uRowStride + x);
          store<f32>(p, load<f32>(p) + load<f32>(at(fPtr, o * na + a)) * go);
        }
        const s = sumsPtr + (<usize>o << 3);
        store<f64>(s, load<f64>(s) + <f64>(go * z));
      }
    }
  }
}

export function spectral_backfuse_f32_ref(
  uPtr: usize, uMapStride: i32, uRowStride: i32, sumsPtr: usize, scratchPtr: usize, wgradPtr: usize,
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, y0: i32, y1: i32,
): void {
  let y = y0;
  while (y < y1) {
    const rows = nPool > 0 && y + 1 < y1 ? 2 : 1;
    backfuseBlock(uPtr, uMapStride, uRowStride, sumsPtr, outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
      qPtr, qMapStride, qRowStride, na, fPtr, channels, width, y, rows, 0, width, wgradPtr);
    y += rows;
  }
}

/** Bytes of scratch per channel: lanes of Σ g·z and, with a weight gradient, Σ out_k·h for k < nOut. */
// @ts-ignore: decorator
@inline function scratchStride(nOut: i32, wg: bool): usize {
  const n: i32 = wg ? 1 + nOut : 1;
  return <usize>n << 4;
}

/** Adds the per-lane scratch sums into the float64 sums (and weight gradient) and clears them. */
function foldSums(sumsPtr: usize, wgradPtr: usize, scratchPtr: usize, channels: i32, nOut: i32): void {
  const ss = scratchStride(nOut, wgradPtr != 0);
  for (let o = 0; o < channels; o++) {
    const s = scratchPtr + <usize>o * ss;
    const p = sumsPtr + (<usize>o << 3);
    store<f64>(p, load<f64>(p) + hsum(v128.load(s)));
    if (wgradPtr) {
      for (let k = 0; k < nOut; k++) {
        const w = wgradPtr + (<usize>(o * nOut + k) << 3);
        store<f64>(w, load<f64>(w) + hsum(v128.load(s + 16 + (<usize>k << 4))));
      }
    }
  }
  memory.fill(scratchPtr, 0, <usize>channels * ss);
}

/** Adds out_k·ReLU(z) to the weight-gradient lanes at s + 16 (k < nOut). */
// @ts-ignore: decorator
@inline function addWeightGrad(s: usize, d: usize, outMap: usize, nOut: i32, z: v128): void {
  const h = f32x4.pmax(f32x4.splat(0), z);
  let dk = d, sk = s + 16;
  for (let k = 0; k < nOut; k++) {
    v128.store(sk, madd(v128.load(dk), h, v128.load(sk)));
    dk += outMap;
    sk += 16;
  }
}

// The SIMD pass for na = 4 (the common case) runs in three loops over the channels per block of
// pixels, so that none holds more values than the 16 vector registers of x64: the first forms z_o
// into the block's slots and lists the channels live in the block (z_o > 0 somewhere in it); the
// second, over the live channels only, forms g_o in place of z_o and the sums; the third projects
// g on F into the u maps. A channel that is dead in the block (ReLU off at all its pixels, about
// a third of the channel-blocks in the upstream model) has g_o = 0 there and adds nothing to u,
// the sums or the weight gradient, so only its z is formed. Fused in one loop, the u accumulators
// are spilled to the stack and each channel waits on a store-to-load round trip.
// Slots, one a channel: 32 bytes for eight columns of a row (z, then g, of columns 0–3 and 4–7),
// 64 for a pooled row pair (top and bottom of columns 0–3, then of columns 4–7); the list holds
// the live channels in order, int32.

/** u_a at pixels uA (and uB if two) = Σ_o F[o,a] g_o over the n listed channels, g from their slots (vectors for uA and uB side by side, 2^slotShift bytes a slot); na = 4. */
function projectBack(uA: usize, uB: usize, two: bool, uMap: usize, slots: usize, slotShift: usize, list: usize, n: i32, fPtr: usize): void {
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  if (two) {
    let b0 = zero, b1 = zero, b2 = zero, b3 = zero;
    for (let j = 0; j < n; j++) {
      const o = <usize>load<i32>(list + (<usize>j << 2));
      const f = fPtr + (o << 4), gb = slots + (o << slotShift);
      const f0 = v128.load32_splat(f), f1 = v128.load32_splat(f, 4), f2 = v128.load32_splat(f, 8), f3 = v128.load32_splat(f, 12);
      const ga = v128.load(gb), gB = v128.load(gb, 16);
      a0 = madd(f0, ga, a0);
      a1 = madd(f1, ga, a1);
      a2 = madd(f2, ga, a2);
      a3 = madd(f3, ga, a3);
      b0 = madd(f0, gB, b0);
      b1 = madd(f1, gB, b1);
      b2 = madd(f2, gB, b2);
      b3 = madd(f3, gB, b3);
    }
    v128.store(uB, b0);
    v128.store(uB + uMap, b1);
    v128.store(uB + 2 * uMap, b2);
    v128.store(uB + 3 * uMap, b3);
  } else {
    for (let j = 0; j < n; j++) {
      const o = <usize>load<i32>(list + (<usize>j << 2));
      const f = fPtr + (o << 4);
      const ga = v128.load(slots + (o << slotShift));
      a0 = madd(v128.load32_splat(f), ga, a0);
      a1 = madd(v128.load32_splat(f, 4), ga, a1);
      a2 = madd(v128.load32_splat(f, 8), ga, a2);
      a3 = madd(v128.load32_splat(f, 12), ga, a3);
    }
  }
  v128.store(uA, a0);
  v128.store(uA + uMap, a1);
  v128.store(uA + 2 * uMap, a2);
  v128.store(uA + 3 * uMap, a3);
}

/**
 * g_o of four pixels from z_o, any nOut: ∂L/∂h_o = Σ_k G[o,k] out_k (out_k at d, G's row at g), masked
 * by z_o > 0; g_o·z_o added to the lanes at s, and the weight gradient there too (wg). Returns g_o.
 */
// @ts-ignore: decorator
@inline function gradOf(z: v128, d: usize, outMap: usize, nOut: i32, g: usize, s: usize, wg: bool): v128 {
  let dh = f32x4.splat(0);
  let dg = d;
  for (let k = 0; k < nOut; k++) {
    dh = madd(v128.load32_splat(g + (<usize>k << 2)), v128.load(dg), dh);
    dg += outMap;
  }
  const go = v128.and(dh, f32x4.gt(z, f32x4.splat(0)));
  if (wg) addWeightGrad(s, d, outMap, nOut, z);
  v128.store(s, madd(go, z, v128.load(s)));
  return go;
}

/** c0·v0 + c1·v1 + c2·v2 + c3·v3 by lanes, as (c0·v0 + c1·v1) + (c2·v2 + c3·v3): every four-term sum of these kernels. */
// @ts-ignore: decorator
@inline function sum4(c0: v128, c1: v128, c2: v128, c3: v128, v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return f32x4.add(madd(c0, v0, f32x4.mul(c1, v1)), madd(c2, v2, f32x4.mul(c3, v3)));
}

/** sum4 of the vectors of four maps at p, `map` bytes apart. */
// @ts-ignore: decorator
@inline function sum4At(c0: v128, c1: v128, c2: v128, c3: v128, p: usize, map: usize): v128 {
  return sum4(c0, c1, c2, c3, v128.load(p), v128.load(p + map), v128.load(p + 2 * map), v128.load(p + 3 * map));
}

/** 1 if a lane of z is above 0, else 0 (the lanes' sign mask, then its carry into bit 4: no branch). */
// @ts-ignore: decorator
@inline function isLive(z: v128): i32 {
  return (i32x4.bitmask(f32x4.gt(z, f32x4.splat(0))) + 15) >> 4;
}

/**
 * z_o of eight columns of a row (four if not two: the second vector 0) for every channel, q at the
 * block's first map, into channel o's slot; the live channels (z_o > 0 at one of the columns)
 * listed in order. Returns their number; na = 4.
 */
function liveColumns(slots: usize, list: usize, q: usize, qMap: usize, two: bool, fPtr: usize, channels: i32): i32 {
  const zero = f32x4.splat(0);
  const a0 = v128.load(q), a1 = v128.load(q + qMap), a2 = v128.load(q + 2 * qMap), a3 = v128.load(q + 3 * qMap);
  let b0 = zero, b1 = zero, b2 = zero, b3 = zero;
  if (two) {
    b0 = v128.load(q, 16);
    b1 = v128.load(q + qMap, 16);
    b2 = v128.load(q + 2 * qMap, 16);
    b3 = v128.load(q + 3 * qMap, 16);
  }
  let n = 0;
  let f = fPtr, slot = slots;
  for (let o = 0; o < channels; o++) {
    const f0 = v128.load32_splat(f), f1 = v128.load32_splat(f, 4), f2 = v128.load32_splat(f, 8), f3 = v128.load32_splat(f, 12);
    const za = sum4(f0, f1, f2, f3, a0, a1, a2, a3);
    const zb = sum4(f0, f1, f2, f3, b0, b1, b2, b3);
    v128.store(slot, za);
    v128.store(slot, zb, 16);
    store<i32>(list + (<usize>n << 2), o);
    n += isLive(f32x4.pmax(za, zb));
    f += 16;
    slot += 32;
  }
  return n;
}

/**
 * g_o of the n live channels of a block of liveColumns, in place of z_o in their slots: ∂L/∂h_o =
 * Σ_k G[o,k] out_k (out_k at d, and d + 16 if two) where z_o > 0; g_o·z_o added to the channel's
 * lanes, and the weight gradient there too (wg).
 */
function gradLive(
  slots: usize, list: usize, n: i32, two: bool, scratchPtr: usize, ss: usize, wg: bool,
  d: usize, outMap: usize, nOut: i32, gPtr: usize, gs: usize,
): void {
  const zero = f32x4.splat(0);
  if (nOut == 4 && !wg) {
    // G's rows and the lanes 16 bytes a channel here.
    const d0 = v128.load(d), d1 = v128.load(d + outMap), d2 = v128.load(d + 2 * outMap), d3 = v128.load(d + 3 * outMap);
    let e0 = zero, e1 = zero, e2 = zero, e3 = zero;
    if (two) {
      e0 = v128.load(d, 16);
      e1 = v128.load(d + outMap, 16);
      e2 = v128.load(d + 2 * outMap, 16);
      e3 = v128.load(d + 3 * outMap, 16);
    }
    for (let j = 0; j < n; j++) {
      const o = <usize>load<i32>(list + (<usize>j << 2));
      const g = gPtr + (o << 4), s = scratchPtr + (o << 4), slot = slots + (o << 5);
      const g0 = v128.load32_splat(g), g1 = v128.load32_splat(g, 4), g2 = v128.load32_splat(g, 8), g3 = v128.load32_splat(g, 12);
      const za = v128.load(slot), zb = v128.load(slot, 16);
      const ga = v128.and(sum4(g0, g1, g2, g3, d0, d1, d2, d3), f32x4.gt(za, zero));
      const gb = v128.and(sum4(g0, g1, g2, g3, e0, e1, e2, e3), f32x4.gt(zb, zero));
      v128.store(slot, ga);
      v128.store(slot, gb, 16);
      v128.store(s, madd(gb, zb, madd(ga, za, v128.load(s))));
    }
    return;
  }
  if (nOut == 2 && wg) {
    // A dense 2-class consumer with its weight gradient (outc of a 2-class model).
    const d0 = v128.load(d), d1 = v128.load(d + outMap);
    let e0 = zero, e1 = zero;
    if (two) {
      e0 = v128.load(d, 16);
      e1 = v128.load(d + outMap, 16);
    }
    for (let j = 0; j < n; j++) {
      const o = <usize>load<i32>(list + (<usize>j << 2));
      const g = gPtr + o * gs, s = scratchPtr + o * ss, slot = slots + (o << 5);
      const g0 = v128.load32_splat(g), g1 = v128.load32_splat(g, 4);
      const za = v128.load(slot), zb = v128.load(slot, 16);
      const ga = v128.and(madd(g1, d1, f32x4.mul(g0, d0)), f32x4.gt(za, zero));
      const gb = v128.and(madd(g1, e1, f32x4.mul(g0, e0)), f32x4.gt(zb, zero));
      const ha = f32x4.pmax(zero, za), hb = f32x4.pmax(zero, zb);
      v128.store(s, madd(e0, hb, madd(d0, ha, v128.load(s, 16))), 16);
      v128.store(s, madd(e1, hb, madd(d1, ha, v128.load(s, 32))), 32);
      v128.store(slot, ga);
      v128.store(slot, gb, 16);
      v128.store(s, madd(gb, zb, madd(ga, za, v128.load(s))));
    }
    return;
  }
  for (let j = 0; j < n; j++) {
    const o = <usize>load<i32>(list + (<usize>j << 2));
    const g = gPtr + o * gs, s = scratchPtr + o * ss, slot = slots + (o << 5);
    v128.store(slot, gradOf(v128.load(slot), d, outMap, nOut, g, s, wg));
    if (two) v128.store(slot, gradOf(v128.load(slot, 16), d + 16, outMap, nOut, g, s, wg), 16);
  }
}

/** SIMD, one row y, columns [0, xs) (xs a multiple of 4), no pooling. */
function backfuseRow(
  uPtr: usize, uMapStride: i32, uRowStride: i32, scratchPtr: usize, wg: bool,
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, y: i32, xs: i32,
): void {
  const gs = <usize>padded4(nOut) << 2;
  const qMap = <usize>qMapStride << 2, uMap = <usize>uMapStride << 2, outMap = <usize>outMapStride << 2;
  const ss = scratchStride(nOut, wg);
  if (na == 4) {
    // Eight columns a block (two vectors per channel), then the last four if xs is not a multiple of 8.
    const slots = scratchPtr + <usize>channels * ss, list = slots + (<usize>channels << 6);
    for (let x = 0; x < xs; x += 8) {
      const two = x + 8 <= xs;
      const q = at(qPtr, y * qRowStride + x), d = at(outPtr, y * outRowStride + x), u = at(uPtr, y * uRowStride + x);
      const n = liveColumns(slots, list, q, qMap, two, fPtr, channels);
      gradLive(slots, list, n, two, scratchPtr, ss, wg, d, outMap, nOut, gPtr, gs);
      projectBack(u, u + 16, two, uMap, slots, 5, list, n, fPtr);
    }
    return;
  }
  const fStride = <usize>na << 2;
  const zero = f32x4.splat(0);
  for (let x = 0; x < xs; x += 4) {
    const q = at(qPtr, y * qRowStride + x);
    const u = at(uPtr, y * uRowStride + x);
    const d = at(outPtr, y * outRowStride + x);
    let f = fPtr, g = gPtr, s = scratchPtr;
    let ua = u;
    for (let a = 0; a < na; a++) {
      v128.store(ua, zero);
      ua += uMap;
    }
    for (let o = 0; o < channels; o++) {
      let z = zero;
      let qa = q;
      for (let a = 0; a < na; a++) {
        z = madd(v128.load32_splat(f + (<usize>a << 2)), v128.load(qa), z);
        qa += qMap;
      }
      const go = gradOf(z, d, outMap, nOut, g, s, wg);
      ua = u;
      for (let a = 0; a < na; a++) {
        v128.store(ua, madd(v128.load32_splat(f + (<usize>a << 2)), go, v128.load(ua)));
        ua += uMap;
      }
      f += fStride;
      g += gs;
      s += ss;
    }
  }
}

/**
 * z_o of a pooled row pair (y, y+1), eight columns (four windows), q at the block's first map, for
 * every channel into its slot (64 bytes: top and bottom of columns 0–3, then of columns 4–7); the
 * live channels (z_o > 0 at one of the 16 pixels) listed in order. Returns their number; na = 4.
 */
function livePoolQuad(slots: usize, list: usize, q: usize, qMap: usize, qRow: usize, fPtr: usize, channels: i32): i32 {
  let n = 0;
  let f = fPtr, slot = slots;
  for (let o = 0; o < channels; o++) {
    const f0 = v128.load32_splat(f), f1 = v128.load32_splat(f, 4), f2 = v128.load32_splat(f, 8), f3 = v128.load32_splat(f, 12);
    const m = f32x4.pmax(
      f32x4.pmax(zOf(slot, q, qMap, f0, f1, f2, f3), zOf(slot + 16, q + qRow, qMap, f0, f1, f2, f3)),
      f32x4.pmax(zOf(slot + 32, q + 16, qMap, f0, f1, f2, f3), zOf(slot + 48, q + 16 + qRow, qMap, f0, f1, f2, f3)),
    );
    store<i32>(list + (<usize>n << 2), o);
    n += isLive(m);
    f += 16;
    slot += 64;
  }
  return n;
}

/** z = Σ_a F[o,a] q_a of four pixels (q at the first map; F's row splatted), stored at slot and returned. */
// @ts-ignore: decorator
@inline function zOf(slot: usize, q: usize, qMap: usize, f0: v128, f1: v128, f2: v128, f3: v128): v128 {
  const z = sum4At(f0, f1, f2, f3, q, qMap);
  v128.store(slot, z);
  return z;
}

/**
 * g of the n live channels of a pooled block of livePoolQuad, in place of z in their slots, for
 * nOut = nPool = 4 without a weight gradient (the upstream model's pooled convs): G's and Gp's
 * values serve four vectors; Σ g·z into the lanes.
 */
function gradPoolLive(
  slots: usize, list: usize, n: i32, scratchPtr: usize,
  d: usize, outMap: usize, outRow: usize, gPtr: usize,
  pw: usize, poolMap: usize, gpPtr: usize,
): void {
  for (let j = 0; j < n; j++) {
    const o = <usize>load<i32>(list + (<usize>j << 2));
    const g = gPtr + (o << 4), gp = gpPtr + (o << 4), s = scratchPtr + (o << 4), slot = slots + (o << 6);
    const g0 = v128.load32_splat(g), g1 = v128.load32_splat(g, 4), g2 = v128.load32_splat(g, 8), g3 = v128.load32_splat(g, 12);
    // The pooled gradient of the four windows, then spread to their pairs of columns.
    const dp = sum4At(v128.load32_splat(gp), v128.load32_splat(gp, 4), v128.load32_splat(gp, 8), v128.load32_splat(gp, 12), pw, poolMap);
    let gz = v128.load(s);
    gz = gradPoolVector(gz, slot, d, outMap, outRow, g0, g1, g2, g3, v128.shuffle<f32>(dp, dp, 0, 0, 1, 1));
    gz = gradPoolVector(gz, slot + 32, d + 16, outMap, outRow, g0, g1, g2, g3, v128.shuffle<f32>(dp, dp, 2, 2, 3, 3));
    v128.store(s, gz);
  }
}

/** One vector of gradPoolLive (four columns, two windows, both rows): z from the slot, g in its place; returns gz + g_b·z_b + g_t·z_t. */
// @ts-ignore: decorator
@inline function gradPoolVector(
  gz: v128, slot: usize, d: usize, outMap: usize, outRow: usize, g0: v128, g1: v128, g2: v128, g3: v128, dp: v128,
): v128 {
  const dt = sum4At(g0, g1, g2, g3, d, outMap), db = sum4At(g0, g1, g2, g3, d + outRow, outMap);
  return routePooled(slot, v128.load(slot), v128.load(slot, 16), dt, db, dp, gz);
}

/**
 * g of a pooled row pair, four columns (two 2×2 windows): the pooled gradient dp (spread to each
 * window's two columns) goes to the window's first maximum of z in row-major order (PyTorch's
 * rule), then the ReLU mask; g of the top row into gb, of the bottom row into gb + 16. Returns
 * gz + g_b·z_b + g_t·z_t.
 */
// @ts-ignore: decorator
@inline function routePooled(gb: usize, zt: v128, zb: v128, dt: v128, db: v128, dp: v128, gz: v128): v128 {
  const zero = f32x4.splat(0);
  const odd = i32x4(0, -1, 0, -1);
  // The window's maximum in every lane of its pair, then which lane holds its first maximum
  // (pmax: one instruction on x64 where max's NaN and ±0 rules take several; z has no NaN, and
  // ±0 compare equal, so the first maximum is the same).
  const m = f32x4.pmax(
    f32x4.pmax(zt, v128.shuffle<f32>(zt, zt, 1, 0, 3, 2)),
    f32x4.pmax(zb, v128.shuffle<f32>(zb, zb, 1, 0, 3, 2)),
  );
  const et = f32x4.eq(zt, m), eb = f32x4.eq(zb, m);
  const tl = v128.shuffle<i32>(et, et, 0, 0, 2, 2), tr = v128.shuffle<i32>(et, et, 1, 1, 3, 3), bl = v128.shuffle<i32>(eb, eb, 0, 0, 2, 2);
  const firstT = v128.andnot(et, v128.and(tl, odd));
  const firstB = v128.andnot(v128.andnot(eb, v128.or(tl, tr)), v128.and(bl, odd));
  const gt = v128.and(f32x4.add(dt, v128.and(dp, firstT)), f32x4.gt(zt, zero));
  const gB = v128.and(f32x4.add(db, v128.and(dp, firstB)), f32x4.gt(zb, zero));
  v128.store(gb, gt);
  v128.store(gb, gB, 16);
  return madd(gt, zt, madd(gB, zb, gz));
}

/**
 * SIMD, rows (y, y+1) pooled, columns [0, xs) (xs a multiple of 4 within whole windows): per channel
 * both rows' z, each window's first maximum by lane masks, the pooled gradient routed there.
 * na = 4: g of both rows into the g buffer, then projected in a second loop.
 */
function backfusePoolRows(
  uPtr: usize, uMapStride: i32, uRowStride: i32, scratchPtr: usize, wg: bool,
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, y: i32, xs: i32,
): void {
  const gs = <usize>padded4(nOut) << 2, gps = <usize>padded4(nPool) << 2;
  const qMap = <usize>qMapStride << 2, qRow = <usize>qRowStride << 2, uMap = <usize>uMapStride << 2, uRow = <usize>uRowStride << 2;
  const outMap = <usize>outMapStride << 2, outRow = <usize>outRowStride << 2, poolMap = <usize>poolMapStride << 2;
  const fStride = <usize>na << 2;
  const ss = scratchStride(nOut, wg);
  const zero = f32x4.splat(0);
  const na4 = na == 4;
  const gBuf = scratchPtr + <usize>channels * ss, list = gBuf + (<usize>channels << 6);
  const quad = na4 && nOut == 4 && nPool == 4 && !wg;
  for (let x = 0; x < xs; x += 4) {
    const q = at(qPtr, y * qRowStride + x);
    const u = at(uPtr, y * uRowStride + x);
    const d = at(outPtr, y * outRowStride + x);
    const pw = at(poolPtr, (y >> 1) * poolRowStride + (x >> 1));
    if (quad && x + 8 <= xs) {
      const n = livePoolQuad(gBuf, list, q, qMap, qRow, fPtr, channels);
      gradPoolLive(gBuf, list, n, scratchPtr, d, outMap, outRow, gPtr, pw, poolMap, gpPtr);
      projectBack(u, u + uRow, true, uMap, gBuf, 6, list, n, fPtr);
      projectBack(u + 16, u + 16 + uRow, true, uMap, gBuf + 32, 6, list, n, fPtr);
      x += 4;
      continue;
    }
    let ua = u;
    if (!na4) {
      for (let a = 0; a < na; a++) {
        v128.store(ua, zero);
        v128.store(ua + uRow, zero);
        ua += uMap;
      }
    }
    let f = fPtr, g = gPtr, gp = gpPtr, s = scratchPtr, gb = gBuf;
    for (let o = 0; o < channels; o++) {
      let zt = zero, zb = zero;
      if (na4) {
        const f0 = v128.load32_splat(f), f1 = v128.load32_splat(f, 4), f2 = v128.load32_splat(f, 8), f3 = v128.load32_splat(f, 12);
        zt = sum4At(f0, f1, f2, f3, q, qMap);
        zb = sum4At(f0, f1, f2, f3, q + qRow, qMap);
      } else {
        let qa = q;
        for (let a = 0; a < na; a++) {
          const fa = v128.load32_splat(f + (<usize>a << 2));
          zt = madd(fa, v128.load(qa), zt);
          zb = madd(fa, v128.load(qa + qRow), zb);
          qa += qMap;
        }
      }
      let dt = zero, db = zero;
      if (nOut == 4) {
        const g0 = v128.load32_splat(g), g1 = v128.load32_splat(g, 4), g2 = v128.load32_splat(g, 8), g3 = v128.load32_splat(g, 12);
        dt = sum4At(g0, g1, g2, g3, d, outMap);
        db = sum4At(g0, g1, g2, g3, d + outRow, outMap);
      } else {
        let dg = d;
        for (let k = 0; k < nOut; k++) {
          const gk = v128.load32_splat(g + (<usize>k << 2));
          dt = madd(gk, v128.load(dg), dt);
          db = madd(gk, v128.load(dg + outRow), db);
          dg += outMap;
        }
      }
      // The pooled gradient of each window (two windows in the four lanes), then spread to its pair.
      let dp = zero;
      if (nPool == 4) {
        dp = sum4(
          v128.load32_splat(gp), v128.load32_splat(gp, 4), v128.load32_splat(gp, 8), v128.load32_splat(gp, 12),
          v128.load64_zero(pw), v128.load64_zero(pw + poolMap), v128.load64_zero(pw + 2 * poolMap), v128.load64_zero(pw + 3 * poolMap),
        );
      } else {
        let pg = pw;
        for (let k = 0; k < nPool; k++) {
          dp = madd(v128.load32_splat(gp + (<usize>k << 2)), v128.load64_zero(pg), dp);
          pg += poolMap;
        }
      }
      if (wg) {
        addWeightGrad(s, d, outMap, nOut, zt);
        addWeightGrad(s, d + outRow, outMap, nOut, zb);
      }
      v128.store(s, routePooled(gb, zt, zb, dt, db, v128.shuffle<f32>(dp, dp, 0, 0, 1, 1), v128.load(s)));
      if (!na4) {
        const gt = v128.load(gb), gB = v128.load(gb, 16);
        ua = u;
        for (let a = 0; a < na; a++) {
          const fa = v128.load32_splat(f + (<usize>a << 2));
          v128.store(ua, madd(fa, gt, v128.load(ua)));
          v128.store(ua + uRow, madd(fa, gB, v128.load(ua + uRow)));
          ua += uMap;
        }
      }
      if (na4) store<i32>(list + (<usize>o << 2), o); // every channel, in order, for projectBack
      f += fStride;
      g += gs;
      gp += gps;
      s += ss;
      gb += 32;
    }
    if (na4) projectBack(u, u + uRow, true, uMap, gBuf, 5, list, channels, fPtr);
  }
}

export function spectral_backfuse_f32(
  uPtr: usize, uMapStride: i32, uRowStride: i32, sumsPtr: usize, scratchPtr: usize, wgradPtr: usize,
  outPtr: usize, outMapStride: i32, outRowStride: i32, nOut: i32, gPtr: usize,
  poolPtr: usize, poolMapStride: i32, poolRowStride: i32, nPool: i32, gpPtr: usize,
  qPtr: usize, qMapStride: i32, qRowStride: i32, na: i32, fPtr: usize,
  channels: i32, width: i32, y0: i32, y1: i32,
): void {
  const wg = wgradPtr != 0;
  memory.fill(scratchPtr, 0, <usize>channels * scratchStride(nOut, wg));
  let y = y0;
  while (y < y1) {
    const rows = nPool > 0 && y + 1 < y1 ? 2 : 1;
    let xs: i32;
    if (rows == 2) {
      xs = ((width >> 1) << 1) & ~3;
      backfusePoolRows(uPtr, uMapStride, uRowStride, scratchPtr, wg, outPtr, outMapStride, outRowStride, nOut, gPtr,
        poolPtr, poolMapStride, poolRowStride, nPool, gpPtr, qPtr, qMapStride, qRowStride, na, fPtr, channels, y, xs);
    } else {
      xs = width & ~3;
      backfuseRow(uPtr, uMapStride, uRowStride, scratchPtr, wg, outPtr, outMapStride, outRowStride, nOut, gPtr,
        qPtr, qMapStride, qRowStride, na, fPtr, channels, y, xs);
    }
    foldSums(sumsPtr, wgradPtr, scratchPtr, channels, nOut);
    backfuseBlock(uPtr, uMapStride, uRowStride, sumsPtr, outPtr, outMapStride, outRowStride, nOut, gPtr, poolPtr, poolMapStride, poolRowStride, nPool, gpPtr,
      qPtr, qMapStride, qRowStride, na, fPtr, channels, width, y, rows, xs, width, wgradPtr);
    y += rows;
  }
}

// ---------------------------------------------------------------------------------------------
// spectral_conv2d_grad_f64_3x3p1: the rest of the norm's Jacobian on dq, in place, then the tap
// gradients of the spatial convs, by bands of rows (corrected, then correlated while in cache):
//   dq_a ← dq_a − c_a − Σ_b M[a,b] q_b        (a < na; c (na), M (na, na) float32; q in dq's geometry)
//   acc[p, ky, kx] += Σ_{y,x} dq_a(y, x) p_b(y + ky − 1, x + kx − 1),  p = (a, b)
// float32 products summed per row in float32 lanes, rows summed in float64.
// ---------------------------------------------------------------------------------------------

/** Rows of dq corrected at a time, then correlated pair by pair while they are in cache. */
// @ts-ignore: decorator
@inline const CONV_GRAD_BAND = 16;

/** The norm's Jacobian on row y of the dq maps (SIMD for columns [0, xs), then one by one). */
function normGradRow(dqPtr: usize, qPtr: usize, mapStride: i32, rowStride: i32, cPtr: usize, mPtr: usize, na: i32, width: i32, y: i32, xs: i32): void {
  const map = <usize>mapStride << 2;
  // Each a reads every q_b, never another dq.
  for (let x = 0; x < xs; x += 4) {
    const q = at(qPtr, y * rowStride + x);
    let d = at(dqPtr, y * rowStride + x);
    for (let a = 0; a < na; a++) {
      let v = f32x4.sub(v128.load(d), v128.load32_splat(at(cPtr, a)));
      let qb = q;
      for (let b = 0; b < na; b++) {
        v = f32x4.sub(v, f32x4.mul(v128.load32_splat(at(mPtr, a * na + b)), v128.load(qb)));
        qb += map;
      }
      v128.store(d, v);
      d += map;
    }
  }
  for (let x = xs; x < width; x++) {
    for (let a = 0; a < na; a++) {
      const d = at(dqPtr, a * mapStride + y * rowStride + x);
      let v = load<f32>(d) - load<f32>(at(cPtr, a));
      for (let b = 0; b < na; b++) v -= load<f32>(at(mPtr, a * na + b)) * load<f32>(at(qPtr, b * mapStride + y * rowStride + x));
      store<f32>(d, v);
    }
  }
}

function convGrad(
  accPtr: usize, dqPtr: usize, dqMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, y0: i32, y1: i32, qPtr: usize, cPtr: usize, mPtr: usize, na: i32, simd: bool,
): void {
  const xs = simd ? width & ~3 : 0;
  const row = <usize>rowStride << 2;
  for (let yb = y0; yb < y1; yb += CONV_GRAD_BAND) {
    const ye = min(yb + CONV_GRAD_BAND, y1);
    for (let y = yb; y < ye; y++) normGradRow(dqPtr, qPtr, dqMapStride, rowStride, cPtr, mPtr, na, width, y, xs);
    for (let pair = 0; pair < nPairs; pair++) {
      const a = load<i32>(at(pairsPtr, 2 * pair)), b = load<i32>(at(pairsPtr, 2 * pair + 1));
      const acc = accPtr + (<usize>(9 * pair) << 3);
      for (let y = yb; y < ye; y++) {
        const d = at(dqPtr, a * dqMapStride + y * rowStride);
        const r0 = at(pPtr, b * pMapStride + y * rowStride - 1) - row, r1 = r0 + row, r2 = r1 + row;
        // Taps of kernel rows 0 and 1, then of row 2: nine accumulators at once do not fit x64's registers.
        let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0, s8 = s0;
        for (let x = 0; x < xs; x += 4) {
          const o = <usize>x << 2;
          const g = v128.load(d + o);
          s0 = f32x4.add(s0, f32x4.mul(g, v128.load(r0 + o)));
          s1 = f32x4.add(s1, f32x4.mul(g, v128.load(r0 + o, 4)));
          s2 = f32x4.add(s2, f32x4.mul(g, v128.load(r0 + o, 8)));
          s3 = f32x4.add(s3, f32x4.mul(g, v128.load(r1 + o)));
          s4 = f32x4.add(s4, f32x4.mul(g, v128.load(r1 + o, 4)));
          s5 = f32x4.add(s5, f32x4.mul(g, v128.load(r1 + o, 8)));
        }
        for (let x = 0; x < xs; x += 4) {
          const o = <usize>x << 2;
          const g = v128.load(d + o);
          s6 = f32x4.add(s6, f32x4.mul(g, v128.load(r2 + o)));
          s7 = f32x4.add(s7, f32x4.mul(g, v128.load(r2 + o, 4)));
          s8 = f32x4.add(s8, f32x4.mul(g, v128.load(r2 + o, 8)));
        }
        let t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3), t4 = hsum(s4), t5 = hsum(s5), t6 = hsum(s6), t7 = hsum(s7), t8 = hsum(s8);
        for (let x = xs; x < width; x++) {
          const o = <usize>x << 2;
          const g = load<f32>(d + o);
          t0 += <f64>(g * load<f32>(r0 + o));
          t1 += <f64>(g * load<f32>(r0 + o, 4));
          t2 += <f64>(g * load<f32>(r0 + o, 8));
          t3 += <f64>(g * load<f32>(r1 + o));
          t4 += <f64>(g * load<f32>(r1 + o, 4));
          t5 += <f64>(g * load<f32>(r1 + o, 8));
          t6 += <f64>(g * load<f32>(r2 + o));
          t7 += <f64>(g * load<f32>(r2 + o, 4));
          t8 += <f64>(g * load<f32>(r2 + o, 8));
        }
        store<f64>(acc, load<f64>(acc) + t0);
        store<f64>(acc, load<f64>(acc, 8) + t1, 8);
        store<f64>(acc, load<f64>(acc, 16) + t2, 16);
        store<f64>(acc, load<f64>(acc, 24) + t3, 24);
        store<f64>(acc, load<f64>(acc, 32) + t4, 32);
        store<f64>(acc, load<f64>(acc, 40) + t5, 40);
        store<f64>(acc, load<f64>(acc, 48) + t6, 48);
        store<f64>(acc, load<f64>(acc, 56) + t7, 56);
        store<f64>(acc, load<f64>(acc, 64) + t8, 64);
      }
    }
  }
}

export function spectral_conv2d_grad_f64_3x3p1(
  accPtr: usize, dqPtr: usize, dqMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, y0: i32, y1: i32, qPtr: usize, cPtr: usize, mPtr: usize, na: i32,
): void {
  convGrad(accPtr, dqPtr, dqMapStride, pPtr, pMapStride, rowStride, pairsPtr, nPairs, width, y0, y1, qPtr, cPtr, mPtr, na, true);
}

export function spectral_conv2d_grad_f64_3x3p1_ref(
  accPtr: usize, dqPtr: usize, dqMapStride: i32, pPtr: usize, pMapStride: i32, rowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, y0: i32, y1: i32, qPtr: usize, cPtr: usize, mPtr: usize, na: i32,
): void {
  convGrad(accPtr, dqPtr, dqMapStride, pPtr, pMapStride, rowStride, pairsPtr, nPairs, width, y0, y1, qPtr, cPtr, mPtr, na, false);
}

// ---------------------------------------------------------------------------------------------
// spectral_gather_f32_2x2s2: the adjoint of spectral_scatter_f32_2x2s2,
//   p_a(y, x) = Σ_{p = (a, b)} Σ_{ky,kx} K_p[ky,kx] s_b(top + 2y + ky, left + 2x + kx)
// spectral_scatter_grad_f64_2x2s2: its tap gradients,
//   acc[p, ky, kx] += Σ_{y,x} s_b(top + 2y + ky, left + 2x + kx) p_a(y, x)
// Rows [y0, y1) are rows of the half-size maps p.
// ---------------------------------------------------------------------------------------------

function gather(
  pPtr: usize, pMapStride: i32, pRowStride: i32, sPtr: usize, sMapStride: i32, sRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32, simd: bool,
): void {
  const xs = simd ? width & ~3 : 0;
  const sRow = <usize>sRowStride << 2;
  for (let y = y0; y < y1; y++) {
    for (let a = 0; a < na; a++) memory.fill(at(pPtr, a * pMapStride + y * pRowStride), 0, <usize>width << 2);
    for (let pair = 0; pair < nPairs; pair++) {
      const a = load<i32>(at(pairsPtr, 2 * pair)), b = load<i32>(at(pairsPtr, 2 * pair + 1));
      const dst = at(pPtr, a * pMapStride + y * pRowStride);
      const s0 = at(sPtr, b * sMapStride + (top + 2 * y) * sRowStride + left), s1 = s0 + sRow;
      const k = at(tapsPtr, 4 * pair);
      const k00 = load<f32>(k), k01 = load<f32>(k, 4), k10 = load<f32>(k, 8), k11 = load<f32>(k, 12);
      if (xs > 0) {
        // taps in the lanes of the interleaved source pixels: [k?0, k?1, k?0, k?1]
        const t0 = f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(k00), 1, k01), 3, k01);
        const t1 = f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(k10), 1, k11), 3, k11);
        for (let x = 0; x < xs; x += 4) {
          const o = <usize>x << 3;
          const lo = f32x4.add(f32x4.mul(t0, v128.load(s0 + o)), f32x4.mul(t1, v128.load(s1 + o)));
          const hi = f32x4.add(f32x4.mul(t0, v128.load(s0 + o, 16)), f32x4.mul(t1, v128.load(s1 + o, 16)));
          const sum = f32x4.add(v128.shuffle<f32>(lo, hi, 0, 2, 4, 6), v128.shuffle<f32>(lo, hi, 1, 3, 5, 7));
          const p = at(dst, x);
          v128.store(p, f32x4.add(v128.load(p), sum));
        }
      }
      for (let x = xs; x < width; x++) {
        const o = <usize>x << 3;
        const v = k00 * load<f32>(s0 + o) + k01 * load<f32>(s0 + o, 4) + k10 * load<f32>(s1 + o) + k11 * load<f32>(s1 + o, 4);
        const p = at(dst, x);
        store<f32>(p, load<f32>(p) + v);
      }
    }
  }
}

export function spectral_gather_f32_2x2s2(
  pPtr: usize, pMapStride: i32, pRowStride: i32, sPtr: usize, sMapStride: i32, sRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32,
): void {
  gather(pPtr, pMapStride, pRowStride, sPtr, sMapStride, sRowStride, pairsPtr, tapsPtr, nPairs, na, width, top, left, y0, y1, true);
}

export function spectral_gather_f32_2x2s2_ref(
  pPtr: usize, pMapStride: i32, pRowStride: i32, sPtr: usize, sMapStride: i32, sRowStride: i32,
  pairsPtr: usize, tapsPtr: usize, nPairs: i32, na: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32,
): void {
  gather(pPtr, pMapStride, pRowStride, sPtr, sMapStride, sRowStride, pairsPtr, tapsPtr, nPairs, na, width, top, left, y0, y1, false);
}

function scatterGrad(
  accPtr: usize, sPtr: usize, sMapStride: i32, sRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32, simd: bool,
): void {
  const xs = simd ? width & ~3 : 0;
  const sRow = <usize>sRowStride << 2;
  for (let pair = 0; pair < nPairs; pair++) {
    const a = load<i32>(at(pairsPtr, 2 * pair)), b = load<i32>(at(pairsPtr, 2 * pair + 1));
    const acc = accPtr + (<usize>(4 * pair) << 3);
    for (let y = y0; y < y1; y++) {
      const src = at(pPtr, a * pMapStride + y * pRowStride);
      const s0 = at(sPtr, b * sMapStride + (top + 2 * y) * sRowStride + left), s1 = s0 + sRow;
      // lanes of the interleaved sums: [ky·kx = ·0, ·1, ·0, ·1] per row ky
      let e0 = f32x4.splat(0), e1 = e0;
      for (let x = 0; x < xs; x += 4) {
        const v = v128.load(at(src, x));
        const vlo = v128.shuffle<f32>(v, v, 0, 0, 1, 1), vhi = v128.shuffle<f32>(v, v, 2, 2, 3, 3);
        const o = <usize>x << 3;
        e0 = f32x4.add(e0, f32x4.add(f32x4.mul(vlo, v128.load(s0 + o)), f32x4.mul(vhi, v128.load(s0 + o, 16))));
        e1 = f32x4.add(e1, f32x4.add(f32x4.mul(vlo, v128.load(s1 + o)), f32x4.mul(vhi, v128.load(s1 + o, 16))));
      }
      let t00 = <f64>f32x4.extract_lane(e0, 0) + <f64>f32x4.extract_lane(e0, 2), t01 = <f64>f32x4.extract_lane(e0, 1) + <f64>f32x4.extract_lane(e0, 3);
      let t10 = <f64>f32x4.extract_lane(e1, 0) + <f64>f32x4.extract_lane(e1, 2), t11 = <f64>f32x4.extract_lane(e1, 1) + <f64>f32x4.extract_lane(e1, 3);
      for (let x = xs; x < width; x++) {
        const v = load<f32>(at(src, x));
        const o = <usize>x << 3;
        t00 += <f64>(v * load<f32>(s0 + o));
        t01 += <f64>(v * load<f32>(s0 + o, 4));
        t10 += <f64>(v * load<f32>(s1 + o));
        t11 += <f64>(v * load<f32>(s1 + o, 4));
      }
      store<f64>(acc, load<f64>(acc) + t00);
      store<f64>(acc, load<f64>(acc, 8) + t01, 8);
      store<f64>(acc, load<f64>(acc, 16) + t10, 16);
      store<f64>(acc, load<f64>(acc, 24) + t11, 24);
    }
  }
}

export function spectral_scatter_grad_f64_2x2s2(
  accPtr: usize, sPtr: usize, sMapStride: i32, sRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32,
): void {
  scatterGrad(accPtr, sPtr, sMapStride, sRowStride, pPtr, pMapStride, pRowStride, pairsPtr, nPairs, width, top, left, y0, y1, true);
}

export function spectral_scatter_grad_f64_2x2s2_ref(
  accPtr: usize, sPtr: usize, sMapStride: i32, sRowStride: i32, pPtr: usize, pMapStride: i32, pRowStride: i32,
  pairsPtr: usize, nPairs: i32, width: i32, top: i32, left: i32, y0: i32, y1: i32,
): void {
  scatterGrad(accPtr, sPtr, sMapStride, sRowStride, pPtr, pMapStride, pRowStride, pairsPtr, nPairs, width, top, left, y0, y1, false);
}

// ---------------------------------------------------------------------------------------------
// spectral_softmax_f32 and spectral_softmax_grad_f32: the training loss on the logit maps, in place
// (src/engines/loss.ts is the float64 yardstick; the same formulas, per pixel, t its target class):
//   l_k = logit_k (outc's bias included);  m = max_k l_k;  e_k = exp(l_k − m);  z = Σ_k e_k;  s_k = e_k / z
//   written over the logits: s_k;  sums[0] += −(l_t − m − log z);  sums[1] += Σ_k s_k;
//   sums[2] += s_t;  sums[3] += 1 for a pixel with a logit that is not finite (left as l)
// then, with the Dice terms the host derives from the sums (gTrue, gOther) and n pixels:
//   g_k = gTrue if k = t else gOther;  μ = Σ_k s_k g_k
//   ∂L/∂l_k = (s_k − [k = t])/n + s_k (g_k − μ)  written over s_k;  sums[k] += ∂L/∂l_k
// The scalar twins work in float64 per pixel (an exp and a log each). The SIMD kernels take four
// pixels at a time for 2 classes (a 2-class head: e = exp(−|l_1 − l_0|) ∈ (0, 1], z = 1 + e, so
// s_top = 1/z, s_other = e/z and −(l_t − m − log z) = log1p(e) + [t ≠ top]·|l_1 − l_0|), in
// float32 with float64 sums, and fall back to the scalar pass for other class counts, for the
// column tail and for a group of four pixels with a logit that is not finite. Targets are int32
// per pixel, row-major (width per row); `scratch` holds `classes` float64 per thread.
// ---------------------------------------------------------------------------------------------

/** exp(x) for x ≤ 0 on four lanes, x clamped at −87 (exp(−87) ≈ 1.6e−38): Cephes' expf, within 2 ulp. */
// @ts-ignore: decorator
@inline function expNonPositive(x: v128): v128 {
  x = f32x4.pmax(x, f32x4.splat(-87));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  // r = x − n·ln 2, with ln 2 in two parts (0.693359375 exact in 9 bits)
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  // × 2^n (n ∈ [−126, 0]: a normal float from the exponent bits)
  return f32x4.mul(p, i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23));
}

/**
 * log(1 + e) for e ∈ [0, 1] on four lanes: Cephes' logf of u = 1 + e (u/2 above √2, plus ln 2),
 * plus the rounding of u, (e − (u − 1))/u, which log1p needs for small e.
 */
// @ts-ignore: decorator
@inline function log1pUnit(e: v128): v128 {
  const one = f32x4.splat(1);
  const u = f32x4.add(one, e);
  const big = f32x4.gt(u, f32x4.splat(1.41421356));
  const x = f32x4.sub(v128.bitselect(f32x4.mul(u, f32x4.splat(0.5)), u, big), one); // [−0.293, 0.415]
  const z = f32x4.mul(x, x);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(-1.1514610310e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.1676998740e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(3.3333331174e-1));
  y = f32x4.sub(f32x4.mul(f32x4.mul(y, x), z), f32x4.mul(z, f32x4.splat(0.5)));
  const logU = f32x4.add(f32x4.add(x, y), v128.and(f32x4.splat(0.693147180559945), big));
  return f32x4.add(logU, f32x4.div(f32x4.sub(e, f32x4.sub(u, one)), u));
}

/** acc (two float64 lanes) + the four float32 lanes of v, as float64. */
// @ts-ignore: decorator
@inline function addLanes(acc: v128, v: v128): v128 {
  return f64x2.add(f64x2.add(acc, f64x2.promote_low_f32x4(v)), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
}

/** The scalar softmax of one pixel p (logits at p, class maps `map` bytes apart), target t; sums added at sumsPtr. */
function softmaxPixel(sumsPtr: usize, scratchPtr: usize, p: usize, map: usize, classes: i32, t: i32): void {
  let m: f64 = -Infinity;
  let top = 0, finite = true;
  for (let k = 0; k < classes; k++) {
    const v = load<f32>(p + <usize>k * map);
    if (!isFinite(v)) finite = false;
    if (<f64>v > m) {
      m = <f64>v;
      top = k;
    }
  }
  if (!finite) {
    store<f64>(sumsPtr, load<f64>(sumsPtr, 24) + 1, 24); // left as the logits, for the host to find and name
    return;
  }
  let z: f64 = 0;
  for (let k = 0; k < classes; k++) {
    const e: f64 = k == top ? 1 : Math.exp(<f64>load<f32>(p + <usize>k * map) - m); // exp(0) = 1: one exp fewer
    store<f64>(scratchPtr + (<usize>k << 3), e);
    z += e;
  }
  store<f64>(sumsPtr, load<f64>(sumsPtr) - (<f64>load<f32>(p + <usize>t * map) - m - Math.log(z)));
  let probSum: f64 = 0;
  for (let k = 0; k < classes; k++) {
    const s = load<f64>(scratchPtr + (<usize>k << 3)) / z;
    store<f32>(p + <usize>k * map, <f32>s);
    probSum += s;
    if (k == t) store<f64>(sumsPtr, load<f64>(sumsPtr, 16) + s, 16);
  }
  store<f64>(sumsPtr, load<f64>(sumsPtr, 8) + probSum, 8);
}

function softmax(
  sumsPtr: usize, scratchPtr: usize, lPtr: usize, mapStride: i32, rowStride: i32, classes: i32,
  targetPtr: usize, width: i32, y0: i32, y1: i32, simd: bool,
): void {
  const map = <usize>mapStride << 2;
  const xs = simd && classes == 2 ? width & ~3 : 0;
  const one = f32x4.splat(1);
  let ce = f64x2.splat(0), probs = f64x2.splat(0), trueProbs = f64x2.splat(0);
  for (let y = y0; y < y1; y++) {
    const row = at(lPtr, y * rowStride), targets = targetPtr + (<usize>(y * width) << 2);
    for (let x = 0; x < xs; x += 4) {
      const p = at(row, x);
      const l0 = v128.load(p), l1 = v128.load(p + map);
      // x − x is 0 for a finite x, NaN otherwise
      const finite = v128.and(f32x4.eq(f32x4.sub(l0, l0), f32x4.splat(0)), f32x4.eq(f32x4.sub(l1, l1), f32x4.splat(0)));
      const t = v128.load(targets + (<usize>x << 2));
      if (!i32x4.all_true(finite)) {
        for (let i = 0; i < 4; i++) softmaxPixel(sumsPtr, scratchPtr, p + (<usize>i << 2), map, classes, load<i32>(targets + (<usize>(x + i) << 2)));
        continue;
      }
      const top1 = f32x4.gt(l1, l0); // class 1 on top (ties go to class 0)
      const gap = f32x4.abs(f32x4.sub(l1, l0));
      const e = expNonPositive(f32x4.neg(gap));
      const z = f32x4.add(one, e);
      const sTop = f32x4.div(one, z), sOther = f32x4.div(e, z);
      const s1 = v128.bitselect(sTop, sOther, top1), s0 = v128.bitselect(sOther, sTop, top1);
      const t1 = i32x4.eq(t, i32x4.splat(1));
      v128.store(p, s0);
      v128.store(p + map, s1);
      ce = addLanes(ce, f32x4.add(log1pUnit(e), v128.and(gap, v128.xor(top1, t1))));
      probs = addLanes(probs, f32x4.add(s0, s1));
      trueProbs = addLanes(trueProbs, v128.bitselect(s1, s0, t1));
    }
    for (let x = xs; x < width; x++) softmaxPixel(sumsPtr, scratchPtr, at(row, x), map, classes, load<i32>(targets + (<usize>x << 2)));
  }
  store<f64>(sumsPtr, load<f64>(sumsPtr) + f64x2.extract_lane(ce, 0) + f64x2.extract_lane(ce, 1));
  store<f64>(sumsPtr, load<f64>(sumsPtr, 8) + f64x2.extract_lane(probs, 0) + f64x2.extract_lane(probs, 1), 8);
  store<f64>(sumsPtr, load<f64>(sumsPtr, 16) + f64x2.extract_lane(trueProbs, 0) + f64x2.extract_lane(trueProbs, 1), 16);
}

export function spectral_softmax_f32(
  sumsPtr: usize, scratchPtr: usize, lPtr: usize, mapStride: i32, rowStride: i32, classes: i32,
  targetPtr: usize, width: i32, y0: i32, y1: i32,
): void {
  softmax(sumsPtr, scratchPtr, lPtr, mapStride, rowStride, classes, targetPtr, width, y0, y1, true);
}

export function spectral_softmax_f32_ref(
  sumsPtr: usize, scratchPtr: usize, lPtr: usize, mapStride: i32, rowStride: i32, classes: i32,
  targetPtr: usize, width: i32, y0: i32, y1: i32,
): void {
  softmax(sumsPtr, scratchPtr, lPtr, mapStride, rowStride, classes, targetPtr, width, y0, y1, false);
}

/** ∂L/∂l of one pixel p over its softmax (scalar, float64); sums[k] added at sumsPtr. */
function softmaxGradPixel(sumsPtr: usize, p: usize, map: usize, classes: i32, t: i32, pixels: f64, gTrue: f64, gOther: f64): void {
  let mean: f64 = 0;
  for (let k = 0; k < classes; k++) mean += <f64>load<f32>(p + <usize>k * map) * (k == t ? gTrue : gOther);
  for (let k = 0; k < classes; k++) {
    const s = <f64>load<f32>(p + <usize>k * map);
    const d = (s - (k == t ? 1 : 0)) / pixels + s * ((k == t ? gTrue : gOther) - mean);
    store<f32>(p + <usize>k * map, <f32>d);
    const sk = sumsPtr + (<usize>k << 3);
    store<f64>(sk, load<f64>(sk) + d);
  }
}

function softmaxGrad(
  sumsPtr: usize, sPtr: usize, mapStride: i32, rowStride: i32, classes: i32, targetPtr: usize, width: i32,
  pixels: f64, gTrue: f64, gOther: f64, y0: i32, y1: i32, simd: bool,
): void {
  const map = <usize>mapStride << 2;
  const xs = simd && classes == 2 ? width & ~3 : 0;
  const inv = f32x4.splat(<f32>(1 / pixels)), gT = f32x4.splat(<f32>gTrue), gO = f32x4.splat(<f32>gOther);
  let d0s = f64x2.splat(0), d1s = f64x2.splat(0);
  for (let y = y0; y < y1; y++) {
    const row = at(sPtr, y * rowStride), targets = targetPtr + (<usize>(y * width) << 2);
    for (let x = 0; x < xs; x += 4) {
      const p = at(row, x);
      const s0 = v128.load(p), s1 = v128.load(p + map);
      const t1 = i32x4.eq(v128.load(targets + (<usize>x << 2)), i32x4.splat(1));
      const g0 = v128.bitselect(gO, gT, t1), g1 = v128.bitselect(gT, gO, t1);
      const mean = f32x4.add(f32x4.mul(s0, g0), f32x4.mul(s1, g1));
      // [k = t] as 1.0 where true: the mask's bits and'ed with 1.0
      const d0 = f32x4.add(f32x4.mul(f32x4.sub(s0, v128.andnot(f32x4.splat(1), t1)), inv), f32x4.mul(s0, f32x4.sub(g0, mean)));
      const d1 = f32x4.add(f32x4.mul(f32x4.sub(s1, v128.and(f32x4.splat(1), t1)), inv), f32x4.mul(s1, f32x4.sub(g1, mean)));
      v128.store(p, d0);
      v128.store(p + map, d1);
      d0s = addLanes(d0s, d0);
      d1s = addLanes(d1s, d1);
    }
    for (let x = xs; x < width; x++) softmaxGradPixel(sumsPtr, at(row, x), map, classes, load<i32>(targets + (<usize>x << 2)), pixels, gTrue, gOther);
  }
  if (xs > 0) {
    store<f64>(sumsPtr, load<f64>(sumsPtr) + f64x2.extract_lane(d0s, 0) + f64x2.extract_lane(d0s, 1));
    store<f64>(sumsPtr, load<f64>(sumsPtr, 8) + f64x2.extract_lane(d1s, 0) + f64x2.extract_lane(d1s, 1), 8);
  }
}

export function spectral_softmax_grad_f32(
  sumsPtr: usize, sPtr: usize, mapStride: i32, rowStride: i32, classes: i32, targetPtr: usize, width: i32,
  pixels: f64, gTrue: f64, gOther: f64, y0: i32, y1: i32,
): void {
  softmaxGrad(sumsPtr, sPtr, mapStride, rowStride, classes, targetPtr, width, pixels, gTrue, gOther, y0, y1, true);
}

export function spectral_softmax_grad_f32_ref(
  sumsPtr: usize, sPtr: usize, mapStride: i32, rowStride: i32, classes: i32, targetPtr: usize, width: i32,
  pixels: f64, gTrue: f64, gOther: f64, y0: i32, y1: i32,
): void {
  softmaxGrad(sumsPtr, sPtr, mapStride, rowStride, classes, targetPtr, width, pixels, gTrue, gOther, y0, y1, false);
}
