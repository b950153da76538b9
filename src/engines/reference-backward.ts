/**
 * The reference backward pass in float64: the gradient of the training loss (src/engines/loss.ts)
 * with respect to frequency coefficients, through the whole UNet, in plain loops written to be
 * checked against the math (PyTorch autograd of upstream run/unet, bilinear = False). It is the
 * yardstick the spectral engine's backward is tested against, as reference.ts is for the forward.
 *
 * Route: forward pass keeping what the backward needs (each conv's input, each norm's output x̂ and
 * 1/σ, each max-pool's winners), ∂L/∂logits from the loss, back through every stage to ∂L/∂W of
 * every layer, then ∂L/∂C at each asked position: the 4-D orthonormal DCT of ∂L/∂W there
 * (W = idct_4d(C) is linear and orthonormal, so ∂L/∂C = dct_4d(∂L/∂W)), separable axis by axis.
 */
import { fail } from '../errors.js';
import { checkInputSize } from '../input.js';
import { dctBasisVector } from '../dct.js';
import { UNET_DEPTH, type DoubleConv, type FrLayer, type FrModel } from '../model.js';
import type { GradientResult, LayerGradient, LossSpec } from './gradients.js';
import { checkLogitGradient, checkTarget, firstNonFinite, segmentationLoss } from './loss.js';
import { conv2d, convTranspose2x2, denseWeights, fillPatches, normalizeChannels, padConcat, PATCH_BLOCK, type Tensor64 } from './reference.js';
import { checkRanks, zigzagPositions } from './trainable.js';

/** ∂L/∂W (layer layout) and ∂L/∂bias of one layer. */
interface WeightGradient {
  dW: Float64Array;
  dBias?: Float64Array;
}

type Grads = Map<FrLayer, WeightGradient>;

// ---------- one stage at a time: forward keeping a tape, and its backward ----------

/** A norm + ReLU as the backward needs it: x̂ (before the ReLU) and 1/σ per channel. */
interface NormTape {
  xhat: Tensor64;
  invStd: Float64Array;
}

function normReluForward(y: Tensor64): { out: Tensor64; tape: NormTape } {
  const invStd = normalizeChannels(y); // y now holds x̂
  const out = { ...y, data: y.data.map((v) => Math.max(v, 0)) };
  return { out, tape: { xhat: y, invStd } };
}

/**
 * Back through ReLU then the norm, per channel over its n pixels:
 * g = ∂L/∂out · [x̂ > 0] (ReLU′(0) = 0), ∂L/∂y = (1/σ)(g − mean(g) − x̂ · mean(g · x̂)),
 * the full Jacobian through the mean and the biased variance.
 */
function normReluBackward(dOut: Tensor64, tape: NormTape): Tensor64 {
  const { xhat, invStd } = tape;
  const n = xhat.h * xhat.w;
  const dy = new Float64Array(xhat.data.length);
  for (let c = 0; c < xhat.c; c++) {
    let meanG = 0, meanGx = 0;
    for (let p = c * n; p < (c + 1) * n; p++) {
      const g = xhat.data[p] > 0 ? dOut.data[p] : 0;
      meanG += g;
      meanGx += g * xhat.data[p];
    }
    meanG /= n;
    meanGx /= n;
    for (let p = c * n; p < (c + 1) * n; p++) {
      const g = xhat.data[p] > 0 ? dOut.data[p] : 0;
      dy[p] = invStd[c] * (g - meanG - xhat.data[p] * meanGx);
    }
  }
  return { ...xhat, data: dy };
}

/**
 * Back through a k×k conv, stride 1, pad (k−1)/2 (reference.ts conv2d: out[o,p] = Σ_j W[o,j]·patch[p,j]),
 * weight (Cout, Cin, k, k), pixels PATCH_BLOCK at a time:
 * ∂L/∂W[o,j] = Σ_p ∂L/∂out[o,p] · patch[p,j];  ∂L/∂bias[o] = Σ_p ∂L/∂out[o,p];
 * ∂L/∂patch[p,j] = Σ_o ∂L/∂out[o,p] · W[o,j], each patch entry added back to the input pixel it
 * was read from, ∂L/∂in[i, y+ky−pad, x+kx−pad] += ∂L/∂patch[p, (i,ky,kx)] (skipped when not wanted).
 */
