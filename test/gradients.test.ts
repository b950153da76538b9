import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../src/engines/index.js';
import { computeGradients, targetFromMask } from '../src/gradients.js';
import { referenceForward } from '../src/engines/reference.js';
import { referenceGradients } from '../src/engines/reference-backward.js';
import { segmentationLoss } from '../src/engines/loss.js';
import { setTrainableValues, trainableModel, trainableValues } from '../src/engines/trainable.js';
import type { GradientResult, LossSpec } from '../src/engines/gradients.js';
import type { FrModel } from '../src/model.js';
import { imageToTensor } from '../src/input.js';
import { loadModelFile } from '../src/node/load.js';
import { decodeImage, encodeGreyPng } from '../src/node/png.js';
import { fixturesDir, PACKAGE_ROOT, rng } from './helpers.js';
import { checkGradientProperties, compareWithFixture, key, loadCase, TOL_GRAD_F64, type FixtureLayer, type GradCase } from './support/grad-fixtures.js';
import { syntheticModel } from './support/synthetic.js';

/**
 * Analytic vs central finite differences on small models, relative to the layer's largest
 * gradient: O(h²) truncation at h = 2^-20 plus rounding of order 1e-16 · L / h ≈ 1e-9. The
 * truncation term is not small everywhere: a deepest level of 2×1 pixels (33×21) normalizes over
 * two values, and there the loss curves so fast that h = 2^-17 is off by 1e-4 while h = 2^-20
 * agrees to 2e-6. A ReLU or max-pool switch inside ±h would show as a far larger error.
 */
const TOL_FD = 1e-5;

// The upstream model's cases (c, d) take minutes: test/gradients-upstream.test.ts.
for (const file of ['a-tiny-sparse.json', 'b-tiny-3class.json']) {
  t.test(`reference gradients match PyTorch float64: ${file}`, async (t) => {
    const dir = fixturesDir(t);
    if (!dir) return;
    const { ref, model, input, target } = await loadCase(dir, file);
    const start = performance.now();
    const got = referenceGradients(model, input, ref.width, ref.height, { target }, 64);
    const seconds = (performance.now() - start) / 1000;
    const worst = compareWithFixture(t, file, got, ref);
    t.comment(`${file}: ${ref.width}x${ref.height}, worst layer ${worst.toExponential(2)}, ${seconds.toFixed(1)} s (float64 reference)`);
  });
}

t.test('R = 64 on tiny-sparse (stored with 33): the zeros at ranks 33…63 get their gradients', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const { ref, model, input, target } = await loadCase(dir, 'a-tiny-sparse.json');
  const got = referenceGradients(model, input, ref.width, ref.height, { target }, 64);
  for (const [l, layer] of got.layers.entries()) {
    if (layer.ranks < 64) continue;
    const zeros = Array.from(layer.values.subarray(33)).every((v) => v === 0);
    const scale = Math.max(...ref.layers[l].grads.map(Math.abs));
    let worst = 0;
    for (let r = 33; r < 64; r++) worst = Math.max(worst, Math.abs(layer.grads[r] - ref.layers[l].grads[r]));
    t.ok(zeros && worst <= TOL_GRAD_F64 * scale && layer.grads.subarray(33).some((g) => g !== 0), `${layer.name}: ranks 33…63 stored zeros, gradients within ${(worst / scale).toExponential(1)}`);
  }
  checkGradientProperties(t, got);
});

/** Loss of the float64 forward pass, for finite differences. */
function lossOf(model: FrModel, input: Float64Array, w: number, h: number, target: Uint8Array): number {
  const logits = referenceForward(model, { c: model.arch.inChannels, h, w, data: input });
  return segmentationLoss(logits.data, model.arch.classes, w, h, target).loss;
}

/** FD step: a power of two, so θ ± h is exact in float32 when θ is a multiple of 2^-12 below 8. */
const FD_STEP = 2 ** -20;

interface FdCase { width: number; classes: number; w: number; h: number; seed: number; flat?: boolean }

