import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { createEngine } from '../src/engines/index.js';
import type { Engine } from '../src/engines/engine.js';
import type { GradientResult } from '../src/engines/gradients.js';
import { createSpectralEngine, type SpectralEngineOptions } from '../src/engines/spectral.js';
import { trainableModel, trainableValues } from '../src/engines/trainable.js';
import { FreqregError } from '../src/errors.js';
import { imageToTensor } from '../src/input.js';
import type { FrModel } from '../src/model.js';
import { instantiateKernels, type KernelInstance } from '../src/wasm/instance.js';
import { serialParallel } from '../src/wasm/parallel.js';
import { kernelModuleBytes, PACKAGE_ROOT, rng } from './helpers.js';
import { crossCheck, geometry } from './support/kernel-check.js';
import { syntheticModel } from './support/synthetic.js';

const { PNG } = pngjs;

/** Float32 engine against PyTorch float64: the task's bound, 10× what PyTorch's own float32 run reaches (README of the fixtures). */
const TOL_GRAD_LAYER_RELATIVE = 1e-3;
/** Loss of the float32 logits against PyTorch's float64 loss. */
const TOL_LOSS_RELATIVE = 1e-5;

const GRAD_DIR = join(PACKAGE_ROOT, 'fixtures', 'pytorch', 'grad');

interface GradLayer { name: string; shape: number[]; ranks: number; positions: number[][]; values: number[]; grads: number[] }
interface GradCase { case: string; model: string; input: string; target: string; width: number; height: number; classes: number; loss: number; ce: number; dice_loss: number; layers: GradLayer[] }

function readCase(file: string): GradCase {
  return JSON.parse(readFileSync(join(GRAD_DIR, file), 'utf8')) as GradCase;
}

function readPng(path: string) {
  return PNG.sync.read(readFileSync(path));
}

async function kernels(): Promise<KernelInstance> {
  return instantiateKernels(kernelModuleBytes());
}

interface Loaded { c: GradCase; model: FrModel; input: Float32Array; target: Uint8Array }

async function loadCase(file: string): Promise<Loaded> {
  const c = readCase(file);
  const { loadModelFile } = await import('../src/node/load.js');
  const { model } = await loadModelFile(join(GRAD_DIR, c.model));
  const png = readPng(join(GRAD_DIR, c.input));
  const input = imageToTensor({ data: png.data, width: png.width, height: png.height, channels: 4 }, model.arch.inChannels);
  const tp = readPng(join(GRAD_DIR, c.target));
  const target = new Uint8Array(c.width * c.height);
  for (let p = 0; p < target.length; p++) target[p] = tp.data[4 * p];
  return { c, model, input, target };
}

/** R = 64, as the fixtures (the layer's size where smaller). */
const FIXTURE_RANKS = 64;

/** Per layer: max |g − g_ref| over the R entries (matched by position) ≤ tol · max |g_ref|. */
function compareGradients(t: Test, result: GradientResult, c: GradCase, tol: number): number {
  let worst = 0;
  for (const ref of c.layers) {
    const got = result.layers.find((l) => l.name === ref.name)!;
    const at = new Map<string, number>();
    for (let r = 0; r < got.ranks; r++) at.set(Array.from(got.positions.subarray(4 * r, 4 * r + 4)).join(), got.grads[r]);
    let maxRef = 0, maxDiff = 0, first = '';
    ref.positions.forEach((p, r) => {
      maxRef = Math.max(maxRef, Math.abs(ref.grads[r]));
      const g = at.get(p.join());
      const d = g === undefined ? Infinity : Math.abs(g - ref.grads[r]);
      if (!(d <= maxDiff)) { maxDiff = d; first = `position (${p}) got ${g}, want ${ref.grads[r]}`; }
    });
    const rel = maxDiff / maxRef;
    worst = Math.max(worst, rel);
    if (!(rel <= tol)) t.fail(`${ref.name}: max |Δg| ${maxDiff.toExponential(2)} = ${rel.toExponential(2)} × layer max ${maxRef.toExponential(2)}`, { first });
  }
  t.ok(worst <= tol, `every layer within ${tol} of its largest gradient (worst ${worst.toExponential(2)})`);
  return worst;
}

