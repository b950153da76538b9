/**
 * The spectral backward schedule: ∂L/∂C for every listed coefficient of every layer, from
 * ∂L/∂logits, after `forward` ran on a training plan. Like the forward pass it works on a few
 * maps per layer; full-channel values are formed only in registers.
 *
 * For a conv (P_b = Σ_i φ_b(i) x_i, Q_a = Σ_b K_ab ⋆ P_b, y_o = Σ_a φ_a(o) Q_a, z_o the normed
 * y_o, h_o = ReLU(z_o), consumers project h (and its 2×2 max-pool) on their input frequencies):
 *
 *   g_o      = ∂L/∂z_o = [z_o > 0]·(Σ_g G[o,g] ∂L/∂P'_g + pooled consumers at the window's arg-max)
 *   ∂L/∂y_o  = (g_o − mean(g_o) − z_o·mean(g_o z_o)) / σ_o                (the norm's Jacobian)
 *   ∂L/∂Q_a  = Σ_o φ_a(o) ∂L/∂y_o = U_a − c_a − Σ_a' M[a,a'] Q̃_a'
 *              U_a = Σ_o F[o,a] g_o,  c_a = Σ_o F[o,a] m1_o = mean U_a,  M[a,a'] = Σ_o F[o,a] F[o,a'] m2_o
 *              (F[o,a] = φ_a(o)/σ_o, m1_o = mean g_o, m2_o = mean g_o z_o, Q̃ = Q − E[Q])
 *   ∂L/∂K_ab = ∂L/∂Q_a ⋆ P_b (a 3×3 correlation of two maps)
 *   ∂L/∂C[a,b,c,d] = Σ_{y,x} φ_c(y) φ_d(x) ∂L/∂K_ab[y,x]
 *   ∂L/∂P_b  = Σ_a K_ab^flip ⋆ ∂L/∂Q_a          (fed to the producer as its consumer's gradient)
 *
 * One fused pass (`spectral_backfuse_f32`) forms g_o in registers, writes U and sums m2 per
 * channel; c is the mean of U's maps (`spectral_sum_f64`); `spectral_conv2d_grad_f64_3x3p1`
 * applies c and M to each row of U and correlates it at once; the forward's conv kernel, with the
 * flipped pair table, gives ∂L/∂P. The transposed conv folded
 * with the concatenation is the same with a 2×2 stride-2 scatter: its adjoint
 * (`spectral_gather_f32_2x2s2`) and tap gradients (`spectral_scatter_grad_f64_2x2s2`), then
 * ∂L/∂Kt_{a,b'} = Σ_b M[b,b'] ∂L/∂K'_{a,b}. Q̃ is the forward's, kept centred per conv.
 */
import { dctBasis } from '../dct.js';
import type { FrLayer } from '../model.js';
import { UNET_DEPTH } from '../model.js';
import type { Exec } from './spectral-exec.js';
import { mapsAt, NO_TARGET, projectImage, upsampledOffset, type Target } from './spectral-forward.js';
import { backScratchFloats, interior, qMapsOf, type Level, type SizePlan } from './spectral-size.js';
import type { ConvStage, ScatterStage, SpectralTables } from './spectral-tables.js';

/** Raw tap gradients of one backward pass, per stage, float64. */
export interface TapGradients {
  /** Per conv stage: (nPairs, 9) ∂L/∂K (1×1 convs: the centre tap). */
  conv: Map<ConvStage, Float64Array>;
  /** Per scatter: (nPairs, 2, 2) ∂L/∂K' of the folded transposed conv. */
  scatter: Map<ScatterStage, Float64Array>;
  /** Per scatter with a bias: (nb) Σ of ∂L/∂S_b over the upsampled region. */
  scatterBias: Map<ScatterStage, Float64Array>;
  /** outc's dense weight gradient ∂L/∂W[c,o] = Σ_p ∂L/∂logit_c · h_o, as (width, classes). */
  outcW?: Float64Array;
}

