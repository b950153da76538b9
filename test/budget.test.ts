/**
 * Engine budgets and the engines' last line of defence (src/engines/budget.ts): dense weights
 * capped before expansion, activation memory estimated before a run and refused above the budget,
 * the estimates checked against what the engines really allocate, only FreqregError out of `run`,
 * and a WASM trap retiring the kernel instance so the next call runs on a fresh one.
 */
import t from 'tap';
import { FreqregError } from '../src/errors.js';
import { DEFAULT_LIMITS, EDGE_LIMITS } from '../src/formats/limits.js';
import { activationBytes, denseWeightCount, spectralTableBytes } from '../src/engines/budget.js';
import { createEngine, type EngineContext } from '../src/engines/index.js';
import type { EngineName } from '../src/engines/engine.js';
import { loadKernels } from '../src/node/kernels.js';
import { createNodeEngine } from '../src/node/engines.js';
import { runCalls, serialParallel } from '../src/wasm/parallel.js';
import { decodePng } from '../src/node/png.js';
import { decodePng as decodePngPortable } from '../src/image/png-fflate.js';
import { readCheckpoint } from '../src/loader.js';
import { syntheticModel } from './support/synthetic.js';
import { rng, upstreamDir } from './helpers.js';
import { loadModelFile } from '../src/node/load.js';
import { join } from 'node:path';

/** How far above the real allocation an estimate may be: headroom for alignment and host arrays. */
const TOL_ESTIMATE_RELATIVE = 0.25;
const TOL_ESTIMATE_ABSOLUTE = 256 * 1024;

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'OK';
  } catch (e) {
    if (e instanceof FreqregError) return e.code;
    return `escaped ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

function randomInput(c: number, w: number, h: number, seed = 1): Float32Array {
  const rand = rng(seed);
  return Float32Array.from({ length: c * w * h }, () => rand());
}

t.test('activation estimates bound what the dense and spectral engines allocate, within 25 %', async (t) => {
  const model = syntheticModel({ width: 4, inChannels: 3, classes: 2, nnzPerLayer: 20, seed: 2 });
  for (const [name, threads] of [['dense', 1], ['dense', 2], ['spectral', 1], ['spectral', 2]] as const) {
    for (const [w, h] of [[16, 16], [37, 29], [100, 64]]) {
      const context = await loadKernels(threads);
      const engine = await createEngine(name, model, context);
      const afterModel = context.kernels.arena.used;
      await engine.run(randomInput(3, w, h), w, h);
      const kernelBytes = context.kernels.arena.used - afterModel;
      const hostBytes = 2 * w * h * 4; // the logits returned
      const estimate = activationBytes(model, name, w, h, threads);
      const label = `${name} ${w}×${h} threads=${threads}`;
      t.ok(kernelBytes + hostBytes <= estimate, `${label}: allocated ${kernelBytes + hostBytes} ≤ estimate ${estimate}`);
      t.ok(estimate <= (kernelBytes + hostBytes) * (1 + TOL_ESTIMATE_RELATIVE) + TOL_ESTIMATE_ABSOLUTE, `${label}: estimate within ${TOL_ESTIMATE_RELATIVE * 100} %`);
      await engine.dispose();
    }
  }
});

t.test('the upstream model at 959×640: the spectral estimate bounds what the engine allocates, within 25 %', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const { model } = await loadModelFile(join(dir, 'unet_fr.tar.xz'));
  const context = await loadKernels(1);
  const engine = await createEngine('spectral', model, context);
  const afterModel = context.kernels.arena.used;
  await engine.run(randomInput(3, 959, 640), 959, 640);
  const allocated = context.kernels.arena.used - afterModel + 2 * 959 * 640 * 4; // kernel memory and the logits returned
  const estimate = activationBytes(model, 'spectral', 959, 640, 1);
  t.ok(allocated <= estimate, `allocated ${allocated} ≤ estimate ${estimate}`);
  t.ok(estimate <= allocated * (1 + TOL_ESTIMATE_RELATIVE), `estimate within ${TOL_ESTIMATE_RELATIVE * 100} % (outc's maps counted only where it runs spectrally)`);
  await engine.dispose();
});

