/**
 * The dense engine's activation plan (src/engines/dense-plan.ts): only the skip tensors live across
 * levels, and an up stage's first convolution runs in row bands over its skip. Checked here: the
 * upstream model on a photo under a budget the plan that kept every activation could not meet,
 * against the spectral engine; the budget's estimate against the kernel memory really used; the
 * band loop with many bands against PyTorch's fixtures; and a plan larger than the kernel memory
 * refused before anything is allocated.
 */
import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { FreqregError } from '../src/errors.js';
import { DEFAULT_LIMITS } from '../src/formats/limits.js';
import { activationBytes } from '../src/engines/budget.js';
import { createDenseEngine } from '../src/engines/dense.js';
import { planDense } from '../src/engines/dense-plan.js';
import { createEngine } from '../src/engines/index.js';
import { loadKernels, NODE_MAX_MEMORY } from '../src/node/kernels.js';
import { PACKAGE_ROOT } from '../src/node/data.js';
import { loadModelFile } from '../src/node/load.js';
import { decodePng } from '../src/node/png.js';
import { imageToTensor } from '../src/input.js';
import { resizePlanar } from '../src/train/resize.js';
import { instantiateKernels } from '../src/wasm/instance.js';
import { serialParallel } from '../src/wasm/parallel.js';
import { syntheticModel } from './support/synthetic.js';
import { compareLogits, describe, fixtureCase, tolLogits } from './support/compare.js';
import { fixturesDir, readFixtures, rng, upstreamDir } from './helpers.js';

/**
 * Dense vs spectral logits, relative to the largest: each engine is within its own tolerance of
 * PyTorch's logits (TOL_LOGITS), so the two are within the sum of both.
 */
const TOL_DENSE_VS_SPECTRAL = tolLogits('upstream', 'dense') + tolLogits('upstream', 'spectral');
/** The estimate is the engine's own plan: pages (64 KiB) and 16-byte alignment are its only slack. */
const TOL_PEAK_BYTES = 64 * 1024 + 16 * 32;

const kernelsWasm = () => readFileSync(join(PACKAGE_ROOT, 'build', 'kernels.wasm'));

t.test('upstream model, 481×321 under four full-resolution activations: runs, and agrees with the spectral engine', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
  const photo = decodePng(readFileSync(join(dir, 'testimgs', 'input', 'in0000.png')));
  const [w, h] = [481, 321]; // odd: the upsampled maps are padded at two levels
  const input = resizePlanar(imageToTensor(photo, 3), 3, photo.width, photo.height, w, h);
  // One full-resolution activation (64, H, W). A plan that keeps the four concatenations, two
  // level-0 buffers and the upsampled maps needs over six of them; this one about two and the bands.
  const full = 64 * w * h * 4;
  const limit = 4 * full;
  const estimate = activationBytes(model, 'dense', w, h, 2);
  t.ok(estimate < limit, `estimate ${(estimate / 2 ** 20).toFixed(1)} MiB under ${(limit / 2 ** 20).toFixed(1)} MiB (4 activations of ${(full / 2 ** 20).toFixed(1)} MiB)`);

  const context = await loadKernels(2);
  const dense = await createEngine('dense', model, context, { limits: { maxActivationBytes: limit } });
  const afterWeights = context.kernels.arena.mark();
  const t0 = performance.now();
  const got = await dense.run(input, w, h);
  t.comment(`dense ${w}×${h}, 2 threads: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Memory only grows: its size now is the peak. The weights' expansion scratch was released before
  // the activations were planned, and is far smaller than them, so the peak is set by the plan.
  const peak = context.kernels.memory.buffer.byteLength - afterWeights;
  const kernelEstimate = estimate - 2 * w * h * 4; // less the Logits returned, a host array
  t.ok(peak <= kernelEstimate + TOL_PEAK_BYTES && kernelEstimate <= peak + TOL_PEAK_BYTES,
    `kernel memory used beyond the weights ${peak} B, estimated ${kernelEstimate} B (±${TOL_PEAK_BYTES})`);
  await dense.dispose();

  const spectral = await createEngine('spectral', model, await loadKernels(2));
  const want = await spectral.run(input, w, h);
  await spectral.dispose();
  const cmp = compareLogits(got.data, want.data, 2, h, w);
  t.ok(cmp.relative <= TOL_DENSE_VS_SPECTRAL, `dense vs spectral: ${describe(cmp)} ≤ ${TOL_DENSE_VS_SPECTRAL}`);
  t.equal(cmp.maskDiffOutsideTies, 0, 'masks equal outside near-ties');
});

t.test('1918×1280: the plan is about two full-resolution activations, under the default budget', async (t) => {
  const arch = { width: 64, inChannels: 3, classes: 2 };
  const full = 64 * 1918 * 1280;
  const plan = planDense(arch, 1918, 1280, 2, () => 0);
  t.ok(plan.regionFloats >= 2 * full && plan.regionFloats <= 2 * full + 1024, `region ${plan.regionFloats} floats, two activations are ${2 * full}`);
  const model = syntheticModel({ width: 64, nnzPerLayer: 1 });
  const bytes = activationBytes(model, 'dense', 1918, 1280, 2);
  t.ok(bytes <= DEFAULT_LIMITS.maxActivationBytes, `estimate ${(bytes / 2 ** 20).toFixed(1)} MiB ≤ the default ${(DEFAULT_LIMITS.maxActivationBytes / 2 ** 20).toFixed(0)} MiB`);
  const weights = 4 * 16 * 31_024_960 / 9; // at most: every weight in the Winograd domain (16 floats per 3×3)
  t.ok(bytes + weights < NODE_MAX_MEMORY, `with the upstream model's weights (${(weights / 2 ** 20).toFixed(0)} MiB at most) inside the ${NODE_MAX_MEMORY / 2 ** 30} GiB kernel memory`);
});

