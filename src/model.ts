/**
 * The frequency-regularized UNet as freqreg holds it: per layer, the non-zero frequency
 * coefficients of its weight tensor, never the dense weights. See docs: the spatial weight is
 * the 4-D orthonormal inverse DCT of the coefficient tensor (src/dct.ts).
 *
 * formats (tar, zip, pickle, torch, packed) → CoeffTensor map → buildModel() → FrModel → engines.
 */
import { fail } from './errors.js';

export type Dtype = 'float16' | 'float32' | 'float64';

/** A coefficient tensor as read from a checkpoint, before the UNet structure is known. */
export interface CoeffTensor {
  /** Dense shape of the tensor. */
  shape: number[];
  /** Non-zero positions, (nnz, rank) row-major, each index < shape[axis]; in file order. */
  indices: Int32Array;
  /** (nnz) values, converted to float32 (float16 and float32 storages convert exactly). */
  values: Float32Array;
  /** Storage dtype in the file. */
  dtype: Dtype;
  /** Whether the file stored it as a sparse COO tensor (else dense, zeros dropped). */
  sparse: boolean;
}

export type LayerKind = 'conv' | 'convTranspose';

/** One FR weight tensor of the UNet. */
export interface FrLayer {
  /** State-dict key, e.g. `down1.maxpool_conv.1.double_conv.0.weight`. */
  name: string;
  kind: LayerKind;
  /** conv: (Cout, Cin, kh, kw); convTranspose: (Cin, Cout, kh, kw) — PyTorch's layouts. */
  shape: [number, number, number, number];
  /** (nnz, 4) row-major coefficient positions. */
  indices: Int32Array;
  /** (nnz) coefficient values. */
  values: Float32Array;
  dtype: Dtype;
  sparse: boolean;
  /** Optional dense bias (Cout), added after the convolution. */
  bias?: Float32Array;
}

export interface DoubleConv {
  conv1: FrLayer;
  conv2: FrLayer;
}

export interface UpStage {
  /** ConvTranspose2d(C, C/2, 2, stride 2). */
  up: FrLayer;
  conv: DoubleConv;
}

export interface UNetArch {
  inChannels: number;
  classes: number;
  /** Channels of the first level (64 upstream); level k has width·2^k. */
  width: number;
}

export interface FrModel {
  arch: UNetArch;
  inc: DoubleConv;
  /** down[k-1] = down_k: max-pool 2×2 then DoubleConv, k = 1…4. */
  down: DoubleConv[];
  /** up[k-1] = up_k, k = 1…4, from the deepest level upwards. */
  up: UpStage[];
  /** 1×1 conv width → classes. */
  outc: FrLayer;
  /** Every layer in state-dict order. */
  layers: FrLayer[];
}

export const UNET_DEPTH = 4;

/** State-dict keys of the upstream UNet (run/unet, bilinear = False), in PyTorch's order. */
export function unetKeys(): string[] {
  const keys = ['inc.double_conv.0.weight', 'inc.double_conv.3.weight'];
  for (let k = 1; k <= UNET_DEPTH; k++) {
    keys.push(`down${k}.maxpool_conv.1.double_conv.0.weight`, `down${k}.maxpool_conv.1.double_conv.3.weight`);
  }
  for (let k = 1; k <= UNET_DEPTH; k++) {
    keys.push(`up${k}.up.weight`, `up${k}.conv.double_conv.0.weight`, `up${k}.conv.double_conv.3.weight`);
  }
  keys.push('outc.conv.weight');
  return keys;
}

/** Dense element count of a layer's weight. */
export function denseSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Builds the UNet from a state dict of coefficient tensors. Infers width, input channels and
 * classes from `inc.double_conv.0.weight` and `outc.conv.weight`, then checks every tensor's
 * shape against them; the first inconsistent tensor is named in a MODEL_SPEC error.
 * Keys ending in `.bias` are accepted as dense biases of the matching weight.
 */