t.test('over the activation budget: OUT_OF_MEMORY before a byte is allocated, then the engine still works', async (t) => {
  const model = syntheticModel({ width: 4, inChannels: 3, classes: 2, seed: 4 });
  for (const name of ['dense', 'spectral', 'reference'] as const) {
    const context = name === 'reference' ? undefined : await loadKernels(1);
    const budget = activationBytes(model, name, 64, 64);
    const engine = await createEngine(name, model, context, { limits: { maxActivationBytes: budget } });
    const used = context?.kernels.arena.used;
    const pages = context?.kernels.memory.buffer.byteLength;
    t.equal(await codeOf(engine.run(randomInput(3, 65, 64), 65, 64)), 'OUT_OF_MEMORY', `${name}: 65×64 over a 64×64 budget`);
    if (context) {
      t.equal(context.kernels.arena.used, used, `${name}: nothing allocated in the arena`);
      t.equal(context.kernels.memory.buffer.byteLength, pages, `${name}: memory did not grow`);
    }
    t.equal(await codeOf(engine.run(randomInput(3, 64, 64), 64, 64)), 'OK', `${name}: 64×64 at the budget runs`);
    await engine.dispose();
  }
});

t.test('dense weights are capped before expansion; the spectral engine is not limited by them', async (t) => {
  const wide = syntheticModel({ width: 64, inChannels: 3, classes: 2, nnzPerLayer: 8, seed: 5 });
  t.ok(denseWeightCount(wide) > EDGE_LIMITS.maxDenseWeights, `the upstream-sized UNet has ${denseWeightCount(wide)} dense weights`);
  const context = await loadKernels(1);
  const used = context.kernels.arena.used;
  t.equal(await codeOf(createEngine('dense', wide, context, { limits: EDGE_LIMITS })), 'MODEL_TOO_LARGE', 'dense under EDGE_LIMITS (16 M)');
  t.equal(context.kernels.arena.used, used, 'nothing expanded');
  t.equal(await codeOf(createEngine('reference', wide, undefined, { limits: { maxDenseWeights: 1000 } })), 'MODEL_TOO_LARGE', 'reference (it expands too)');
  const spectral = await createEngine('spectral', wide, context, { limits: EDGE_LIMITS });
  t.equal(await codeOf(spectral.run(randomInput(3, 32, 32), 32, 32)), 'OK', 'spectral under EDGE_LIMITS runs');
  await spectral.dispose();
});

t.test('a tiny checkpoint declaring a huge UNet: refused by every engine before allocating', async (t) => {
  // 2^20 channels at the first level, a few coefficients per layer: kilobytes on disk.
  const huge = syntheticModel({ width: 2 ** 20, inChannels: 3, classes: 2, nnzPerLayer: 2, seed: 6 });
  t.ok(denseWeightCount(huge) > 1e15, `${denseWeightCount(huge).toExponential(2)} dense weights`);
  t.ok(spectralTableBytes(huge) > DEFAULT_LIMITS.maxActivationBytes, `spectral tables ${(spectralTableBytes(huge) / 2 ** 30).toFixed(1)} GiB`);
  const context = await loadKernels(1);
  for (const name of ['dense', 'spectral', 'auto', 'reference'] as EngineName[]) {
    const t0 = performance.now();
    const code = await codeOf(createEngine(name, huge, name === 'reference' ? undefined : context));
    t.ok(code === 'MODEL_TOO_LARGE' || code === 'OUT_OF_MEMORY', `${name}: ${code} in ${(performance.now() - t0).toFixed(0)} ms`);
  }
});

