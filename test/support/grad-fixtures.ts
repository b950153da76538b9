/** The PyTorch gradient fixtures (fixtures/pytorch/grad/): reading a case and comparing a result with it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { GradientResult } from '../../src/engines/gradients.js';
import { imageToTensor } from '../../src/input.js';
import type { FrModel } from '../../src/model.js';
import { loadModelFile } from '../../src/node/load.js';
import { decodePng } from '../../src/node/png.js';

/**
 * float64 reference vs PyTorch float64 autograd, per layer relative to its largest gradient: two
 * float64 routes through PyTorch agreed to 5e-14 (grad README), so 1e-6 leaves room only for
 * summation order, not for a wrong term.
 */
export const TOL_GRAD_F64 = 1e-6;
/** Loss terms, float64 vs float64. */
export const TOL_LOSS_F64 = 1e-6;
export interface FixtureLayer { name: string; kind: string; shape: number[]; ranks: number; positions: number[][]; values: number[]; grads: number[] }
export interface GradCase { model: string; input: string; target: string; width: number; height: number; classes: number; loss: number; ce: number; dice_loss: number; layers: FixtureLayer[] }

export const key = (p: ArrayLike<number>) => Array.from(p).join(',');

/** Compares a result with a fixture case, matching entries by position. */
export function compareWithFixture(t: Test, label: string, got: GradientResult, ref: GradCase): number {
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
  t.ok(rel(got.loss, ref.loss) <= TOL_LOSS_F64, `${label}: loss ${got.loss} vs ${ref.loss}`);
  t.ok(rel(got.ce, ref.ce) <= TOL_LOSS_F64, `${label}: CE ${got.ce} vs ${ref.ce}`);
  t.ok(rel(got.diceLoss, ref.dice_loss) <= TOL_LOSS_F64, `${label}: Dice loss ${got.diceLoss} vs ${ref.dice_loss}`);
  t.equal(got.layers.length, ref.layers.length, `${label}: layer count`);
  let worstAll = 0;
  ref.layers.forEach((refLayer, l) => {
    const layer = got.layers[l];
    t.equal(layer.name, refLayer.name);
    t.equal(layer.ranks, refLayer.ranks, `${refLayer.name}: ranks`);
    const byPosition = new Map<string, number>();
    for (let r = 0; r < layer.ranks; r++) byPosition.set(key(layer.positions.subarray(r * 4, r * 4 + 4)), r);
    let scale = 0, worst = 0, missing = 0, where = '';
    refLayer.positions.forEach((p, r) => {
      const mine = byPosition.get(key(p));
      if (mine === undefined) { missing++; return; }
      scale = Math.max(scale, Math.abs(refLayer.grads[r]));
      const d = Math.abs(layer.grads[mine] - refLayer.grads[r]);
      if (d > worst) { worst = d; where = `position [${p}]: ${layer.grads[mine]} vs ${refLayer.grads[r]}`; }
      if (layer.values[mine] !== refLayer.values[r]) missing++;
    });
    t.equal(missing, 0, `${refLayer.name}: every fixture position present with its value`);
    const relWorst = worst / scale;
    worstAll = Math.max(worstAll, relWorst);
    t.ok(relWorst <= TOL_GRAD_F64, `${label} ${refLayer.name}: max |g − g_ref| / max |g_ref| = ${relWorst.toExponential(2)}${relWorst > TOL_GRAD_F64 ? ` (worst at ${where})` : ''}`);
  });
  return worstAll;
}

export async function loadCase(dir: string, file: string): Promise<{ ref: GradCase; model: FrModel; input: Float64Array; target: Uint8Array }> {
  const grad = join(dir, 'grad');
  const ref = JSON.parse(readFileSync(join(grad, file), 'utf8')) as GradCase;
  const { model } = await loadModelFile(join(grad, ref.model));
  const input = imageToTensor(decodePng(readFileSync(join(grad, ref.input))), 3, 'float64');
  const target = decodePng(readFileSync(join(grad, ref.target))).data as Uint8Array;
  return { ref, model, input, target };
}


/** Σ θ·g over a norm-followed layer, relative to |θ|·|g|: 0 up to the norm's eps (grad README measured ≤ 2.2e-6). */
export const TOL_SCALE_INVARIANCE = 1e-5;
/** An outc gradient that is 0 in exact arithmetic, relative to the layer's largest: rounding only (README: ≤ 2e-16). */
export const TOL_CLASS_MEAN = 1e-12;

/**
 * Properties of the exact gradient (grad README), for a result whose listed values hold every
 * non-zero coefficient of each layer: a conv followed by a norm gives the same output when its θ
 * is scaled, so Σ θ·g ≈ 0; an outc coefficient at output frequency 0 moves every logit alike,
 * which the softmax ignores, so its gradient is 0.
 */
export function checkGradientProperties(t: Test, got: GradientResult): void {
  for (const layer of got.layers) {
    if (layer.name.endsWith('.up.weight') || layer.name.startsWith('outc')) continue;
    let dot = 0, nv = 0, ng = 0;
    for (let r = 0; r < layer.ranks; r++) { dot += layer.values[r] * layer.grads[r]; nv += layer.values[r] ** 2; ng += layer.grads[r] ** 2; }
    const cos = Math.abs(dot) / Math.sqrt(nv * ng);
    t.ok(cos <= TOL_SCALE_INVARIANCE, `${layer.name}: |cos(θ, g)| = ${cos.toExponential(1)}`);
  }
  const outc = got.layers[got.layers.length - 1];
  const outcMax = Math.max(...Array.from(outc.grads, Math.abs));
  for (let r = 0; r < outc.ranks; r++) {
    if (outc.positions[r * 4] !== 0) continue;
    t.ok(Math.abs(outc.grads[r]) <= TOL_CLASS_MEAN * outcMax, `outc [${outc.positions.subarray(r * 4, r * 4 + 4)}]: ${outc.grads[r].toExponential(1)} (0 in exact arithmetic)`);
  }
}
