/**
 * An FR UNet as a standard dense ONNX graph (opset 13), so the model runs in any ONNX runtime:
 * the weights are the inverse DCT of the coefficients (src/engines/reference.ts `denseWeights`,
 * float64 rounded once to float32), the network that of docs/fr-unet.md (upstream run/unet,
 * bilinear = False):
 *
 *   DoubleConv = Conv 3×3 pad 1 → InstanceNormalization (scale 1, bias 0, eps 1e-5) → Relu, twice
 *   down_k     = MaxPool 2×2 stride 2 (floor) → DoubleConv
 *   up_k       = ConvTranspose 2×2 stride 2 → Pad to the skip's size → Concat [skip, up] → DoubleConv
 *   outc       = Conv 1×1 → `logits` (1, classes, height, width)
 *
 * Choices:
 * - BatchNorm2d(affine=False, track_running_stats=False) normalizes with the statistics of the
 *   batch; with one image that is InstanceNormalization with scale 1 and bias 0. The graph's batch
 *   dimension is therefore fixed at 1 (a batch of N would need the statistics over N as well).
 * - Height and width are symbolic (`height`, `width`): one graph serves every image size. The
 *   padding before each concatenation is computed in the graph from the two tensors' shapes
 *   (Shape → Sub → Div → Concat → Pad), as upstream: diff // 2 before, the rest after.
 * - Input `image`: (1, inChannels, height, width) float32, RGB / 255 as freqreg's engines take it.
 */
