/**
 * Memory budgets checked before an engine allocates, and the guard every engine returned by
 * createEngine runs behind.
 *
 * A checkpoint of a few kilobytes can declare a UNet of any width (sparse tensors store only their
 * non-zeros), and an image of a few kilobytes can declare millions of pixels; what they would cost
 * is known from the shapes alone. So before any weight or activation is allocated:
 *   - the dense and reference engines refuse a model whose dense weights exceed
 *     `maxDenseWeights` (MODEL_TOO_LARGE);
 *   - every engine estimates its working memory for the image size and the model and refuses
 *     above `maxActivationBytes` (OUT_OF_MEMORY); the spectral engine's per-model tables count
 *     against the same budget when the engine is built.
 * The estimates mirror the engines' own buffer plans (the dense engine's is dense-plan.ts itself,
 * spectral.ts `planSize`, reference.ts's tensors); they are upper bounds within a few percent, not guesses.
 *
 * The guard (`guardEngine`) then makes `run` throw only FreqregError, and retires an engine whose
 * kernel instance trapped: the allocator's state may be corrupt (docs/bad-inputs.md, "WASM"), so
 * later calls refuse with WASM_TRAP instead of running on it. src/node/engines.ts builds a fresh
 * instance instead.
 */
import { fail, FreqregError, toFreqregError } from '../errors.js';
import type { Limits } from '../formats/limits.js';
import { checkInputSize } from '../input.js';
import { denseSize, distinctPerAxis, UNET_DEPTH, type FrLayer, type FrModel } from '../model.js';
import { denseFloats, planDense } from './dense-plan.js';
import { layerFactors, outcForm } from './spectral-plan.js';
import { IMAGE_BAND_ROWS } from './spectral-size.js';
import type { Engine } from './engine.js';
import type { GradientResult, LossSpec } from './gradients.js';
import { checkGradientInput, checkLossSpec } from './reference-backward.js';

export type EngineLimits = Pick<Limits, 'maxDenseWeights' | 'maxActivationBytes'>;

/** The form an engine runs a model in: what its memory depends on. */
export type EngineForm = 'dense' | 'spectral' | 'reference';

const F32 = 4;
const F64 = 8;
/** The arena aligns each buffer to 16 bytes; enough slack for every buffer of a plan. */
const ALIGN_SLACK = 16 * 32;

/** Dense weight elements over every layer: what the dense and reference engines expand to. */
export function denseWeightCount(model: FrModel): number {
  return model.layers.reduce((n, layer) => n + denseSize(layer.shape), 0);
}

/** Refuses, before any expansion, a model whose dense weights exceed the cap. */
export function checkDenseWeights(model: FrModel, limits: EngineLimits): void {
  const n = denseWeightCount(model);
  if (n > limits.maxDenseWeights) {
    fail('model', 'MODEL_TOO_LARGE', `${n} dense weights; the cap is ${limits.maxDenseWeights} (the spectral engine never expands them)`);
  }
}

interface LevelSize { c: number; h: number; w: number }

function levels(model: FrModel, width: number, height: number): LevelSize[] {
  const out: LevelSize[] = [];
  for (let k = 0; k <= UNET_DEPTH; k++) out.push({ c: model.arch.width * 2 ** k, h: Math.floor(height / 2 ** k), w: Math.floor(width / 2 ** k) });
  return out;
}

/** Distinct (input, output) frequency counts of a layer, as the spectral engine's factors have them. */
function freqCounts(layer: FrLayer): { nIn: number; nOut: number } {
  const axes = distinctPerAxis(layer);
  return layer.kind === 'convTranspose' ? { nIn: axes[0].length, nOut: axes[1].length } : { nIn: axes[1].length, nOut: axes[0].length };
}

/**
 * Scratch floats of the Winograd 3×3 convolution for C input channels of width W: the twin of
 * conv2d_f32_3x3p1_f23_scratch in assembly/conv2d.ts (its tiles, bands and channel chunks). If
 * the kernel changes, test/budget.test.ts (estimate ≥ what the engine allocates) says so.
 */
