import t, { type Test } from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { argmaxClasses, referenceForward } from '../src/engines/reference.js';
import { createSpectralEngine, type SpectralEngineOptions } from '../src/engines/spectral.js';
import { SPECTRAL_KERNEL_NAMES } from '../src/engines/spectral-oracle.js';
import { planSpectral } from '../src/engines/spectral-plan.js';
import { imageToTensor } from '../src/input.js';
import type { FrModel } from '../src/model.js';
import { instantiateKernels, type KernelInstance } from '../src/wasm/instance.js';
import { fixturesDir, kernelModuleBytes, readF32, readFixtures, rng, upstreamDir } from './helpers.js';
import { crossCheck, geometry } from './support/kernel-check.js';
import { syntheticModel } from './support/synthetic.js';
import { tolLogits } from './support/compare.js';

const { PNG } = pngjs;

/** Logits are float32 sums over long channel chains: compare relative to the largest logit. */
/** Spectral float32 against the float64 reference engine on random small models (a self-check; the PyTorch comparisons below use TOL_LOGITS). */
const TOL_LOGITS_RELATIVE = 1e-3;
/** Pixels whose reference top-two margin is below this may flip argmax under float32 rounding. */
const NEAR_TIE_MARGIN = 1e-3;

async function kernels(): Promise<KernelInstance> {
  return instantiateKernels(kernelModuleBytes());
}

function randomInput(c: number, h: number, w: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: c * h * w }, () => r());
}

interface Comparison {
  maxDiff: number;
  logitMax: number;
  maskDiff: number;
  /** Mask differences where the reference margin is at least NEAR_TIE_MARGIN. */
  maskDiffClear: number;
  first?: string;
}

function compareLogits(got: Float32Array, want: ArrayLike<number>, classes: number, h: number, w: number): Comparison {
  let maxDiff = 0, logitMax = 0, worst = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= maxDiff)) { maxDiff = d; worst = i; }
    logitMax = Math.max(logitMax, Math.abs(want[i]));
  }
  const a = argmaxClasses({ c: classes, h, w, data: got });
  const b = argmaxClasses({ c: classes, h, w, data: want });
  const n = h * w;
  let maskDiff = 0, maskDiffClear = 0;
  for (let p = 0; p < n; p++) {
    if (a[p] === b[p]) continue;
    maskDiff++;
    const vals = Array.from({ length: classes }, (_, c) => want[c * n + p]).sort((x, y) => y - x);
    if (vals[0] - vals[1] >= NEAR_TIE_MARGIN) maskDiffClear++;
  }
  let first: string | undefined;
  if (worst >= 0) {
    const c = Math.floor(worst / n), y = Math.floor((worst % n) / w), x = worst % w;
    first = `largest difference at (c ${c}, y ${y}, x ${x}): got ${got[worst]}, want ${want[worst]}`;
  }
  return { maxDiff, logitMax, maskDiff, maskDiffClear, first };
}

async function checkAgainstReference(
  t: Test, k: KernelInstance, model: FrModel, h: number, w: number, seed: number, options: SpectralEngineOptions = {},
): Promise<Comparison> {
  const cin = model.arch.inChannels, classes = model.arch.classes;
  const input = randomInput(cin, h, w, seed);
  const ref = referenceForward(model, { c: cin, h, w, data: Float64Array.from(input) });
  const mark = k.arena.mark();
  const engine = createSpectralEngine(k, model, options);
  const out = await engine.run(input, w, h);
  await engine.dispose();
  k.arena.release(mark);
  t.same([out.classes, out.height, out.width], [classes, h, w], 'logits shape');
  const cmp = compareLogits(out.data, ref.data, classes, h, w);
  t.ok(cmp.maxDiff <= TOL_LOGITS_RELATIVE * cmp.logitMax,
    `max |Δlogit| ${cmp.maxDiff.toExponential(2)} ≤ ${TOL_LOGITS_RELATIVE} × ${cmp.logitMax.toFixed(3)}`, { first: cmp.first });
  t.equal(cmp.maskDiffClear, 0, `mask equal except near ties (${cmp.maskDiff} near-tie flips)`);
  const ties = tieReport(out.data, Float32Array.from(ref.data), classes, h * w);
  t.equal(ties.exactTiesKept, ties.exactTies, `all-zero-feature pixels give logits of exactly +0 (${ties.exactTiesKept}/${ties.exactTies})`);
  return cmp;
}

