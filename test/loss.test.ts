import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLogitGradient, DICE_EPS, segmentationLoss } from '../src/engines/loss.js';
import { referenceForward } from '../src/engines/reference.js';
import { imageToTensor } from '../src/input.js';
import { decodePng } from '../src/node/png.js';
import { loadModelFile } from '../src/node/load.js';
import { fixturesDir, readF32, rng } from './helpers.js';

/** Float64 loss of the float64 network vs PyTorch float64: two float64 routes agree to ~1e-14. */
const TOL_LOSS_F64 = 1e-6;
/** Analytic ∂L/∂logits vs central differences at h = 1e-6 on O(1) logits: O(h²) + rounding/h ≈ 1e-10. */
const TOL_FD = 1e-7;
/**
 * Loss from PyTorch's float32 logits vs the float64 loss: the float32 logits are off by up to
 * 1.3e-4 on logits up to 122 (fixtures README), which moves the mean CE by about that much.
 */
const TOL_LOSS_F32_LOGITS = 1e-4;

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

t.test('one pixel, two equal logits: CE = log 2, Dice as the formula', async (t) => {
  const r = segmentationLoss([0, 0], 2, 1, 1, [1]);
  t.equal(r.ce, Math.log(2));
  t.equal(r.diceLoss, 1 - (2 * 0.5 + DICE_EPS) / (2 + DICE_EPS));
  t.equal(r.loss, r.ce + r.diceLoss);
  t.ok(r.dLogits[0] > 0 && r.dLogits[1] < 0 && Math.abs(r.dLogits[0] + r.dLogits[1]) < 1e-15, 'pushes towards the target, sums to 0 over classes');
});

t.test('∂L/∂logits equals central differences', async (t) => {
  for (const [classes, w, h, scale] of [[2, 5, 3, 3], [3, 4, 7, 3], [3, 17, 1, 1], [2, 6, 6, 30], [1, 3, 3, 2]]) {
    const r = rng(classes * 100 + w);
    const n = w * h;
    const logits = Float64Array.from({ length: classes * n }, () => (r() * 2 - 1) * scale);
    const target = Uint8Array.from({ length: n }, () => Math.floor(r() * classes));
    const { dLogits, loss } = segmentationLoss(logits, classes, w, h, target);
    t.ok(Number.isFinite(loss), `K=${classes} ${w}x${h}: finite loss`);
    let worst = 0, scaleG = 0;
    for (let i = 0; i < logits.length; i++) {
      const hstep = 1e-6;
      const plus = logits.slice(), minus = logits.slice();
      plus[i] += hstep;
      minus[i] -= hstep;
      const fd = (segmentationLoss(plus, classes, w, h, target).loss - segmentationLoss(minus, classes, w, h, target).loss) / (2 * hstep);
      worst = Math.max(worst, Math.abs(fd - dLogits[i]));
      scaleG = Math.max(scaleG, Math.abs(dLogits[i]));
    }
    t.ok(worst <= TOL_FD * Math.max(scaleG, 1e-3), `K=${classes} ${w}x${h} logits ±${scale}: max |g − fd| ${worst.toExponential(2)} (max |g| ${scaleG.toExponential(2)})`);
  }
});

t.test('large logits stay finite (the softmax is shifted)', async (t) => {
  const r = segmentationLoss([1000, -1000, 0, 800], 2, 2, 1, [1, 0]);
  t.ok([r.loss, r.ce, r.diceLoss, ...r.dLogits].every(Number.isFinite));
  t.ok(Math.abs(r.ce - (2000 + 800) / 2) < 1e-9, `CE ${r.ce}: both pixels wrong by their margin`);
});

t.test('hostile calls: FreqregError with a code', async (t) => {
  const logits = new Float64Array(2 * 4 * 4);
  const refuses = (what: string, f: () => void, code: string) => t.throws(f, { name: 'FreqregError', code }, what);
  refuses('target too short', () => segmentationLoss(logits, 2, 4, 4, new Uint8Array(15)), 'TARGET_INVALID');
  refuses('target too long', () => segmentationLoss(logits, 2, 4, 4, new Uint8Array(17)), 'TARGET_INVALID');
  refuses('class 2 of 2', () => segmentationLoss(logits, 2, 4, 4, new Uint8Array(16).fill(2)), 'TARGET_INVALID');
  refuses('class 255 (a 0/255 mask not mapped)', () => segmentationLoss(logits, 2, 4, 4, new Uint8Array(16).fill(255)), 'TARGET_INVALID');
  refuses('negative class', () => segmentationLoss(logits, 2, 4, 4, new Array(16).fill(-1)), 'TARGET_INVALID');
  refuses('fractional class', () => segmentationLoss(logits, 2, 4, 4, new Array(16).fill(0.5)), 'TARGET_INVALID');
  refuses('NaN logit', () => segmentationLoss(logits.map((v, i) => (i === 5 ? NaN : v)), 2, 4, 4, new Uint8Array(16)), 'NOT_FINITE');
  refuses('infinite logit', () => segmentationLoss(logits.map((v, i) => (i === 0 ? -Infinity : v)), 2, 4, 4, new Uint8Array(16)), 'NOT_FINITE');
  refuses('logits wrong length', () => segmentationLoss(logits.subarray(1), 2, 4, 4, new Uint8Array(16)), 'LOSS_SHAPE');
  refuses('dLogits wrong length', () => checkLogitGradient(new Float32Array(31), 2, 4, 4), 'LOSS_SHAPE');
  refuses('dLogits NaN', () => checkLogitGradient(new Float32Array(32).fill(NaN), 2, 4, 4), 'NOT_FINITE');
  t.doesNotThrow(() => checkLogitGradient(new Float32Array(32), 2, 4, 4));
});

interface GradCase { model: string; input: string; target: string; width: number; height: number; classes: number; loss: number; ce: number; dice_loss: number }

t.test('the loss of the float64 reference forward matches PyTorch float64 (cases a, b)', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const grad = join(dir, 'grad');
  for (const [file, logitsFile] of [['a-tiny-sparse.json', 'tiny-sparse-logits.f32'], ['b-tiny-3class.json', 'tiny-3class-logits.f32']]) {
    const c = JSON.parse(readFileSync(join(grad, file), 'utf8')) as GradCase;
    const { model } = await loadModelFile(join(grad, c.model));
    const input = imageToTensor(decodePng(readFileSync(join(grad, c.input))), 3, 'float64');
    const target = decodePng(readFileSync(join(grad, c.target))).data;
    const logits = referenceForward(model, { c: 3, h: c.height, w: c.width, data: input });
    const r = segmentationLoss(logits.data, c.classes, c.width, c.height, target);
    t.ok(relDiff(r.loss, c.loss) <= TOL_LOSS_F64, `${file}: loss ${r.loss} vs ${c.loss}`);
    t.ok(relDiff(r.ce, c.ce) <= TOL_LOSS_F64, `${file}: CE ${r.ce} vs ${c.ce}`);
    t.ok(relDiff(r.diceLoss, c.dice_loss) <= TOL_LOSS_F64, `${file}: Dice loss ${r.diceLoss} vs ${c.dice_loss}`);
    // PyTorch's own float32 logits of the same model and input.
    const f32 = segmentationLoss(readF32(join(dir, logitsFile)), c.classes, c.width, c.height, target);
    t.ok(relDiff(f32.loss, c.loss) <= TOL_LOSS_F32_LOGITS, `${file}: loss from PyTorch float32 logits ${f32.loss}`);
  }
});
