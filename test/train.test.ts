/**
 * The training loop. Until an engine's gradients are at hand, a quadratic stands in for the
 * network here (test-only): its loss is ½·Σ (θ − θ*)² over every trainable coefficient and its
 * logits favour class 1 everywhere once θ is near θ*, so the loop, Adam, the schedule, rank
 * dropping, validation and the best model, checkpoints and resume can all be checked exactly.
 */
import t from 'tap';
import type { Engine } from '../src/engines/engine.js';
import type { GradientResult } from '../src/engines/gradients.js';
import { writePacked } from '../src/formats/packed.js';
import { exactHalfBits } from '../src/formats/packed.js';
import type { FrModel, UNetArch } from '../src/model.js';
import { adamState, adamStep } from '../src/train/adam.js';
import { NO_AUGMENT, type AugmentOptions, type Sample } from '../src/train/augment.js';

/** Both augmentations, so that resume and determinism cover the zoom's draws too. */
const FLIP_ZOOM: AugmentOptions = { flip: true, maxZoom: 1.25 };
import { readCheckpointBytes, writeCheckpoint } from '../src/train/checkpoint.js';
import { coefficientTensors, coefficientsOf, modelOf, randomCoefficients, toHalfPrecision, trainableLayers } from '../src/train/coefficients.js';
import { Rng } from '../src/train/rng.js';
import { learningRate, ranksAt, LR_FLOOR } from '../src/train/schedule.js';
import { Trainer, type EngineFactory, type TrainOptions } from '../src/train/trainer.js';
import { FreqregError } from '../src/errors.js';
import { zigzagPositions } from '../src/engines/trainable.js';
import { rng } from './helpers.js';

/** A stand-in engine: loss ½‖θ − θ*‖² (gradient pulled a little by the image), logits (0, 1 − ‖θ − θ*‖²/n) per pixel. Test-only. */
function quadraticEngines(arch: UNetArch, optimum: (layer: number, k: number) => number, log: number[] = []): EngineFactory {
  return async (model: FrModel, ranks: number): Promise<Engine> => {
    log.push(ranks);
    const layers = trainableLayers(arch, ranks);
    let theta = layers.map((l) => new Float64Array(l.positions.length / 4));
    const distance = (): number => {
      let d = 0, n = 0;
      theta.forEach((v, l) => v.forEach((x, k) => { d += (x - optimum(l, k)) ** 2; n++; }));
      return d / n;
    };
    let disposed = false;
    return {
      name: 'reference', form: 'quadratic', threads: 1,
      async run(input, width, height) {
        if (disposed) throw new Error('used after dispose');
        const data = new Float32Array(2 * width * height);
        data.fill(1 - 4 * distance(), width * height);
        return { classes: 2, width, height, data };
      },
      async gradients(input, width, height, loss): Promise<GradientResult> {
        if (disposed) throw new Error('used after dispose');
        if (!('target' in loss) || loss.target.length !== width * height || input.length !== 3 * width * height) throw new Error('bad call');
        let value = 0;
        const pull = 0.01 * (input[0] - 0.5); // a little of the image, so order and augmentation matter
        const out = layers.map((l, i) => {
          const grads = theta[i].map((x, k) => x - optimum(i, k) + pull);
          grads.forEach((g) => { value += g * g / 2; });
          return { name: l.name, kind: 'conv' as const, shape: l.shape, ranks: grads.length, positions: l.positions, values: theta[i].slice(), grads };
        });
        return { loss: value, ce: value, diceLoss: 0, layers: out };
      },
      setCoefficients(values) {
        if (values.length !== theta.length || values.some((v, i) => v.length !== theta[i].length)) throw new Error('wrong coefficient counts');
        theta = values.map((v) => Float64Array.from(v));
      },
      async dispose() { disposed = true; },
    };
  };
}

const ARCH: UNetArch = { inChannels: 3, width: 4, classes: 2 };
const UPSTREAM_ARCH: UNetArch = { inChannels: 3, width: 64, classes: 2 };

function samples(n: number, w = 16, h = 16): Sample[] {
  const r = rng(42);
  return Array.from({ length: n }, (_, i) => ({
    name: `s${i}.png`, width: w, height: h, channels: 3,
    photo: new Uint8Array(3 * w * h).map(() => Math.floor(r() * 256)),
    target: new Uint8Array(w * h).fill(1),
  }));
}

const OPTIMUM = (l: number, k: number): number => 0.5 * Math.sin(l + 0.3 * k);

function options(extra: Partial<TrainOptions> = {}): TrainOptions {
  return { ranks: 6, lr: 0.3, batch: 2, seed: 7, steps: 60, augment: FLIP_ZOOM, warmupSteps: 5, evalEvery: 0, ...extra };
}