function conv2dBackward(x: Tensor64, W: Float64Array, dOut: Tensor64, k: number, wantInput: boolean): { dX?: Tensor64; grad: WeightGradient } {
  const { c: cin, h, w } = x;
  const cout = dOut.c;
  const n = h * w, J = cin * k * k, pad = (k - 1) >> 1;
  const dW = new Float64Array(cout * J);
  const dX = wantInput ? new Float64Array(cin * n) : undefined;
  const patch = new Float64Array(PATCH_BLOCK * J); // (PATCH_BLOCK, Cin·k·k)
  const dPatch = new Float64Array(PATCH_BLOCK * J);
  const g = dOut.data;
  for (let p0 = 0; p0 < n; p0 += PATCH_BLOCK) {
    const p1 = Math.min(n, p0 + PATCH_BLOCK);
    fillPatches(x, k, p0, p1, patch);
    // ∂L/∂W[o, :] += Σ_p g[o, p] · patch[p, :], four pixels per pass over the row.
    for (let o = 0; o < cout; o++) {
      const wRow = o * J, gRow = o * n;
      let p = p0;
      for (; p + 4 <= p1; p += 4) {
        const q0 = (p - p0) * J, q1 = q0 + J, q2 = q1 + J, q3 = q2 + J;
        const g0 = g[gRow + p], g1 = g[gRow + p + 1], g2 = g[gRow + p + 2], g3 = g[gRow + p + 3];
        for (let j = 0; j < J; j++) dW[wRow + j] += g0 * patch[q0 + j] + g1 * patch[q1 + j] + g2 * patch[q2 + j] + g3 * patch[q3 + j];
      }
      for (; p < p1; p++) {
        const q0 = (p - p0) * J, g0 = g[gRow + p];
        for (let j = 0; j < J; j++) dW[wRow + j] += g0 * patch[q0 + j];
      }
    }
    if (!dX) continue;
    // ∂L/∂patch[p, :] = Σ_o g[o, p] · W[o, :], four output channels per pass over the row.
    dPatch.fill(0);
    let o = 0;
    for (; o + 4 <= cout; o += 4) {
      const w0 = o * J, w1 = w0 + J, w2 = w1 + J, w3 = w2 + J;
      for (let p = p0; p < p1; p++) {
        const q = (p - p0) * J;
        const g0 = g[o * n + p], g1 = g[(o + 1) * n + p], g2 = g[(o + 2) * n + p], g3 = g[(o + 3) * n + p];
        for (let j = 0; j < J; j++) dPatch[q + j] += g0 * W[w0 + j] + g1 * W[w1 + j] + g2 * W[w2 + j] + g3 * W[w3 + j];
      }
    }
    for (; o < cout; o++) {
      const w0 = o * J;
      for (let p = p0; p < p1; p++) {
        const q = (p - p0) * J, g0 = g[o * n + p];
        for (let j = 0; j < J; j++) dPatch[q + j] += g0 * W[w0 + j];
      }
    }
    for (let p = p0; p < p1; p++) {
      const y = Math.floor(p / w), xx = p - y * w;
      const pRow = (p - p0) * J;
      for (let i = 0; i < cin; i++)
        for (let ky = 0; ky < k; ky++) {
          const sy = y + ky - pad;
          if (sy < 0 || sy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const sx = xx + kx - pad;
            if (sx >= 0 && sx < w) dX[(i * h + sy) * w + sx] += dPatch[pRow + (i * k + ky) * k + kx];
          }
        }
    }
  }
  const dBias = new Float64Array(cout);
  for (let o = 0; o < cout; o++) for (let p = 0; p < n; p++) dBias[o] += dOut.data[o * n + p];
  return { dX: dX && { c: cin, h, w, data: dX }, grad: { dW, dBias } };
}

/**
 * Back through ConvTranspose2d(kernel 2, stride 2), weight (Cin, Cout, 2, 2)
 * (out[o, 2y+ky, 2x+kx] = Σ_i W[i,o,ky,kx] · in[i,y,x]):
 * ∂L/∂W[i,o,ky,kx] = Σ_{y,x} in[i,y,x] · ∂L/∂out[o,2y+ky,2x+kx];
 * ∂L/∂in[i,y,x] = Σ_{o,ky,kx} W[i,o,ky,kx] · ∂L/∂out[o,2y+ky,2x+kx];  ∂L/∂bias[o] = Σ ∂L/∂out[o].
 */