const FD_CASES: FdCase[] = [
  { width: 1, classes: 2, w: 17, h: 19, seed: 1 },
  { width: 2, classes: 3, w: 33, h: 21, seed: 2 },
  { width: 2, classes: 2, w: 16, h: 16, seed: 3 },
  { width: 3, classes: 3, w: 19, h: 17, seed: 4 },
  // Piecewise-constant input: exact ties in max-pool windows (equal positive maxima in flat
  // regions) and all-zero windows after the ReLU.
  { width: 2, classes: 2, w: 32, h: 24, seed: 5, flat: true },
];

for (const c of FD_CASES) {
  t.test(`gradients equal central differences: width ${c.width}, ${c.classes} classes, ${c.w}x${c.h}${c.flat ? ', flat regions (ties)' : ''}`, async (t) => {
    const base = syntheticModel({ width: c.width, classes: c.classes, seed: c.seed, nnzPerLayer: 12, corner: 3 });
    // Values on a 2^-12 grid, so every θ ± FD_STEP is exact in the float32 model.
    for (const layer of base.layers) layer.values.set(layer.values.map((v) => Math.round(v * 4096) / 4096));
    const R = 20;
    const trainable = trainableModel(base, R);
    const r = rng(c.seed + 100);
    const n = c.w * c.h;
    const input = c.flat
      ? Float64Array.from({ length: 3 * n }, (_, i) => { const p = i % n, ch = Math.floor(i / n); return ((Math.floor((p % c.w) / 8) + 2 * Math.floor(Math.floor(p / c.w) / 8) + ch) % 3) / 2; })
      : Float64Array.from({ length: 3 * n }, () => r());
    const target = Uint8Array.from({ length: n }, (_, p) => ((p % c.w) * 3 > c.w * ((p / c.w) % c.classes) ? 1 : 0) % c.classes);
    if (c.classes === 3) for (let p = 0; p < n; p += 5) target[p] = 2;
    const got = referenceGradients(trainable.model, input, c.w, c.h, { target }, R);
    const values = trainableValues(trainable);
    let worstRel = 0, checked = 0;
    got.layers.forEach((layer, l) => {
      const scale = Math.max(...Array.from(layer.grads, Math.abs));
      for (const rank of [0, Math.floor(layer.ranks / 2), layer.ranks - 1]) {
        const at = (delta: number) => {
          const v = values.map((a) => a.slice());
          v[l][rank] += delta;
          setTrainableValues(trainable, v);
          return lossOf(trainable.model, input, c.w, c.h, target);
        };
        const fd = (at(FD_STEP) - at(-FD_STEP)) / (2 * FD_STEP);
        setTrainableValues(trainable, values);
        const rel = Math.abs(fd - layer.grads[rank]) / Math.max(scale, 1e-12);
        worstRel = Math.max(worstRel, rel);
        checked++;
        if (rel > TOL_FD) t.fail(`${layer.name} rank ${rank}: g ${layer.grads[rank]} fd ${fd} (layer max ${scale})`);
      }
    });
    t.ok(worstRel <= TOL_FD, `${checked} entries, worst |g − fd| / layer max |g| = ${worstRel.toExponential(2)}`);
    t.ok(got.layers.every((layer) => layer.grads.every(Number.isFinite)), 'all finite');
    if (c.flat) {
      // Count the ties the first max-pool sees.
      const { conv2d, denseWeights, normRelu } = await import('../src/engines/reference.js');
      const inc = trainable.model.inc;
      const x = { c: 3, h: c.h, w: c.w, data: input };
      const s0 = normRelu(conv2d(normRelu(conv2d(x, denseWeights(inc.conv1), inc.conv1.shape[0], 3)), denseWeights(inc.conv2), inc.conv2.shape[0], 3));
      let positiveTies = 0, zeroWindows = 0;
      for (let ch = 0; ch < s0.c; ch++) for (let y = 0; y + 1 < c.h; y += 2) for (let xx = 0; xx + 1 < c.w; xx += 2) {
        const v = [0, 1, c.w, c.w + 1].map((d) => s0.data[ch * n + y * c.w + xx + d]);
        const m = Math.max(...v);
        if (m === 0) zeroWindows++;
        else if (v.filter((e) => e === m).length > 1) positiveTies++;
      }
      t.ok(positiveTies > 0 && zeroWindows > 0, `first max-pool: ${positiveTies} windows tied at a positive maximum, ${zeroWindows} all zero`);
    }
  });
}