export function buildModel(dict: Map<string, CoeffTensor>): FrModel {
  const keys = unetKeys();
  const known = new Set(keys);
  for (const name of dict.keys()) {
    const weightName = name.endsWith('.bias') ? name.slice(0, -'.bias'.length) + '.weight' : name;
    if (!known.has(weightName)) fail('model', 'MODEL_SPEC', `unexpected key "${name}"`, { tensor: name });
  }
  for (const name of keys) {
    if (!dict.has(name)) fail('model', 'MODEL_SPEC', `missing key "${name}"`, { tensor: name });
  }

  const first = dict.get('inc.double_conv.0.weight')!;
  const last = dict.get('outc.conv.weight')!;
  if (first.shape.length !== 4) fail('model', 'MODEL_SPEC', `expected rank 4, got shape [${first.shape}]`, { tensor: 'inc.double_conv.0.weight' });
  if (last.shape.length !== 4) fail('model', 'MODEL_SPEC', `expected rank 4, got shape [${last.shape}]`, { tensor: 'outc.conv.weight' });
  const arch: UNetArch = { width: first.shape[0], inChannels: first.shape[1], classes: last.shape[0] };
  if (arch.width < 1 || arch.inChannels < 1 || arch.classes < 1) {
    fail('model', 'MODEL_SPEC', `width ${arch.width}, input channels ${arch.inChannels}, classes ${arch.classes} must be positive`);
  }

  const layers: FrLayer[] = [];
  const take = (name: string, kind: LayerKind, expected: [number, number, number, number]): FrLayer => {
    const t = dict.get(name)!;
    if (t.shape.length !== 4 || t.shape.some((d, i) => d !== expected[i])) {
      fail('model', 'MODEL_SPEC', `expected shape [${expected}], got [${t.shape}]`, { tensor: name });
    }
    const layer: FrLayer = {
      name, kind, shape: expected, indices: t.indices, values: t.values, dtype: t.dtype, sparse: t.sparse,
    };
    const biasName = name.slice(0, -'.weight'.length) + '.bias';
    const bias = dict.get(biasName);
    if (bias) {
      const cout = kind === 'conv' ? expected[0] : expected[1];
      if (bias.shape.length !== 1 || bias.shape[0] !== cout) {
        fail('model', 'MODEL_SPEC', `expected shape [${cout}], got [${bias.shape}]`, { tensor: biasName });
      }
      const dense = new Float32Array(cout);
      for (let k = 0; k < bias.values.length; k++) dense[bias.indices[k]] = bias.values[k];
      layer.bias = dense;
    }
    layers.push(layer);
    return layer;
  };
  const doubleConv = (prefix: string, cin: number, cout: number): DoubleConv => ({
    conv1: take(`${prefix}.0.weight`, 'conv', [cout, cin, 3, 3]),
    conv2: take(`${prefix}.3.weight`, 'conv', [cout, cout, 3, 3]),
  });

  const w = arch.width;
  const inc = doubleConv('inc.double_conv', arch.inChannels, w);
  const down: DoubleConv[] = [];
  for (let k = 1; k <= UNET_DEPTH; k++) {
    down.push(doubleConv(`down${k}.maxpool_conv.1.double_conv`, w << (k - 1), w << k));
  }
  const up: UpStage[] = [];
  for (let k = 1; k <= UNET_DEPTH; k++) {
    const c = w << (UNET_DEPTH - k + 1); // input channels of up_k
    up.push({
      up: take(`up${k}.up.weight`, 'convTranspose', [c, c / 2, 2, 2]),
      conv: doubleConv(`up${k}.conv.double_conv`, c, c / 2),
    });
  }
  const outc = take('outc.conv.weight', 'conv', [arch.classes, w, 1, 1]);
  return { arch, inc, down, up, outc, layers };
}

/** Non-zero coefficient count over all weights, and over all biases. */
export function countParameters(model: FrModel): { weights: number; biases: number; denseWeights: number } {
  let weights = 0, biases = 0, denseWeights = 0;
  for (const layer of model.layers) {
    for (const v of layer.values) if (v !== 0) weights++;
    if (layer.bias) for (const v of layer.bias) if (v !== 0) biases++;
    denseWeights += denseSize(layer.shape);
  }
  return { weights, biases, denseWeights };
}

/** Distinct indices used along each of the four axes of a layer. */
export function distinctPerAxis(layer: FrLayer): number[][] {
  const sets = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  const nnz = layer.values.length;
  for (let k = 0; k < nnz; k++) {
    if (layer.values[k] === 0) continue;
    for (let a = 0; a < 4; a++) sets[a].add(layer.indices[k * 4 + a]);
  }
  return sets.map((s) => [...s].sort((a, b) => a - b));
}
