/**
 * The reference forward pass of the FR UNet in float64: plain loops written to be checked against
 * the upstream PyTorch code (run/unet, bilinear = False), not to be fast. Every other engine is
 * tested against it.
 */
import { dctBasisVector } from '../dct.js';
import type { DoubleConv, FrLayer, FrModel } from '../model.js';
import { UNET_DEPTH } from '../model.js';

/** A planar (C, H, W) float64 tensor. */
export interface Tensor64 {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

export const NORM_EPS = 1e-5; // BatchNorm2d default eps, as upstream

/**
 * Dense spatial weights of a layer: the 4-D orthonormal inverse DCT of its coefficients, in the
 * layer's own layout. Separable, axis by axis from the last, each over the support only:
 * T1[a,b,c,x] = Σ_d C φ_d(x); T2[a,b,y,x] = Σ_c T1 φ_c(y); T3[a,i,y,x] = Σ_b T2 φ_b(i);
 * W[o,i,y,x] = Σ_a T3 φ_a(o).
 */
export function denseWeights(layer: FrLayer): Float64Array {
  const [n0, n1, n2, n3] = layer.shape;
  const nnz = layer.values.length;
  // Support extents: 1 + the largest index on each axis.
  const ext = [1, 1, 1, 1];
  for (let k = 0; k < nnz; k++) for (let a = 0; a < 4; a++) ext[a] = Math.max(ext[a], layer.indices[k * 4 + a] + 1);
  const [e0, e1, e2, e3] = ext;
  const C = new Float64Array(e0 * e1 * e2 * e3); // (e0, e1, e2, e3)
  for (let k = 0; k < nnz; k++) {
    const [a, b, c, d] = [0, 1, 2, 3].map((j) => layer.indices[k * 4 + j]);
    C[((a * e1 + b) * e2 + c) * e3 + d] += layer.values[k];
  }
  const phi = (N: number, e: number) => Array.from({ length: e }, (_, k) => dctBasisVector(N, k));
  const p0 = phi(n0, e0), p1 = phi(n1, e1), p2 = phi(n2, e2), p3 = phi(n3, e3);

  const T1 = new Float64Array(e0 * e1 * e2 * n3); // (e0, e1, e2, n3)
  for (let abc = 0; abc < e0 * e1 * e2; abc++)
    for (let d = 0; d < e3; d++) {
      const v = C[abc * e3 + d];
      if (v !== 0) for (let x = 0; x < n3; x++) T1[abc * n3 + x] += v * p3[d][x];
    }
  const T2 = new Float64Array(e0 * e1 * n2 * n3); // (e0, e1, n2, n3)
  for (let ab = 0; ab < e0 * e1; ab++)
    for (let c = 0; c < e2; c++)
      for (let y = 0; y < n2; y++)
        for (let x = 0; x < n3; x++) T2[(ab * n2 + y) * n3 + x] += T1[(ab * e2 + c) * n3 + x] * p2[c][y];
  const s = n2 * n3;
  const T3 = new Float64Array(e0 * n1 * s); // (e0, n1, n2, n3)
  for (let a = 0; a < e0; a++)
    for (let b = 0; b < e1; b++)
      for (let i = 0; i < n1; i++) {
        const f = p1[b][i];
        for (let yx = 0; yx < s; yx++) T3[(a * n1 + i) * s + yx] += T2[(a * e1 + b) * s + yx] * f;
      }
  const W = new Float64Array(n0 * n1 * s); // (n0, n1, n2, n3)
  for (let a = 0; a < e0; a++)
    for (let o = 0; o < n0; o++) {
      const f = p0[a][o];
      for (let j = 0; j < n1 * s; j++) W[o * n1 * s + j] += T3[a * n1 * s + j] * f;
    }
  return W;
}

/** Pixels per block of patches: bounds the patch buffer to PATCH_BLOCK × Cin·k² values. */
export const PATCH_BLOCK = 16;

/**
 * The k×k patches (zero padding (k−1)/2) of pixels p0 … p1−1 of `x` (p = y·W + x, row-major):
 * patch[p − p0, j] = x[i, y+ky−pad, x+kx−pad], 0 outside, with j = (i·k + ky)·k + kx — the order
 * of a (Cout, Cin, k, k) weight's row, so a conv output is a dot product of the two.
 */
export function fillPatches(x: Tensor64, k: number, p0: number, p1: number, patch: Float64Array): void {
  const { c: cin, h, w } = x;
  const pad = (k - 1) >> 1;
  const J = cin * k * k;
  for (let p = p0; p < p1; p++) {
    const y = Math.floor(p / w), xx = p - y * w;
    const row = (p - p0) * J;
    for (let i = 0; i < cin; i++)
      for (let ky = 0; ky < k; ky++) {
        const sy = y + ky - pad;
        for (let kx = 0; kx < k; kx++) {
          const sx = xx + kx - pad;
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          patch[row + (i * k + ky) * k + kx] = inside ? x.data[(i * h + sy) * w + sx] : 0;
        }
      }
  }
}

/**
 * Cross-correlation with a (Cout, Cin, k, k) weight, stride 1, zero padding (k−1)/2, plus bias:
 * out[o, p] = Σ_j W[o, j] · patch[p, j] + bias[o], j over (i, ky, kx), pixels taken PATCH_BLOCK at a
 * time and four output channels per pass over a patch (each sum still runs over j in order).
 */
export function conv2d(x: Tensor64, W: Float64Array, cout: number, k: number, bias?: Float32Array): Tensor64 {
  const { c: cin, h, w } = x;
  const n = h * w, J = cin * k * k;
  const out = new Float64Array(cout * n);
  const patch = new Float64Array(PATCH_BLOCK * J); // (PATCH_BLOCK, Cin·k·k)
  for (let p0 = 0; p0 < n; p0 += PATCH_BLOCK) {
    const p1 = Math.min(n, p0 + PATCH_BLOCK);
    fillPatches(x, k, p0, p1, patch);
    let o = 0;
    for (; o + 4 <= cout; o += 4) {
      const w0 = o * J, w1 = w0 + J, w2 = w1 + J, w3 = w2 + J;
      for (let p = p0; p < p1; p++) {
        const q = (p - p0) * J;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let j = 0; j < J; j++) {
          const v = patch[q + j];
          s0 += W[w0 + j] * v;
          s1 += W[w1 + j] * v;
          s2 += W[w2 + j] * v;
          s3 += W[w3 + j] * v;
        }
        out[o * n + p] = s0;
        out[(o + 1) * n + p] = s1;
        out[(o + 2) * n + p] = s2;
        out[(o + 3) * n + p] = s3;
      }
    }
    for (; o < cout; o++) {
      const w0 = o * J;
      for (let p = p0; p < p1; p++) {
        const q = (p - p0) * J;
        let s = 0;
        for (let j = 0; j < J; j++) s += W[w0 + j] * patch[q + j];
        out[o * n + p] = s;
      }
    }
  }
  if (bias) for (let o = 0; o < cout; o++) for (let p = 0; p < n; p++) out[o * n + p] += bias[o];
  return { c: cout, h, w, data: out };
}

