/**
 * What every engine offers: logits for one planar input. Engines are built once per model
 * (weights or spectral plans prepared then) and reused across images.
 */

import type { GradientResult, LossSpec } from './gradients.js';

export type EngineName = 'reference' | 'dense' | 'spectral' | 'auto';

export const ENGINE_NAMES: readonly EngineName[] = ['auto', 'spectral', 'dense', 'reference'];

/** Logits (classes, height, width), float32, planar. */
export interface Logits {
  classes: number;
  height: number;
  width: number;
  data: Float32Array;
}

export interface Engine {
  readonly name: EngineName;
  /** The form the network runs in: 'spectral', 'dense' or 'reference' (auto picks one). */
  readonly form: string;
  /** Worker threads in use (1 = the calling thread only). */
  readonly threads: number;
  /**
   * Logits for a planar (Cin, height, width) float32 input in [0, 1], written into `into` when
   * given (classes·height·width values; the result's data is then `into`). A caller running many
   * images of one size keeps one array: fresh arrays this large cost their page faults every time.
   */
  run(input: Float32Array, width: number, height: number, into?: Float32Array): Promise<Logits>;
  /**
   * Engines built for training (`EngineOptions.train`: the model's layers hold their first R
   * zig-zag positions, src/engines/trainable.ts): the loss of one image and its gradient with
   * respect to those R coefficients of every layer (and the biases).
   */
  gradients?(input: Float32Array, width: number, height: number, loss: LossSpec): Promise<GradientResult>;
  /** Engines built for training: new values of the R trainable coefficients, per layer in state-dict order. */
  setCoefficients?(values: readonly Float64Array[]): void;
  /** Frees workers and memory; the engine cannot be used afterwards. */
  dispose(): Promise<void>;
}