t.test('a caller\'s dLogits gives the same gradients as the built-in loss; the trainable set lists the same positions', async (t) => {
  const model = syntheticModel({ width: 2, classes: 3, seed: 9 });
  const w = 21, h = 18, n = w * h;
  const r = rng(3);
  const input = Float32Array.from({ length: 3 * n }, () => r());
  const target = Uint8Array.from({ length: n }, () => Math.floor(r() * 3));
  const viaTarget = referenceGradients(model, input, w, h, { target }, 40);
  const logits = referenceForward(model, { c: 3, h, w, data: Float64Array.from(input) });
  const { dLogits } = segmentationLoss(logits.data, 3, w, h, target);
  const viaDLogits = referenceGradients(model, input, w, h, { dLogits }, 40);
  t.ok(Number.isNaN(viaDLogits.loss) && Number.isNaN(viaDLogits.ce), 'no loss value for a caller\'s gradient');
  viaTarget.layers.forEach((layer, l) => {
    t.same(Array.from(viaDLogits.layers[l].grads), Array.from(layer.grads), `${layer.name}: same gradients`);
  });
  const trainable = trainableModel(model, 40);
  const onTrainable = referenceGradients(trainable.model, input, w, h, { target }, 40);
  onTrainable.layers.forEach((layer, l) => {
    t.same(Array.from(layer.positions), Array.from(trainable.model.layers[l].indices.subarray(0, 4 * trainable.ranks[l])), `${layer.name}: positions are the trainable set`);
    t.same(Array.from(layer.grads), Array.from(viaTarget.layers[l].grads), `${layer.name}: same gradients on the trainable model`);
  });
});

t.test('biases get gradients: ∂L/∂bias[o] = Σ_p ∂L/∂out[o,p]', async (t) => {
  const model = syntheticModel({ width: 2, classes: 2, seed: 12 });
  const r = rng(8);
  for (const layer of [model.up[1].up, model.outc, model.down[0].conv2]) {
    const cout = layer.kind === 'conv' ? layer.shape[0] : layer.shape[1];
    layer.bias = Float32Array.from({ length: cout }, () => Math.round((r() - 0.5) * 4096) / 4096);
  }
  const w = 16, h = 17, n = w * h;
  const input = Float64Array.from({ length: 3 * n }, () => r());
  const target = Uint8Array.from({ length: n }, (_, p) => (p % 7 < 3 ? 1 : 0));
  const got = referenceGradients(model, input, w, h, { target }, 8);
  for (const [l, layer] of model.layers.entries()) {
    t.equal(got.layers[l].biasGrads !== undefined, layer.bias !== undefined, `${layer.name}: bias gradients iff a bias`);
    if (!layer.bias) continue;
    const g = got.layers[l].biasGrads!;
    const scale = Math.max(...Array.from(g, Math.abs));
    if (layer === model.down[0].conv2) continue; // followed by a norm: checked to be 0 below
    for (const o of [0, layer.bias.length - 1]) {
      const b0 = layer.bias[o];
      layer.bias[o] = b0 + FD_STEP;
      const plus = lossOf(model, input, w, h, target);
      layer.bias[o] = b0 - FD_STEP;
      const minus = lossOf(model, input, w, h, target);
      layer.bias[o] = b0;
      const fd = (plus - minus) / (2 * FD_STEP);
      t.ok(Math.abs(fd - g[o]) <= TOL_FD * scale, `${layer.name} bias ${o}: g ${g[o].toExponential(4)} fd ${fd.toExponential(4)}`);
    }
  }
  const normFollowedBias = got.layers[model.layers.indexOf(model.down[0].conv2)].biasGrads!;
  t.ok(normFollowedBias.every((g) => Math.abs(g) < 1e-12), 'a bias before a norm has no effect: gradient 0');
});