async function checkCase(t: Test, file: string, options: SpectralEngineOptions) {
  const d = await loadCase(file);
  const k = await kernels();
  const tm = trainableModel(d.model, FIXTURE_RANKS);
  const engine = createSpectralEngine(k, tm.model, { ...options, train: { ranks: tm.ranks } });
  const result = await engine.gradients!(d.input, d.c.width, d.c.height, { target: d.target });
  await engine.dispose();
  t.ok(Math.abs(result.loss - d.c.loss) <= TOL_LOSS_RELATIVE * d.c.loss, `loss ${result.loss} against ${d.c.loss}`);
  t.ok(Math.abs(result.ce - d.c.ce) <= TOL_LOSS_RELATIVE * d.c.loss && Math.abs(result.diceLoss - d.c.dice_loss) <= TOL_LOSS_RELATIVE * d.c.loss, 'CE and Dice terms');
  compareGradients(t, result, d.c, TOL_GRAD_LAYER_RELATIVE);
  t.same(result.layers.map((l) => l.ranks), tm.ranks, 'R entries per layer');
}

t.test('PyTorch gradients, oracle kernels: a (tiny-sparse, 61×45)', (t) => checkCase(t, 'a-tiny-sparse.json', { kernels: 'js' }));
t.test('PyTorch gradients, oracle kernels: b (tiny-3class, 64×64)', (t) => checkCase(t, 'b-tiny-3class.json', { kernels: 'js' }));
t.test('PyTorch gradients, WASM kernels: a (tiny-sparse, 61×45)', (t) => checkCase(t, 'a-tiny-sparse.json', {}));
t.test('PyTorch gradients, WASM kernels: b (tiny-3class, 64×64)', (t) => checkCase(t, 'b-tiny-3class.json', {}));
t.test('PyTorch gradients, WASM kernels: c (upstream, R = 64 on a model stored with 33, 96×64 crop)', (t) => checkCase(t, 'c-upstream-in0003-crop.json', {}));
t.test('PyTorch gradients, WASM kernels: d (upstream, R = 64, 240×160)', (t) => checkCase(t, 'd-upstream-in0000-240x160.json', {}));

// ---- one thread and two, new coefficients, hostile calls ----

/** Largest difference between two results' gradients, relative to each layer's largest. */
function worstDifference(a: GradientResult, b: GradientResult): number {
  let worst = 0;
  a.layers.forEach((la, l) => {
    const lb = b.layers[l];
    let max = 0, diff = 0;
    for (let r = 0; r < la.ranks; r++) {
      max = Math.max(max, Math.abs(lb.grads[r]));
      diff = Math.max(diff, Math.abs(la.grads[r] - lb.grads[r]));
    }
    worst = Math.max(worst, max > 0 ? diff / max : diff);
  });
  return worst;
}

/** Same sums split over two shares (per-share float64 slots): rounding only. */
const TOL_THREADS_RELATIVE = 1e-5;

function randomTarget(n: number, classes: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * classes));
}

function randomInput(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r());
}

t.test('two threads give the gradients of one', async (t) => {
  const { loadKernels } = await import('../src/node/kernels.js');
  const loaded = await loadKernels(2);
  const base = syntheticModel({ width: 4, classes: 3, seed: 61 });
  const tm = trainableModel(base, 40);
  const h = 37, w = 45;
  const input = randomInput(3 * h * w, 62), target = randomTarget(h * w, 3, 63);
  const two = createSpectralEngine(loaded.kernels, tm.model, { parallel: loaded.parallel, train: { ranks: tm.ranks } });
  t.equal(two.threads, 2);
  const a = await two.gradients!(input, w, h, { target });
  await two.dispose();
  const one = createSpectralEngine(await kernels(), tm.model, { train: { ranks: tm.ranks } });
  const b = await one.gradients!(input, w, h, { target });
  await one.dispose();
  t.ok(Math.abs(a.loss - b.loss) <= 1e-6 * b.loss, `loss ${a.loss} against ${b.loss}`);
  const worst = worstDifference(a, b);
  t.ok(worst <= TOL_THREADS_RELATIVE, `gradients within ${TOL_THREADS_RELATIVE} of each layer's largest (worst ${worst.toExponential(2)})`);
});

