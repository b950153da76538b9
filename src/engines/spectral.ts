/**
 * The spectral engine: every FR layer runs in the frequency domain (spectral-plan.ts) and no
 * dense weight or full-channel activation is ever stored. Its parts, each in one place:
 *   - spectral-tables.ts   per-model tables (conv stages, consumer projections, scatters);
 *   - spectral-size.ts     per-size buffers (planned once per image size);
 *   - spectral-forward.ts  the forward schedule;
 *   - spectral-backward.ts the backward schedule (engines built for training);
 *   - spectral-exec.ts     running kernels by rows over the thread pool.
 * This file holds the engine's state and its public calls.
 */
import { fail, FreqregError } from '../errors.js';
import type { FrLayer, FrModel } from '../model.js';
import type { KernelInstance } from '../wasm/instance.js';
import type { Parallel } from '../wasm/parallel.js';
import type { Engine, Logits } from './engine.js';
import type { GradientResult, LayerGradient, LossSpec, LossTerms } from './gradients.js';
import { firstNonFinite } from './loss.js';
import { checkGradientInput, checkLossSpec } from './reference-backward.js';
import { backward, coefficientGradients, stageOf } from './spectral-backward.js';
import { createExec } from './spectral-exec.js';
import { forward, projectImage } from './spectral-forward.js';
import { lossOnMaps } from './spectral-loss.js';
import { createOracleKernels, type SpectralKernels } from './spectral-oracle.js';
import { interior, planSize, type SizePlan } from './spectral-size.js';
import { buildSpectralTables, setStageCoefficients } from './spectral-tables.js';

export interface SpectralEngineOptions {
  /** Threads sharing the kernel memory (default: the calling thread only). */
  parallel?: Parallel;
  /** Reported engine name ('auto' runs spectrally too, for now). */
  name?: 'spectral' | 'auto';
  /** 'wasm' (default) or 'js': the TypeScript oracle kernels over the same memory (slow). */
  kernels?: 'wasm' | 'js';
  /** outc's consumer projection: with the dense (classes × width) weight or spectrally (default: cheaper). */
  outc?: 'auto' | 'dense' | 'spectral';
  /**
   * Built for training: `ranks[l]` leading listed positions of model.layers[l] are trainable (the
   * model lists them first, zeros included: src/engines/trainable.ts). Adds `gradients` and
   * `setCoefficients`.
   */
  train?: { ranks: readonly number[] };
}

/** Copies `planes` planes of width × height between layouts with other map and row strides (elements). */
function copyPlanes(
  dst: Float32Array, dstMap: number, dstRow: number, src: ArrayLike<number>, srcMap: number, srcRow: number,
  planes: number, width: number, height: number,
): void {
  for (let c = 0; c < planes; c++)
    for (let y = 0; y < height; y++) {
      const s = c * srcMap + y * srcRow, d = c * dstMap + y * dstRow;
      if (src instanceof Float32Array) dst.set(src.subarray(s, s + width), d);
      else for (let x = 0; x < width; x++) dst[d + x] = src[s + x];
    }
}