t.test('run throws only FreqregError, whatever it is given', async (t) => {
  const model = syntheticModel({ width: 2, inChannels: 3, classes: 2, seed: 7 });
  const context = await loadKernels(1);
  for (const name of ['dense', 'spectral', 'reference'] as const) {
    const engine = await createEngine(name, model, name === 'reference' ? undefined : context);
    const bad: [string, () => Promise<unknown>, string][] = [
      ['undefined input', () => engine.run(undefined as unknown as Float32Array, 16, 16), 'INPUT_SHAPE'],
      ['Float64Array input', () => engine.run(new Float64Array(3 * 256) as unknown as Float32Array, 16, 16), 'INPUT_SHAPE'],
      ['short input', () => engine.run(new Float32Array(10), 16, 16), 'INPUT_SHAPE'],
      ['NaN width', () => engine.run(new Float32Array(10), NaN, 16), 'IMAGE_DIMENSIONS'],
      ['negative height', () => engine.run(new Float32Array(10), 16, -16), 'IMAGE_DIMENSIONS'],
      ['width 2^40', () => engine.run(new Float32Array(10), 2 ** 40, 16), 'INPUT_SHAPE'],
      ['15×16', () => engine.run(new Float32Array(3 * 240), 15, 16), 'INPUT_TOO_SMALL'],
    ];
    for (const [label, run, code] of bad) t.equal(await codeOf(run), code, `${name}: ${label}`);
    if (name !== 'reference') await engine.dispose();
  }
  t.equal(await codeOf(() => decodePng(undefined as unknown as Uint8Array)), 'NOT_PNG', 'decodePng(undefined)');
  t.equal(await codeOf(() => decodePngPortable(null as unknown as Uint8Array)), 'PNG_DATA', 'portable decodePng(null)');
  t.equal(await codeOf(() => readCheckpoint(undefined as unknown as Uint8Array)), 'UNKNOWN_FORMAT', 'readCheckpoint(undefined)');
});

t.test('a WASM trap: a real one is WASM_TRAP; the engine is retired; the Node engine continues on a fresh instance', async (t) => {
  const { kernels } = await loadKernels(1);
  const trap = await codeOf(() => runCalls(kernels.exports, [['maxpool2d_f32_2x2', 2 ** 31 - 64, 2 ** 31 - 4096, 64, 64, 0, 4]]));
  t.equal(trap, 'WASM_TRAP', 'an out-of-bounds kernel call');

  const model = syntheticModel({ width: 2, inChannels: 3, classes: 2, seed: 8 });
  const input = randomInput(3, 24, 20);
  const clean = await createNodeEngine('dense', model, 1);
  const expected = (await clean.run(input, 24, 20)).data;
  await clean.dispose();

  let made = 0;
  /** Kernels whose first instance traps on its first maxpool (as a corrupted instance would). */
  const sabotaged = async (threads: number): Promise<EngineContext> => {
    const context = await loadKernels(threads);
    if (made++ > 0) return context;
    const exports = { ...context.kernels.exports, maxpool2d_f32_2x2: () => { throw new WebAssembly.RuntimeError('unreachable'); } };
    return { kernels: { ...context.kernels, exports }, parallel: serialParallel(exports) };
  };

  // The core engine: retired after the trap.
  const core = await createEngine('dense', model, await sabotaged(1));
  t.equal(await codeOf(core.run(input, 24, 20)), 'WASM_TRAP', 'core engine: the trap');
  t.equal(await codeOf(core.run(input, 24, 20)), 'WASM_TRAP', 'core engine: retired, never runs on that instance again');

  // The Node engine: a fresh instance on the next call.
  made = 0;
  const node = await createNodeEngine('dense', model, 1, { loadKernels: sabotaged });
  t.equal(await codeOf(node.run(input, 24, 20)), 'WASM_TRAP', 'node engine: the trap');
  const after = await node.run(input, 24, 20);
  t.equal(made, 2, 'a second instance was made');
  t.same(after.data, expected, 'the next call on the fresh instance gives the clean logits');
  await node.dispose();
});