/** ConvTranspose2d, kernel 2, stride 2, weight (Cin, Cout, 2, 2): out[o, 2y+ky, 2x+kx] = Σ_i W[i,o,ky,kx] x[i,y,x]. */
export function convTranspose2x2(x: Tensor64, W: Float64Array, cout: number, bias?: Float32Array): Tensor64 {
  const { c: cin, h, w } = x;
  const H = 2 * h, Wd = 2 * w;
  const out = new Float64Array(cout * H * Wd);
  for (let i = 0; i < cin; i++)
    for (let o = 0; o < cout; o++)
      for (let ky = 0; ky < 2; ky++)
        for (let kx = 0; kx < 2; kx++) {
          const wv = W[((i * cout + o) * 2 + ky) * 2 + kx];
          if (wv === 0) continue;
          for (let y = 0; y < h; y++)
            for (let xx = 0; xx < w; xx++) out[(o * H + 2 * y + ky) * Wd + 2 * xx + kx] += wv * x.data[(i * h + y) * w + xx];
        }
  if (bias) for (let o = 0; o < cout; o++) for (let p = 0; p < H * Wd; p++) out[o * H * Wd + p] += bias[o];
  return { c: cout, h: H, w: Wd, data: out };
}

/**
 * BatchNorm2d(affine=False, track_running_stats=False) on one image, in place: per channel,
 * x̂ = (x − mean) / √(biased variance + eps). Returns 1/√(variance + eps) per channel.
 */
