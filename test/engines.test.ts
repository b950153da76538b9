/**
 * The reference and dense engines against PyTorch's logits for the four fixtures, the dense engine
 * against the reference on synthetic models, and the dense engine on the upstream model's in0000.
 */
import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadModelFile } from '../src/node/load.js';
import { createNodeEngine } from '../src/node/engines.js';
import { referenceForward } from '../src/engines/reference.js';
import { decodePng } from '../src/node/png.js';
import { imageToTensor, imageToTensorInto } from '../src/input.js';
import { syntheticModel } from './support/synthetic.js';
import { compareLogits, describe, fixtureCase, tolLogits } from './support/compare.js';
import { fixturesDir, readF32, readFixtures, rng, upstreamDir } from './helpers.js';

/** float32 dense engine vs float64 reference on synthetic models: relative to the largest logit. */
const TOL_DENSE_VS_REFERENCE = 1e-4;

t.test('PyTorch fixtures: reference and dense engines', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    const { model } = await loadModelFile(join(dir, f.model));
    const c = fixtureCase(dir, f);
    for (const name of ['reference', 'dense'] as const) {
      for (const threads of name === 'dense' ? [1, 2] : [1]) {
        const engine = await createNodeEngine(name, model, threads);
        const out = await engine.run(c.input, c.width, c.height);
        await engine.dispose();
        const cmp = compareLogits(out.data, c.logits, f.classes, c.height, c.width);
        const label = `${f.name} ${name} threads=${threads}`;
        t.ok(cmp.relative <= tolLogits(f.name, name), `${label}: ${describe(cmp)} ≤ ${tolLogits(f.name, name)}`);
        t.equal(cmp.maskDiffOutsideTies, 0, `${label}: masks equal outside near-ties`);
        t.ok(cmp.maskDiffAtTies <= f['near_tie_pixels_margin_lt_1e-3'], `${label}: differences only at PyTorch's near-ties`);
      }
    }
  }
});

t.test('dense engine vs reference on synthetic models with odd sizes', async (t) => {
  const cases = [
    { width: 2, classes: 2, h: 16, w: 16, dense: false },
    { width: 3, classes: 3, h: 19, w: 23, dense: false },
    { width: 2, classes: 2, h: 33, w: 50, dense: true },
    { width: 4, classes: 2, h: 45, w: 61, dense: false },
  ];
  for (const [i, cs] of cases.entries()) {
    const model = syntheticModel({ width: cs.width, classes: cs.classes, dense: cs.dense, seed: 10 + i });
    const r = rng(i);
    const input = Float32Array.from({ length: 3 * cs.h * cs.w }, () => r());
    const ref = referenceForward(model, { c: 3, h: cs.h, w: cs.w, data: Float64Array.from(input) });
    const engine = await createNodeEngine('dense', model, 2);
    const out = await engine.run(input, cs.w, cs.h);
    await engine.dispose();
    const cmp = compareLogits(out.data, Float32Array.from(ref.data), cs.classes, cs.h, cs.w);
    t.ok(cmp.relative <= TOL_DENSE_VS_REFERENCE, `width ${cs.width} classes ${cs.classes} ${cs.h}×${cs.w}${cs.dense ? ' dense coefficients' : ''}: ${describe(cmp)}`);
  }
});

t.test('dense engine refuses an image below 16×16', async (t) => {
  const engine = await createNodeEngine('dense', syntheticModel({ width: 2 }), 1);
  await t.rejects(engine.run(new Float32Array(3 * 15 * 40), 40, 15), { code: 'INPUT_TOO_SMALL' });
  await engine.dispose();
});

t.test('upstream model, in0000: dense engine vs PyTorch logits', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
  const image = decodePng(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png')));
  const want = readF32(join(dir, 'reference', 'logits0000.f32'));
  const engine = await createNodeEngine('dense', model, 2);
  const out = await engine.run(imageToTensor(image, 3), image.width, image.height);
  await engine.dispose();
  const cmp = compareLogits(out.data, want, 2, image.height, image.width);
  t.ok(cmp.relative <= tolLogits('upstream', 'dense'), `dense: ${describe(cmp)} ≤ ${tolLogits('upstream', 'dense')}`);
  t.equal(cmp.maskDiffOutsideTies, 0, 'masks equal outside near-ties');
});

t.test('run into a caller\'s logits array: the same logits in that array, every engine; a wrong array refused', async (t) => {
  const model = syntheticModel({ width: 4, classes: 3, seed: 71 });
  const w = 21, h = 19;
  const r = rng(72);
  const image = { data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)), width: w, height: h, channels: 3 };
  const input = imageToTensor(image, 3);
  const again = new Float32Array(input.length).fill(NaN);
  imageToTensorInto(image, 3, again);
  t.same(again, input, 'imageToTensorInto fills the same values as imageToTensor');
  t.throws(() => imageToTensorInto(image, 3, new Float32Array(input.length - 1)), { code: 'INPUT_SHAPE' }, 'a tensor array of the wrong length refused');
  for (const name of ['reference', 'dense', 'spectral'] as const) {
    const engine = await createNodeEngine(name, model, 1);
    const fresh = await engine.run(input, w, h);
    const into = new Float32Array(3 * w * h).fill(NaN);
    const out = await engine.run(input, w, h, into);
    t.equal(out.data, into, `${name}: the result's data is the caller's array`);
    t.same(into, fresh.data, `${name}: the same logits as into a fresh array`);
    await t.rejects(engine.run(input, w, h, new Float32Array(3 * w * h + 1)), { code: 'INPUT_SHAPE' }, `${name}: a logits array of the wrong length refused`);
    await engine.dispose();
  }
});
