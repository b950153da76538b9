/**
 * The dense engine: expands every FR weight to dense float32 weights once (inverse DCT kernel),
 * then runs the UNet on the conv / norm / pool / concat kernels, splitting each layer's output
 * channels across threads.
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
  IDCT_SCRATCH_FLOATS, conv1x1Call, conv3x3Call, convTranspose2x2Call, idct4dCall, idctTables,
  maxpoolCall, normReluCall, padConcatCall, scatterCoefficients, type Range,
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
}

export function createDenseEngine(kernels: KernelInstance, model: FrModel, parallel: Parallel): Engine {
  const { exports: ex, arena, memory } = kernels;
  const threads = parallel.threads;
  const modelMark = arena.mark();
  const weights = expandAll(kernels, model);
  const afterWeights = arena.mark();
  let plan: Plan | undefined;

  /** Runs one call per thread over a split of [0, n). */
  const split = (n: number, make: (r: Range) => KernelCall) =>
    parallel.run(splitRange(n, Math.min(threads, n)).filter(([a, b]) => b > a).map((r) => [make(r)]));

  const conv = (out: number, inp: number, layer: FrLayer, cin: number, h: number, w: number) => {
    const cout = layer.shape[0];
    const wp = weights.get(layer)!;
    split(cout, (r) => (layer.shape[2] === 3 ? conv3x3Call : conv1x1Call)(out, inp, wp, cin, h, w, r));
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
        plan = planBuffers(kernels, model, width, height);
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
        split(lv.c, (r) => convTranspose2x2Call(p.upsampled, x, weights.get(stage.up)!, below.c, lv.c, below.h, below.w, r));
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

  function expandAll(k: KernelInstance, m: FrModel): Map<FrLayer, number> {
    const lengths = new Set<number>();
    let maxAxis = 1;
    for (const layer of m.layers) for (const n of layer.shape) { lengths.add(n); maxAxis = Math.max(maxAxis, n); }
    const tables = idctTables(ex, arena, lengths);
    const out = new Map<FrLayer, number>();
    for (const layer of m.layers) out.set(layer, arena.allocF32(denseSize(layer.shape)));
    // One scratch per thread; layers dealt to threads largest first.
    const scratch = Array.from({ length: threads }, () => arena.allocF32(IDCT_SCRATCH_FLOATS(maxAxis)));
    const order = [...m.layers].sort((a, b) => denseSize(b.shape) - denseSize(a.shape));
    const load = new Array<number>(threads).fill(0);
    const shares: KernelCall[][] = Array.from({ length: threads }, () => []);
    for (const layer of order) {
      const t = load.indexOf(Math.min(...load));
      load[t] += denseSize(layer.shape);
      const w = out.get(layer)!;
      shares[t].push(idct4dCall(w, layer.shape, scatterCoefficients(memory, w, layer.shape, layer.indices, layer.values), tables, scratch[t]));
    }
    parallel.run(shares.filter((s) => s.length));
    return out;
  }

}

function planBuffers(kernels: KernelInstance, model: FrModel, width: number, height: number): Plan {
  const { arena } = kernels;
  const { width: base, inChannels, classes } = model.arch;
  const levels: Level[] = [];
  for (let k = 0, h = height, w = width; k <= UNET_DEPTH; k++, h >>= 1, w >>= 1) levels.push({ h, w, c: base << k });
  const size = (lv: Level, c = lv.c) => c * lv.h * lv.w;
  const top = levels[0];
  let maxUpsampled = 0;
  for (let k = 0; k < UNET_DEPTH; k++) maxUpsampled = Math.max(maxUpsampled, levels[k].c * 4 * levels[k + 1].h * levels[k + 1].w);
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
  };
}
