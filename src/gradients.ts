/**
 * Gradients of the training loss with respect to an FR model's frequency coefficients, in any
 * runtime (nothing here touches files or the process):
 *
 *   computeGradients(model, input, width, height, { target }, { ranks: 64 })   float64 reference
 *   computeGradients(engine, input, width, height, { target })                 an engine built with
 *       createEngine(name, model, context, { train: { ranks } })
 *
 * `input` is planar (C, H, W) in [0, 1] (imageToTensor); `target` holds one class index per pixel
 * (targetFromMask turns a 0/255 mask into one). The result lists, per layer in state-dict order,
 * the first R zig-zag positions (upstream's order), their values and ∂L/∂C there, as the PyTorch
 * fixtures in fixtures/pytorch/grad/ do.
 */
import { fail, toFreqregError } from './errors.js';
import { DEFAULT_LIMITS } from './formats/limits.js';
import { checkInputSize } from './input.js';
import { checkDenseWeights, checkReferenceGradients, type EngineLimits } from './engines/budget.js';
import type { Engine } from './engines/engine.js';
import type { GradientResult, LossSpec } from './engines/gradients.js';
import { referenceGradients } from './engines/reference-backward.js';
import type { FrModel } from './model.js';

export interface GradientOptions {
  /** Trainable positions per layer (the first R zig-zag ranks); required for a model, fixed at build time for an engine. */
  ranks?: number;
  /** For a model: overrides of DEFAULT_LIMITS' engine budgets (the dense weights, the backward's working memory). */
  limits?: Partial<EngineLimits>;
}

/** The loss and per-layer gradients, from an engine built for training or from a model (float64 reference). */
export async function computeGradients(source: Engine | FrModel, input: Float32Array | Float64Array, width: number, height: number, loss: LossSpec, options: GradientOptions = {}): Promise<GradientResult> {
  if ('run' in source) {
    if (!source.gradients) fail('engine', 'ENGINE_UNAVAILABLE', `the ${source.name} engine was not built for training: pass { train: { ranks } } to createEngine`);
    if (options.ranks !== undefined) fail('engine', 'RANKS_INVALID', 'an engine built for training has its ranks fixed; pass them to createEngine');
    if (!(input instanceof Float32Array)) fail('engine', 'INPUT_SHAPE', 'an engine takes a Float32Array input (C, H, W)');
    return source.gradients(input, width, height, loss);
  }
  if (options.ranks === undefined) fail('engine', 'RANKS_INVALID', 'computeGradients on a model needs { ranks }');
  const limits: EngineLimits = { maxDenseWeights: DEFAULT_LIMITS.maxDenseWeights, maxActivationBytes: DEFAULT_LIMITS.maxActivationBytes, ...options.limits };
  try {
    checkInputSize(width, height);
    checkDenseWeights(source, limits);
    checkReferenceGradients(source, width, height, limits);
    return referenceGradients(source, input, width, height, loss, options.ranks);
  } catch (e) {
    throw toFreqregError(e, 'engine');
  }
}

/**
 * A class-index target from an 8-bit grey mask: kept as is when every value is a class of the
 * model; for a 2-class model, a mask of only 0 and 255 (the upstream test masks) becomes 0 and 1.
 * Anything else is TARGET_INVALID.
 */
export function targetFromMask(mask: ArrayLike<number>, classes: number): Uint8Array {
  let max = 0, onlyBinary255 = true;
  for (let p = 0; p < mask.length; p++) {
    const v = mask[p];
    if (v > max) max = v;
    if (v !== 0 && v !== 255) onlyBinary255 = false;
  }
  if (max < classes) return Uint8Array.from(mask);
  if (classes === 2 && onlyBinary255) return Uint8Array.from(mask, (v) => (v === 255 ? 1 : 0));
  return fail('engine', 'TARGET_INVALID', `the mask holds value ${max}; expected class indices 0…${classes - 1}${classes === 2 ? ' or a 0/255 mask' : ''}`);
}
