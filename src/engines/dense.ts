/**
 * The dense engine: expands every FR weight to dense float32 weights once (inverse DCT kernel;
 * 3×3 weights then go to the Winograd F(2×2,3×3) domain), then runs the UNet on the conv / norm /
 * pool / concat kernels, splitting each layer's output channels across threads.
 *
 * Activation memory (per image size, planned once): for level k (k = 0 … 3, size Hk × Wk,
 * Ck = width·2^k channels) a concat buffer (2·Ck, Hk, Wk) whose first half holds the skip s_k as it
 * is produced, so the concatenation only writes the upsampled half; s4 (C4, H4, W4); one scratch
 * for conv1 outputs and one for the up path's conv2 outputs (C0, H0, W0) each; the pooled input
 * and the transposed conv's output; the logits.
 */
import { FreqregError } from '../errors.js';
import type { DoubleConv, FrLayer, FrModel } from '../model.js';
import { UNET_DEPTH, denseSize } from '../model.js';
import { checkInputSize } from '../input.js';
import type { KernelInstance } from '../wasm/instance.js';
import {
  CONVT_SCRATCH_FLOATS, IDCT_SCRATCH_FLOATS, conv1x1Call, conv3x3WinogradCall, convTranspose2x2Call, idct4dCall, idctTables,
  maxpoolCall, normReluCall, padConcatCall, scatterCoefficients, winogradWeightsCall, type Range,
} from '../wasm/kernels.js';
import { splitRange, type KernelCall, type Parallel } from '../wasm/parallel.js';
import type { Engine, Logits } from './engine.js';

interface Level {
  h: number;
  w: number;
  /** Channels of this level's activations. */
  c: number;
}

interface Plan {
  width: number;
  height: number;
  levels: Level[];
  input: number;
  /** cat[k] (2·Ck, Hk, Wk), k < UNET_DEPTH; its first half is the skip s_k. */
  cat: number[];
  bottom: number;
  scratchA: number;
  scratchB: number;
  pooled: number;
  upsampled: number;
  logits: number;
  /** Per thread: scratch for the Winograd and transposed convolutions. */
  scratch: number[];
}

export function createDenseEngine(kernels: KernelInstance, model: FrModel, parallel: Parallel): Engine {
  const { exports: ex, arena, memory } = kernels;
  const threads = parallel.threads;
  const modelMark = arena.mark();
  const weights = expandAll(model);
  const afterWeights = arena.mark();
  let plan: Plan | undefined;

  /** Runs one call per thread over a split of [0, n). */
  const split = (n: number, make: (r: Range, thread: number) => KernelCall) =>
    parallel.run(splitRange(n, Math.min(threads, n)).filter(([a, b]) => b > a).map((r, t) => [make(r, t)]));

  const conv = (out: number, inp: number, layer: FrLayer, cin: number, h: number, w: number) => {
    const cout = layer.shape[0];
    const wp = weights.get(layer)!;
    const scratch = plan!.scratch;
    split(cout, (r, t) => (isWinograd(layer)
      ? conv3x3WinogradCall(out, inp, wp, cin, h, w, cout, r, scratch[t])
      : conv1x1Call(out, inp, wp, cin, h, w, r)));
    addBias(out, layer, h * w);
  };
  const normRelu = (x: number, c: number, h: number, w: number) => split(c, (r) => normReluCall(x, x, h, w, r));
  const doubleConv = (out: number, inp: number, dc: DoubleConv, cin: number, lv: Level, scratch: number) => {
    conv(scratch, inp, dc.conv1, cin, lv.h, lv.w);
    normRelu(scratch, lv.c, lv.h, lv.w);
    conv(out, scratch, dc.conv2, lv.c, lv.h, lv.w);
    normRelu(out, lv.c, lv.h, lv.w);
  };
  const addBias = (out: number, layer: FrLayer, pixels: number) => {
    if (!layer.bias) return;
    const cout = layer.kind === 'conv' ? layer.shape[0] : layer.shape[1];
    const v = arena.f32(out, cout * pixels);
    for (let o = 0; o < cout; o++) for (let p = 0; p < pixels; p++) v[o * pixels + p] += layer.bias[o];
  };

  return {
    name: 'dense',
    form: 'dense',
    threads,
    async run(input, width, height): Promise<Logits> {
      checkInputSize(width, height);
      const { inChannels, classes } = model.arch;
      if (input.length !== inChannels * width * height) {
        throw new FreqregError('engine', 'INPUT_SHAPE', `input has ${input.length} values, expected ${inChannels}×${height}×${width}`);
      }
      if (!plan || plan.width !== width || plan.height !== height) {
        arena.release(afterWeights);
        plan = undefined; // a plan that fails half-way (OUT_OF_MEMORY) must not leave the old one in use
        plan = planBuffers(kernels, model, width, height, threads);
      }
      const p = plan;
      const L = p.levels;
      arena.f32(p.input, input.length).set(input);

      doubleConv(p.cat[0], p.input, model.inc, inChannels, L[0], p.scratchA);
      for (let k = 1; k <= UNET_DEPTH; k++) {
        const prev = L[k - 1];
        split(prev.c, (r) => maxpoolCall(p.pooled, p.cat[k - 1], prev.h, prev.w, r));
        const out = k < UNET_DEPTH ? p.cat[k] : p.bottom;
        doubleConv(out, p.pooled, model.down[k - 1], prev.c, L[k], p.scratchA);
      }
      let x = p.bottom;
      for (let k = 1; k <= UNET_DEPTH; k++) {
        const lv = L[UNET_DEPTH - k], below = L[UNET_DEPTH - k + 1];
        const stage = model.up[k - 1];
        split(lv.c, (r, t) => convTranspose2x2Call(p.upsampled, x, weights.get(stage.up)!, below.c, lv.c, below.h, below.w, r, p.scratch[t]));
        addBias(p.upsampled, stage.up, 4 * below.h * below.w);
        const cat = p.cat[UNET_DEPTH - k];
        split(lv.c, (r) => padConcatCall(cat, p.upsampled, 2 * below.h, 2 * below.w, lv.h, lv.w, lv.c, r));
        doubleConv(p.scratchB, cat, stage.conv, 2 * lv.c, lv, p.scratchA);
        x = p.scratchB;
      }
      conv(p.logits, x, model.outc, L[0].c, height, width);
      const data = arena.f32(p.logits, classes * width * height).slice();
      return { classes, height, width, data };
    },
    async dispose() {
      arena.release(modelMark);
      await parallel.dispose();
    },
  };

  /**
   * Dense weights for every layer, expanded one at a time through a scratch buffer: 3×3 layers are
   * kept only in the Winograd domain u (16, K, C); the others as dense (PyTorch layout) weights.
   */
  function expandAll(m: FrModel): Map<FrLayer, number> {
    const lengths = new Set<number>();
    let maxAxis = 1, maxDense = 0;
    for (const layer of m.layers) {
      for (const n of layer.shape) { lengths.add(n); maxAxis = Math.max(maxAxis, n); }
      maxDense = Math.max(maxDense, denseSize(layer.shape));
    }
    const tables = idctTables(ex, arena, lengths);
    const out = new Map<FrLayer, number>();
    for (const layer of m.layers) {
      const [k0, k1, kh] = layer.shape;
      out.set(layer, arena.allocF32(isWinograd(layer) ? WINOGRAD_TILE * k0 * k1 : denseSize(layer.shape)));
      if (kh !== 3 && kh !== 1 && layer.kind === 'conv') throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `${layer.name}: ${kh}×${kh} kernels are not supported`);
    }
    const mark = arena.mark();
    const dense = arena.allocF32(maxDense);
    const scratch = arena.allocF32(IDCT_SCRATCH_FLOATS(maxAxis));
    for (const layer of m.layers) {
      const target = isWinograd(layer) ? dense : out.get(layer)!;
      const corner = scatterCoefficients(memory, target, layer.shape, layer.indices, layer.values);
      const calls: KernelCall[] = [idct4dCall(target, layer.shape, corner, tables, scratch)];
      if (isWinograd(layer)) calls.push(winogradWeightsCall(out.get(layer)!, dense, layer.shape[0], layer.shape[1]));
      parallel.run([calls]);
    }
    arena.release(mark);
    return out;
  }
}