async function runAll(trainer: Trainer): Promise<void> {
  while (!trainer.done) {
    await trainer.trainStep();
    if (trainer.evaluationDue()) await trainer.evaluate();
  }
}

function packedResult(trainer: Trainer): Uint8Array {
  return writePacked(coefficientTensors(trainer.arch, trainer.result().values));
}

t.test('rng: the product generator is the tests\' mulberry32, and its state replays it', async (t) => {
  const a = rng(123), b = new Rng(123);
  for (let i = 0; i < 5; i++) t.equal(a(), b.next());
  const saved = b.state;
  const x = [b.next(), b.next()];
  b.state = saved;
  t.same([b.next(), b.next()], x, 'restoring the state replays the sequence');
  const p = new Rng(5).permutation(50);
  t.same([...p].sort((m, n) => m - n), Array.from({ length: 50 }, (_, i) => i), 'a permutation');
  const normals = Array.from({ length: 4000 }, ((r) => () => r.normal())(new Rng(9)));
  const mean = normals.reduce((s, v) => s + v, 0) / normals.length;
  const variance = normals.reduce((s, v) => s + (v - mean) ** 2, 0) / normals.length;
  t.ok(Math.abs(mean) < 0.06 && Math.abs(variance - 1) < 0.08, `normal: mean ${mean.toFixed(3)}, variance ${variance.toFixed(3)}`);
});

t.test('float16 rounding: nearest half, exactly representable', async (t) => {
  const r = rng(3);
  for (let i = 0; i < 2000; i++) {
    const x = (r() - 0.5) * 10 ** (r() * 8 - 5);
    const h = toHalfPrecision(x);
    const bits = new Uint32Array(Float32Array.of(h).buffer)[0];
    if (exactHalfBits(bits) < 0) { t.fail(`${x} → ${h} is not a half`); return; }
    // Nearest: the neighbouring halves are no closer.
    const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(h || 1e-30))), -14) - 10);
    if (Math.abs(x - h) > ulp / 2 * (1 + 1e-12) + 1e-30) { t.fail(`${x} → ${h}: off by more than half an ulp (${ulp})`); return; }
  }
  t.equal(toHalfPrecision(1 + 2 ** -11), 1, 'tie to even (down)');
  t.equal(toHalfPrecision(1 + 3 * 2 ** -11), 1 + 2 ** -9, 'tie to even (up)');
  t.equal(toHalfPrecision(1e6), 65504, 'clamped to the largest half');
  t.equal(toHalfPrecision(2 ** -26), 0, 'below half the smallest subnormal → 0');
  t.equal(toHalfPrecision(3 * 2 ** -26), 2 ** -24, 'rounds up to the smallest subnormal');
});

t.test('Adam on a quadratic reaches the optimum', async (t) => {
  const theta = [Float64Array.of(3, -2, 0.5)];
  const state = adamState(theta);
  for (let i = 0; i < 2000; i++) adamStep(theta, [theta[0].map((x, k) => x - k)], state, 0.01);
  t.ok(theta[0].every((x, k) => Math.abs(x - k) < 1e-3), `θ = ${Array.from(theta[0]).map((x) => x.toFixed(4))}`);
});

t.test('schedules', async (t) => {
  t.equal(learningRate(1, 0, 0, 10), 0.1, 'warm-up starts at lr/warmup');
  t.equal(learningRate(1, 20, 0, 10), 1, 'full rate after warm-up at p = 0');
  t.ok(Math.abs(learningRate(1, 100, 1, 10) - LR_FLOOR) < 1e-12, 'floor at the end');
  t.ok(learningRate(1, 50, 0.3, 10) > learningRate(1, 50, 0.6, 10), 'decreasing');
  t.equal(ranksAt(64, 33, 0), 64);
  t.equal(ranksAt(64, 33, 0.5), 33);
  t.equal(ranksAt(64, 33, 0.9), 33);
  let last = 65;
  for (let p = 0; p <= 1; p += 0.01) { const r = ranksAt(64, 33, p); t.ok(r <= last, `non-increasing at ${p.toFixed(2)}`); last = r; }
  t.equal(ranksAt(33, 33, 0.2), 33, 'no dropping without start ranks');
});

