/**
 * The dense engine's activation memory for one image size: where each tensor lives, from the
 * shapes alone (no kernel instance), so that src/engines/budget.ts estimates exactly what
 * src/engines/dense.ts allocates.
 *
 * Only the skip tensors s_k live across levels. Level k (k = 0 … 4) has size Hk × Wk and
 * Ck = width·2^k channels; Uk = Ck·Hk·Wk floats. One region holds, from its start:
 *
 *   s_0 | s_1 | … | s_k | work_k
 *   S_k = U_0 + … + U_(k−1) is where s_k starts; work_k (Uk floats) follows it.
 *
 * Down level k: max-pool s_(k−1) → pooled at S_k; conv1 pooled → work_k; conv2 work_k → s_k
 * (pooled is dead by then). At level 0 the input sits where s_0 will be. s_4 is the bottom.
 * Up level k (k = 3 … 0), x = s_4 or work_(k+1) below: conv1 over cat[s_k, up(x)] runs in row
 * bands, the transposed conv computed per band, and writes its output over s_k (src/engines/dense.ts
 * `upConv1`); conv2 s_k → work_k (x is dead by then). The logits go over s_0.
 *
 * Since U_(k+1) = Uk / 2 (floors aside), S_k + 2·Uk ≤ 2·U_0 at every level: the whole region is
 * about two full-resolution 64-channel tensors, against the six of a plan that keeps every
 * activation. Beside the region: the band buffers (bounded by BAND_INPUT_FLOATS, not by the image)
 * and each thread's convolution scratch.
 */
import { UNET_DEPTH } from '../model.js';
import { CONVT_SCRATCH_FLOATS } from '../wasm/kernels.js';

export interface DenseLevel {
  h: number;
  w: number;
  /** Channels of this level's activations. */
  c: number;
}

/** Where the band loop of an up stage's conv1 keeps its rows (one set, sized for the largest level). */
export interface DenseBands {
  /** Output rows per band at each up level k < UNET_DEPTH. */
  rows: number[];
  /** Band input (2·Ck, rows + 2, Wk): the skip's rows and the upsampled rows, with the halo. */
  inputFloats: number;
  /** Band output (Ck, rows + 2, Wk). */
  outputFloats: number;
  /** Rows of the level below (C_(k+1), ⌈(rows + 2) / 2⌉ + 1, W_(k+1)), the transposed conv's input. */
  belowFloats: number;
  /** The transposed conv's output for those rows (Ck, 2·their rows, 2·W_(k+1)). */
  upFloats: number;
  /** One row of the skip per channel (Ck, Wk): the band's top halo, overwritten by the band before. */
  carryFloats: number;
}

export interface DensePlan {
  width: number;
  height: number;
  levels: DenseLevel[];
  /** Float offsets into the region: input (Cin, H, W). */
  input: number;
  /** s_k (Ck, Hk, Wk), k = 0 … UNET_DEPTH (the last is the bottom); on the way up, conv1's output. */
  skip: number[];
  /** work_k (Ck, Hk, Wk): conv1's output on the way down, conv2's on the way up. */
  work: number[];
  /** pooled_k (C_(k−1), Hk, Wk), k = 1 … UNET_DEPTH (index 0 unused). */
  pooled: number[];
  /** logits (classes, H, W). */
  logits: number;
  regionFloats: number;
  bands: DenseBands;
  /** Per thread: scratch for the Winograd and transposed convolutions. */
  scratchFloats: number;
  threads: number;
}

/** Largest band input, in floats (32 MiB): the bands' rows follow from it, at least one. */
export const BAND_INPUT_FLOATS = 1 << 23;

/**
 * Bands per up level at least (where it has the rows): on a small image the band buffers stay a
 * fraction of the level's tensors rather than the size of the concatenation.
 */
const MIN_BANDS = 4;

/** Architecture fields the plan depends on. */
export interface DenseArch {
  width: number;
  inChannels: number;
  classes: number;
}

/** Floats of Winograd 3×3 scratch for C input channels of width W (the kernel's own, or its twin). */
export type WinogradScratch = (C: number, W: number) => number;

/** Rounds a float count up to whole 16-byte vectors, so every tensor of the region is aligned. */
const vec = (n: number) => Math.ceil(n / 4) * 4;

export function planDense(arch: DenseArch, width: number, height: number, threads: number, winogradScratch: WinogradScratch, bandInputFloats = BAND_INPUT_FLOATS): DensePlan {
  const { width: base, inChannels, classes } = arch;
  const levels: DenseLevel[] = [];
  for (let k = 0, h = height, w = width; k <= UNET_DEPTH; k++, h >>= 1, w >>= 1) levels.push({ h, w, c: base * 2 ** k });
  const U = levels.map((lv) => vec(lv.c * lv.h * lv.w));
  const skip: number[] = [], work: number[] = [], pooled: number[] = [0];
  let top = 0;
  for (let k = 0; k <= UNET_DEPTH; k++) {
    skip.push(top);
    work.push(top + U[k]);
    if (k > 0) pooled.push(top);
    top += U[k];
  }
  let regionFloats = Math.max(...levels.map((_, k) => work[k] + U[k]));
  // The input is dead once conv1 of level 0 has run, the logits are made from work_0: both fit over
  // s_0 unless they have more channels than the first level.
  const place = (n: number) => {
    if (n <= U[0]) return 0;
    const at = regionFloats;
    regionFloats += vec(n);
    return at;
  };
  const input = place(inChannels * width * height);
  const logits = place(classes * width * height);

  const bands: DenseBands = { rows: [], inputFloats: 0, outputFloats: 0, belowFloats: 0, upFloats: 0, carryFloats: 0 };
  let scratchFloats = 0;
  for (let k = 0; k < UNET_DEPTH; k++) {
    const lv = levels[k], below = levels[k + 1];
    const rows = Math.max(1, Math.min(Math.ceil(lv.h / MIN_BANDS), Math.floor(bandInputFloats / (2 * lv.c * lv.w)) - 2));
    const inRows = Math.min(lv.h, rows + 2);
    const belowRows = Math.min(below.h, (inRows >> 1) + 1);
    bands.rows.push(rows);
    bands.inputFloats = Math.max(bands.inputFloats, vec(2 * lv.c * inRows * lv.w));
    bands.outputFloats = Math.max(bands.outputFloats, vec(lv.c * inRows * lv.w));
    bands.belowFloats = Math.max(bands.belowFloats, vec(below.c * belowRows * below.w));
    bands.upFloats = Math.max(bands.upFloats, vec(lv.c * 4 * belowRows * below.w));
    bands.carryFloats = Math.max(bands.carryFloats, vec(lv.c * lv.w));
    scratchFloats = Math.max(scratchFloats, CONVT_SCRATCH_FLOATS(below.c, below.w));
  }
  for (const [k, lv] of levels.entries()) {
    // conv1 of each level reads the level's input (Cin at level 0, the concat 2·C on the way up)
    const cin = k === 0 ? Math.max(inChannels, 2 * lv.c) : 2 * lv.c;
    scratchFloats = Math.max(scratchFloats, winogradScratch(cin, lv.w));
  }
  return { width, height, levels, input, skip, work, pooled, logits, regionFloats, bands, scratchFloats: vec(scratchFloats), threads };
}

/** Floats of kernel memory the plan allocates: the region, the band buffers, the threads' scratch. */
export function denseFloats(plan: DensePlan): number {
  const b = plan.bands;
  return plan.regionFloats + b.inputFloats + b.outputFloats + b.belowFloats + b.upFloats + b.carryFloats + plan.threads * plan.scratchFloats;
}
