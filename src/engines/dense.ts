/**
 * The dense engine: expands every FR weight to dense float32 weights once (inverse DCT kernel;
 * 3×3 weights then go to the Winograd F(2×2,3×3) domain), then runs the UNet on the conv / norm /
 * pool / transposed-conv kernels, splitting each layer's output channels across threads.
 *
 * Activation memory is planned once per image size by ./dense-plan.ts: only the skip tensors live
 * across levels, every other tensor takes a slot freed by a dead one, and an up stage's first
 * convolution — whose input is the concatenation [skip, upsampled] — runs in row bands, forming the
 * upsampled rows of each band from the level below as it goes and writing its output over the skip.
 * So neither the concatenation nor the full upsampled tensor is ever formed, and the peak is about
 * two full-resolution activations (1.24 GiB in all at 1918×1280 for the upstream model).
 */
import { FreqregError } from '../errors.js';
import type { DoubleConv, FrLayer, FrModel, UpStage } from '../model.js';
import { UNET_DEPTH, denseSize } from '../model.js';
import { checkInputSize } from '../input.js';
import type { KernelInstance } from '../wasm/instance.js';
import {
  IDCT_SCRATCH_FLOATS, conv1x1Call, conv3x3WinogradCall, convTranspose2x2Call, idct4dCall, idctTables,
  maxpoolCall, normReluCall, scatterCoefficients, winogradWeightsCall, type Range,
} from '../wasm/kernels.js';
import { splitRange, type KernelCall, type Parallel } from '../wasm/parallel.js';
import type { Engine, Logits } from './engine.js';
import { BAND_INPUT_FLOATS, denseFloats, planDense, type DenseLevel, type DensePlan } from './dense-plan.js';

/** The plan with its offsets turned into byte pointers of the kernel memory. */
interface Buffers {
  plan: DensePlan;
  input: number;
  skip: number[];
  work: number[];
  pooled: number[];
  logits: number;
  bandInput: number;
  bandOutput: number;
  bandBelow: number;
  bandUp: number;
  carry: number;
  scratch: number[];
}

export interface DenseEngineOptions {
  /** Largest band input of an up stage's first convolution, in floats (default BAND_INPUT_FLOATS). */
  bandInputFloats?: number;
}