/** U of a normed ReLU conv into L's dQ maps, from its consumers' gradients, and c and M of its norm's Jacobian (applied by convBack). */
function normBack(ex: Exec, t: SpectralTables, c: ConvStage, L: Level, sp: SizePlan, out: Target, pool: Target, grads?: TapGradients): void {
  const na = c.f.outFreqs.length, cout = c.f.cout;
  const dQ = interior(L, L.grads!.dQ), q = interior(L, qMapsOf(L, c));
  const slot = t.channelsMax, wSlot = t.model.arch.width * t.model.arch.classes;
  ex.f64(sp.normSums, ex.shares * slot).fill(0);
  if (grads) ex.f64(sp.outcGrads, ex.shares * wSlot).fill(0);
  ex.rows(L.h, pool.c.n > 0 ? 2 : 1, (y0, y1, s) => [
    'spectral_backfuse_f32', dQ, L.mapSize, L.stride, sp.normSums + s * slot * 8, sp.backScratch + s * backScratchFloats(t) * 4,
    grads ? sp.outcGrads + s * wSlot * 8 : 0,
    out.ptr, out.mapStride, out.rowStride, out.c.n, out.c.gPtr,
    pool.ptr, pool.mapStride, pool.rowStride, pool.c.n, pool.c.gPtr,
    q, L.mapSize, L.stride, na, c.fPtr, cout, L.w, y0, y1,
  ]);
  const gz = ex.sumShares(sp.normSums, cout, slot);
  if (grads) grads.outcW = ex.sumShares(sp.outcGrads, wSlot, wSlot);
  ex.f64(sp.sums, ex.shares * t.naMax).fill(0);
  ex.rows(L.h, 1, (y0, y1, s) => ['spectral_sum_f64', sp.sums + s * t.naMax * 8, dQ, L.mapSize, L.stride, na, L.w, y0, y1]);
  const uSums = ex.sumShares(sp.sums, na, t.naMax);
  const n = L.w * L.h;
  const F = ex.arena.f32(c.fPtr, cout * na);
  const cVec = ex.arena.f32(sp.normC, na), M = ex.arena.f32(sp.normM, na * na);
  const M64 = new Float64Array(na * na);
  for (let o = 0; o < cout; o++) {
    const m2 = gz[o] / n;
    for (let a = 0; a < na; a++) {
      const fa = F[o * na + a];
      for (let b = 0; b < na; b++) M64[a * na + b] += fa * F[o * na + b] * m2;
    }
  }
  for (let a = 0; a < na; a++) cVec[a] = uSums[a] / n;
  M.set(M64);
}

/** From normBack's U, c and M: ∂L/∂Q in L's dQ maps, the conv's tap gradients, and ∂L/∂P into `dP` (a buffer at L) unless 0. */
function convBack(ex: Exec, t: SpectralTables, c: ConvStage, L: Level, P: number, sp: SizePlan, dP: number, grads: TapGradients): void {
  const dQ = interior(L, L.grads!.dQ), p = interior(L, P), q = interior(L, qMapsOf(L, c));
  const slot = t.pairsMax * 9;
  ex.f64(sp.tapGrads, ex.shares * slot).fill(0);
  ex.rows(L.h, 1, (y0, y1, s) => [
    'spectral_conv2d_grad_f64_3x3p1', sp.tapGrads + s * slot * 8, dQ, L.mapSize, p, L.mapSize, L.stride, c.pairsPtr, c.nPairs, L.w, y0, y1,
    q, sp.normC, sp.normM, c.f.outFreqs.length,
  ]);
  grads.conv.set(c, ex.sumShares(sp.tapGrads, c.nPairs * 9, slot));
  if (dP) {
    const nb = c.f.inFreqs.length;
    ex.rows(L.h, 1, (y0, y1) => [
      'spectral_conv2d_f32_3x3p1', interior(L, dP), L.mapSize, dQ, L.mapSize, L.stride, c.backPairsPtr, c.backTapsPtr, c.nPairs, nb, L.w, y0, y1,
    ]);
  }
}