function convTranspose2x2Backward(x: Tensor64, W: Float64Array, dOut: Tensor64): { dX: Tensor64; grad: WeightGradient } {
  const { c: cin, h, w } = x;
  const cout = dOut.c;
  const Wd = dOut.w;
  const dW = new Float64Array(cin * cout * 4);
  const dX = new Float64Array(cin * h * w);
  for (let i = 0; i < cin; i++)
    for (let o = 0; o < cout; o++)
      for (let ky = 0; ky < 2; ky++)
        for (let kx = 0; kx < 2; kx++) {
          const at = ((i * cout + o) * 2 + ky) * 2 + kx;
          const wv = W[at];
          let sum = 0;
          for (let y = 0; y < h; y++)
            for (let xx = 0; xx < w; xx++) {
              const g = dOut.data[(o * dOut.h + 2 * y + ky) * Wd + 2 * xx + kx];
              sum += x.data[(i * h + y) * w + xx] * g;
              dX[(i * h + y) * w + xx] += wv * g;
            }
          dW[at] = sum;
        }
  const n = dOut.h * dOut.w;
  const dBias = new Float64Array(cout);
  for (let o = 0; o < cout; o++) for (let p = 0; p < n; p++) dBias[o] += dOut.data[o * n + p];
  return { dX: { c: cin, h, w, data: dX }, grad: { dW, dBias } };
}

/**
 * MaxPool2d(2), floor, keeping for each output the flat input index of its window's first
 * maximum in row-major order (where PyTorch sends the gradient).
 */
function maxPoolForward(x: Tensor64): { out: Tensor64; winner: Int32Array } {
  const h = x.h >> 1, w = x.w >> 1;
  const out = new Float64Array(x.c * h * w);
  const winner = new Int32Array(x.c * h * w);
  for (let c = 0; c < x.c; c++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        let best = -Infinity, bestAt = -1;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          const at = (c * x.h + 2 * y + dy) * x.w + 2 * xx + dx;
          if (x.data[at] > best || bestAt < 0) { best = x.data[at]; bestAt = at; }
        }
        out[(c * h + y) * w + xx] = best;
        winner[(c * h + y) * w + xx] = bestAt;
      }
  return { out: { c: x.c, h, w, data: out }, winner };
}

/** ∂L/∂in of the max-pool: each output's gradient goes to its window's winner, added into `dX`. */
function maxPoolBackward(dOut: Tensor64, winner: Int32Array, dX: Tensor64): void {
  for (let q = 0; q < winner.length; q++) dX.data[winner[q]] += dOut.data[q];
}

/** Back through cat([skip, pad(up)]): the first skip.c channels go to the skip, the rest cropped to `up`. */
function padConcatBackward(dCat: Tensor64, skipChannels: number, up: { c: number; h: number; w: number }): { dSkip: Tensor64; dUp: Tensor64 } {
  const { h, w } = dCat;
  const top = (h - up.h) >> 1, left = (w - up.w) >> 1;
  const dSkip = { c: skipChannels, h, w, data: dCat.data.slice(0, skipChannels * h * w) };
  const dUp = new Float64Array(up.c * up.h * up.w);
  for (let c = 0; c < up.c; c++)
    for (let y = 0; y < up.h; y++)
      for (let x = 0; x < up.w; x++) {
        const oy = y + top, ox = x + left;
        if (oy < 0 || oy >= h || ox < 0 || ox >= w) continue;
        dUp[(c * up.h + y) * up.w + x] = dCat.data[((skipChannels + c) * h + oy) * w + ox];
      }
  return { dSkip, dUp: { ...up, data: dUp } };
}

interface DoubleConvTape {
  x: Tensor64;
  norm1: NormTape;
  a1: Tensor64;
  norm2: NormTape;
}