const SYNTHETIC: { label: string; width: number; classes: number; dense?: boolean; nnz?: number; h: number; w: number; seed: number }[] = [
  { label: 'width 2, 2 classes', width: 2, classes: 2, h: 19, w: 23, seed: 1 },
  { label: 'width 4, 3 classes', width: 4, classes: 3, h: 33, w: 50, seed: 2 },
  { label: 'width 8, 2 classes, 61×45', width: 8, classes: 2, h: 45, w: 61, seed: 3 },
  { label: 'width 3, 2 classes, 16×16 minimum', width: 3, classes: 2, h: 16, w: 16, seed: 4 },
  { label: 'width 4, 2 classes, few coefficients', width: 4, classes: 2, nnz: 6, h: 21, w: 34, seed: 5 },
  { label: 'width 2, dense coefficients', width: 2, classes: 2, dense: true, h: 19, w: 23, seed: 6 },
  { label: 'width 4, dense coefficients, 3 classes', width: 4, classes: 3, dense: true, h: 17, w: 20, seed: 7 },
];

t.test('spectral engine (JS oracle kernels) matches the float64 reference', async (t) => {
  const k = await kernels();
  for (const c of SYNTHETIC) {
    const model = syntheticModel({ width: c.width, classes: c.classes, dense: c.dense, nnzPerLayer: c.nnz, seed: c.seed });
    for (const outc of ['dense', 'spectral'] as const) {
      await t.test(`js ${c.label} ${c.w}×${c.h} outc ${outc}`, async (t) => {
        await checkAgainstReference(t, k, model, c.h, c.w, c.seed, { kernels: 'js', outc });
      });
    }
  }
});

t.test('spectral engine (WASM SIMD kernels) matches the float64 reference', async (t) => {
  const k = await kernels();
  for (const c of SYNTHETIC) {
    const model = syntheticModel({ width: c.width, classes: c.classes, dense: c.dense, nnzPerLayer: c.nnz, seed: c.seed });
    for (const outc of ['dense', 'spectral'] as const) {
      await t.test(`wasm ${c.label} ${c.w}×${c.h} outc ${outc}`, async (t) => {
        await checkAgainstReference(t, k, model, c.h, c.w, c.seed + 100, { outc });
      });
    }
  }
});

// ---- kernels: SIMD against the scalar twin and the TypeScript oracle ----

t.test('spectral_fuse_f32 against its twins', async (t) => {
  const k = await kernels();
  const r = rng(11);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 40; n++) {
    const w = pick([1, 3, 4, 7, 8, 9, 13, 16, 17, 23, 33]), h = pick([1, 2, 3, 5, 6]);
    const na = pick([1, 3, 4, 4, 5]), nOut = pick([0, 1, 2, 4, 4, 5]), nPool = n % 3 === 0 ? 0 : pick([1, 3, 4, 6]);
    const channels = pick([1, 4, 7]), relu = n % 4 === 0 ? 0 : 1;
    const y0 = h > 2 && n % 2 ? 2 : 0, y1 = h;
    const G = geometry(w, h), Gp = geometry(w >> 1, h >> 1);
    const qOff = 0, outOff = qOff + na * G.mapSize, poolOff = outOff + Math.max(nOut, 1) * G.mapSize;
    const fOff = poolOff + Math.max(nPool, 1) * Gp.mapSize, gOff = fOff + channels * na, gpOff = gOff + channels * padded4(nOut);
    const biasOff = gpOff + channels * padded4(nPool), total = biasOff + Math.max(nOut, 1) + 4;
    const scratch = k.arena.allocF32(16 * channels);
    const bias = n % 3 === 1; // with a bias per out map (outc's) on a third of the cases
    await crossCheck(t, k, `fuse W=${w} H=${h} rows [${y0},${y1}) na=${na} nOut=${nOut} nPool=${nPool} C=${channels} relu=${relu} bias=${bias}`, total,
      (mem, _b, rand) => {
        for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
        // Outputs: NaN in the written interior, sentinels (random, compared) elsewhere.
        for (let g = 0; g < nOut; g++) for (let y = y0; y < y1; y++) for (let x = 0; x < w; x++) mem[outOff + g * G.mapSize + G.interior + y * G.stride + x] = NaN;
        if (nPool > 0) for (let g = 0; g < nPool; g++) for (let y = y0 >> 1; y < y1 >> 1; y++) for (let x = 0; x < w >> 1; x++) mem[poolOff + g * Gp.mapSize + Gp.interior + y * Gp.stride + x] = NaN;
      },
      (fn, b) => fn('spectral_fuse_f32',
        b + 4 * (outOff + G.interior), G.mapSize, G.stride, nOut, b + 4 * gOff,
        b + 4 * (poolOff + Gp.interior), Gp.mapSize, Gp.stride, nPool, b + 4 * gpOff,
        b + 4 * (qOff + G.interior), G.mapSize, G.stride, na, b + 4 * fOff,
        channels, w, h, y0, y1, relu, bias ? b + 4 * biasOff : 0, scratch));
  }
});