t.test('many bands (a few rows each): PyTorch fixtures still agree', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    const { model } = await loadModelFile(join(dir, f.model));
    const c = fixtureCase(dir, f);
    // bands of 1 to 3 rows: every band's halo comes from the band before
    for (const bandInputFloats of [1, 2 * model.arch.width * c.width * 5]) {
      const kernels = await instantiateKernels(kernelsWasm());
      const engine = createDenseEngine(kernels, model, serialParallel(kernels.exports), { bandInputFloats });
      const out = await engine.run(c.input, c.width, c.height);
      await engine.dispose();
      const cmp = compareLogits(out.data, c.logits, f.classes, c.height, c.width);
      const label = `${f.name} ${c.width}×${c.height}, band input ≤ ${bandInputFloats} floats`;
      t.ok(cmp.relative <= tolLogits(f.name, 'dense'), `${label}: ${describe(cmp)} ≤ ${tolLogits(f.name, 'dense')}`);
      t.equal(cmp.maskDiffOutsideTies, 0, `${label}: masks equal outside near-ties`);
    }
  }
});

t.test('a plan larger than the kernel memory left: OUT_OF_MEMORY before allocating, then smaller images run', async (t) => {
  const model = syntheticModel({ width: 16, seed: 3 });
  const kernels = await instantiateKernels(kernelsWasm(), { maxBytes: 64 * 2 ** 20 });
  const engine = createDenseEngine(kernels, model, serialParallel(kernels.exports));
  const used = kernels.arena.used, pages = kernels.memory.buffer.byteLength;
  const [w, h] = [1024, 512]; // two activations of (16, 512, 1024): 64 MiB
  const rand = rng(5);
  const input = Float32Array.from({ length: 3 * w * h }, () => rand());
  const error = await engine.run(input, w, h).then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof FreqregError && error.code === 'OUT_OF_MEMORY', `refused: ${(error as Error)?.message}`);
  t.match((error as Error).message, /a 1024×512 image needs [\d.]+ MiB of dense working memory; the kernel memory has [\d.]+ MiB left/, 'says what it needs and what is left');
  t.equal(kernels.arena.used, used, 'nothing allocated');
  t.equal(kernels.memory.buffer.byteLength, pages, 'memory did not grow');
  const small = await engine.run(input.subarray(0, 3 * 64 * 48), 64, 48);
  t.ok(small.data.every(Number.isFinite), 'a 64×48 image runs after the refusal');
  await engine.dispose();
});