export function createSpectralEngine(kernels: KernelInstance, model: FrModel, options: SpectralEngineOptions = {}): Engine {
  const { arena, memory } = kernels;
  const parallel = options.parallel;
  const useJs = options.kernels === 'js';
  const k: SpectralKernels = useJs ? createOracleKernels(memory) : (kernels.exports as unknown as SpectralKernels);
  if (!useJs && (typeof k.spectral_fuse_f32 !== 'function' || (options.train && typeof k.spectral_backfuse_f32 !== 'function'))) {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'the kernel module has no spectral kernels; rebuild it (npm run asbuild:release)');
  }
  const train = options.train;
  if (train && train.ranks.length !== model.layers.length) {
    fail('engine', 'RANKS_INVALID', `expected a trainable count for each of the ${model.layers.length} layers, got ${train.ranks.length}`);
  }
  // The engine owns everything it allocates above this mark (model tables, then per-size buffers);
  // nothing else may allocate from this arena while the engine lives.
  const startMark = arena.mark();
  const tables = buildSpectralTables(arena, memory, model, { outc: options.outc, train: !!train });
  const modelMark = arena.mark();
  const ex = createExec(arena, memory, k, parallel, useJs);
  const { classes, inChannels: cinImage } = model.arch;
  /** Training: the current value of every listed position, per layer. */
  const values = new Map<FrLayer, Float64Array>(model.layers.map((layer) => [layer, Float64Array.from(layer.values)]));

  let size: SizePlan | undefined;
  let disposed = false;
  /** The image in, the forward pass; the logits (outc's bias included) stay in sp.logits. */
  const forwardInPlace = (input: Float32Array, W: number, H: number): SizePlan => {
    if (disposed) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'the spectral engine was disposed');
    if (input.length !== cinImage * W * H) {
      throw new FreqregError('engine', 'INPUT_SHAPE', `expected ${cinImage}×${H}×${W} = ${cinImage * W * H} values, got ${input.length}`);
    }
    if (!size || size.width !== W || size.height !== H) {
      size = undefined; // the old buffers are released first; a failed plan must not leave them in use
      arena.release(modelMark);
      size = planSize(arena, memory, tables, W, H, ex.shares);
    }
    projectImage(ex, tables, size, input);
    forward(ex, tables, size);
    return size;
  };

  /** The forward pass, the logits out (with outc's bias) into `into` or a new array. */
  const runForward = (input: Float32Array, W: number, H: number, into?: Float32Array): Float32Array => {
    const sp = forwardInPlace(input, W, H);
    const L0 = sp.levels[0];
    const data = into ?? new Float32Array(classes * W * H);
    copyPlanes(data, W * H, W, arena.f32(interior(L0, sp.logits), classes * L0.mapSize), L0.mapSize, L0.stride, classes, W, H);
    return data;
  };

  const engine: Engine = {
    name: options.name ?? 'spectral',
    form: 'spectral',
    threads: ex.shares,
    async run(input: Float32Array, W: number, H: number, into?: Float32Array): Promise<Logits> {
      return { classes, height: H, width: W, data: runForward(input, W, H, into) };
    },
    async dispose() {
      disposed = true;
      arena.release(startMark);
      await parallel?.dispose();
    },
  };
  if (!train) return engine;

  engine.gradients = async (input: Float32Array, W: number, H: number, loss: LossSpec): Promise<GradientResult> => {
    const n = W * H;
    checkGradientInput(model, input, W, H);
    checkLossSpec(model, loss, W, H);
    let terms: LossTerms;
    /** Σ_p ∂L/∂logit_c: outc's bias gradient. */
    let classSums: Float64Array;
    let sp: SizePlan;
    if ('target' in loss) {
      // The loss on the logit maps: the logits never leave kernel memory (spectral-loss.ts).
      sp = forwardInPlace(input, W, H);
      const r = lossOnMaps(ex, tables, sp, loss.target);
      terms = { loss: r.loss, ce: r.ce, diceLoss: r.diceLoss };
      classSums = r.classSums;
    } else {
      const logits = runForward(input, W, H);
      sp = size!;
      const bad = firstNonFinite(logits);
      if (bad >= 0) fail('engine', 'NOT_FINITE', `logit ${bad} is ${logits[bad]}`);
      terms = { loss: NaN, ce: NaN, diceLoss: NaN };
      const L0 = sp.levels[0];
      copyPlanes(arena.f32(interior(L0, sp.dLogits), classes * L0.mapSize), L0.mapSize, L0.stride, loss.dLogits, n, W, classes, W, H);
      classSums = new Float64Array(classes);
      for (let c = 0; c < classes; c++) for (let p = 0; p < n; p++) classSums[c] += loss.dLogits[c * n + p];
    }
    const taps = backward(ex, tables, sp, input);
    const layers: LayerGradient[] = model.layers.map((layer, l) => {
      const ranks = train.ranks[l];
      const grads = coefficientGradients(tables, layer, taps, ranks);
      let biasGrads: Float64Array | undefined;
      if (layer.bias) biasGrads = biasGradient(layer);
      for (let r = 0; r < ranks; r++) if (!Number.isFinite(grads[r])) fail('engine', 'NOT_FINITE', `∂L/∂C[${r}] is ${grads[r]}`, { tensor: layer.name });
      return {
        name: layer.name, kind: layer.kind, shape: [...layer.shape], ranks,
        positions: layer.indices.slice(0, 4 * ranks), values: values.get(layer)!.slice(0, ranks), grads, biasGrads,
      };
    });
    return { ...terms, layers };

    /** ∂L/∂bias: outc's is Σ_p ∂L/∂logit_c; a transposed conv's comes from its scatter; a normed conv's is 0. */
    function biasGradient(layer: FrLayer): Float64Array {
      const cout = layer.kind === 'conv' ? layer.shape[0] : layer.shape[1];
      const out = new Float64Array(cout);
      if (layer === model.outc) out.set(classSums);
      else if (layer.kind === 'convTranspose') {
        const sc = stageOf(tables, layer).scatter!;
        const sums = taps.scatterBias.get(sc)!;
        const nb = sums.length;
        for (let j = 0; j < cout; j++) for (let b = 0; b < nb; b++) out[j] += sc.hi[j * nb + b] * sums[b];
      }
      return out;
    }
  };

  engine.setCoefficients = (next: readonly Float64Array[]): void => {
    if (disposed) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'the spectral engine was disposed');
    if (!Array.isArray(next) || next.length !== model.layers.length) {
      fail('engine', 'TRAINABLE_VALUES', `expected values for ${model.layers.length} layers, got ${Array.isArray(next) ? next.length : typeof next}`);
    }
    model.layers.forEach((layer, l) => {
      const v = next[l];
      if (!v || typeof v.length !== 'number' || v.length !== train.ranks[l]) {
        fail('engine', 'TRAINABLE_VALUES', `expected ${train.ranks[l]} values, got ${v?.length}`, { tensor: layer.name });
      }
      for (let r = 0; r < v.length; r++) if (!Number.isFinite(v[r])) fail('engine', 'NOT_FINITE', `value ${r} is ${v[r]}`, { tensor: layer.name });
    });
    model.layers.forEach((layer, l) => values.get(layer)!.set(next[l]));
    setStageCoefficients(tables, arena, values);
  };
  return engine;
}