import { toFreqregError } from './errors.js';
import { checkDenseWeights } from './engines/budget.js';
import { DEFAULT_LIMITS, type Limits } from './formats/limits.js';
import type { DoubleConv, FrLayer, FrModel } from './model.js';
import { UNET_DEPTH } from './model.js';
import { denseWeights, NORM_EPS } from './engines/reference.js';
import { encodeOnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from './formats/onnx.js';

export const ONNX_OPSET = 13;
export const ONNX_INPUT = 'image';
export const ONNX_OUTPUT = 'logits';

export interface OnnxExportOptions {
  /** `producer_version` and a metadata entry (default "unknown"). */
  version?: string;
  /** Dense weights of a layer in its PyTorch layout (default: float64 inverse DCT rounded to float32). */
  weights?: (layer: FrLayer) => Float32Array;
  /**
   * The graph holds every dense weight, so the engines' dense-weight cap applies (default
   * DEFAULT_LIMITS.maxDenseWeights: 256 M weights, a 1 GiB file); checked before any is formed.
   */
  limits?: Partial<Pick<Limits, 'maxDenseWeights'>>;
}

/** Builds the graph (nodes and initializers); `encodeOnnxModel` turns it into bytes. */
export function unetOnnxGraph(model: FrModel, options: OnnxExportOptions = {}): OnnxGraph {
  const weightsOf = options.weights ?? ((layer: FrLayer) => Float32Array.from(denseWeights(layer)));
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const constants = new Set<string>();

  const node = (op: string, inputs: string[], output: string, attributes?: OnnxNode['attributes']): string => {
    nodes.push({ op, inputs, outputs: [output], name: output, attributes });
    return output;
  };
  const constant = (name: string, make: () => OnnxTensor): string => {
    if (!constants.has(name)) { constants.add(name); initializers.push(make()); }
    return name;
  };
  const filled = (value: number, n: number) => constant(`${value === 0 ? 'zeros' : 'ones'}_${n}`, () => ({ name: `${value === 0 ? 'zeros' : 'ones'}_${n}`, type: 'float32', dims: [n], data: new Float32Array(n).fill(value) }));

  /** The layer's weight (and bias) as initializers named after its state-dict key. */
  const params = (layer: FrLayer): string[] => {
    const w = weightsOf(layer);
    initializers.push({ name: layer.name, type: 'float32', dims: layer.shape, data: w });
    if (!layer.bias) return [layer.name];
    const b = layer.name.replace(/\.weight$/, '.bias');
    initializers.push({ name: b, type: 'float32', dims: [layer.bias.length], data: layer.bias });
    return [layer.name, b];
  };
  const conv = (x: string, layer: FrLayer, out: string): string => {
    const [, , kh, kw] = layer.shape;
    const py = (kh - 1) >> 1, px = (kw - 1) >> 1;
    return node('Conv', [x, ...params(layer)], out, { kernel_shape: { ints: [kh, kw] }, pads: { ints: [py, px, py, px] }, strides: { ints: [1, 1] } });
  };
  const normRelu = (x: string, channels: number, out: string): string => {
    const n = node('InstanceNormalization', [x, filled(1, channels), filled(0, channels)], `${out}.norm`, { epsilon: { f: NORM_EPS } });
    return node('Relu', [n], out);
  };
  const doubleConv = (x: string, dc: DoubleConv, prefix: string): string => {
    const a = normRelu(conv(x, dc.conv1, `${prefix}.conv0`), dc.conv1.shape[0], `${prefix}.relu0`);
    return normRelu(conv(a, dc.conv2, `${prefix}.conv1`), dc.conv2.shape[0], `${prefix}.relu1`);
  };

  // Pads for `up` to reach `skip`'s (height, width): [0, 0, top, left, 0, 0, bottom, right].
  const spatial = constant('pad.spatial_mask', () => ({ name: 'pad.spatial_mask', type: 'int64', dims: [4], data: [0, 0, 1, 1] }));
  const two = constant('pad.two', () => ({ name: 'pad.two', type: 'int64', dims: [1], data: [2] }));
  const padTo = (up: string, skip: string, prefix: string): string => {
    const diff = node('Sub', [node('Shape', [skip], `${prefix}.skip_shape`), node('Shape', [up], `${prefix}.up_shape`)], `${prefix}.diff_all`);
    const d = node('Mul', [diff, spatial], `${prefix}.diff`);
    const before = node('Div', [d, two], `${prefix}.before`); // diff ≥ 0, so Div is floor division
    const after = node('Sub', [d, before], `${prefix}.after`);
    const pads = node('Concat', [before, after], `${prefix}.pads`, { axis: { i: 0 } });
    return node('Pad', [up, pads], `${prefix}.padded`, { mode: { s: 'constant' } });
  };

  const skips: string[] = [doubleConv(ONNX_INPUT, model.inc, 'inc')];
  for (let k = 0; k < UNET_DEPTH; k++) {
    const pooled = node('MaxPool', [skips[k]], `down${k + 1}.pool`, { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
    skips.push(doubleConv(pooled, model.down[k], `down${k + 1}`));
  }
  let x = skips[UNET_DEPTH];
  for (let k = 0; k < UNET_DEPTH; k++) {
    const stage = model.up[k], p = `up${k + 1}`;
    const up = node('ConvTranspose', [x, ...params(stage.up)], `${p}.up`, { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
    const skip = skips[UNET_DEPTH - 1 - k];
    const cat = node('Concat', [skip, padTo(up, skip, p)], `${p}.cat`, { axis: { i: 1 } });
    x = doubleConv(cat, stage.conv, p);
  }
  conv(x, model.outc, ONNX_OUTPUT);

  const { inChannels, classes, width } = model.arch;
  return {
    name: `freqreg FR UNet (width ${width}, ${inChannels} → ${classes} classes)`,
    nodes,
    initializers,
    inputs: [{ name: ONNX_INPUT, type: 'float32', dims: [1, inChannels, 'height', 'width'] }],
    outputs: [{ name: ONNX_OUTPUT, type: 'float32', dims: [1, classes, 'height', 'width'] }],
    doc: 'Dense weights = 4-D orthonormal inverse DCT of the frequency coefficients. Input RGB / 255; mask = argmax over classes, ties to the lowest class.',
  };
}

/**
 * The model as the bytes of an ONNX file. Throws only FreqregError: MODEL_TOO_LARGE past the
 * dense-weight cap, OUT_OF_MEMORY if an allocation fails anyway.
 */
export function exportOnnx(model: FrModel, options: OnnxExportOptions = {}): Uint8Array {
  try {
    checkDenseWeights(model, { ...DEFAULT_LIMITS, ...options.limits });
    return encodeUnet(model, options);
  } catch (e) {
    throw toFreqregError(e, 'model');
  }
}

function encodeUnet(model: FrModel, options: OnnxExportOptions): Uint8Array {
  const graph = unetOnnxGraph(model, options);
  let coefficients = 0;
  for (const l of model.layers) coefficients += l.values.length;
  return encodeOnnxModel(graph, {
    producer: 'freqreg',
    producerVersion: options.version ?? 'unknown',
    opset: ONNX_OPSET,
    metadata: {
      'freqreg.coefficients': String(coefficients),
      'freqreg.width': String(model.arch.width),
      'freqreg.classes': String(model.arch.classes),
      'freqreg.normalization': 'BatchNorm2d(affine=False, track_running_stats=False) with batch 1 = InstanceNormalization',
    },
  });
}
