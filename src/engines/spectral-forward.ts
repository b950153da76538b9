/**
 * The spectral forward schedule. Per image and conv: spatial convs P → Q
 * (`spectral_conv2d_f32_3x3p1`), statistics of Q (`spectral_sum_f64`, then
 * `spectral_center_cov_f64`, which also centres Q in place), the norm folded into the expansion
 * table F[o,a] = φ_a(o) / √(φ(o)ᵀ Cov(Q) φ(o) + eps) on the host, then the fused pass
 * (`spectral_fuse_f32`): each channel formed once per pixel in registers (expand → norm → ReLU →
 * 2×2 max-pool where the network pools) and projected at once on every consumer's frequencies.
 * The transposed conv and the upsampled half of the concatenation are one 2×2 stride-2 scatter
 * into the up stage's input maps (`spectral_scatter_f32_2x2s2`).
 *
 * What the backward pass needs stays behind: each conv's input maps and centred Q (in a training
 * plan), its Q means and its norm table F.
 */
import { UNET_DEPTH } from '../model.js';
import { NORM_EPS } from './reference.js';
import type { Exec } from './spectral-exec.js';
import { fuseScratchFloats, interior, qMapsOf, type Level, type SizePlan } from './spectral-size.js';
import type { Consumer, ConvStage, SpectralTables } from './spectral-tables.js';

/** A planar map set a fused pass writes: pointer to pixel (0, 0) of map 0, strides, consumer table, and a bias per map (float32) if any. */
export interface Target { ptr: number; mapStride: number; rowStride: number; c: Consumer; biasPtr?: number }
export const NO_TARGET: Target = { ptr: 0, mapStride: 0, rowStride: 0, c: { n: 0, gPtr: 0 } };

export function mapsAt(L: Level, buf: number, c: Consumer): Target {
  return { ptr: interior(L, buf), mapStride: L.mapSize, rowStride: L.stride, c };
}

/** A fused pass's source: planar maps expanded through F (channels, na). */
export interface FuseSource { ptr: number; mapStride: number; rowStride: number; na: number; fPtr: number; channels: number }

export function fromQ(c: ConvStage, L: Level): FuseSource {
  return { ptr: interior(L, qMapsOf(L, c)), mapStride: L.mapSize, rowStride: L.stride, na: c.f.outFreqs.length, fPtr: c.fPtr, channels: c.f.cout };
}

/** The fused pass over planar maps: expand (→ ReLU) (→ 2×2 max-pool) → project on the targets. */
export function fuse(ex: Exec, t: SpectralTables, sp: SizePlan, src: FuseSource, L: { w: number; h: number }, out: Target, pool: Target, relu: boolean): void {
  ex.rows(L.h, pool.c.n > 0 ? 2 : 1, (y0, y1, s) => [
    'spectral_fuse_f32',
    out.ptr, out.mapStride, out.rowStride, out.c.n, out.c.gPtr,
    pool.ptr, pool.mapStride, pool.rowStride, pool.c.n, pool.c.gPtr,
    src.ptr, src.mapStride, src.rowStride, src.na, src.fPtr,
    src.channels, L.w, L.h, y0, y1, relu ? 1 : 0, out.biasPtr ?? 0, sp.fuseScratch + s * fuseScratchFloats(t) * 4,
  ]);
}

/** Spatial convs P → Q at a level (Q_a = Σ_b K_ab ⋆ P_b). */
export function spatialConv(ex: Exec, c: ConvStage, L: Level, P: number): void {
  const q = interior(L, qMapsOf(L, c)), p = interior(L, P);
  ex.rows(L.h, 1, (y0, y1) => ['spectral_conv2d_f32_3x3p1', q, L.mapSize, p, L.mapSize, L.stride, c.pairsPtr, c.tapsPtr, c.nPairs, c.f.outFreqs.length, L.w, y0, y1]);
}

/** Spatial convs, statistics (Q left centred, its means in c.meanPtr), and the norm folded into c.fPtr. */
export function convNorm(ex: Exec, t: SpectralTables, c: ConvStage, L: Level, P: number, sp: SizePlan): void {
  const { arena, shares } = ex;
  const { naMax } = t;
  const na = c.f.outFreqs.length;
  spatialConv(ex, c, L, P);
  if (na === 0) return;
  const q = interior(L, qMapsOf(L, c));
  const n = L.w * L.h;
  ex.f64(sp.sums, shares * naMax).fill(0);
  ex.rows(L.h, 1, (y0, y1, s) => ['spectral_sum_f64', sp.sums + s * naMax * 8, q, L.mapSize, L.stride, na, L.w, y0, y1]);
  const sums = ex.sumShares(sp.sums, na, naMax);
  const mean = arena.f32(c.meanPtr, na);
  for (let a = 0; a < na; a++) mean[a] = sums[a] / n;
  ex.f64(sp.covs, shares * naMax * naMax).fill(0);
  ex.rows(L.h, 1, (y0, y1, s) => ['spectral_center_cov_f64', sp.covs + s * naMax * naMax * 8, q, L.mapSize, L.stride, c.meanPtr, na, L.w, y0, y1]);
  const covs = ex.sumShares(sp.covs, na * na, naMax * naMax); // b ≥ a filled
  const cov = new Float64Array(na * na);
  for (let a = 0; a < na; a++) for (let b = a; b < na; b++) cov[a * na + b] = cov[b * na + a] = covs[a * na + b] / n;
  const F = arena.f32(c.fPtr, c.f.cout * na);
  for (let o = 0; o < c.f.cout; o++) {
    const e = c.E.subarray(o * na, o * na + na);
    let v = 0;
    for (let a = 0; a < na; a++) {
      let r = 0;
      for (let b = 0; b < na; b++) r += cov[a * na + b] * e[b];
      v += e[a] * r;
    }
    const inv = 1 / Math.sqrt(Math.max(v, 0) + NORM_EPS);
    for (let a = 0; a < na; a++) F[o * na + a] = e[a] * inv;
  }
}