function padded4(n: number): number {
  return (n + 3) & ~3;
}

t.test('spectral_conv2d_f32_3x3p1 against its twins', async (t) => {
  const k = await kernels();
  const r = rng(12);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 24; n++) {
    const w = pick([1, 2, 4, 5, 8, 11, 12, 19]), h = pick([1, 2, 3, 7]);
    const na = pick([1, 2, 4]), nb = pick([1, 3, 4]);
    const pairs: number[] = [];
    for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) if (r() < 0.6) pairs.push(a, b);
    const nPairs = pairs.length / 2;
    const y0 = h > 1 && n % 2 ? 1 : 0, y1 = h;
    const G = geometry(w, h);
    const qOff = 0, pOff = na * G.mapSize, pairsOff = pOff + nb * G.mapSize, tapsOff = pairsOff + pairs.length + 4;
    const total = tapsOff + nPairs * 9 + 4;
    await crossCheck(t, k, `conv3x3 W=${w} H=${h} rows [${y0},${y1}) na=${na} nb=${nb} pairs=${nPairs}`, total,
      (mem, base, rand) => {
        for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
        for (let b = 0; b < nb; b++) // zero border around the P interior
          for (let y = -1; y <= h; y++) for (let x = -1; x <= w; x++) {
            if (y >= 0 && y < h && x >= 0 && x < w) continue;
            mem[pOff + b * G.mapSize + G.interior + y * G.stride + x] = 0;
          }
        for (let a = 0; a < na; a++) for (let y = y0; y < y1; y++) for (let x = 0; x < w; x++) mem[qOff + a * G.mapSize + G.interior + y * G.stride + x] = NaN;
        new Int32Array(mem.buffer, base + 4 * pairsOff, pairs.length).set(pairs);
      },
      (fn, b) => fn('spectral_conv2d_f32_3x3p1', b + 4 * (qOff + G.interior), G.mapSize, b + 4 * (pOff + G.interior), G.mapSize, G.stride,
        b + 4 * pairsOff, b + 4 * tapsOff, nPairs, na, w, y0, y1));
  }
});

t.test('spectral_scatter_f32_2x2s2 against its twins', async (t) => {
  const k = await kernels();
  const r = rng(13);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  for (let n = 0; n < 20; n++) {
    const sw = pick([1, 3, 4, 5, 8, 9, 13]), sh = pick([1, 2, 3]);
    const top = pick([0, 1]), left = pick([0, 1]);
    const w = 2 * sw + left + pick([0, 1]), h = 2 * sh + top + pick([0, 1]);
    const na = pick([1, 4]), nb = pick([1, 3, 5]);
    const pairs: number[] = [];
    for (let a = 0; a < na; a++) for (let b = 0; b < nb; b++) if (r() < 0.7) pairs.push(a, b);
    const nPairs = pairs.length / 2;
    const y0 = n % 2, y1 = h - (n % 3 === 0 ? 1 : 0);
    const G = geometry(w, h), Gs = geometry(sw, sh);
    const outOff = 0, pOff = nb * G.mapSize, pairsOff = pOff + na * Gs.mapSize, tapsOff = pairsOff + pairs.length + 4;
    const total = tapsOff + nPairs * 4 + 4;
    await crossCheck(t, k, `scatter src ${sw}×${sh} → ${w}×${h} top=${top} left=${left} rows [${y0},${y1}) na=${na} nb=${nb} pairs=${nPairs}`, total,
      (mem, base, rand) => {
        for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
        new Int32Array(mem.buffer, base + 4 * pairsOff, pairs.length).set(pairs);
      },
      (fn, b) => fn('spectral_scatter_f32_2x2s2', b + 4 * (outOff + G.interior), G.mapSize, G.stride, b + 4 * (pOff + Gs.interior), Gs.mapSize, Gs.stride,
        b + 4 * pairsOff, b + 4 * tapsOff, nPairs, sw, sh, top, left, y0, y1));
  }
});