t.test('initialisation: standard normal before a norm, He energy for the logits; first ranks of an existing model', async (t) => {
  const values = randomCoefficients(UPSTREAM_ARCH, 33, new Rng(1));
  const layers = trainableLayers(UPSTREAM_ARCH, 33);
  t.equal(values.length, 23);
  const all = values.slice(0, 22).flatMap((v) => Array.from(v));
  const variance = all.reduce((s, v) => s + v * v, 0) / all.length;
  t.ok(Math.abs(variance - 1) < 0.15, `layers before a norm: variance ${variance.toFixed(3)} (726 samples of 1)`);
  // The logits layer: energy Σ C² = numel · 2 / fan_in = 2·64·2/64 = 4 in expectation; 33 samples give it within a factor of about 2.
  const energy = values[22].reduce((s, v) => s + v * v, 0);
  t.ok(energy > 4 / 2.5 && energy < 4 * 2.5, `outc energy ${energy.toFixed(2)} vs 4`);
  const model = modelOf(UPSTREAM_ARCH, values);
  const back = coefficientsOf(model, 33);
  t.equal(back.dropped, 0);
  t.ok(back.values.every((v, i) => v.every((x, k) => x === Math.fround(values[i][k]))), 'a model gives its coefficients back (float32)');
  const fewer = coefficientsOf(model, 10);
  t.ok(fewer.dropped > 0 && fewer.values.every((v) => v.length <= 10), `fewer ranks drop the rest (${fewer.dropped})`);
  t.equal(layers[22].positions.length / 4, 33, 'outc 2×64×1×1 holds 33 ranks');
  // Fewer ranks are a prefix of more in the engines' (upstream's) order, ties included: the trainer
  // takes prefixes from its cache.
  const shape = [512, 1024, 3, 3];
  t.same(Array.from(zigzagPositions(shape, 40)), Array.from(zigzagPositions(shape, 64).subarray(0, 160)), '512×1024×3×3: 40 ranks are the first 40 of 64');
});

t.test('a run converges, keeps the best model, and is deterministic', async (t) => {
  const data = { train: samples(5), val: samples(2) };
  const engines = quadraticEngines(ARCH, OPTIMUM);
  const start = { arch: ARCH, values: randomCoefficients(ARCH, 6, new Rng(2)), from: 'random' };
  const a = await Trainer.start(data, options({ steps: 150 }), start, engines);
  await runAll(a);
  const losses = a.steps.map((s) => s.loss);
  t.ok(losses[losses.length - 1] < losses[0] / 50, `loss falls: ${losses[0].toFixed(3)} → ${losses[losses.length - 1].toExponential(2)}`);
  t.ok(a.evals.length >= 150 / 3, `validated each epoch (${a.evals.length} times)`);
  const last = a.evals[a.evals.length - 1];
  t.equal(last.dice, 1, 'validation Dice reaches 1');
  t.ok(a.evals[0].dice < 1, `starts below (${a.evals[0].dice})`);
  const result = a.result();
  t.ok(result.best, 'the kept model is the best by validation');
  t.ok(result.values.every((v) => v.every((x) => exactHalfBits(new Uint32Array(Float32Array.of(x).buffer)[0]) >= 0)), 'kept coefficients are halves');
  await a.dispose();

  const b = await Trainer.start(data, options({ steps: 150 }), start, engines);
  await runAll(b);
  t.same(Buffer.from(packedResult(b)), Buffer.from(packedResult(a)), 'same seed: byte-identical model');
  await b.dispose();
  const c = await Trainer.start(data, options({ steps: 150, seed: 8 }), start, engines);
  await runAll(c);
  t.notSame(c.steps.map((s) => s.loss), a.steps.map((s) => s.loss), 'another seed: another run');
  await c.dispose();
});

t.test('resume from a checkpoint gives the uninterrupted run\'s model', async (t) => {
  const data = { train: samples(5), val: samples(2) };
  const engines = quadraticEngines(ARCH, OPTIMUM);
  const start = { arch: ARCH, values: randomCoefficients(ARCH, 12, new Rng(4)), from: 'random' };
  const o = options({ steps: 40, startRanks: 12, ranks: 6, augment: FLIP_ZOOM });
  const whole = await Trainer.start(data, o, start, engines);
  await runAll(whole);
  const first = await Trainer.start(data, o, start, engines);
  for (let i = 0; i < 13; i++) { // mid-epoch, before the last rank drop
    await first.trainStep();
    if (first.evaluationDue()) await first.evaluate();
  }
  const bytes = first.checkpoint();
  await first.dispose();
  const resumed = await Trainer.resume(data, bytes, engines);
  t.equal(resumed.stepCount, 13);
  await runAll(resumed);
  t.same(Buffer.from(packedResult(resumed)), Buffer.from(packedResult(whole)), 'byte-identical model');
  t.same(resumed.steps.map((s) => s.loss), whole.steps.map((s) => s.loss), 'the same losses, step by step');
  t.same(resumed.checkpoint().subarray(0, 4), bytes.subarray(0, 4));
  await resumed.dispose();
  await whole.dispose();

  const other = { train: samples(4), val: samples(2) };
  await t.rejects(Trainer.resume(other, bytes, engines), { code: 'CHECKPOINT_MISMATCH' }, 'other data → CHECKPOINT_MISMATCH');
  const damaged = bytes.slice();
  damaged[damaged.length >> 1] ^= 1;
  await t.rejects(Trainer.resume(data, damaged, engines), { code: 'CHECKPOINT_CHECKSUM' }, 'a flipped bit → CHECKPOINT_CHECKSUM');
  await t.rejects(Trainer.resume(data, bytes.subarray(0, 10), engines), { code: 'CHECKPOINT_HEADER' }, 'cut → CHECKPOINT_HEADER');
});