function winogradScratchFloats(C: number, W: number): number {
  const TILES = 8, BAND_TILES = 128, CHUNK = 16384; // F23_TILES, F23_BAND_TILES, F23_CHUNK
  const T4 = (((W + 1) >> 1) + 3) & ~3;
  const S = Math.min(T4, BAND_TILES);
  const R = Math.floor((BAND_TILES + S - 1) / S);
  const Tn = (R * S + TILES - 1) & ~(TILES - 1);
  const Cb = Math.max(1, Math.min(C, Math.floor(CHUNK / Tn)));
  return 16 * Cb * Tn + 512;
}

/**
 * Bytes one `run` allocates for an image of width × height, kernel memory and host arrays
 * together (the caller's input and the model's weights excluded).
 */
export function activationBytes(model: FrModel, form: EngineForm, width: number, height: number, threads = 1): number {
  const L = levels(model, width, height);
  const { inChannels, classes } = model.arch;
  const px = (lv: LevelSize, c = lv.c) => c * lv.h * lv.w;
  const logits = classes * width * height * F32; // the Logits returned
  if (form === 'dense') {
    // dense-plan.ts: the region (two full-resolution activations, about), the band buffers, and per
    // thread the Winograd / transposed-conv scratch; the Logits returned.
    const plan = planDense(model.arch, width, height, threads, winogradScratchFloats);
    return denseFloats(plan) * F32 + logits + ALIGN_SLACK;
  }
  if (form === 'reference') {
    // float64 tensors: the input, the skips kept for the up path, and at the widest step a
    // concatenation, a conv output and its normalized copy; plus one layer's dense weight and the
    // inverse DCT's temporaries (reference.ts denseWeights), at most four tensors of its size.
    let values = inChannels * width * height + classes * width * height;
    for (let k = 0; k < UNET_DEPTH; k++) values += px(L[k]);
    let step = 0;
    for (let k = 0; k <= UNET_DEPTH; k++) step = Math.max(step, 4 * px(L[k]) + px(L[Math.min(k + 1, UNET_DEPTH)]));
    const widest = Math.max(...model.layers.map((l) => denseSize(l.shape)));
    return (values + step + 4 * widest) * F64 + logits;
  }
  // spectral.ts planSize: per level P, Q and (above the bottom) S maps with a one-pixel border.
  const down = [model.inc, ...model.down];
  const ups = Array.from({ length: UNET_DEPTH }, (_, l) => model.up[UNET_DEPTH - 1 - l]);
  // outc has maps of its own only where the engine runs it spectrally (spectral-plan.ts outcForm).
  const spectralOutc = outcForm(layerFactors(model.outc)) === 'spectral';
  let floats = 0, naMax = 1;
  for (let l = 0; l <= UNET_DEPTH; l++) {
    const mapSize = (L[l].h + 2) * (L[l].w + 2);
    const convs = [down[l].conv1, down[l].conv2, ...(l < UNET_DEPTH ? [ups[l].conv.conv1, ups[l].conv.conv2] : []), ...(l === 0 && spectralOutc ? [model.outc] : [])];
    const counts = convs.map(freqCounts);
    // P holds every conv's input but the up stage's first (which reads S), and level 0's logits.
    let nP = Math.max(0, ...counts.filter((_, i) => i !== 2).map((c) => c.nIn));
    if (l > 0) nP = Math.max(nP, freqCounts(ups[l - 1].up).nIn);
    const nQ = Math.max(0, ...counts.map((c) => c.nOut));
    for (const c of counts) naMax = Math.max(naMax, c.nOut);
    if (l === 0) nP = Math.max(nP, classes);
    const nS = l < UNET_DEPTH ? counts[2].nIn : 0;
    floats += mapSize * (Math.max(nP, 1) + Math.max(nQ, 1) + (l < UNET_DEPTH ? Math.max(nS, 1) : 0));
  }
  const stats = threads * naMax * F64 + threads * naMax * naMax * F64 + naMax * F32 + naMax * naMax * F64;
  const imageBand = inChannels * Math.min(IMAGE_BAND_ROWS, height) * width;
  // spectral-size.ts fuseScratchFloats: 16 floats per channel of the widest conv, per thread.
  const channelsMax = Math.max(1, ...model.layers.filter((l) => l.kind === 'conv').map((l) => l.shape[0]));
  const fuseScratch = threads * 16 * channelsMax;
  return (floats + imageBand + fuseScratch) * F32 + stats + logits + ALIGN_SLACK;
}