t.test('setCoefficients then gradients equals a freshly built engine', async (t) => {
  const base = syntheticModel({ width: 4, classes: 2, seed: 71 });
  const tm = trainableModel(base, 48);
  const h = 33, w = 41;
  const input = randomInput(3 * h * w, 72), target = randomTarget(h * w, 2, 73);
  const k = await kernels();
  const engine = await createEngine('spectral', base, { kernels: k, parallel: serialParallel(k.exports) }, { train: { ranks: 48 } });
  await engine.gradients!(input, w, h, { target }); // plans this size first: new values must not need a new plan
  const r = rng(74);
  // float32-exact values, so the fresh engine (which holds float32 values) sees the same ones
  const values = trainableValues(tm).map((v) => v.map((x) => Math.fround(x + (r() - 0.5) * 0.5)));
  engine.setCoefficients!(values);
  const updated = await engine.gradients!(input, w, h, { target });
  await engine.dispose();
  t.same(updated.layers.map((l) => Array.from(l.values)), values.map((v) => Array.from(v)), 'the result reports the new values');

  tm.model.layers.forEach((layer, l) => layer.values.set(values[l]));
  const fresh = createSpectralEngine(await kernels(), tm.model, { train: { ranks: tm.ranks } });
  const want = await fresh.gradients!(input, w, h, { target });
  await fresh.dispose();
  t.equal(updated.loss, want.loss, 'the same loss');
  t.equal(worstDifference(updated, want), 0, 'the same gradients, bit for bit (same tables, same kernels)');
});