t.test('spectral_sum_f64 and spectral_center_cov_f64 against their twins', async (t) => {
  const k = await kernels();
  for (const [w, h, na] of [[1, 1, 1], [3, 2, 2], [4, 3, 4], [13, 5, 3], [17, 4, 5], [32, 3, 4]]) {
    const G = geometry(w, h);
    const sumOff = 0, covOff = 2 * na, meanOff = covOff + 2 * na * na, qOff = meanOff + na + 4;
    const total = qOff + na * G.mapSize;
    const setup = (mem: Float32Array, _b: number, rand: () => number) => {
      for (let i = 0; i < total; i++) mem[i] = rand() * 2 + 3; // an offset, so centring matters
      new Float64Array(mem.buffer, mem.byteOffset + 4 * sumOff, na).fill(0.5);
      new Float64Array(mem.buffer, mem.byteOffset + 4 * covOff, na * na).fill(0.25);
    };
    await crossCheck(t, k, `sum W=${w} H=${h} na=${na}`, total, setup,
      (fn, b) => fn('spectral_sum_f64', b + 4 * sumOff, b + 4 * (qOff + G.interior), G.mapSize, G.stride, na, w, 0, h), [sumOff, na]);
    await crossCheck(t, k, `center_cov W=${w} H=${h} na=${na}`, total, setup,
      (fn, b) => fn('spectral_center_cov_f64', b + 4 * covOff, b + 4 * (qOff + G.interior), G.mapSize, G.stride, b + 4 * meanOff, na, w, h > 1 ? 1 : 0, h),
      [covOff, na * na]);
  }
});

t.test('spectral_project_f32 against its twins', async (t) => {
  const k = await kernels();
  for (const [w, h, cin, nb] of [[1, 1, 1, 1], [3, 2, 3, 2], [4, 3, 3, 4], [13, 5, 3, 3], [17, 4, 1, 5], [32, 3, 4, 4]]) {
    const G = geometry(w, h);
    // Rows [y0, h) of p from a band holding image rows y0… (row stride w + 1: one column of slack).
    const y0 = h > 1 ? 1 : 0, bandRows = h - y0, xRow = w + 1, xMap = bandRows * xRow;
    const basisOff = 0, xOff = 2 * cin * nb + 4, pOff = xOff + cin * xMap + 4;
    const total = pOff + nb * G.mapSize;
    const setup = (mem: Float32Array, _b: number, rand: () => number) => {
      for (let i = 0; i < total; i++) mem[i] = rand() * 2 - 1;
      const basis = new Float64Array(mem.buffer, mem.byteOffset + 4 * basisOff, cin * nb);
      for (let i = 0; i < basis.length; i++) basis[i] = rand() * 2 - 1;
      for (let b = 0; b < nb; b++) for (let y = y0; y < h; y++) for (let x = 0; x < w; x++) mem[pOff + G.interior + b * G.mapSize + y * G.stride + x] = NaN;
    };
    await crossCheck(t, k, `project W=${w} H=${h} cin=${cin} nb=${nb}`, total, setup,
      (fn, b) => fn('spectral_project_f32', b + 4 * (pOff + G.interior), G.mapSize, G.stride, b + 4 * xOff, xMap, xRow, cin, nb, b + 4 * basisOff, w, y0, h),
      [basisOff, cin * nb]);
  }
});

// ---- PyTorch fixtures and the upstream model ----

function readPngInput(path: string, inChannels: number) {
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, input: imageToTensor({ data: png.data, width: png.width, height: png.height, channels: 4 }, inChannels) };
}

/** Mask differences outside pixels whose expected top-two margin is below NEAR_TIE_MARGIN, and exact-zero ties kept. */
function tieReport(got: Float32Array, want: Float32Array, classes: number, n: number) {
  let exactTies = 0, exactTiesKept = 0;
  for (let p = 0; p < n; p++) {
    let allZero = true;
    for (let c = 0; c < classes; c++) if (want[c * n + p] !== 0) allZero = false;
    if (!allZero) continue;
    exactTies++;
    let kept = true;
    for (let c = 0; c < classes; c++) if (!Object.is(got[c * n + p], 0)) kept = false;
    if (kept) exactTiesKept++;
  }
  return { exactTies, exactTiesKept };
}