export function createDenseEngine(kernels: KernelInstance, model: FrModel, parallel: Parallel, options: DenseEngineOptions = {}): Engine {
  const { exports: ex, arena, memory } = kernels;
  const threads = parallel.threads;
  const modelMark = arena.mark();
  const weights = expandAll(model);
  const afterWeights = arena.mark();
  let buffers: Buffers | undefined;

  /** Runs one call per thread over a split of [0, n). */
  const split = (n: number, make: (r: Range, thread: number) => KernelCall) =>
    parallel.run(splitRange(n, Math.min(threads, n)).filter(([a, b]) => b > a).map((r, t) => [make(r, t)]));

  const conv = (out: number, inp: number, layer: FrLayer, cin: number, h: number, w: number) => {
    const cout = layer.shape[0];
    const wp = weights.get(layer)!;
    const scratch = buffers!.scratch;
    split(cout, (r, t) => (isWinograd(layer)
      ? conv3x3WinogradCall(out, inp, wp, cin, h, w, cout, r, scratch[t])
      : conv1x1Call(out, inp, wp, cin, h, w, r)));
    addBias(out, layer, h * w);
  };
  const normRelu = (x: number, c: number, h: number, w: number) => split(c, (r) => normReluCall(x, x, h, w, r));
  /** A down level's DoubleConv: conv1 into `mid`, conv2 from it into `out`. */
  const doubleConv = (out: number, inp: number, dc: DoubleConv, cin: number, lv: DenseLevel, mid: number) => {
    conv(mid, inp, dc.conv1, cin, lv.h, lv.w);
    normRelu(mid, lv.c, lv.h, lv.w);
    conv(out, mid, dc.conv2, lv.c, lv.h, lv.w);
    normRelu(out, lv.c, lv.h, lv.w);
  };
  const addBias = (out: number, layer: FrLayer, pixels: number) => {
    if (!layer.bias) return;
    const cout = layer.kind === 'conv' ? layer.shape[0] : layer.shape[1];
    const v = arena.f32(out, cout * pixels);
    for (let o = 0; o < cout; o++) for (let p = 0; p < pixels; p++) v[o * pixels + p] += layer.bias[o];
  };

  /**
   * An up stage's conv1 over cat[skip, F.pad(convT(x))] (2C, H, W) → (C, H, W), written over the skip.
   * Band by band of output rows [y0, y1): the band input holds rows [y0 − 1, y1 + 1) of both halves
   * (the zero padding of the convolution where they leave the image); the skip's row y0 − 1 comes
   * from `carry`, since the band before has overwritten it; the upsampled rows are made from the
   * rows of x they come from (a 2×2 stride-2 transposed conv: raw row r from row r >> 1), placed as
   * F.pad places them (diffY // 2 rows on top, diffX // 2 columns on the left, zeros around).
   */
  const upConv1 = (b: Buffers, k: number, stage: UpStage, x: number) => {
    const lv = b.plan.levels[k], below = b.plan.levels[k + 1];
    const { c: C, h: H, w: W } = lv;
    const h2 = 2 * below.h, w2 = 2 * below.w;
    const top = (H - h2) >> 1, left = (W - w2) >> 1;
    const rows = b.plan.bands.rows[k];
    const mem = new Float32Array(memory.buffer);
    const at = (ptr: number) => ptr >> 2; // byte pointer → float index
    const skip = at(b.skip[k]), bandIn = at(b.bandInput), bandOut = at(b.bandOutput), carry = at(b.carry);
    const wu = weights.get(stage.conv.conv1)!, wt = weights.get(stage.up)!;
    for (let y0 = 0; y0 < H; y0 += rows) {
      const y1 = Math.min(H, y0 + rows);
      const a = Math.max(0, y0 - 1), n = Math.min(H, y1 + 1) - a; // band input rows [a, a + n)
      // the skip's half: channels [0, C)
      for (let c = 0; c < C; c++) {
        const dst = bandIn + c * n * W, src = skip + c * H * W;
        if (y0 > 0) {
          mem.copyWithin(dst, carry + c * W, carry + (c + 1) * W);
          mem.copyWithin(dst + W, src + y0 * W, src + (a + n) * W);
        } else {
          mem.copyWithin(dst, src, src + n * W);
        }
      }
      // the upsampled half: channels [C, 2C); raw rows [r0, r1) of convT(x) fall in the band
      const r0 = Math.max(0, a - top), r1 = Math.min(h2, a + n - top);
      const up = bandIn + C * n * W;
      if (r1 <= r0) {
        mem.fill(0, up, up + C * n * W);
      } else {
        const i0 = r0 >> 1, ni = ((r1 + 1) >> 1) - i0; // rows of x
        const xb = at(b.bandBelow), tb = at(b.bandUp);
        for (let c = 0; c < below.c; c++) {
          const src = at(x) + c * below.h * below.w + i0 * below.w;
          mem.copyWithin(xb + c * ni * below.w, src, src + ni * below.w);
        }
        split(C, (r, t) => convTranspose2x2Call(b.bandUp, b.bandBelow, wt, below.c, C, ni, below.w, r, b.scratch[t]));
        addBias(b.bandUp, stage.up, 4 * ni * below.w);
        // band row j ↔ image row a + j ↔ raw row a + j − top ↔ row (a + j − top − 2·i0) of the band's convT
        const j0 = r0 + top - a, j1 = r1 + top - a;
        for (let c = 0; c < C; c++) {
          const dst = up + c * n * W, src = tb + c * 2 * ni * w2 + (r0 - 2 * i0) * w2;
          mem.fill(0, dst, dst + j0 * W);
          mem.fill(0, dst + j1 * W, dst + n * W);
          if (w2 === W) {
            mem.copyWithin(dst + j0 * W, src, src + (j1 - j0) * w2);
            continue;
          }
          for (let j = j0; j < j1; j++) {
            const row = dst + j * W, from = src + (j - j0) * w2;
            mem.fill(0, row, row + left);
            mem.copyWithin(row + left, from, from + w2);
            mem.fill(0, row + left + w2, row + W);
          }
        }
      }
      // the next band's top halo: the skip's row y1 − 1, which this band overwrites
      if (y1 < H) for (let c = 0; c < C; c++) mem.copyWithin(carry + c * W, bandIn + c * n * W + (y1 - 1 - a) * W, bandIn + c * n * W + (y1 - a) * W);
      split(C, (r, t) => conv3x3WinogradCall(b.bandOutput, b.bandInput, wu, 2 * C, n, W, C, r, b.scratch[t]));
      for (let c = 0; c < C; c++) {
        const src = bandOut + c * n * W + (y0 - a) * W;
        mem.copyWithin(skip + c * H * W + y0 * W, src, src + (y1 - y0) * W);
      }
    }
    addBias(b.skip[k], stage.conv.conv1, H * W);
  };

  return {
    name: 'dense',
    form: 'dense',
    threads,
    async run(input, width, height, into): Promise<Logits> {
      checkInputSize(width, height);
      const { inChannels, classes } = model.arch;
      if (input.length !== inChannels * width * height) {
        throw new FreqregError('engine', 'INPUT_SHAPE', `input has ${input.length} values, expected ${inChannels}×${height}×${width}`);
      }
      if (!buffers || buffers.plan.width !== width || buffers.plan.height !== height) {
        arena.release(afterWeights);
        buffers = undefined; // a plan that fails half-way (OUT_OF_MEMORY) must not leave the old one in use
        buffers = allocateIn(arena, planDense(model.arch, width, height, threads, ex.conv2d_f32_3x3p1_f23_scratch, options.bandInputFloats ?? BAND_INPUT_FLOATS));
      }
      const b = buffers;
      const L = b.plan.levels;
      arena.f32(b.input, input.length).set(input);

      doubleConv(b.skip[0], b.input, model.inc, inChannels, L[0], b.work[0]);
      for (let k = 1; k <= UNET_DEPTH; k++) {
        const prev = L[k - 1];
        split(prev.c, (r) => maxpoolCall(b.pooled[k], b.skip[k - 1], prev.h, prev.w, r));
        doubleConv(b.skip[k], b.pooled[k], model.down[k - 1], prev.c, L[k], b.work[k]);
      }
      let x = b.skip[UNET_DEPTH];
      for (let k = UNET_DEPTH - 1; k >= 0; k--) {
        const lv = L[k], stage = model.up[UNET_DEPTH - 1 - k];
        upConv1(b, k, stage, x); // its output is over s_k
        normRelu(b.skip[k], lv.c, lv.h, lv.w);
        conv(b.work[k], b.skip[k], stage.conv.conv2, lv.c, lv.h, lv.w);
        normRelu(b.work[k], lv.c, lv.h, lv.w);
        x = b.work[k];
      }
      conv(b.logits, x, model.outc, L[0].c, height, width);
      const logits = arena.f32(b.logits, classes * width * height);
      const data = into ?? new Float32Array(logits.length);
      data.set(logits);
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

/**
 * Allocates a plan's buffers after the weights, or refuses before allocating anything when they
 * cannot fit in what the kernel memory has left (its `maximum` less the weights).
 */
function allocateIn(arena: KernelInstance['arena'], plan: DensePlan): Buffers {
  const bytes = 4 * denseFloats(plan) + 16 * (6 + plan.threads);
  const left = arena.limit - arena.mark();
  if (bytes > left) {
    throw new FreqregError('engine', 'OUT_OF_MEMORY', `a ${plan.width}×${plan.height} image needs ${mib(bytes)} MiB of dense working memory; the kernel memory has ${mib(left)} MiB left beside the dense weights`);
  }
  const region = arena.allocF32(plan.regionFloats);
  const at = (offset: number) => region + 4 * offset;
  const b = plan.bands;
  return {
    plan,
    input: at(plan.input),
    skip: plan.skip.map(at),
    work: plan.work.map(at),
    pooled: plan.pooled.map(at),
    logits: at(plan.logits),
    bandInput: arena.allocF32(b.inputFloats),
    bandOutput: arena.allocF32(b.outputFloats),
    bandBelow: arena.allocF32(b.belowFloats),
    bandUp: arena.allocF32(b.upFloats),
    carry: arena.allocF32(b.carryFloats),
    scratch: Array.from({ length: plan.threads }, () => arena.allocF32(plan.scratchFloats)),
  };
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
