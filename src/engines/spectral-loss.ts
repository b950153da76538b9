/**
 * The training loss on the logit maps in kernel memory (src/engines/loss.ts is its float64
 * yardstick, with the same formulas): the softmax and the loss's sums in one pass
 * (`spectral_softmax_f32`), then ∂L/∂logits over the softmax in a second
 * (`spectral_softmax_grad_f32`), both split by rows over the threads. The logits never leave
 * kernel memory, and ∂L/∂logits is left where the backward pass reads it (sp.dLogits, the
 * logits' own buffer).
 */
import { fail } from '../errors.js';
import type { LossTerms } from './gradients.js';
import { diceTerms } from './loss.js';
import type { Exec } from './spectral-exec.js';
import { backScratchFloats, interior, lossSlot, type SizePlan } from './spectral-size.js';
import type { SpectralTables } from './spectral-tables.js';

/**
 * CE + Dice loss of the logits in sp.logits (outc's bias included by the forward pass) against
 * `target` (height × width class indices, already checked), ∂L/∂logits left in sp.dLogits, and
 * Σ_p ∂L/∂logit_c per class (outc's bias gradient). Refuses logits that are not finite (NOT_FINITE).
 */
export function lossOnMaps(ex: Exec, t: SpectralTables, sp: SizePlan, target: ArrayLike<number>): LossTerms & { classSums: Float64Array } {
  const L0 = sp.levels[0];
  const { w, h } = L0;
  const n = w * h;
  const { classes } = t.model.arch;
  const slot = lossSlot(classes);
  const maps = interior(L0, sp.logits);
  new Int32Array(ex.memory.buffer, sp.target, n).set(target);
  ex.f64(sp.lossSums, ex.shares * slot).fill(0);
  ex.rows(h, 1, (y0, y1, s) => [
    'spectral_softmax_f32', sp.lossSums + s * slot * 8, sp.backScratch + s * backScratchFloats(t) * 4, maps, L0.mapSize, L0.stride, classes,
    sp.target, w, y0, y1,
  ]);
  const [ceSum, probSum, trueProbSum, bad] = ex.sumShares(sp.lossSums, 4, slot);
  if (bad > 0) {
    // The first pixel with a logit that is not finite (the pass wrote the softmax over the rest).
    const m = ex.arena.f32(maps, classes * L0.mapSize);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < classes; c++) {
        const v = m[c * L0.mapSize + Math.floor(p / w) * L0.stride + (p % w)];
        if (!Number.isFinite(v)) fail('engine', 'NOT_FINITE', `logit ${c * n + p} (class ${c}, pixel (${p % w}, ${Math.floor(p / w)})) is ${v}`);
      }
    }
  }
  const ce = ceSum / n;
  const { diceLoss, gTrue, gOther } = diceTerms(probSum, trueProbSum, n);
  ex.f64(sp.lossSums, ex.shares * slot).fill(0);
  ex.rows(h, 1, (y0, y1, s) => [
    'spectral_softmax_grad_f32', sp.lossSums + s * slot * 8, maps, L0.mapSize, L0.stride, classes, sp.target, w, n, gTrue, gOther, y0, y1,
  ]);
  return { loss: ce + diceLoss, ce, diceLoss, classSums: ex.sumShares(sp.lossSums, classes, slot) };
}