t.test('PyTorch fixtures: logits and masks', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const { loadModelFile } = await import('../src/node/load.js');
  const k = await kernels();
  for (const f of readFixtures(dir)) {
    await t.test(f.name, async (t) => {
      const { model } = await loadModelFile(join(dir, f.model));
      const { width, height, input } = readPngInput(join(dir, f.input), f.in_channels);
      const want = readF32(join(dir, f.logits));
      const mark = k.arena.mark();
      const engine = createSpectralEngine(k, model);
      const out = await engine.run(input, width, height);
      await engine.dispose();
      k.arena.release(mark);
      const cmp = compareLogits(out.data, want, f.classes, height, width);
      const ties = tieReport(out.data, want, f.classes, width * height);
      t.ok(cmp.maxDiff <= tolLogits(f.name, 'spectral') * f.logit_abs_max,
        `max |Δlogit| ${cmp.maxDiff.toExponential(2)} ≤ ${tolLogits(f.name, 'spectral')} × ${f.logit_abs_max}`, { first: cmp.first });
      t.equal(cmp.maskDiffClear, 0, `mask equal except near ties (${cmp.maskDiff} pixels differ, ≤ ${f['near_tie_pixels_margin_lt_1e-3']} near ties)`);
      t.ok(cmp.maskDiff <= f['near_tie_pixels_margin_lt_1e-3'], 'no more mask differences than near-tie pixels');
      t.equal(ties.exactTies, f.exact_tie_pixels, 'exact-tie pixels as listed');
      t.equal(ties.exactTiesKept, ties.exactTies, `all-zero-feature pixels give logits of exactly +0 (${ties.exactTiesKept}/${ties.exactTies})`);
    });
  }
});

t.test('upstream model on in0000.png against the PyTorch logits', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const { loadModelFile } = await import('../src/node/load.js');
  const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
  const { width, height, input } = readPngInput(join(dir, 'testimgs', 'input', 'in0000.png'), model.arch.inChannels);
  const want = readF32(join(dir, 'reference', 'logits0000.f32'));
  const k = await kernels();
  const engine = createSpectralEngine(k, model);
  const out = await engine.run(input, width, height);
  await engine.dispose();
  const cmp = compareLogits(out.data, want, model.arch.classes, height, width);
  const ties = tieReport(out.data, want, model.arch.classes, width * height);
  t.ok(cmp.maxDiff <= tolLogits('upstream', 'spectral') * cmp.logitMax, `max |Δlogit| ${cmp.maxDiff.toExponential(2)} ≤ ${tolLogits('upstream', 'spectral')} × ${cmp.logitMax.toFixed(3)}`, { first: cmp.first });
  t.equal(cmp.maskDiffClear, 0, `mask equal except near ties (${cmp.maskDiff} pixels differ)`);
  t.ok(ties.exactTies > 0, `${ties.exactTies} exact-tie pixels in the PyTorch logits`);
  t.equal(ties.exactTiesKept, ties.exactTies, 'all-zero-feature pixels give logits of exactly +0');
});

t.test('all-zero final features: logits exactly +0, class 0', async (t) => {
  // After the last norm + ReLU some pixels have all features 0; the reference gives them logits of
  // exactly 0 (an exact tie). The spectral engine must keep them exactly +0, so argmax picks class 0.
  const k = await kernels();
  let seen = 0;
  for (const seed of [21, 22, 23]) {
    const model = syntheticModel({ width: 4, classes: 3, seed });
    const h = 24, w = 29;
    const input = randomInput(3, h, w, seed);
    const ref = referenceForward(model, { c: 3, h, w, data: Float64Array.from(input) });
    const engine = createSpectralEngine(k, model);
    const out = await engine.run(input, w, h);
    await engine.dispose();
    const ties = tieReport(out.data, Float32Array.from(ref.data), 3, h * w);
    seen += ties.exactTies;
    t.equal(ties.exactTiesKept, ties.exactTies, `seed ${seed}: ${ties.exactTies} all-zero pixels kept exactly +0`);
    const mask = argmaxClasses({ c: 3, h, w, data: out.data });
    const n = h * w;
    let wrong = 0;
    for (let p = 0; p < n; p++) if (out.data[p] === 0 && out.data[n + p] === 0 && out.data[2 * n + p] === 0 && mask[p] !== 0) wrong++;
    t.equal(wrong, 0, 'exact ties go to class 0');
  }
  t.ok(seen > 0, `the synthetic models have all-zero pixels (${seen})`);
});

