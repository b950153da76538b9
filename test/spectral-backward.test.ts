import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import type { Engine } from '../src/engines/engine.js';
import type { GradientResult } from '../src/engines/gradients.js';
import { createSpectralEngine, type SpectralEngineOptions } from '../src/engines/spectral.js';
import { imageToTensor } from '../src/input.js';
import type { FrLayer, FrModel } from '../src/model.js';
import { instantiateKernels, type KernelInstance } from '../src/wasm/instance.js';
import { PACKAGE_ROOT } from './helpers.js';

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

/** The model with each layer listing the fixture's R positions first (zeros included), then any other stored non-zero. */
function trainableFromCase(model: FrModel, c: GradCase): { model: FrModel; ranks: number[] } {
  const byName = new Map(c.layers.map((l) => [l.name, l]));
  const map = new Map<FrLayer, FrLayer>();
  const ranks: number[] = [];
  for (const layer of model.layers) {
    const g = byName.get(layer.name)!;
    const listed = new Set(g.positions.map((p) => p.join()));
    const rest: number[] = [], restValues: number[] = [];
    for (let n = 0; n < layer.values.length; n++) {
      const p = Array.from(layer.indices.subarray(4 * n, 4 * n + 4));
      if (!listed.has(p.join()) && layer.values[n] !== 0) { rest.push(...p); restValues.push(layer.values[n]); }
    }
    map.set(layer, {
      ...layer,
      indices: Int32Array.from([...g.positions.flat(), ...rest]),
      values: Float32Array.from([...g.values, ...restValues]),
    });
    ranks.push(g.ranks);
  }
  const m = (l: FrLayer) => map.get(l)!;
  return {
    ranks,
    model: {
      arch: model.arch,
      inc: { conv1: m(model.inc.conv1), conv2: m(model.inc.conv2) },
      down: model.down.map((d) => ({ conv1: m(d.conv1), conv2: m(d.conv2) })),
      up: model.up.map((u) => ({ up: m(u.up), conv: { conv1: m(u.conv.conv1), conv2: m(u.conv.conv2) } })),
      outc: m(model.outc),
      layers: model.layers.map(m),
    },
  };
}

/** CE (mean) + the upstream one-Dice-over-everything loss, and ∂L/∂logits (float64). */
function localLoss(logits: Float32Array, classes: number, n: number, target: Uint8Array) {
  const dL = new Float64Array(classes * n);
  const s = new Float64Array(classes);
  let ce = 0, inter = 0, sumS = 0;
  const probs = new Float64Array(classes * n);
  for (let p = 0; p < n; p++) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, logits[c * n + p]);
    let z = 0;
    for (let c = 0; c < classes; c++) z += (s[c] = Math.exp(logits[c * n + p] - m));
    for (let c = 0; c < classes; c++) probs[c * n + p] = s[c] / z;
    ce -= Math.log(probs[target[p] * n + p]);
    inter += probs[target[p] * n + p];
    for (let c = 0; c < classes; c++) sumS += probs[c * n + p];
  }
  ce /= n;
  const eps = 1e-6;
  const num = 2 * inter + eps, den = sumS + n + eps;
  const dice = 1 - num / den;
  // ∂DL/∂s_k(p) = −(2 y_k(p) / den − num / den²); ∂CE/∂l = (s − y)/n; through the softmax.
  for (let p = 0; p < n; p++) {
    const dS = new Float64Array(classes);
    for (let c = 0; c < classes; c++) dS[c] = -((c === target[p] ? 2 : 0) / den - num / (den * den));
    let dot = 0;
    for (let c = 0; c < classes; c++) dot += dS[c] * probs[c * n + p];
    for (let c = 0; c < classes; c++) {
      const sc = probs[c * n + p];
      dL[c * n + p] = (sc - (c === target[p] ? 1 : 0)) / n + sc * (dS[c] - dot);
    }
  }
  return { loss: ce + dice, ce, diceLoss: dice, dLogits: dL };
}

async function kernels(): Promise<KernelInstance> {
  return instantiateKernels(readFileSync(join(PACKAGE_ROOT, 'build', 'kernels.wasm')));
}

interface Loaded { c: GradCase; model: FrModel; ranks: number[]; input: Float32Array; target: Uint8Array }

async function loadCase(file: string): Promise<Loaded> {
  const c = readCase(file);
  const { loadModelFile } = await import('../src/node/load.js');
  const { model } = await loadModelFile(join(GRAD_DIR, c.model));
  const png = readPng(join(GRAD_DIR, c.input));
  const input = imageToTensor({ data: png.data, width: png.width, height: png.height, channels: 4 }, model.arch.inChannels);
  const tp = readPng(join(GRAD_DIR, c.target));
  const target = new Uint8Array(c.width * c.height);
  for (let p = 0; p < target.length; p++) target[p] = tp.data[4 * p];
  const tm = trainableFromCase(model, c);
  return { c, model: tm.model, ranks: tm.ranks, input, target };
}

async function lossAndGradients(engine: Engine, d: Loaded): Promise<{ terms: ReturnType<typeof localLoss>; result: GradientResult }> {
  const logits = await engine.run(d.input, d.c.width, d.c.height);
  const terms = localLoss(logits.data, d.c.classes, d.c.width * d.c.height, d.target);
  const result = await engine.gradients!(d.input, d.c.width, d.c.height, { dLogits: terms.dLogits });
  return { terms, result };
}

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
  const engine = createSpectralEngine(k, d.model, { ...options, train: { ranks: d.ranks } });
  const { terms, result } = await lossAndGradients(engine, d);
  await engine.dispose();
  t.ok(Math.abs(terms.loss - d.c.loss) <= TOL_LOSS_RELATIVE * d.c.loss, `loss ${terms.loss} against ${d.c.loss}`);
  compareGradients(t, result, d.c, TOL_GRAD_LAYER_RELATIVE);
  t.same(result.layers.map((l) => l.ranks), d.ranks, 'R entries per layer');
}

t.test('PyTorch gradients, oracle kernels: a (tiny-sparse, 61×45)', (t) => checkCase(t, 'a-tiny-sparse.json', { kernels: 'js' }));
t.test('PyTorch gradients, oracle kernels: b (tiny-3class, 64×64)', (t) => checkCase(t, 'b-tiny-3class.json', { kernels: 'js' }));
t.test('PyTorch gradients, WASM kernels: a (tiny-sparse, 61×45)', (t) => checkCase(t, 'a-tiny-sparse.json', {}));
t.test('PyTorch gradients, WASM kernels: b (tiny-3class, 64×64)', (t) => checkCase(t, 'b-tiny-3class.json', {}));
t.test('PyTorch gradients, WASM kernels: c (upstream, R = 64 on a model stored with 33, 96×64 crop)', (t) => checkCase(t, 'c-upstream-in0003-crop.json', {}));
t.test('PyTorch gradients, WASM kernels: d (upstream, R = 64, 240×160)', (t) => checkCase(t, 'd-upstream-in0000-240x160.json', {}));