function doubleConvForward(x: Tensor64, dc: DoubleConv): { out: Tensor64; tape: DoubleConvTape } {
  const first = normReluForward(conv2d(x, denseWeights(dc.conv1), dc.conv1.shape[0], 3, dc.conv1.bias));
  const second = normReluForward(conv2d(first.out, denseWeights(dc.conv2), dc.conv2.shape[0], 3, dc.conv2.bias));
  return { out: second.out, tape: { x, norm1: first.tape, a1: first.out, norm2: second.tape } };
}

function doubleConvBackward(dOut: Tensor64, dc: DoubleConv, tape: DoubleConvTape, grads: Grads, wantInput = true): Tensor64 | undefined {
  const second = conv2dBackward(tape.a1, denseWeights(dc.conv2), normReluBackward(dOut, tape.norm2), 3, true);
  grads.set(dc.conv2, second.grad);
  const first = conv2dBackward(tape.x, denseWeights(dc.conv1), normReluBackward(second.dX!, tape.norm1), 3, wantInput);
  grads.set(dc.conv1, first.grad);
  return first.dX;
}

// ---------- the whole UNet ----------

/** The logits of the float64 forward pass (for the loss), and the closure that runs the backward. */
function unetForward(model: FrModel, input: Tensor64): { logits: Tensor64; backward: (dLogits: Tensor64) => Grads } {
  const skips: Tensor64[] = [];
  const downTapes: DoubleConvTape[] = [];
  const pools: Int32Array[] = [];
  let stage = doubleConvForward(input, model.inc);
  skips.push(stage.out);
  downTapes.push(stage.tape);
  for (let k = 0; k < UNET_DEPTH; k++) {
    const pooled = maxPoolForward(skips[k]);
    pools.push(pooled.winner);
    stage = doubleConvForward(pooled.out, model.down[k]);
    skips.push(stage.out);
    downTapes.push(stage.tape);
  }
  let x = skips[UNET_DEPTH];
  const upInputs: Tensor64[] = [], upTapes: DoubleConvTape[] = [];
  const upSizes: { c: number; h: number; w: number }[] = []; // the transposed convs' outputs, before padding
  for (let k = 0; k < UNET_DEPTH; k++) {
    const { up, conv } = model.up[k];
    upInputs.push(x);
    const upsampled = convTranspose2x2(x, denseWeights(up), up.shape[1], up.bias);
    upSizes.push({ c: upsampled.c, h: upsampled.h, w: upsampled.w });
    stage = doubleConvForward(padConcat(skips[UNET_DEPTH - 1 - k], upsampled), conv);
    upTapes.push(stage.tape);
    x = stage.out;
  }
  const last = x;
  const logits = conv2d(last, denseWeights(model.outc), model.outc.shape[0], 1, model.outc.bias);

  const backward = (dLogits: Tensor64): Grads => {
    const grads: Grads = new Map();
    const head = conv2dBackward(last, denseWeights(model.outc), dLogits, 1, true);
    grads.set(model.outc, head.grad);
    let dx = head.dX!;
    // ∂L/∂skip_k gathers the concatenation's share here and the pooled path's share below.
    const dSkips: (Tensor64 | undefined)[] = new Array(UNET_DEPTH + 1);
    for (let k = UNET_DEPTH - 1; k >= 0; k--) {
      const { up, conv } = model.up[k];
      const dCat = doubleConvBackward(dx, conv, upTapes[k], grads)!;
      const skip = UNET_DEPTH - 1 - k;
      const { dSkip, dUp } = padConcatBackward(dCat, skips[skip].c, upSizes[k]);
      dSkips[skip] = dSkip;
      const t = convTranspose2x2Backward(upInputs[k], denseWeights(up), dUp);
      grads.set(up, t.grad);
      dx = t.dX;
    }
    for (let k = UNET_DEPTH - 1; k >= 0; k--) {
      // dx is ∂L/∂skip_{k+1} complete: its concatenation share plus what came up the pooled path.
      const dPooled = doubleConvBackward(dx, model.down[k], downTapes[k + 1], grads)!;
      const dSkip = dSkips[k]!;
      maxPoolBackward(dPooled, pools[k], dSkip);
      dx = dSkip;
    }
    doubleConvBackward(dx, model.inc, downTapes[0], grads, false);
    return grads;
  };
  return { logits, backward };
}

// ---------- from ∂L/∂W to ∂L/∂C ----------