export function normalizeChannels(x: Tensor64): Float64Array {
  const n = x.h * x.w;
  const invStd = new Float64Array(x.c);
  for (let c = 0; c < x.c; c++) {
    let mean = 0;
    for (let p = 0; p < n; p++) mean += x.data[c * n + p];
    mean /= n;
    let v = 0;
    for (let p = 0; p < n; p++) v += (x.data[c * n + p] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + NORM_EPS);
    for (let p = 0; p < n; p++) x.data[c * n + p] = (x.data[c * n + p] - mean) * inv;
    invStd[c] = inv;
  }
  return invStd;
}

/** The norm, then ReLU, in place. */
export function normRelu(x: Tensor64): Tensor64 {
  normalizeChannels(x);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.max(x.data[i], 0);
  return x;
}

/** MaxPool2d(2), floor: (C, H, W) → (C, ⌊H/2⌋, ⌊W/2⌋). */
export function maxPool2x2(x: Tensor64): Tensor64 {
  const h = x.h >> 1, w = x.w >> 1;
  const out = new Float64Array(x.c * h * w);
  for (let c = 0; c < x.c; c++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const at = (dy: number, dx: number) => x.data[(c * x.h + 2 * y + dy) * x.w + 2 * xx + dx];
        out[(c * h + y) * w + xx] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      }
  return { c: x.c, h, w, data: out };
}

/** cat([skip, pad(up)], dim=1), padding `up` to the skip's size: diff//2 before, the rest after. */
export function padConcat(skip: Tensor64, up: Tensor64): Tensor64 {
  const { h, w } = skip;
  const top = (h - up.h) >> 1, left = (w - up.w) >> 1;
  const out = new Float64Array((skip.c + up.c) * h * w);
  out.set(skip.data);
  for (let c = 0; c < up.c; c++)
    for (let y = 0; y < up.h; y++)
      for (let x = 0; x < up.w; x++) {
        const oy = y + top, ox = x + left;
        if (oy < 0 || oy >= h || ox < 0 || ox >= w) continue;
        out[((skip.c + c) * h + oy) * w + ox] = up.data[(c * up.h + y) * up.w + x];
      }
  return { c: skip.c + up.c, h, w, data: out };
}

export function convLayer(x: Tensor64, layer: FrLayer): Tensor64 {
  return conv2d(x, denseWeights(layer), layer.shape[0], layer.shape[2], layer.bias);
}

function doubleConv(x: Tensor64, dc: DoubleConv): Tensor64 {
  return normRelu(convLayer(normRelu(convLayer(x, dc.conv1)), dc.conv2));
}

/** Logits (classes, H, W) for a planar (Cin, H, W) input. */
export function referenceForward(model: FrModel, input: Tensor64): Tensor64 {
  const skips: Tensor64[] = [doubleConv(input, model.inc)];
  for (let k = 0; k < UNET_DEPTH; k++) skips.push(doubleConv(maxPool2x2(skips[k]), model.down[k]));
  let x = skips[UNET_DEPTH];
  for (let k = 0; k < UNET_DEPTH; k++) {
    const stage = model.up[k];
    const up = convTranspose2x2(x, denseWeights(stage.up), stage.up.shape[1], stage.up.bias);
    x = doubleConv(padConcat(skips[UNET_DEPTH - 1 - k], up), stage.conv);
  }
  return convLayer(x, model.outc);
}

/** Argmax over classes per pixel, ties to the lowest class. */
export function argmaxClasses(logits: { c: number; h: number; w: number; data: ArrayLike<number> }): Uint8Array {
  const n = logits.h * logits.w;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    let best = 0, bestV = logits.data[p];
    for (let c = 1; c < logits.c; c++) {
      const v = logits.data[c * n + p];
      if (v > bestV) { best = c; bestV = v; }
    }
    out[p] = best;
  }
  return out;
}