/** Adds c[b] to maps b of a buffer over rows [top, top + h), columns [left, left + w). */
function addConstant(ex: Exec, L: Level, buf: number, c: Float64Array, top: number, left: number, h: number, w: number): void {
  const m = ex.arena.f32(interior(L, buf), c.length * L.mapSize);
  for (let b = 0; b < c.length; b++) {
    const v = c[b];
    for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) m[b * L.mapSize + y * L.stride + x] += v;
  }
}

/** Offsets of the upsampled half inside level l (F.pad: diff // 2 before). */
export function upsampledOffset(L: Level, B: Level): { top: number; left: number } {
  return { top: (L.h - 2 * B.h) >> 1, left: (L.w - 2 * B.w) >> 1 };
}

/**
 * The image (Cin, H, W) projected on inc.conv1's input frequencies, P_b = Σ_i φ_b(i) x_i, into
 * level 0's first input maps (spectral_project_f32), band by band through sp.imageBand. Summed
 * in float64 and rounded once: in flat image regions every pixel rounds alike, so float32 sums
 * would shift whole regions coherently (enough, on a 240×160 photo, to move channels that sit
 * within 1e-6 of a ReLU switch to its other side).
 */
export function projectImage(ex: Exec, t: SpectralTables, sp: SizePlan, input: Float32Array): void {
  const L0 = sp.levels[0];
  const { w, h } = L0;
  const cin = t.model.arch.inChannels, nb = t.down[0].conv1.f.inFreqs.length, n = w * h;
  const bandRows = sp.imageBandRows, bandMap = bandRows * w;
  for (let top = 0; top < h; top += bandRows) {
    const rows = Math.min(bandRows, h - top);
    const band = ex.arena.f32(sp.imageBand, cin * bandMap);
    for (let i = 0; i < cin; i++) band.set(input.subarray(i * n + top * w, i * n + (top + rows) * w), i * bandMap);
    ex.rows(rows, 1, (y0, y1) => [
      'spectral_project_f32', interior(L0, L0.in.down1), L0.mapSize, L0.stride, sp.imageBand + y0 * w * 4, bandMap, w,
      cin, nb, t.imageBasisPtr, w, top + y0, top + y1,
    ]);
  }
}

/** The whole network from the image projection (projectImage) to the logits (in sp.logits, outc's bias included). */
export function forward(ex: Exec, t: SpectralTables, sp: SizePlan): void {
  const { levels } = sp;
  const { down, ups, outc } = t;
  const { classes } = t.model.arch;
  for (let l = 0; l <= UNET_DEPTH; l++) {
    const L = levels[l], d = down[l];
    convNorm(ex, t, d.conv1, L, L.in.down1, sp);
    fuse(ex, t, sp, fromQ(d.conv1, L), L, mapsAt(L, L.in.down2, t.downNext[l]), NO_TARGET, true);
    convNorm(ex, t, d.conv2, L, L.in.down2, sp);
    if (l < UNET_DEPTH) {
      const B = levels[l + 1];
      fuse(ex, t, sp, fromQ(d.conv2, L), L, mapsAt(L, L.in.up1, t.skipShare[l]), mapsAt(B, B.in.down1, t.pooled[l]), true);
    } else fuse(ex, t, sp, fromQ(d.conv2, L), L, mapsAt(L, L.in.transposed, t.toTransposed[l - 1]), NO_TARGET, true);
  }
  for (let l = UNET_DEPTH - 1; l >= 0; l--) {
    const L = levels[l], B = levels[l + 1], u = ups[l], sc = u.scatter;
    const { top, left } = upsampledOffset(L, B);
    ex.rows(L.h, 1, (y0, y1) => [
      'spectral_scatter_f32_2x2s2', interior(L, L.in.up1), L.mapSize, L.stride, interior(B, B.in.transposed), B.mapSize, B.stride,
      sc.pairsPtr, sc.tapsPtr, sc.nPairs, B.w, B.h, top, left, y0, y1,
    ]);
    if (sc.bias) addConstant(ex, L, L.in.up1, sc.bias, top, left, 2 * B.h, 2 * B.w);
    convNorm(ex, t, u.conv1, L, L.in.up1, sp);
    fuse(ex, t, sp, fromQ(u.conv1, L), L, mapsAt(L, L.in.up2, t.upNext[l]), NO_TARGET, true);
    convNorm(ex, t, u.conv2, L, L.in.up2, sp);
    if (l > 0) fuse(ex, t, sp, fromQ(u.conv2, L), L, mapsAt(L, L.in.transposed, t.toTransposed[l - 1]), NO_TARGET, true);
    else {
      const logits = { ...mapsAt(L, sp.logits, t.toLogits), biasPtr: t.outcBiasPtr };
      if (!outc) fuse(ex, t, sp, fromQ(u.conv2, L), L, logits, NO_TARGET, true);
      else {
        fuse(ex, t, sp, fromQ(u.conv2, L), L, mapsAt(L, L.in.outc, t.toLogits), NO_TARGET, true);
        spatialConv(ex, outc, L, L.in.outc);
        fuse(ex, t, sp, { ...fromQ(outc, L), channels: classes }, L, { ...logits, c: t.identityG! }, NO_TARGET, false);
      }
    }
  }
}