/**
 * ∂L/∂C at `positions` ((count, 4) row-major) of a layer of `shape`: the orthonormal 4-D DCT of
 * ∂L/∂W, g[a,b,c,d] = Σ_{o,i,y,x} ∂L/∂W[o,i,y,x] φ_a(o) φ_b(i) φ_c(y) φ_d(x), taken one axis at a
 * time from the last and only up to the largest frequency asked on each axis:
 * G3[o,i,y,d] = Σ_x dW φ_d(x); G2[o,i,c,d] = Σ_y G3 φ_c(y); G1[o,b,c,d] = Σ_i G2 φ_b(i);
 * G0[a,b,c,d] = Σ_o G1 φ_a(o).
 */
export function coefficientGradients(shape: readonly number[], dW: Float64Array, positions: Int32Array): Float64Array {
  const [n0, n1, n2, n3] = shape;
  const count = positions.length / 4;
  const ext = [1, 1, 1, 1];
  for (let r = 0; r < count; r++) for (let a = 0; a < 4; a++) ext[a] = Math.max(ext[a], positions[r * 4 + a] + 1);
  const [e0, e1, e2, e3] = ext;
  const phi = (N: number, e: number) => Array.from({ length: e }, (_, k) => dctBasisVector(N, k));
  const p0 = phi(n0, e0), p1 = phi(n1, e1), p2 = phi(n2, e2), p3 = phi(n3, e3);

  const G3 = new Float64Array(n0 * n1 * n2 * e3); // (n0, n1, n2, e3)
  for (let oiy = 0; oiy < n0 * n1 * n2; oiy++)
    for (let d = 0; d < e3; d++) {
      let s = 0;
      for (let x = 0; x < n3; x++) s += dW[oiy * n3 + x] * p3[d][x];
      G3[oiy * e3 + d] = s;
    }
  const G2 = new Float64Array(n0 * n1 * e2 * e3); // (n0, n1, e2, e3)
  for (let oi = 0; oi < n0 * n1; oi++)
    for (let c = 0; c < e2; c++)
      for (let d = 0; d < e3; d++) {
        let s = 0;
        for (let y = 0; y < n2; y++) s += G3[(oi * n2 + y) * e3 + d] * p2[c][y];
        G2[(oi * e2 + c) * e3 + d] = s;
      }
  const cd = e2 * e3;
  const G1 = new Float64Array(n0 * e1 * cd); // (n0, e1, e2, e3)
  for (let o = 0; o < n0; o++)
    for (let i = 0; i < n1; i++)
      for (let b = 0; b < e1; b++) {
        const f = p1[b][i];
        for (let j = 0; j < cd; j++) G1[(o * e1 + b) * cd + j] += G2[(o * n1 + i) * cd + j] * f;
      }
  const bcd = e1 * cd;
  const G0 = new Float64Array(e0 * bcd); // (e0, e1, e2, e3)
  for (let o = 0; o < n0; o++)
    for (let a = 0; a < e0; a++) {
      const f = p0[a][o];
      for (let j = 0; j < bcd; j++) G0[a * bcd + j] += G1[o * bcd + j] * f;
    }
  const out = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    const [a, b, c, d] = [0, 1, 2, 3].map((k) => positions[r * 4 + k]);
    out[r] = G0[((a * e1 + b) * e2 + c) * e3 + d];
  }
  return out;
}

// ---------- the entry points ----------

/** Where each layer's gradients are wanted: positions (count, 4) and the current values there. */
export interface GradientPositions {
  positions: Int32Array;
  values: Float64Array;
}

/** The stored value of `layer` at each of `positions` (0 where nothing is stored; duplicates add). */
export function valuesAt(layer: FrLayer, positions: Int32Array): Float64Array {
  const [, n1, n2, n3] = layer.shape;
  const flat = (p: ArrayLike<number>, at: number) => ((p[at] * n1 + p[at + 1]) * n2 + p[at + 2]) * n3 + p[at + 3];
  const stored = new Map<number, number>();
  for (let k = 0; k < layer.values.length; k++) {
    const at = flat(layer.indices, k * 4);
    stored.set(at, (stored.get(at) ?? 0) + layer.values[k]);
  }
  return Float64Array.from({ length: positions.length / 4 }, (_, r) => stored.get(flat(positions, r * 4)) ?? 0);
}

