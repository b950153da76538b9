/**
 * The spectral engine's buffers for one image size, planned once per size and shared by the
 * forward and the backward schedules.
 *
 * Maps are float32 planes with a one-pixel zero border (row stride w + 2) so the 3×3 convs read
 * their padding; kernels write interiors only, so borders stay zero. For inference each level
 * has one P, one Q and (above the bottom) one S buffer, and the convs of a level take turns in
 * them. For training every conv keeps its own input maps (P) and its centred Q through the
 * backward pass, and each level adds the backward's maps: dQ (with a zero border: the
 * transposed correlation reads it), two transit buffers for ∂L/∂P, and dS, the up stage's input
 * gradient, which waits for the skip's producer.
 */
import { UNET_DEPTH } from '../model.js';
import type { Arena } from '../wasm/instance.js';
import { levelSizes } from './spectral-plan.js';
import type { ConvStage, SpectralTables } from './spectral-tables.js';

/** Where each conv of a level reads its input maps (byte offsets of map 0, pixel (-1, -1)). */
export interface LevelInputs {
  down1: number;
  down2: number;
  /** The up stage's first conv: skip share plus the scattered transposed conv (levels < UNET_DEPTH). */
  up1: number;
  up2: number;
  /** The input maps of the transposed conv that reads this level (levels > 0). */
  transposed: number;
  /** outc (level 0, spectral outc). */
  outc: number;
}

/** The backward's maps of a level (training plans only). */
export interface LevelGrads {
  dQ: number;
  dA: number;
  dB: number;
  dS: number;
}

export interface Level {
  w: number;
  h: number;
  stride: number; // row stride of every map at this level (w + 2)
  mapSize: number; // (h + 2)·stride
  /** Inference: the Q maps the level's convs take turns in (0 in a training plan). */
  Q: number;
  /** Training: each conv's own Q maps, left centred by the forward pass for the backward. */
  keptQ?: Map<ConvStage, number>;
  in: LevelInputs;
  grads?: LevelGrads;
}

export interface SizePlan {
  width: number;
  height: number;
  levels: Level[];
  /** The logits (classes maps), in level 0's map geometry (inference: aliases level 0's P, dead when the logits are formed). */
  logits: number;
  /** Training: ∂L/∂logits (classes maps), level 0's geometry (the logits' buffer). */
  dLogits: number;
  /** A band of the image, (cin, imageBandRows, width) float32, for its projection (spectral-forward.ts projectImage). */
  imageBand: number;
  imageBandRows: number;
  /** Per-share scratch of spectral_fuse_f32, (shares, fuseScratchFloats) float32. */
  fuseScratch: number;
  sums: number; // (shares, naMax) float64
  covs: number; // (shares, naMax, naMax) float64
  /** Training: per-share per-channel sums of g·z, (shares, channelsMax) float64. */
  normSums: number;
  /** Training: per-share scratch of spectral_backfuse_f32, (shares, (4·(5 + classes) + 1)·channelsMax) float32. */
  backScratch: number;
  /** Training: per-share dense outc weight gradient, (shares, width, classes) float64. */
  outcGrads: number;
  /** Training: per-share tap gradients, (shares, pairsMax, 9) float64. */
  tapGrads: number;
  /** Training: the loss's target classes (height, width) int32, and its per-share sums (shares, lossSlot) float64. */
  target: number;
  lossSums: number;
  /** Training: the norm backward's constant c (naMax) and matrix M (naMax, naMax), float32. */
  normC: number;
  normM: number;
}

/** Image rows staged in kernel memory per spectral_project_f32 band (the image itself stays on the host). */
export const IMAGE_BAND_ROWS = 64;

/** Floats of spectral_fuse_f32's scratch per thread: a pooled block's channel values, 16 a channel (twin: assembly/spectral.ts). */
export function fuseScratchFloats(t: SpectralTables): number {
  return 16 * t.channelsMax;
}

/**
 * Floats of spectral_backfuse_f32's scratch per thread, with the outc weight gradient: per channel,
 * lanes 4·(1 + classes), slots 16 and the live list 1 (twin: assembly/spectral_backward.ts).
 */
export function backScratchFloats(t: SpectralTables): number {
  return (4 * (5 + t.model.arch.classes) + 1) * t.channelsMax;
}

/** float64 values per share of the loss's sums: 4 in its first pass, one per class in its second. */
export function lossSlot(classes: number): number {
  return Math.max(4, classes);
}

/** The Q maps of a conv at a level: its own in a training plan, else the level's shared ones. */
export function qMapsOf(L: Level, c: ConvStage): number {
  return L.keptQ?.get(c) ?? L.Q;
}

/** Pointer to pixel (0, 0) of map 0 of a buffer at a level. */
export function interior(L: Level, buf: number): number {
  return buf + (L.stride + 1) * 4;
}

/**
 * Allocates every buffer of a plan above the arena's current mark and zeroes them (the borders
 * are the convs' padding and are never written).
 */
