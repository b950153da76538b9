/**
 * Segmentation metrics and mask conversions. `dice` reproduces the upstream demo's score
 * (run/detect_UNetFR.py: `multiclass_dice_coeff(one_hot(pred)[:, 1:], one_hot(gt)[:, 1:])`, from
 * the Pytorch-UNet `utils/dice_score.py`), including its float32 arithmetic, so it equals the
 * values in reference/reference.json bit for bit.
 */
import { fail } from './errors.js';
import type { ImageInput } from './input.js';

/** The upstream epsilon (`dice_coeff(..., epsilon=1e-6)`), as the float32 PyTorch adds. */
const DICE_EPSILON_F32 = Math.fround(1e-6);

/**
 * Dice of one class between two class-index masks (0/1 for the car UNet), as upstream computes it
 * on the one-hot plane of `foreground`:
 *
 *   inter = 2·|P ∩ G|, sets = |P| + |G| (sets = inter when both are empty),
 *   dice  = (inter + ε) / (sets + ε), ε = 1e-6, every step in float32.
 *
 * So two empty masks score 1. Counts are exact integers here; PyTorch's float32 sums are exact too
 * below 2^24 pixels. The result is a float32 value (as `dice_score.item()` returns).
 */
export function dice(pred: ArrayLike<number>, truth: ArrayLike<number>, foreground = 1): number {
  if (pred.length !== truth.length) fail('image', 'MASK_INVALID', `prediction has ${pred.length} pixels, ground truth ${truth.length}`);
  let inter = 0, p = 0, g = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] === foreground ? 1 : 0;
    const b = truth[i] === foreground ? 1 : 0;
    p += a;
    g += b;
    inter += a & b;
  }
  const f = Math.fround;
  const twiceInter = f(2 * inter);
  const sets = p + g === 0 ? twiceInter : f(p + g);
  return f(f(twiceInter + DICE_EPSILON_F32) / f(sets + DICE_EPSILON_F32));
}

/**
 * The mean of per-image dice scores in float64, as reference/reference.json's `average_dice`
 * (0.9717657305300236). The upstream demo's own float32 running sum prints 0.97176576: 2.6e-8
 * apart. NaN for no scores.
 */
export function meanDice(scores: readonly number[]): number {
  let sum = 0;
  for (const s of scores) sum += s;
  return sum / scores.length;
}

/**
 * Class indices from a grey mask image (channel 0 of any image, 8- or 16-bit): the nearest of the
 * `classesCount` evenly spread levels that `maskToGrey` writes. For a 0/255 mask this is 0/1, as
 * upstream's `(imread(gt) / 255).long()`; upstream would turn an off-level grey (say 200) into 0,
 * here it goes to the nearest class (1).
 */
export function maskFromGrey(image: ImageInput, classesCount = 2): Uint8Array {
  if (!Number.isInteger(classesCount) || classesCount < 2 || classesCount > 256) {
    fail('image', 'MASK_INVALID', `classesCount ${classesCount} must be 2 to 256`);
  }
  const pixels = image.width * image.height;
  const channels = image.channels ?? image.data.length / pixels;
  if (!Number.isInteger(channels) || channels < 1 || image.data.length !== pixels * channels) {
    fail('image', 'MASK_INVALID', `${image.data.length} samples do not fit ${image.width}×${image.height}`);
  }
  const max = image.data instanceof Uint16Array ? 65535 : 255;
  const steps = classesCount - 1;
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = Math.round((image.data[i * channels] * steps) / max);
  return out;
}

/**
 * Grey levels for class indices, for writing a mask PNG: 0/255 for 2 classes, else class c ↦
 * round(c · 255 / (classesCount − 1)). A class ≥ classesCount is refused.
 */
export function maskToGrey(classes: ArrayLike<number>, classesCount: number): Uint8Array {
  if (!Number.isInteger(classesCount) || classesCount < 1 || classesCount > 256) {
    fail('image', 'MASK_INVALID', `classesCount ${classesCount} must be 1 to 256`);
  }
  const levels = new Uint8Array(classesCount);
  for (let c = 0; c < classesCount; c++) levels[c] = classesCount === 1 ? 0 : Math.round((c * 255) / (classesCount - 1));
  const out = new Uint8Array(classes.length);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (!(c >= 0 && c < classesCount) || !Number.isInteger(c)) fail('image', 'MASK_INVALID', `pixel ${i} has class ${c}, should be 0 to ${classesCount - 1}`);
    out[i] = levels[c];
  }
  return out;
}
