/**
 * The trainable coefficients of an FR UNet: per layer, in state-dict order, the values at the
 * layer's first R positions of the upstream zig-zag order (src/engines/trainable.ts
 * zigzagPositions, the order the engines built for training use), R = min(ranks, elements). From
 * them the trainer builds models for the engines and the model it writes.
 */
import { FreqregError } from '../errors.js';
import { zigzagPositions } from '../engines/trainable.js';
import { unetTemplate } from '../formats/packed.js';
import { buildModel, denseSize, type CoeffTensor, type FrModel, type UNetArch } from '../model.js';
import type { Rng } from './rng.js';

/** One trainable layer: its name, shape and the positions trained. */
export interface TrainableLayer {
  name: string;
  shape: [number, number, number, number];
  /** (count, 4) the first `count` zig-zag positions. */
  positions: Int32Array;
}

/**
 * The longest prefix of each shape's zig-zag order computed so far: the order is a sort, so fewer
 * ranks are a prefix of more, and the largest layers take seconds at 64 ranks.
 */
const orderCache = new Map<string, Int32Array>();

function firstPositions(shape: readonly number[], ranks: number): Int32Array {
  const key = shape.join('x');
  const count = Math.min(ranks, denseSize(shape));
  let cached = orderCache.get(key);
  if (!cached || cached.length < 4 * count) {
    cached = zigzagPositions(shape, count);
    orderCache.set(key, cached);
  }
  return cached.slice(0, 4 * count);
}

/** The layers of the UNet with `ranks` trainable coefficients each (fewer where a layer is smaller). */
export function trainableLayers(arch: UNetArch, ranks: number): TrainableLayer[] {
  return unetTemplate(arch).map(({ name, shape }) => {
    return { name, shape: shape as [number, number, number, number], positions: firstPositions(shape, ranks) };
  });
}

/** Inputs of one output value: Cin·kh·kw for a convolution, Cin for the 2×2 stride-2 transposed one. */
function fanIn(name: string, shape: readonly number[]): number {
  return name.endsWith('.up.weight') ? shape[0] : shape[1] * shape[2] * shape[3];
}

/** The last layer: the one convolution whose output no norm follows. */
const LOGITS_LAYER = 'outc.conv.weight';

/**
 * Random coefficients, normal with a standard deviation per layer:
 *
 * - every convolution but the last is followed by the batch norm, which gives its outputs unit
 *   variance whatever its scale; the scale only sets how far one Adam step (about `lr` per
 *   coefficient) moves the layer relative to its size. These coefficients are standard normal,
 *   the same scale everywhere, so the learning rate means the same in every layer (He's rule
 *   would make the deepest layers' coefficients 4× the first's, and train them 4× slower).
 * - the last (1×1, after a ReLU of unit-variance features, no norm after it) follows He's rule in
 *   the frequency domain: its dense weight gets He's expected energy Σ W² = numel · 2/fan_in —
 *   the orthonormal DCT keeps energy (Parseval), so its R coefficients share it, each of variance
 *   numel · 2 / (fan_in · R) — and the logits have about unit variance.
 */
export function randomCoefficients(arch: UNetArch, ranks: number, rng: Rng): Float64Array[] {
  return trainableLayers(arch, ranks).map(({ name, shape, positions }) => {
    const count = positions.length / 4;
    const sigma = name === LOGITS_LAYER ? Math.sqrt((denseSize(shape) * 2) / (fanIn(name, shape) * count)) : 1;
    const values = new Float64Array(count);
    for (let k = 0; k < count; k++) values[k] = sigma * rng.normal();
    return values;
  });
}

/**
 * The coefficients of an existing model at its first `ranks` zig-zag positions (zero where the
 * model stores nothing), and how many stored non-zeros lie beyond them (dropped). Biases are not
 * trained and not kept.
 */
export function coefficientsOf(model: FrModel, ranks: number): { values: Float64Array[]; dropped: number } {
  let dropped = 0;
  const layers = trainableLayers(model.arch, ranks);
  const values = model.layers.map((layer, i) => {
    const { shape, positions } = layers[i];
    const count = positions.length / 4;
    const rankOf = new Map<number, number>();
    for (let k = 0; k < count; k++) rankOf.set(linear(positions, k, shape), k);
    const out = new Float64Array(count);
    for (let j = 0; j < layer.values.length; j++) {
      const l = linear(layer.indices, j, shape);
      const k = rankOf.get(l);
      if (k !== undefined) out[k] = layer.values[j];
      else if (layer.values[j] !== 0) dropped++;
    }
    return out;
  });
  return { values, dropped };
}

function linear(indices: Int32Array, k: number, shape: readonly number[]): number {
  return ((indices[4 * k] * shape[1] + indices[4 * k + 1]) * shape[2] + indices[4 * k + 2]) * shape[3] + indices[4 * k + 3];
}

/**
 * The state dict of sparse tensors holding `values` at the first zig-zag positions of each layer
 * (zeros included, so a packed file stores the exact zig-zag prefix). Values are stored as
 * float32; pass float16-rounded values (`toHalfPrecision`) for the smallest packed file.
 */
export function coefficientTensors(arch: UNetArch, values: readonly Float64Array[]): Map<string, CoeffTensor> {
  const layers = trainableLayers(arch, Math.max(...values.map((v) => v.length)));
  if (layers.length !== values.length) throw new FreqregError('train', 'INTERNAL', `${values.length} coefficient arrays for ${layers.length} layers`);
  const dict = new Map<string, CoeffTensor>();
  layers.forEach(({ name, shape, positions }, i) => {
    const count = values[i].length;
    if (count > positions.length / 4) throw new FreqregError('train', 'INTERNAL', `${count} values for ${positions.length / 4} positions of ${name}`);
    dict.set(name, { shape: [...shape], indices: positions.slice(0, 4 * count), values: Float32Array.from(values[i]), dtype: 'float32', sparse: true });
  });
  return dict;
}

/** The FrModel of `values` (see coefficientTensors). */
export function modelOf(arch: UNetArch, values: readonly Float64Array[]): FrModel {
  return buildModel(coefficientTensors(arch, values));
}

/** Keeps the first `ranks` coefficients of every layer (the highest ranks dropped). */
export function truncateRanks(values: readonly Float64Array[], ranks: number): Float64Array[] {
  return values.map((v) => v.slice(0, Math.min(ranks, v.length)));
}

const F16_MAX = 65504;

/**
 * `x` rounded to the nearest IEEE half-precision value (ties to even; beyond ±65504 clamped
 * there), as a number. The packed format stores a layer in 2 bytes per value when every value is
 * a half, so a trained model is written with these.
 */
export function toHalfPrecision(x: number): number {
  if (!Number.isFinite(x)) throw new FreqregError('train', 'INTERNAL', `coefficient ${x} is not finite`);
  const a = Math.abs(x);
  if (a === 0) return x;
  if (a >= F16_MAX) return Math.sign(x) * F16_MAX;
  const exponent = Math.max(Math.floor(Math.log2(a)), -14);
  // log2 can be off by one near powers of two: fix the exponent so 2^e ≤ a < 2^(e+1) (or e = -14).
  let e = exponent;
  if (e > -14 && 2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, -14) - 10);
  const q = a / quantum;
  let n = Math.floor(q);
  const d = q - n;
  if (d > 0.5 || (d === 0.5 && n % 2 === 1)) n++;
  return Math.sign(x) * n * quantum;
}

export function halfPrecisionValues(values: readonly Float64Array[]): Float64Array[] {
  return values.map((v) => v.map(toHalfPrecision));
}