export function planSize(arena: Arena, memory: WebAssembly.Memory, t: SpectralTables, W: number, H: number, shares: number): SizePlan {
  const start = arena.mark();
  const { down, ups, outc, train, naMax } = t;
  const { classes } = t.model.arch;
  const levels: Level[] = levelSizes(W, H).map(({ w, h }, l) => {
    const stride = w + 2, mapSize = (h + 2) * stride;
    const maps = (n: number) => arena.allocF32(Math.max(n, 1) * mapSize);
    const nIn = {
      down1: down[l].conv1.f.inFreqs.length,
      down2: down[l].conv2.f.inFreqs.length,
      up1: l < UNET_DEPTH ? ups[l].conv1.f.inFreqs.length : 0,
      up2: l < UNET_DEPTH ? ups[l].conv2.f.inFreqs.length : 0,
      transposed: l > 0 ? ups[l - 1].scatter.t.inFreqs.length : 0,
      outc: l === 0 && outc ? outc.f.inFreqs.length : 0,
    };
    const nQ = Math.max(
      down[l].conv1.f.outFreqs.length, down[l].conv2.f.outFreqs.length,
      l < UNET_DEPTH ? Math.max(ups[l].conv1.f.outFreqs.length, ups[l].conv2.f.outFreqs.length) : 0,
      l === 0 && outc ? outc.f.outFreqs.length : 0,
    );
    const convs = [down[l].conv1, down[l].conv2, ...(l < UNET_DEPTH ? [ups[l].conv1, ups[l].conv2] : [])];
    const Q = train ? 0 : maps(nQ);
    const keptQ = train ? new Map(convs.map((c) => [c, maps(c.f.outFreqs.length)])) : undefined;
    const S = l < UNET_DEPTH ? maps(nIn.up1) : 0;
    let inputs: LevelInputs;
    if (!train) {
      // One P buffer the level's convs take turns in; level 0's also holds the logits.
      const P = maps(Math.max(nIn.down1, nIn.down2, nIn.up2, nIn.transposed, nIn.outc, l === 0 ? classes : 0));
      inputs = { down1: P, down2: P, up1: S, up2: P, transposed: P, outc: P };
    } else {
      inputs = {
        down1: l > 0 ? maps(nIn.down1) : 0, down2: maps(nIn.down2), up1: S, up2: l < UNET_DEPTH ? maps(nIn.up2) : 0,
        transposed: l > 0 ? maps(nIn.transposed) : 0, outc: 0,
      };
    }
    // Backward: dA takes ∂L/∂P of the transposed conv's input and of down conv1 (level 0: neither),
    // dB that of up conv2 and down conv2.
    const grads = train ? {
      dQ: maps(nQ), dA: l > 0 ? maps(Math.max(nIn.transposed, nIn.down1)) : 0, dB: maps(Math.max(nIn.up2, nIn.down2)),
      dS: l < UNET_DEPTH ? maps(l === 0 ? Math.max(nIn.up1, nIn.down1) : nIn.up1) : 0,
    } : undefined;
    // Training, level 0: the image's projection lives in dS until the backward needs dS, and is
    // projected again after dS is spent (spectral-backward.ts), so it takes no maps of its own.
    if (train && l === 0) inputs.down1 = grads!.dS;
    return { w, h, stride, mapSize, Q, keptQ, in: inputs, grads };
  });
  const L0 = levels[0];
  const logits = train ? arena.allocF32(classes * L0.mapSize) : L0.in.outc;
  const dLogits = logits; // training: the logits are copied out before ∂L/∂logits comes in
  const imageBandRows = Math.min(IMAGE_BAND_ROWS, H);
  const imageBand = arena.allocF32(t.model.arch.inChannels * imageBandRows * W);
  const fuseScratch = arena.allocF32(shares * fuseScratchFloats(t));
  const sums = arena.alloc(shares * naMax * 8);
  const covs = arena.alloc(shares * naMax * naMax * 8);
  const normSums = train ? arena.alloc(shares * t.channelsMax * 8) : 0;
  const backScratch = train ? arena.allocF32(shares * backScratchFloats(t)) : 0;
  const outcGrads = train ? arena.alloc(shares * t.model.arch.width * classes * 8) : 0;
  const tapGrads = train ? arena.alloc(shares * t.pairsMax * 9 * 8) : 0;
  const target = train ? arena.alloc(W * H * 4) : 0;
  const lossSums = train ? arena.alloc(shares * lossSlot(classes) * 8) : 0;
  const normC = train ? arena.allocF32(naMax) : 0;
  const normM = train ? arena.allocF32(naMax * naMax) : 0;
  new Uint8Array(memory.buffer, start, arena.mark() - start).fill(0);
  return { width: W, height: H, levels, logits, dLogits, imageBand, imageBandRows, fuseScratch, sums, covs, normSums, backScratch, outcGrads, tapGrads, target, lossSums, normC, normM };
}