/** The folded transposed conv of up stage l: its tap gradients and ∂L/∂Pt (at level l + 1) into `dPt`. */
function scatterBack(ex: Exec, t: SpectralTables, l: number, sp: SizePlan, dPt: number, grads: TapGradients): void {
  const L = sp.levels[l], B = sp.levels[l + 1], sc = t.ups[l].scatter;
  const { top, left } = upsampledOffset(L, B);
  const dS = interior(L, L.grads!.dS), pt = interior(B, B.in.transposed);
  const slot = t.pairsMax * 9;
  ex.f64(sp.tapGrads, ex.shares * slot).fill(0);
  ex.rows(B.h, 1, (y0, y1, s) => [
    'spectral_scatter_grad_f64_2x2s2', sp.tapGrads + s * slot * 8, dS, L.mapSize, L.stride, pt, B.mapSize, B.stride,
    sc.pairsPtr, sc.nPairs, B.w, top, left, y0, y1,
  ]);
  grads.scatter.set(sc, ex.sumShares(sp.tapGrads, sc.nPairs * 4, slot));
  if (sc.bias) {
    const nb = sc.bias.length;
    const region = dS + (top * L.stride + left) * 4;
    const sums = new Float64Array(nb);
    // Σ over the upsampled region, map by map (spectral_sum_f64 sums na ≤ naMax maps at once).
    for (let b = 0; b < nb; b++) {
      ex.f64(sp.sums, ex.shares * t.naMax).fill(0);
      ex.rows(2 * B.h, 1, (y0, y1, s) => ['spectral_sum_f64', sp.sums + s * t.naMax * 8, region + b * L.mapSize * 4, L.mapSize, L.stride, 1, 2 * B.w, y0, y1]);
      sums[b] = ex.sumShares(sp.sums, 1, t.naMax)[0];
    }
    grads.scatterBias.set(sc, sums);
  }
  ex.rows(B.h, 1, (y0, y1) => [
    'spectral_gather_f32_2x2s2', interior(B, dPt), B.mapSize, B.stride, dS, L.mapSize, L.stride,
    sc.pairsPtr, sc.tapsPtr, sc.nPairs, sc.t.inFreqs.length, B.w, top, left, y0, y1,
  ]);
}

/** The backward pass from ∂L/∂logits (in sp.dLogits) to every stage's tap gradients; `input` is the image again. */
export function backward(ex: Exec, t: SpectralTables, sp: SizePlan, input: Float32Array): TapGradients {
  const grads: TapGradients = { conv: new Map(), scatter: new Map(), scatterBias: new Map() };
  const { levels } = sp;
  const { down, ups } = t;
  // Up stages, from level 0 downwards: ∂L/∂P of the consumer arrives in dA; at level 0 the
  // consumer is outc, dense: ∂L/∂logits with G = Wᵀ, and its weight gradient summed on the way.
  for (let l = 0; l < UNET_DEPTH; l++) {
    const L = levels[l], u = ups[l], G = L.grads!;
    if (l === 0) normBack(ex, t, u.conv2, L, sp, mapsAt(L, sp.dLogits, t.toLogits), NO_TARGET, grads);
    else normBack(ex, t, u.conv2, L, sp, mapsAt(L, G.dA, t.toTransposed[l - 1]), NO_TARGET);
    convBack(ex, t, u.conv2, L, L.in.up2, sp, G.dB, grads);
    normBack(ex, t, u.conv1, L, sp, mapsAt(L, G.dB, t.upNext[l]), NO_TARGET);
    convBack(ex, t, u.conv1, L, L.in.up1, sp, G.dS, grads);
    scatterBack(ex, t, l, sp, levels[l + 1].grads!.dA, grads);
  }
  // Down stages, from the bottom up: ∂L/∂P of the level's consumer arrives in dA.
  for (let l = UNET_DEPTH; l >= 0; l--) {
    const L = levels[l], d = down[l], G = L.grads!;
    if (l === UNET_DEPTH) normBack(ex, t, d.conv2, L, sp, mapsAt(L, G.dA, t.toTransposed[l - 1]), NO_TARGET);
    else {
      const B = levels[l + 1];
      normBack(ex, t, d.conv2, L, sp, mapsAt(L, G.dS, t.skipShare[l]), mapsAt(B, B.grads!.dA, t.pooled[l]));
    }
    convBack(ex, t, d.conv2, L, L.in.down2, sp, G.dB, grads);
    if (l === 0) projectImage(ex, t, sp, input); // into dS, spent now (spectral-size.ts)
    normBack(ex, t, d.conv1, L, sp, mapsAt(L, G.dB, t.downNext[l]), NO_TARGET);
    convBack(ex, t, d.conv1, L, L.in.down1, sp, l > 0 ? G.dA : 0, grads);
  }
  return grads;
}