t.test('hostile calls are refused with FreqregError, never a trap or a NaN gradient', async (t) => {
  const base = syntheticModel({ width: 2, classes: 2, seed: 81 });
  const k = await kernels();
  const engine: Engine = await createEngine('spectral', base, { kernels: k, parallel: serialParallel(k.exports) }, { train: { ranks: 20 } });
  const h = 19, w = 23, n = h * w;
  const input = randomInput(3 * n, 82), target = randomTarget(n, 2, 83);
  const refused = async (label: string, code: string, call: () => unknown) => {
    try {
      await call();
      t.fail(`${label}: accepted`);
    } catch (e) {
      t.ok(e instanceof FreqregError, `${label}: FreqregError`);
      t.equal((e as FreqregError).code, code, `${label}: ${code}`);
    }
  };
  await refused('target too short', 'TARGET_INVALID', () => engine.gradients!(input, w, h, { target: target.subarray(1) }));
  await refused('class out of range', 'TARGET_INVALID', () => engine.gradients!(input, w, h, { target: target.map((v, i) => (i === 7 ? 2 : v)) }));
  await refused('dLogits of the wrong length', 'LOSS_SHAPE', () => engine.gradients!(input, w, h, { dLogits: new Float32Array(2 * n - 1) }));
  await refused('NaN in dLogits', 'NOT_FINITE', () => engine.gradients!(input, w, h, { dLogits: new Float32Array(2 * n).fill(NaN) }));
  await refused('NaN in the input', 'NOT_FINITE', () => engine.gradients!(input.map((v, i) => (i === 5 ? NaN : v)), w, h, { target }));
  await refused('input of the wrong length', 'INPUT_SHAPE', () => engine.gradients!(input.subarray(3), w, h, { target }));
  await refused('no loss', 'LOSS_SHAPE', () => engine.gradients!(input, w, h, {} as never));
  await refused('image too small for the network', 'INPUT_TOO_SMALL', () => engine.gradients!(new Float32Array(3 * 4), 2, 2, { target: new Uint8Array(4) }));
  await refused('values for too few layers', 'TRAINABLE_VALUES', () => engine.setCoefficients!([]));
  const good = base.layers.map((l) => new Float64Array(Math.min(20, l.shape.reduce((a, b) => a * b, 1))));
  await refused('a layer with the wrong count', 'TRAINABLE_VALUES', () => engine.setCoefficients!(good.map((v, l) => (l === 3 ? v.subarray(1) : v))));
  await refused('an infinite value', 'NOT_FINITE', () => engine.setCoefficients!(good.map((v, l) => (l === 5 ? v.map(() => Infinity) : v))));
  await refused('ranks 0', 'RANKS_INVALID', () => createEngine('spectral', base, { kernels: k, parallel: serialParallel(k.exports) }, { train: { ranks: 0 } }));
  await refused('the dense engine for training', 'ENGINE_UNAVAILABLE', () => createEngine('dense', base, { kernels: k, parallel: serialParallel(k.exports) }, { train: { ranks: 8 } }));
  // outc's coefficients near the float32 limit: logits that are not finite, found and named by the loss kernels.
  engine.setCoefficients!(good.map((v, l) => (l === good.length - 1 ? v.map(() => 3e38) : v.map((_, r) => (r === 0 ? 1 : 0.1)))));
  await t.rejects(engine.gradients!(input, w, h, { target }), { code: 'NOT_FINITE', message: /logit \d+ \(class \d, pixel \(\d+, \d+\)\) is (NaN|-?Infinity)/ }, 'logits not finite: NOT_FINITE naming the logit');
  // Coefficients large enough to overflow float32 somewhere: a FreqregError or finite gradients.
  engine.setCoefficients!(good.map((v) => v.map((_, r) => (r % 3 === 0 ? 1e30 : -1e30))));
  try {
    const g = await engine.gradients!(input, w, h, { target });
    t.ok(g.layers.every((l) => l.grads.every(Number.isFinite)), 'huge coefficients: finite gradients');
  } catch (e) {
    t.ok(e instanceof FreqregError, `huge coefficients: FreqregError (${(e as Error).message})`);
  }
  // A dLogits spec: the loss terms are NaN by contract, the gradients finite.
  engine.setCoefficients!(good.map((v) => v.map((_, r) => (r === 0 ? 1 : 0.1))));
  const g = await engine.gradients!(input, w, h, { dLogits: new Float64Array(2 * n).fill(1e-3) });
  t.ok(Number.isNaN(g.loss) && g.layers.every((l) => l.grads.every(Number.isFinite)), 'dLogits: NaN loss terms, finite gradients');
  await engine.dispose();
});

// ---- backward kernels: SIMD against the scalar twin and the TypeScript oracle ----

function padded4(n: number): number {
  return (n + 3) & ~3;
}