/**
 * Bytes the spectral engine's per-model tables take (kernel memory and the host's float64
 * matrices built with them): per layer its expansion and projection matrices, channels ×
 * frequencies, and per up stage the scatter's pair matrices.
 */
export function spectralTableBytes(model: FrModel): number {
  let bytes = 0;
  for (const layer of model.layers) {
    const [n0, n1, k] = layer.shape;
    const { nIn, nOut } = freqCounts(layer);
    const cin = layer.kind === 'convTranspose' ? n0 : n1, cout = layer.kind === 'convTranspose' ? n1 : n0;
    // E (cout, na) f64 and F f32; input projections G: up to 2·cin channels × nb, f64 built then f32 stored.
    bytes += cout * nOut * (F64 + F32) + 2 * cin * (nIn + 4) * (F64 + F32) + nIn * nOut * (k * k + 2) * (F32 + F64);
  }
  for (const stage of model.up) {
    const t = freqCounts(stage.up), next = freqCounts(stage.conv.conv1);
    const c = stage.up.shape[1];
    bytes += (c * next.nIn + c * t.nOut + next.nIn * t.nOut + 4 * t.nIn * next.nIn) * F64;
  }
  return bytes;
}

/** Refuses, before allocating, an image whose working memory for this model exceeds the budget. */
export function checkActivations(model: FrModel, form: EngineForm, width: number, height: number, limits: EngineLimits, threads = 1): void {
  const bytes = activationBytes(model, form, width, height, threads);
  if (bytes > limits.maxActivationBytes) {
    fail('engine', 'OUT_OF_MEMORY', `a ${width}×${height} image needs about ${mib(bytes)} MiB of ${form} working memory for this model; the budget is ${mib(limits.maxActivationBytes)} MiB`);
  }
}

/**
 * Bytes the float64 reference backward (reference-backward.ts) holds for one image: the forward
 * tape — per double conv its input, x̂ and the ReLU output of both convs, and at each up stage the
 * upsampled maps and the skip (at most 13 maps of the level's channel count per level) — the
 * gradients flowing back (three maps of that size at a time), and one layer's dense weight, ∂L/∂W
 * and the DCT's temporaries (six tensors of the widest layer's size).
 */
export function referenceGradientBytes(model: FrModel, width: number, height: number): number {
  let values = 0;
  for (const lv of levels(model, width, height)) values += 16 * lv.c * lv.h * lv.w;
  const widest = Math.max(...model.layers.map((l) => denseSize(l.shape)));
  return (values + 6 * widest) * F64 + activationBytes(model, 'reference', width, height);
}

/** Refuses, before allocating, an image whose reference backward exceeds the budget. */
export function checkReferenceGradients(model: FrModel, width: number, height: number, limits: EngineLimits): void {
  const bytes = referenceGradientBytes(model, width, height);
  if (bytes > limits.maxActivationBytes) {
    fail('engine', 'OUT_OF_MEMORY', `a ${width}×${height} image needs about ${mib(bytes)} MiB for the reference backward of this model; the budget is ${mib(limits.maxActivationBytes)} MiB`);
  }
}