/** Stage of each layer, for reading gradients back per layer. */
export function stageOf(t: SpectralTables, layer: FrLayer): { conv?: ConvStage; scatter?: ScatterStage; outc?: boolean } {
  const m = t.model;
  const k = [m.inc, ...m.down].findIndex((dc) => dc.conv1 === layer || dc.conv2 === layer);
  if (k >= 0) return { conv: [m.inc, ...m.down][k].conv1 === layer ? t.down[k].conv1 : t.down[k].conv2 };
  for (let l = 0; l < UNET_DEPTH; l++) {
    const st = m.up[UNET_DEPTH - 1 - l];
    if (st.up === layer) return { scatter: t.ups[l].scatter };
    if (st.conv.conv1 === layer) return { conv: t.ups[l].conv1 };
    if (st.conv.conv2 === layer) return { conv: t.ups[l].conv2 };
  }
  return { conv: t.outc, outc: layer === m.outc };
}

/**
 * ∂L/∂C at each listed position of a layer: Σ_{y,x} φ_c(y) φ_d(x) ∂L/∂K_ab[y,x] (conv), or through
 * the concatenation's matrix first (transposed conv: ∂L/∂Kt_{a,b'} = Σ_b M[b,b'] ∂L/∂K'_{a,b}).
 */
export function coefficientGradients(t: SpectralTables, layer: FrLayer, grads: TapGradients, count: number): Float64Array {
  const out = new Float64Array(count);
  const { conv, scatter, outc } = stageOf(t, layer);
  if (outc && !conv) {
    // Dense outc: ∂L/∂C[a,b,0,0] = Σ_{c,o} φ_a(c) φ_b(o) ∂L/∂W[c,o].
    const [classes, width] = layer.shape, dW = grads.outcW!;
    for (let n = 0; n < count; n++) {
      const a = layer.indices[4 * n], b = layer.indices[4 * n + 1];
      let s = 0;
      for (let o = 0; o < width; o++) {
        let r = 0;
        for (let c = 0; c < classes; c++) r += dctBasis(classes, a, c) * dW[o * classes + c];
        s += dctBasis(width, b, o) * r;
      }
      out[n] = s;
    }
    return out;
  }
  if (conv) {
    const f = conv.f, dK = grads.conv.get(conv)!;
    const inIdx = new Map(f.inFreqs.map((v, g) => [v, g])), outIdx = new Map(f.outFreqs.map((v, g) => [v, g]));
    const pairOf = new Map<number, number>();
    for (let p = 0; p < conv.nPairs; p++) pairOf.set(f.pairs[2 * p] * f.inFreqs.length + f.pairs[2 * p + 1], p);
    for (let n = 0; n < count; n++) {
      const [i0, i1, c, d] = layer.indices.subarray(4 * n, 4 * n + 4);
      const p = pairOf.get(outIdx.get(i0)! * f.inFreqs.length + inIdx.get(i1)!);
      if (p === undefined) continue; // not a listed pair: cannot happen for a training table
      if (f.k === 1) out[n] = dK[p * 9 + 4];
      else {
        let s = 0;
        for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) s += dctBasis(3, c, y) * dctBasis(3, d, x) * dK[p * 9 + y * 3 + x];
        out[n] = s;
      }
    }
    return out;
  }
  const sc = scatter!, dK = grads.scatter.get(sc)!;
  const f = sc.t;
  const nbt = f.outFreqs.length, nb = sc.M.length / nbt;
  // The training scatter keeps every (a, b) pair, a-major: pair (a, b) is a·nb + b.
  const inIdx = new Map(f.inFreqs.map((v, g) => [v, g])), outIdx = new Map(f.outFreqs.map((v, g) => [v, g]));
  for (let n = 0; n < count; n++) {
    const [i0, i1, c, d] = layer.indices.subarray(4 * n, 4 * n + 4);
    const a = inIdx.get(i0)!, bt = outIdx.get(i1)!;
    let s = 0;
    for (let ky = 0; ky < 2; ky++)
      for (let kx = 0; kx < 2; kx++) {
        let dKt = 0;
        for (let b = 0; b < nb; b++) dKt += sc.M[b * nbt + bt] * dK[(a * nb + b) * 4 + ky * 2 + kx];
        s += dctBasis(2, c, ky) * dctBasis(2, d, kx) * dKt;
      }
    out[n] = s;
  }
  return out;
}