t.test('spectral_backfuse_f32 against its twins', async (t) => {
  const k = await kernels();
  const r = rng(91);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let c = 0; c < 49; c++) {
    // c ≥ 40: the shapes of cases 0–8 again with channels dead in whole blocks of pixels (ReLU off
    // at all of them), which the SIMD kernel skips: q maps smooth in space, channel 0's F row zero
    // (z = 0 everywhere), and for even cases every channel dead in the first eight columns.
    const deadBlocks = c >= 40, n = deadBlocks ? c - 40 : c;
    const w = n < 3 ? [12, 13, 17][n] : n < 7 ? [16, 13, 9, 24][n - 3] : n < 9 ? [13, 24][n - 7] : pick([1, 3, 4, 5, 7, 8, 9, 12, 13, 17, 24]), h = n < 9 ? [4, 5, 6, 5, 4, 3, 6, 3, 5][n] : pick([1, 2, 3, 5, 6]);
    // n < 3: the SIMD path for na = 4 without pooling (nOut = 4, no weight gradient), blocks of 8 columns and a last 4;
    // 3 ≤ n < 7: the pooled paths (na = 4; nOut = nPool = 4 as in the upstream model: blocks of 8 columns, and a
    // last 4 at W = 13; then other nOut and nPool)
    // 7 ≤ n < 9: a 2-class dense consumer with its weight gradient (outc of the upstream model)
    const common = n < 3, pooled4 = n >= 3 && n < 7, outc2 = n >= 7 && n < 9;
    const na = common || pooled4 || outc2 ? 4 : pick([1, 3, 4, 4, 5]);
    const nOut = common || n === 3 || n === 4 ? 4 : pooled4 ? [1, 5][n - 5] : outc2 ? 2 : pick([1, 2, 4, 5]);
    const nPool = common || outc2 ? 0 : pooled4 ? [4, 4, 3, 6][n - 3] : n % 3 === 0 ? 0 : pick([1, 3, 4, 6]);
    const channels = pooled4 ? [7, 4, 1, 7][n - 3] : outc2 ? [5, 8][n - 7] : pick([1, 4, 7]);
    const wgrad = !common && (pooled4 ? n === 6 : outc2 || n % 4 !== 3); // with and without the dense consumer's weight gradient
    const y0 = h > 2 && n % 2 ? 2 : 0, y1 = h;
    const G = geometry(w, h), Gp = geometry(w >> 1, h >> 1);
    const f64s = channels + (wgrad ? channels * nOut : 0);
    const sumsOff = 0, wgOff = 2 * channels, qOff = 2 * f64s, outOff = qOff + na * G.mapSize, poolOff = outOff + nOut * G.mapSize;
    const uOff = poolOff + Math.max(nPool, 1) * Gp.mapSize, fOff = uOff + na * G.mapSize, gOff = fOff + channels * na;
    const gpOff = gOff + channels * padded4(nOut), total = gpOff + channels * padded4(nPool) + 4;
    const scratch = k.arena.allocF32((4 * (1 + nOut) + 16 + 1) * channels);
    await crossCheck(t, k, `backfuse W=${w} H=${h} rows [${y0},${y1}) na=${na} nOut=${nOut} nPool=${nPool} C=${channels} wgrad=${wgrad}${deadBlocks ? ' dead blocks' : ''}`, total,
      (mem) => {
        const rand = rng(1000 + c);
        for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
        new Float64Array(mem.buffer, mem.byteOffset, f64s).fill(0.25);
        if (deadBlocks) {
          const allDead = n % 2 === 0;
          for (let a = 0; a < na; a++) {
            mem[fOff + a] = 0;
            if (allDead) for (let o = 1; o < channels; o++) mem[fOff + o * na + a] = Math.abs(mem[fOff + o * na + a]);
            for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
              mem[qOff + a * G.mapSize + G.interior + y * G.stride + x] = allDead && x < 8 ? -0.5 - rand() : Math.sin(0.35 * x + 0.25 * y + 1.3 * a);
            }
          }
        }
        for (let a = 0; a < na; a++) for (let y = y0; y < y1; y++) for (let x = 0; x < w; x++) mem[uOff + a * G.mapSize + G.interior + y * G.stride + x] = NaN;
      },
      (fn, b) => fn('spectral_backfuse_f32',
        b + 4 * (uOff + G.interior), G.mapSize, G.stride, b + 4 * sumsOff, scratch, wgrad ? b + 4 * wgOff : 0,
        b + 4 * (outOff + G.interior), G.mapSize, G.stride, nOut, b + 4 * gOff,
        b + 4 * (poolOff + Gp.interior), Gp.mapSize, Gp.stride, nPool, b + 4 * gpOff,
        b + 4 * (qOff + G.interior), G.mapSize, G.stride, na, b + 4 * fOff,
        channels, w, y0, y1),
      [sumsOff, f64s]);
  }
});

