/**
 * What a gradient computation takes and gives: the loss of one image against its target and the
 * gradient of that loss with respect to frequency coefficients, layer by layer.
 *
 * The trainable set of a layer is its first R positions in the upstream zig-zag order
 * (src/engines/trainable.ts). A model prepared for training (`trainableModel`) lists exactly those
 * positions first in every layer's `indices`, zeros included, followed by any other stored
 * non-zeros (kept fixed); engines give a gradient for every listed position, and results report
 * the first R.
 */
import type { LayerKind } from '../model.js';

/** The loss: cross-entropy (mean over pixels) plus the upstream Dice loss, or the caller's. */
export type LossSpec =
  /** Class index per pixel (height × width, row-major), each < classes. */
  | { target: Uint8Array }
  /** ∂L/∂logits (classes, height, width), planar: any other loss, computed by the caller. */
  | { dLogits: Float32Array | Float64Array };

export interface LossTerms {
  /** ce + diceLoss (NaN when the caller gave dLogits). */
  loss: number;
  ce: number;
  diceLoss: number;
}

export interface LayerGradient {
  name: string;
  kind: LayerKind;
  /** conv: (Cout, Cin, kh, kw); convTranspose: (Cin, Cout, kh, kw). */
  shape: [number, number, number, number];
  /** Trainable positions reported (the first `ranks` of the layer's zig-zag order). */
  ranks: number;
  /** (ranks, 4) row-major positions, in zig-zag order. */
  positions: Int32Array;
  /** (ranks) current coefficient values. */
  values: Float64Array;
  /** (ranks) ∂L/∂C at those positions. */
  grads: Float64Array;
  /** (Cout) ∂L/∂bias, where the layer has a bias. */
  biasGrads?: Float64Array;
}

export interface GradientResult extends LossTerms {
  layers: LayerGradient[];
}