t.test('planner: per-layer costs, dense total as upstream', async (t) => {
  // Dense FLOPs depend on the shapes only: a width-64 synthetic UNet has the upstream shapes.
  const model = syntheticModel({ width: 64, seed: 31 });
  const plan = planSpectral(model, 959, 640);
  t.equal(plan.layers.length, 23, 'one entry per layer');
  t.ok(Math.abs(plan.total.dense.flops / 1e9 - 898.6) < 0.1, `dense ${(plan.total.dense.flops / 1e9).toFixed(2)} GFLOP (docs: 898.6)`);
  t.ok(plan.total.spectral.flops < plan.total.dense.flops / 50, `spectral ${(plan.total.spectral.flops / 1e9).toFixed(2)} GFLOP`);
  t.equal(plan.outc, 'dense', 'outc: the dense 2×64 weight is cheaper than 17 frequencies');
  const inc1 = plan.layers.find((l) => l.name === 'inc.double_conv.0.weight')!;
  t.same([inc1.level, inc1.width, inc1.height, inc1.cin, inc1.cout], [0, 959, 640, 3, 64]);
  const up1 = plan.layers.find((l) => l.name === 'up1.up.weight')!;
  t.same([up1.level, up1.width, up1.height, up1.cin, up1.cout, up1.k], [3, 119, 80, 1024, 512, 2]);
  const dense = planSpectral(syntheticModel({ width: 4, dense: true, seed: 32 }), 40, 32);
  t.ok(dense.layers.filter((l) => l.kind === 'conv' && l.k === 3).every((l) => l.nb === l.cin && l.na === l.cout), 'dense coefficients: nb = Cin, na = Cout');
  t.ok(dense.layers.some((l) => l.cheaper === 'dense'), 'dense coefficients: some layers cheaper dense');
});

t.test('two threads give the same logits as one', async (t) => {
  const { loadKernels } = await import('../src/node/kernels.js');
  let loaded;
  try {
    loaded = await loadKernels(2);
  } catch (e) {
    // A missing build/kernels-mt.wasm is a broken build, not a reason to skip.
    return t.fail(`no threaded kernel module: ${(e as Error).message}`);
  }
  const model = syntheticModel({ width: 4, classes: 2, seed: 41 });
  const h = 37, w = 45;
  const input = randomInput(3, h, w, 41);
  const two = createSpectralEngine(loaded.kernels, model, { parallel: loaded.parallel });
  t.equal(two.threads, 2);
  const a = await two.run(input, w, h);
  await two.dispose();
  const k = await kernels();
  const one = createSpectralEngine(k, model);
  const b = await one.run(input, w, h);
  await one.dispose();
  const cmp = compareLogits(a.data, b.data, 2, h, w);
  t.ok(cmp.maxDiff <= 1e-5 * cmp.logitMax, `max |Δlogit| ${cmp.maxDiff.toExponential(2)} (statistics summed per share)`);
  t.equal(cmp.maskDiffClear, 0, 'same mask');
});

t.test('every spectral kernel is mirrored with its scalar twin', async (t) => {
  const { KERNEL_EXPORT_NAMES } = await import('../src/wasm/exports.js');
  const k = await kernels();
  for (const name of SPECTRAL_KERNEL_NAMES) {
    t.ok(KERNEL_EXPORT_NAMES.includes(name) && KERNEL_EXPORT_NAMES.includes(`${name}_ref` as never), `${name} and ${name}_ref in the mirror`);
    t.type((k.exports as unknown as Record<string, unknown>)[`${name}_ref`], 'function', `${name}_ref exported`);
  }
});

t.test('biases: cancelled by the norm, carried through the transposed convs and outc', async (t) => {
  const k = await kernels();
  const model = syntheticModel({ width: 4, classes: 3, seed: 51 });
  const r = rng(52);
  const bias = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
  for (const layer of model.layers) layer.bias = bias(layer.kind === 'convTranspose' ? layer.shape[1] : layer.shape[0]);
  await checkAgainstReference(t, k, model, 27, 35, 53);
  await checkAgainstReference(t, k, model, 27, 35, 53, { outc: 'spectral' });
});