/** Refuses an input of the wrong size (INPUT_SHAPE), too small for the network, or not finite (NOT_FINITE). */
export function checkGradientInput(model: FrModel, input: ArrayLike<number>, width: number, height: number): void {
  checkInputSize(width, height);
  const expected = model.arch.inChannels * width * height;
  if (input.length !== expected) fail('engine', 'INPUT_SHAPE', `input has ${input.length} values, expected ${model.arch.inChannels}×${height}×${width} = ${expected}`);
  const bad = firstNonFinite(input);
  if (bad >= 0) fail('engine', 'NOT_FINITE', `input value ${bad} (channel ${Math.floor(bad / (width * height))}) is ${input[bad]}`);
}

/** Refuses a loss spec that does not fit the model's logits, before any work is done. */
export function checkLossSpec(model: FrModel, loss: LossSpec, width: number, height: number): void {
  const classes = model.arch.classes;
  if ('target' in loss && loss.target !== undefined) checkTarget(loss.target, classes, width, height);
  else if ('dLogits' in loss && loss.dLogits !== undefined) checkLogitGradient(loss.dLogits, classes, width, height);
  else fail('engine', 'LOSS_SHAPE', 'the loss needs either a target or dLogits');
}

/**
 * The loss and its gradient with respect to the coefficients at `at[l]` of every layer (biases
 * too, where the model has them), in float64. `input` is planar (Cin, height, width) in [0, 1].
 */
export function referenceGradientsAt(model: FrModel, input: ArrayLike<number>, width: number, height: number, loss: LossSpec, at: readonly GradientPositions[]): GradientResult {
  checkGradientInput(model, input, width, height);
  checkLossSpec(model, loss, width, height);
  const x: Tensor64 = { c: model.arch.inChannels, h: height, w: width, data: Float64Array.from(input) };
  const { logits, backward } = unetForward(model, x);
  const classes = model.arch.classes;
  let terms = { loss: NaN, ce: NaN, diceLoss: NaN };
  let dLogits: Float64Array;
  if ('target' in loss) {
    const r = segmentationLoss(logits.data, classes, width, height, loss.target);
    terms = { loss: r.loss, ce: r.ce, diceLoss: r.diceLoss };
    dLogits = r.dLogits;
  } else {
    const bad = firstNonFinite(logits.data);
    if (bad >= 0) fail('engine', 'NOT_FINITE', `logit ${bad} is ${logits.data[bad]}`);
    dLogits = Float64Array.from(loss.dLogits);
  }
  const grads = backward({ ...logits, data: dLogits });
  const layers: LayerGradient[] = model.layers.map((layer, l) => {
    const { dW, dBias } = grads.get(layer)!;
    const { positions, values } = at[l];
    const g = coefficientGradients(layer.shape, dW, positions);
    const result: LayerGradient = { name: layer.name, kind: layer.kind, shape: [...layer.shape], ranks: positions.length / 4, positions, values, grads: g };
    if (layer.bias && dBias) result.biasGrads = dBias;
    const bad = firstNonFinite(g);
    if (bad >= 0 || (result.biasGrads && firstNonFinite(result.biasGrads) >= 0)) {
      fail('engine', 'NOT_FINITE', 'the gradient overflows float64', { tensor: layer.name });
    }
    return result;
  });
  return { ...terms, layers };
}

/**
 * The loss and ∂L/∂C for the first min(R, size) zig-zag positions of every layer (upstream's
 * order, src/engines/trainable.ts), zeros included: what `freqreg gradients` reports and what the
 * PyTorch fixtures hold. R must be a positive integer (RANKS_INVALID).
 */
export function referenceGradients(model: FrModel, input: ArrayLike<number>, width: number, height: number, loss: LossSpec, ranks: number): GradientResult {
  checkRanks(ranks);
  checkGradientInput(model, input, width, height);
  checkLossSpec(model, loss, width, height);
  const at = model.layers.map((layer) => {
    const positions = zigzagPositions(layer.shape, ranks);
    return { positions, values: valuesAt(layer, positions) };
  });
  return referenceGradientsAt(model, input, width, height, loss, at);
}
