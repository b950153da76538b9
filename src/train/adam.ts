/**
 * Adam (Kingma & Ba 2015, algorithm 1), per layer over that layer's trainable coefficients:
 *
 *   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²,
 *   θ ← θ − lr · m̂ / (√v̂ + ε),   m̂ = m / (1−β1^t),   v̂ = v / (1−β2^t).
 *
 * The moments are saved in checkpoints; dropping ranks drops their moments with them.
 */
export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-8;

export interface AdamState {
  /** Updates applied so far (t). */
  t: number;
  /** Per layer: first moments. */
  m: Float64Array[];
  /** Per layer: second moments. */
  v: Float64Array[];
}

export function adamState(values: readonly Float64Array[]): AdamState {
  return { t: 0, m: values.map((x) => new Float64Array(x.length)), v: values.map((x) => new Float64Array(x.length)) };
}

/** One Adam update of `values` in place with gradients `grads` and learning rate `lr`. */
export function adamStep(values: Float64Array[], grads: readonly Float64Array[], state: AdamState, lr: number): void {
  state.t++;
  const c1 = 1 - ADAM_BETA1 ** state.t, c2 = 1 - ADAM_BETA2 ** state.t;
  for (let l = 0; l < values.length; l++) {
    const theta = values[l], g = grads[l], m = state.m[l], v = state.v[l];
    for (let k = 0; k < theta.length; k++) {
      m[k] = ADAM_BETA1 * m[k] + (1 - ADAM_BETA1) * g[k];
      v[k] = ADAM_BETA2 * v[k] + (1 - ADAM_BETA2) * g[k] * g[k];
      theta[k] -= (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + ADAM_EPSILON);
    }
  }
}

/** Keeps the moments of the first `ranks` coefficients of every layer. */
export function truncateAdam(state: AdamState, ranks: number): AdamState {
  return { t: state.t, m: state.m.map((x) => x.slice(0, Math.min(ranks, x.length))), v: state.v.map((x) => x.slice(0, Math.min(ranks, x.length))) };
}