t.test('spectral_softmax_f32 and spectral_softmax_grad_f32 against their twins', async (t) => {
  const k = await kernels();
  const r = rng(94);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 16; n++) {
    // n < 10: 2 classes (the SIMD path, groups of four pixels and a tail); then 3 classes (scalar)
    const classes = n < 10 ? 2 : 3;
    const w = n < 4 ? [4, 13, 8, 7][n] : pick([1, 3, 4, 5, 9, 12, 17]), h = pick([1, 2, 3]);
    const y0 = h > 1 && n % 2 ? 1 : 0, y1 = h;
    const G = geometry(w, h);
    const slot = Math.max(4, classes);
    const sumsOff = 0, lOff = 2 * slot, tOff = lOff + classes * G.mapSize, total = tOff + w * h + 4;
    const scratch = k.arena.alloc(8 * classes);
    const setup = (softmaxOut: boolean) => (mem: Float32Array, base: number, rand: () => number) => {
      for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
      new Float64Array(mem.buffer, base, slot).fill(0.5);
      const targets = new Int32Array(mem.buffer, base + 4 * tOff, w * h);
      for (let p = 0; p < w * h; p++) targets[p] = Math.floor(rand() * classes);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const at = (c: number) => lOff + c * G.mapSize + G.interior + y * G.stride + x;
        const kind = rand();
        // logits: ordinary, far apart (exp underflows), tied, or one infinite (n even: in 2 classes its SIMD group
        // falls back to the scalar pass; left as it is, as a NaN would be, which the region check reads as unwritten)
        const l = Array.from({ length: classes }, () => 8 * (rand() * 2 - 1));
        if (kind < 0.1) l[0] = l[classes - 1] + (rand() < 0.5 ? 120 : -120);
        else if (kind < 0.2) l[classes - 1] = l[0];
        else if (kind < 0.25 && !softmaxOut && n % 2 === 0) l[Math.floor(rand() * classes)] = pick([Infinity, -Infinity]);
        if (softmaxOut) {
          // the second pass reads probabilities
          const m = Math.max(...l), e = l.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b);
          e.forEach((v, c) => (mem[at(c)] = v / z));
        } else l.forEach((v, c) => (mem[at(c)] = v));
      }
    };
    const label = `W=${w} H=${h} rows [${y0},${y1}) classes=${classes}`;
    await crossCheck(t, k, `softmax ${label}`, total, setup(false),
      (fn, b) => fn('spectral_softmax_f32', b + 4 * sumsOff, scratch, b + 4 * (lOff + G.interior), G.mapSize, G.stride, classes, b + 4 * tOff, w, y0, y1),
      [sumsOff, 4]);
    const gTrue = r() - 1, gOther = r() * 0.5;
    await crossCheck(t, k, `softmax grad ${label}`, total, setup(true),
      (fn, b) => fn('spectral_softmax_grad_f32', b + 4 * sumsOff, b + 4 * (lOff + G.interior), G.mapSize, G.stride, classes, b + 4 * tOff, w, w * h, gTrue, gOther, y0, y1),
      [sumsOff, classes]);
  }
});