/** Floats per (output, input) channel pair of Winograd F(2×2,3×3) weights (a 4×4 tile). */
const WINOGRAD_TILE = 16;

/** 3×3 convolutions run as Winograd F(2×2,3×3). */
function isWinograd(layer: FrLayer): boolean {
  return layer.kind === 'conv' && layer.shape[2] === 3;
}

function planBuffers(kernels: KernelInstance, model: FrModel, width: number, height: number, threads: number): Plan {
  const { arena, exports: ex } = kernels;
  const { width: base, inChannels, classes } = model.arch;
  const levels: Level[] = [];
  for (let k = 0, h = height, w = width; k <= UNET_DEPTH; k++, h >>= 1, w >>= 1) levels.push({ h, w, c: base << k });
  const size = (lv: Level, c = lv.c) => c * lv.h * lv.w;
  const top = levels[0];
  let maxUpsampled = 0;
  let maxScratch = 0;
  for (let k = 0; k < UNET_DEPTH; k++) {
    const below = levels[k + 1];
    maxUpsampled = Math.max(maxUpsampled, levels[k].c * 4 * below.h * below.w);
    maxScratch = Math.max(maxScratch, CONVT_SCRATCH_FLOATS(below.c, below.w));
  }
  for (const [k, lv] of levels.entries()) {
    // conv1 of each level reads the level's input (Cin at level 0, the concat 2·C on the way up)
    const cin = k === 0 ? Math.max(inChannels, 2 * lv.c) : 2 * lv.c;
    maxScratch = Math.max(maxScratch, ex.conv2d_f32_3x3p1_f23_scratch(cin, lv.w));
  }
  return {
    width,
    height,
    levels,
    input: arena.allocF32(inChannels * width * height),
    cat: levels.slice(0, UNET_DEPTH).map((lv) => arena.allocF32(size(lv, 2 * lv.c))),
    bottom: arena.allocF32(size(levels[UNET_DEPTH])),
    scratchA: arena.allocF32(size(top)),
    scratchB: arena.allocF32(size(top)),
    pooled: arena.allocF32(size(levels[0], levels[0].c) / 4 + 16),
    upsampled: arena.allocF32(maxUpsampled),
    logits: arena.allocF32(classes * width * height),
    scratch: Array.from({ length: threads }, () => arena.allocF32(maxScratch)),
  };
}