t.test('hostile calls get a FreqregError with a code, never a trap or a NaN gradient', async (t) => {
  const model = syntheticModel({ width: 1, classes: 2, seed: 6 });
  const w = 16, h = 16, n = w * h;
  const input = new Float32Array(3 * n).fill(0.5);
  const target = new Uint8Array(n);
  const refuses = (what: string, f: () => unknown, code: string) => t.throws(f, { name: 'FreqregError', code }, what);
  refuses('target one pixel short', () => referenceGradients(model, input, w, h, { target: target.subarray(1) }, 8), 'TARGET_INVALID');
  refuses('class 2 in a 2-class model', () => referenceGradients(model, input, w, h, { target: new Uint8Array(n).fill(2) }, 8), 'TARGET_INVALID');
  for (const R of [0, 1.5, NaN, -1]) refuses(`R = ${R}`, () => referenceGradients(model, input, w, h, { target }, R), 'RANKS_INVALID');
  refuses('NaN in the input', () => referenceGradients(model, input.map((v, i) => (i === 77 ? NaN : v)), w, h, { target }, 8), 'NOT_FINITE');
  refuses('input of the wrong size', () => referenceGradients(model, input.subarray(3), w, h, { target }, 8), 'INPUT_SHAPE');
  refuses('input too small', () => referenceGradients(model, new Float32Array(3 * 8 * 8), 8, 8, { target: new Uint8Array(64) }, 8), 'INPUT_TOO_SMALL');
  refuses('dLogits of the wrong length', () => referenceGradients(model, input, w, h, { dLogits: new Float32Array(2 * n - 1) }, 8), 'LOSS_SHAPE');
  refuses('dLogits with NaN', () => referenceGradients(model, input, w, h, { dLogits: new Float32Array(2 * n).fill(NaN) }, 8), 'NOT_FINITE');
  refuses('neither target nor dLogits', () => referenceGradients(model, input, w, h, {} as LossSpec, 8), 'LOSS_SHAPE');
  // An input so large that the first conv overflows float64: refused, not NaN.
  refuses('activations overflow', () => referenceGradients(model, new Float64Array(3 * n).fill(1e308), w, h, { target }, 4), 'NOT_FINITE');
});