t.test('progressive rank dropping: --start-ranks 64 --ranks 33 on the upstream shape ends at 33, packed ≤ 2,048 bytes', async (t) => {
  const data = { train: samples(3), val: samples(1) };
  const built: number[] = [];
  const engines = quadraticEngines(UPSTREAM_ARCH, OPTIMUM, built);
  const start = { arch: UPSTREAM_ARCH, values: randomCoefficients(UPSTREAM_ARCH, 64, new Rng(6)), from: 'random' };
  const trainer = await Trainer.start(data, options({ steps: 40, startRanks: 64, ranks: 33, augment: NO_AUGMENT }), start, engines);
  await runAll(trainer);
  t.same(built, [64, 60, 56, 52, 48, 45, 41, 37, 33], 'engines rebuilt at each stage');
  t.ok(trainer.steps.slice(20).every((s) => s.ranks === 33), 'the second half trains 33 ranks');
  const result = trainer.result();
  t.ok(result.values.every((v) => v.length === 33), 'exactly 33 coefficients per layer');
  const packed = packedResult(trainer);
  t.ok(packed.length <= 2048, `packed ${packed.length} bytes`);
  t.ok(trainer.evals.filter((e) => e.best).every((e) => e.ranks === 33), 'only final-rank models are kept as best');
  await trainer.dispose();
});

t.test('an epoch budget: exactly that many passes, the last batch partial', async (t) => {
  const data = { train: samples(5), val: samples(1) };
  const trainer = await Trainer.start(data, options({ steps: undefined, epochs: 3, batch: 2 }), { arch: ARCH, values: randomCoefficients(ARCH, 6, new Rng(2)), from: 'random' }, quadraticEngines(ARCH, OPTIMUM));
  t.equal(trainer.totalSteps(), 9, '3 epochs of ⌈5/2⌉ steps');
  await runAll(trainer);
  t.equal(trainer.stepCount, 9);
  t.equal(trainer.epochCount, 3);
  t.same(trainer.evals.map((e) => e.step), [3, 6, 9], 'validated after each epoch');
  await trainer.dispose();
});

t.test('checkpoint format: round trip and bounds', async (t) => {
  const bytes = writeCheckpoint({ a: 1, s: 'x' }, [{ name: 'f', data: Float64Array.of(1.5, -0, NaN) }, { name: 'u', data: Uint32Array.of(7, 0xffffffff) }]);
  const back = readCheckpointBytes(bytes);
  t.same(back.header, { a: 1, s: 'x' });
  t.same(Array.from(back.arrays.get('f')!), [1.5, -0, NaN]);
  t.same(Array.from(back.arrays.get('u')!), [7, 0xffffffff]);
  const wrongMagic = bytes.slice();
  wrongMagic[1] = 0;
  t.throws(() => readCheckpointBytes(wrongMagic), { code: 'CHECKPOINT_HEADER' });
  t.throws(() => readCheckpointBytes(new Uint8Array(3)), FreqregError);
});

t.test('options are checked', async (t) => {
  const data = { train: samples(2), val: [] };
  const engines = quadraticEngines(ARCH, OPTIMUM);
  const start = { arch: ARCH, values: randomCoefficients(ARCH, 6, new Rng(2)), from: 'random' };
  await t.rejects(Trainer.start(data, options({ steps: undefined }), start, engines), { code: 'USAGE' }, 'no budget');
  await t.rejects(Trainer.start(data, options({ startRanks: 3 }), start, engines), { code: 'USAGE' }, 'start ranks below ranks');
  await t.rejects(Trainer.start({ train: [], val: [] }, options(), start, engines), { code: 'DATA_MISSING' }, 'no samples');
  const trainer = await Trainer.start(data, options({ steps: 4 }), start, engines);
  await runAll(trainer);
  t.ok(Number.isNaN(trainer.evals[trainer.evals.length - 1].dice), 'no validation data: Dice is NaN');
  t.notOk(trainer.result().best, 'without validation the last model is kept');
  await trainer.dispose();
});
