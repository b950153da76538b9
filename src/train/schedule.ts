/**
 * What changes over a training run, as functions of its progress p ∈ [0, 1] (the fraction of the
 * step, epoch or time budget done):
 *
 * - the learning rate: linear warm-up over the first steps, then a cosine from `lr` down to
 *   `lr · LR_FLOOR` at the end (Loshchilov & Hutter's SGDR without restarts);
 * - the ranks kept per layer (progressive dropping, as the paper trains): from the start ranks
 *   R0 down to R, the highest ranks dropped first, in up to RANK_STAGES equal stages spread over
 *   the first RANK_DROP_END of training, so that the rest trains the final model.
 */
export const LR_FLOOR = 0.05;
export const RANK_DROP_END = 0.5;
export const RANK_STAGES = 8;

/** Learning rate at `step` (0-based) and progress `p`. */
export function learningRate(base: number, step: number, p: number, warmupSteps: number): number {
  const warm = warmupSteps > 0 ? Math.min(1, (step + 1) / warmupSteps) : 1;
  const q = Math.min(1, Math.max(0, p));
  return base * warm * (LR_FLOOR + ((1 - LR_FLOOR) * (1 + Math.cos(Math.PI * q))) / 2);
}

/** Ranks kept at progress `p`: `start` at 0, `end` from RANK_DROP_END on, non-increasing. */
export function ranksAt(start: number, end: number, p: number): number {
  if (start <= end) return end;
  const stages = Math.min(RANK_STAGES, start - end);
  const stage = Math.min(stages, Math.floor((Math.min(1, Math.max(0, p)) / RANK_DROP_END) * stages));
  return start - Math.round(((start - end) * stage) / stages);
}
