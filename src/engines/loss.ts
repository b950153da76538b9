/**
 * The training loss of one image and its gradient with respect to the logits, in float64:
 * L = CE + DL, the loss of the milesial Pytorch-UNet training the upstream model follows.
 *
 *   CE = −(1/n) Σ_p log s_{t(p)}(p)   (F.cross_entropy, mean over the n = H·W pixels)
 *   DL = 1 − (2·Σ_{k,p} s_k(p)·y_k(p) + ε) / (Σ_{k,p} s_k(p) + Σ_{k,p} y_k(p) + ε),  ε = 1e-6
 *
 * with s the softmax over classes and y the one-hot target: upstream run/dice_score.py
 * `dice_loss(softmax(logits), one_hot(target), multiclass=True)`, which (flattening classes into
 * the batch axis and summing over all three axes) is one Dice over every class and pixel together.
 * If the denominator is exactly 0 it is replaced by the numerator's 2·Σ term, as upstream does
 * (it cannot be 0 for a softmax: Σ_k s_k = 1 at every pixel).
 */
import { fail } from '../errors.js';
import type { LossTerms } from './gradients.js';

/** The Dice smoothing term of upstream dice_coeff. */
export const DICE_EPS = 1e-6;

/** The loss terms and ∂L/∂logits (classes, height, width), planar. */
export interface LossAndGradient extends LossTerms {
  dLogits: Float64Array;
}

/** Refuses a target that does not fit (classes, height, width) logits: TARGET_INVALID. */
export function checkTarget(target: ArrayLike<number>, classes: number, width: number, height: number): void {
  const n = width * height;
  if (target.length !== n) fail('engine', 'TARGET_INVALID', `target has ${target.length} pixels, expected ${width}×${height} = ${n}`);
  for (let p = 0; p < n; p++) {
    const k = target[p];
    if (!(Number.isInteger(k) && k >= 0 && k < classes)) {
      fail('engine', 'TARGET_INVALID', `pixel (${p % width}, ${Math.floor(p / width)}) has class ${k}; the model has ${classes} classes (0…${classes - 1})`);
    }
  }
}

/** Refuses a caller's ∂L/∂logits of the wrong length (LOSS_SHAPE) or not finite (NOT_FINITE). */
export function checkLogitGradient(dLogits: ArrayLike<number>, classes: number, width: number, height: number): void {
  const n = classes * width * height;
  if (dLogits.length !== n) fail('engine', 'LOSS_SHAPE', `dLogits has ${dLogits.length} values, expected ${classes}×${height}×${width} = ${n}`);
  const bad = firstNonFinite(dLogits);
  if (bad >= 0) fail('engine', 'NOT_FINITE', `dLogits[${bad}] is ${dLogits[bad]}`);
}

/** Index of the first NaN or infinity, or −1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * The Dice loss from Σ_{k,p} s_k(p) and Σ_p s_{t(p)}(p) over n pixels, and ∂DL/∂s_k(p) = gTrue where
 * k is the pixel's target class, gOther elsewhere:
 *   inter = 2·Σ s·y, sets = Σ s + Σ y (= 2n up to rounding), or inter if that is 0;
 *   ∂DL/∂s_k(p) = −(2 y_k(p)·(sets + ε) − (inter + ε)) / (sets + ε)²; 0 when sets was replaced (then dice ≡ 1).
 * Through the softmax, ∂DL/∂z_j = s_j (g_j − Σ_k s_k g_k); ∂CE/∂z_k = (s_k − y_k)/n.
 */
export function diceTerms(probSum: number, trueProbSum: number, n: number): { diceLoss: number; gTrue: number; gOther: number } {
  const inter = 2 * trueProbSum;
  const setsZero = probSum + n === 0;
  const sets = setsZero ? inter : probSum + n;
  const dice = (inter + DICE_EPS) / (sets + DICE_EPS);
  const den = sets + DICE_EPS;
  return {
    diceLoss: 1 - dice,
    gTrue: setsZero ? 0 : -(2 * den - (inter + DICE_EPS)) / (den * den),
    gOther: setsZero ? 0 : (inter + DICE_EPS) / (den * den),
  };
}

/**
 * CE + Dice loss of (classes, height, width) planar logits against a class-index target
 * (height × width, row-major), and ∂L/∂logits. Refuses a bad target (TARGET_INVALID) and
 * non-finite logits (NOT_FINITE).
 */
export function segmentationLoss(logits: ArrayLike<number>, classes: number, width: number, height: number, target: ArrayLike<number>): LossAndGradient {
  const n = width * height;
  if (logits.length !== classes * n) fail('engine', 'LOSS_SHAPE', `logits have ${logits.length} values, expected ${classes}×${height}×${width}`);
  checkTarget(target, classes, width, height);
  const bad = firstNonFinite(logits);
  if (bad >= 0) fail('engine', 'NOT_FINITE', `logit ${bad} (class ${Math.floor(bad / n)}) is ${logits[bad]}`);

  // Softmax per pixel, shifted by the largest logit: s_k = exp(z_k − m) / Σ_j exp(z_j − m),
  // log s_k = z_k − m − log Σ_j exp(z_j − m).
  // s is kept in the array that becomes ∂L/∂logits (pass 2 rewrites each pixel in place).
  const s = new Float64Array(classes * n); // (classes, height, width)
  let ceSum = 0, probSum = 0, trueProbSum = 0;
  for (let p = 0; p < n; p++) {
    let m = -Infinity, top = 0;
    for (let k = 0; k < classes; k++) {
      const v = logits[k * n + p];
      if (v > m) { m = v; top = k; }
    }
    let z = 0;
    for (let k = 0; k < classes; k++) {
      const e = k === top ? 1 : Math.exp(logits[k * n + p] - m); // exp(0) = 1: one exp fewer per pixel
      s[k * n + p] = e;
      z += e;
    }
    for (let k = 0; k < classes; k++) {
      const v = s[k * n + p] / z;
      s[k * n + p] = v;
      probSum += v;
    }
    const t = target[p];
    ceSum -= logits[t * n + p] - m - Math.log(z);
    trueProbSum += s[t * n + p];
  }
  const ce = ceSum / n;

  const { diceLoss, gTrue, gOther } = diceTerms(probSum, trueProbSum, n);
  const dLogits = s;
  for (let p = 0; p < n; p++) {
    const t = target[p];
    let mean = 0; // Σ_k s_k g_k
    for (let k = 0; k < classes; k++) mean += s[k * n + p] * (k === t ? gTrue : gOther);
    for (let k = 0; k < classes; k++) {
      const sk = s[k * n + p];
      const y = k === t ? 1 : 0;
      dLogits[k * n + p] = (sk - y) / n + sk * ((k === t ? gTrue : gOther) - mean);
    }
  }
  return { loss: ce + diceLoss, ce, diceLoss, dLogits };
}