t.test('engines built for training: the reference engine\'s gradients and setCoefficients; computeGradients', async (t) => {
  const model = syntheticModel({ width: 2, classes: 2, seed: 21 });
  const w = 20, h = 17, n = w * h;
  const r = rng(4);
  const input = Float32Array.from({ length: 3 * n }, () => r());
  const target = Uint8Array.from({ length: n }, (_, p) => (p % 5 < 2 ? 1 : 0));
  const engine = await createEngine('reference', model, undefined, { train: { ranks: 30 } });
  const viaEngine = await computeGradients(engine, input, w, h, { target });
  const direct = await computeGradients(model, input, w, h, { target }, { ranks: 30 });
  t.equal(viaEngine.loss, direct.loss, 'same loss');
  viaEngine.layers.forEach((layer, l) => t.same(Array.from(layer.grads), Array.from(direct.layers[l].grads), `${layer.name}: same gradients`));
  // setCoefficients: new values, the same as a model rebuilt with them.
  const trainable = trainableModel(model, 30);
  const next = trainableValues(trainable).map((v) => v.map((x, i) => (i === 0 ? x * 0.5 : x + 0.25)));
  engine.setCoefficients!(next);
  setTrainableValues(trainable, next);
  const after = await engine.gradients!(input, w, h, { target });
  t.equal(after.loss, referenceGradients(trainable.model, input, w, h, { target }, 30).loss, 'the engine runs with the new values');
  t.same(Array.from(after.layers[3].values), Array.from(next[3], Math.fround), 'reports them');
  t.not(after.loss, viaEngine.loss);
  await t.rejects(engine.gradients!(Float32Array.from(input).fill(NaN, 5, 6), w, h, { target }), { code: 'NOT_FINITE' }, 'NaN input through the engine');
  await t.rejects(engine.gradients!(input, w, h, { target: target.subarray(1) }), { code: 'TARGET_INVALID' });
  t.throws(() => engine.setCoefficients!(next.slice(1)), { code: 'TRAINABLE_VALUES' });
  await t.rejects(computeGradients(engine, Float64Array.from(input), w, h, { target }), { code: 'INPUT_SHAPE' }, 'engines take float32');
  await t.rejects(computeGradients(engine, input, w, h, { target }, { ranks: 5 }), { code: 'RANKS_INVALID' }, 'ranks fixed at build time');
  await t.rejects(computeGradients(model, input, w, h, { target }), { code: 'RANKS_INVALID' }, 'a model needs ranks');
  await t.rejects(computeGradients(model, new Float32Array(0), 4096, 4096, { target: new Uint8Array(0) }, { ranks: 8 }), { code: 'OUT_OF_MEMORY' }, 'a model\'s backward is budgeted before anything is read');
  const plain = await createEngine('reference', model);
  await t.rejects(computeGradients(plain, input, w, h, { target }), { code: 'ENGINE_UNAVAILABLE' }, 'not built for training');
  await t.rejects(createEngine('reference', model, undefined, { train: { ranks: 0 } }), { code: 'RANKS_INVALID' });
  const small = await createEngine('reference', model, undefined, { train: { ranks: 8 }, limits: { maxActivationBytes: 2 ** 20 } });
  await t.rejects(small.gradients!(new Float32Array(3 * 256 * 256), 256, 256, { target: new Uint8Array(256 * 256) }), { code: 'OUT_OF_MEMORY' }, 'the backward\'s memory is budgeted');
});

t.test('targetFromMask: class indices as they are, a 0/255 mask for 2 classes, anything else refused', async (t) => {
  t.same(Array.from(targetFromMask([0, 1, 2, 1], 3)), [0, 1, 2, 1]);
  t.same(Array.from(targetFromMask([0, 255, 255, 0], 2)), [0, 1, 1, 0]);
  t.same(Array.from(targetFromMask([0, 1, 1, 0], 2)), [0, 1, 1, 0]);
  t.throws(() => targetFromMask([0, 255, 2], 2), { code: 'TARGET_INVALID' });
  t.throws(() => targetFromMask([0, 255], 3), { code: 'TARGET_INVALID' });
});