/** Refuses a spectral engine whose per-model tables alone exceed the budget. */
export function checkSpectralTables(model: FrModel, limits: EngineLimits): void {
  const bytes = spectralTableBytes(model);
  if (bytes > limits.maxActivationBytes) {
    fail('engine', 'OUT_OF_MEMORY', `the spectral tables of this model need about ${mib(bytes)} MiB; the budget is ${mib(limits.maxActivationBytes)} MiB`);
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/**
 * The size and working-memory checks `run` makes, for a caller that knows the image's size before
 * decoding it (from a PNG header): a refused image then costs its header, not its pixels.
 */
export function checkImageBudget(engine: Engine, model: FrModel, width: number, height: number, limits: EngineLimits): void {
  checkInputSize(width, height);
  checkActivations(model, formOf(engine), width, height, limits, engine.threads);
}

function formOf(engine: Engine): EngineForm {
  return engine.form === 'dense' || engine.form === 'reference' ? engine.form : 'spectral';
}

/**
 * Wraps an engine so that `run` checks its arguments and the activation budget first and throws
 * only FreqregError, and so that after a WASM trap the engine is retired (disposed; every later
 * `run` is WASM_TRAP) rather than run on a kernel instance whose state may be corrupt.
 */
export function guardEngine(inner: Engine, model: FrModel, limits: EngineLimits): Engine {
  let retired: FreqregError | undefined;
  const engine: Engine = {
    get name() { return inner.name; },
    get form() { return inner.form; },
    get threads() { return inner.threads; },
    async run(input, width, height, into) {
      if (retired) throw new FreqregError('wasm', 'WASM_TRAP', `this engine was retired after a kernel trap (${retired.message}); create a new one`);
      checkInputSize(width, height);
      if (!(input instanceof Float32Array)) fail('engine', 'INPUT_SHAPE', 'input must be a Float32Array (C, H, W)');
      const expected = model.arch.inChannels * width * height;
      if (input.length !== expected) fail('engine', 'INPUT_SHAPE', `input has ${input.length} values, expected ${model.arch.inChannels}×${height}×${width} = ${expected}`);
      if (into !== undefined) {
        const classes = model.arch.classes * width * height;
        if (!(into instanceof Float32Array) || into.length !== classes) {
          fail('engine', 'INPUT_SHAPE', `the logits array (into) must be a Float32Array of ${model.arch.classes}×${height}×${width} = ${classes} values`);
        }
      }
      checkActivations(model, formOf(inner), width, height, limits, inner.threads);
      try {
        return await inner.run(input, width, height, into);
      } catch (e) {
        const error = toFreqregError(e, 'engine');
        if (error.code === 'WASM_TRAP') {
          retired = error;
          await inner.dispose().catch(() => undefined);
        }
        throw error;
      }
    },
    ...(inner.gradients && {
      async gradients(input: Float32Array, width: number, height: number, loss: LossSpec): Promise<GradientResult> {
        if (retired) throw new FreqregError('wasm', 'WASM_TRAP', `this engine was retired after a kernel trap (${retired.message}); create a new one`);
        checkInputSize(width, height);
        if (!(input instanceof Float32Array)) fail('engine', 'INPUT_SHAPE', 'input must be a Float32Array (C, H, W)');
        checkGradientInput(model, input, width, height);
        checkLossSpec(model, loss, width, height);
        if (formOf(inner) === 'reference') checkReferenceGradients(model, width, height, limits);
        else checkActivations(model, formOf(inner), width, height, limits, inner.threads);
        try {
          return await inner.gradients!(input, width, height, loss);
        } catch (e) {
          const error = toFreqregError(e, 'engine');
          if (error.code === 'WASM_TRAP') {
            retired = error;
            await inner.dispose().catch(() => undefined);
          }
          throw error;
        }
      },
    }),
    ...(inner.setCoefficients && {
      setCoefficients(values: readonly Float64Array[]): void {
        if (retired) throw new FreqregError('wasm', 'WASM_TRAP', `this engine was retired after a kernel trap (${retired.message}); create a new one`);
        try {
          inner.setCoefficients!(values);
        } catch (e) {
          throw toFreqregError(e, 'engine');
        }
      },
    }),
    async dispose() {
      if (retired) return;
      try {
        await inner.dispose();
      } catch (e) {
        throw toFreqregError(e, 'engine');
      }
    },
  };
  return engine;
}