t.test('spectral_conv2d_grad_f64_3x3p1 (the norm\'s Jacobian, then tap gradients) against its twins', async (t) => {
  const k = await kernels();
  const r = rng(92);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 20; n++) {
    const w = pick([1, 2, 4, 5, 8, 11, 12, 19]), h = n === 0 ? 37 : pick([1, 2, 3, 7]); // 37 rows: three bands of the SIMD kernel
    const na = pick([1, 2, 4]), nb = pick([1, 3, 4]);
    const pairs: number[] = [];
    for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) if (r() < 0.6 || pairs.length === 0) pairs.push(a, b);
    const nPairs = pairs.length / 2;
    const y0 = h > 1 && n % 2 ? 1 : 0, y1 = h;
    const G = geometry(w, h);
    // P maps with a zero border, as the engine keeps them; dq (U) corrected in place by c, M and q first
    const accOff = 0, dOff = 18 * nPairs, pOff = dOff + na * G.mapSize, pairsOff = pOff + nb * G.mapSize;
    const qOff = pairsOff + pairs.length + 4, cOff = qOff + na * G.mapSize, mOff = cOff + na, total = mOff + na * na + 4;
    await crossCheck(t, k, `norm and conv grad W=${w} H=${h} rows [${y0},${y1}) na=${na} nb=${nb} pairs=${nPairs}`, total,
      (mem, base, rand) => {
        for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
        for (let b = 0; b < nb; b++) for (let y = -1; y <= h; y++) for (let x = -1; x <= w + 1; x++) {
          if (y < 0 || y >= h || x < 0 || x >= w) mem[pOff + b * G.mapSize + G.interior + y * G.stride + x] = 0;
        }
        new Float64Array(mem.buffer, base + 4 * accOff, 9 * nPairs).fill(0.5);
        new Int32Array(mem.buffer, base + 4 * pairsOff, pairs.length).set(pairs);
      },
      (fn, b) => fn('spectral_conv2d_grad_f64_3x3p1', b + 4 * accOff, b + 4 * (dOff + G.interior), G.mapSize, b + 4 * (pOff + G.interior), G.mapSize, G.stride,
        b + 4 * pairsOff, nPairs, w, y0, y1, b + 4 * (qOff + G.interior), b + 4 * cOff, b + 4 * mOff, na),
      [accOff, 9 * nPairs]);
  }
});

t.test('spectral_gather_f32_2x2s2 and spectral_scatter_grad_f64_2x2s2 against their twins', async (t) => {
  const k = await kernels();
  const r = rng(93);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 20; n++) {
    const sw = pick([1, 3, 4, 5, 8, 9, 13]), sh = pick([1, 2, 3]);
    const top = pick([0, 1]), left = pick([0, 1]);
    const w = 2 * sw + left + pick([0, 1]), h = 2 * sh + top + pick([0, 1]);
    const na = pick([1, 4, 5]), nb = pick([1, 3, 5]);
    const pairs: number[] = [];
    for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) if (r() < 0.7) pairs.push(a, b);
    const nPairs = pairs.length / 2;
    const y0 = n % 2 && sh > 1 ? 1 : 0, y1 = sh;
    const G = geometry(w, h), Gs = geometry(sw, sh);
    const accOff = 0, sOff = 8 * Math.max(nPairs, 1), pOff = sOff + nb * G.mapSize, pairsOff = pOff + na * Gs.mapSize, tapsOff = pairsOff + pairs.length + 4;
    const total = tapsOff + nPairs * 4 + 4;
    const setup = (mem: Float32Array, base: number, rand: () => number) => {
      for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
      new Float64Array(mem.buffer, base + 4 * accOff, 4 * nPairs).fill(0.5);
      new Int32Array(mem.buffer, base + 4 * pairsOff, pairs.length).set(pairs);
    };
    const label = `src ${sw}×${sh} ← ${w}×${h} top=${top} left=${left} rows [${y0},${y1}) na=${na} nb=${nb} pairs=${nPairs}`;
    await crossCheck(t, k, `gather ${label}`, total,
      (mem, base, rand) => {
        setup(mem, base, rand);
        for (let a = 0; a < na; a++) for (let y = y0; y < y1; y++) for (let x = 0; x < sw; x++) mem[pOff + a * Gs.mapSize + Gs.interior + y * Gs.stride + x] = NaN;
      },
      (fn, b) => fn('spectral_gather_f32_2x2s2', b + 4 * (pOff + Gs.interior), Gs.mapSize, Gs.stride, b + 4 * (sOff + G.interior), G.mapSize, G.stride,
        b + 4 * pairsOff, b + 4 * tapsOff, nPairs, na, sw, top, left, y0, y1));
    await crossCheck(t, k, `scatter grad ${label}`, total, setup,
      (fn, b) => fn('spectral_scatter_grad_f64_2x2s2', b + 4 * accOff, b + 4 * (sOff + G.interior), G.mapSize, G.stride, b + 4 * (pOff + Gs.interior), Gs.mapSize, Gs.stride,
        b + 4 * pairsOff, nPairs, sw, top, left, y0, y1),
      [accOff, 4 * nPairs]);
  }
});