const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');
const freqreg = (args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'gradients', ...args], { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 2 ** 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A float32 engine against PyTorch float64 (grad README: float32 reaches 1e-5; 10× room for another summation order). */
const TOL_GRAD_F32 = 1e-4;

t.test('freqreg gradients --json on case a equals the fixture', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const grad = join(dir, 'grad');
  const ref = JSON.parse(readFileSync(join(grad, 'a-tiny-sparse.json'), 'utf8')) as GradCase;
  const args = [join(grad, ref.model), join(grad, ref.input), join(grad, ref.target), '--json'];
  const r = freqreg(args);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.same([out.width, out.height, out.classes, out.ranks, out.engine], [ref.width, ref.height, ref.classes, 64, 'reference']);
  t.same(out.layers.map((l: FixtureLayer) => [l.name, l.kind, l.shape, l.ranks]), ref.layers.map((l) => [l.name, l.kind, l.shape, l.ranks]), 'names, kinds, shapes, ranks as the fixture');
  const asResult = (o: { loss: number; ce: number; dice_loss: number; layers: FixtureLayer[] }): GradientResult => ({
    loss: o.loss, ce: o.ce, diceLoss: o.dice_loss,
    layers: o.layers.map((l) => ({ name: l.name, kind: 'conv', shape: l.shape as [number, number, number, number], ranks: l.ranks, positions: Int32Array.from(l.positions.flat()), values: Float64Array.from(l.values), grads: Float64Array.from(l.grads) })),
  });
  compareWithFixture(t, 'cli reference', asResult(out), ref);

  const human = freqreg(args.slice(0, 3).concat(['--ranks', '8']));
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^loss 1\.594\d+ = cross-entropy 1\.078\d+ \+ Dice loss 0\.5158\d+/);
  t.match(human.stdout, /outc\.conv\.weight\s+8\s+\d\.\d+e[-+]\d+/);

  // The spectral engine: its gradients once it has a backward pass, a clear refusal until then.
  const spectral = freqreg(args.concat(['--engine', 'spectral']));
  if (spectral.code === 0) compareFloat32(t, asResult(JSON.parse(spectral.stdout)), ref);
  else t.match(spectral.stderr, /ENGINE_UNAVAILABLE/, 'spectral without a backward pass: ENGINE_UNAVAILABLE');

  const bad = (extra: string[], code: RegExp, what: string) => {
    const e = freqreg(extra);
    t.not(e.code, 0, what);
    t.match(e.stderr, code, what);
  };
  bad(args.slice(0, 3).concat(['--ranks', '0']), /USAGE/, '--ranks 0');
  bad(args.slice(0, 3).concat(['--ranks', '1.5']), /USAGE/, '--ranks 1.5');
  bad(args.slice(0, 3).concat(['--engine', 'dense']), /USAGE/, '--engine dense');
  bad([args[0], args[1], join(grad, 'b-tiny-3class-target.png')], /TARGET_INVALID/, 'a target of another size');
  bad(args.slice(0, 2), /USAGE/, 'no TARGET');
});

t.test('freqreg gradients takes a JPEG photo and a 0/255 mask', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const photo = join(PACKAGE_ROOT, 'test', 'fixtures', 'jpeg', 'rgb.jpg');
  const image = decodeImage(readFileSync(photo));
  const mask = Uint8Array.from({ length: image.width * image.height }, (_, p) => ((p % image.width) < image.width / 2 ? 255 : 0));
  const work = mkdtempSync(join(tmpdir(), 'freqreg-gradients-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const targetFile = join(work, 'mask.png');
  writeFileSync(targetFile, encodeGreyPng(mask, image.width, image.height));
  const r = freqreg([join(dir, 'tiny-sparse.pt'), photo, targetFile, '--ranks', '4', '--json']);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const { model } = await loadModelFile(join(dir, 'tiny-sparse.pt'));
  const expected = referenceGradients(model, imageToTensor(image, 3, 'float64'), image.width, image.height, { target: targetFromMask(mask, 2) }, 4);
  t.equal(out.loss, expected.loss, 'the loss of the decoded JPEG against the mask as 0/1');
  t.same(out.layers[0].grads, Array.from(expected.layers[0].grads));
});

function compareFloat32(t: Test, got: GradientResult, ref: GradCase): void {
  t.ok(Math.abs(got.loss - ref.loss) <= TOL_GRAD_F32 * ref.loss, `spectral loss ${got.loss}`);
  got.layers.forEach((layer, l) => {
    const refLayer = ref.layers[l];
    const byPosition = new Map(refLayer.positions.map((p, r) => [key(p), refLayer.grads[r]]));
    const scale = Math.max(...refLayer.grads.map(Math.abs));
    let worst = 0;
    for (let r = 0; r < layer.ranks; r++) worst = Math.max(worst, Math.abs(layer.grads[r] - byPosition.get(key(layer.positions.subarray(r * 4, r * 4 + 4)))!));
    t.ok(worst <= TOL_GRAD_F32 * scale, `spectral ${layer.name}: ${(worst / scale).toExponential(2)}`);
  });
}
