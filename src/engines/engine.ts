/**
 * What every engine offers: logits for one planar input. Engines are built once per model
 * (weights or spectral plans prepared then) and reused across images.
 */

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
  /** Logits for a planar (Cin, height, width) float32 input in [0, 1]. */
  run(input: Float32Array, width: number, height: number): Promise<Logits>;
  /** Frees workers and memory; the engine cannot be used afterwards. */
  dispose(): Promise<void>;
}
