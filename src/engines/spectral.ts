/**
 * The spectral engine: every FR layer runs in the frequency domain (spectral-plan.ts) and no
 * dense weight or full-channel activation is ever stored. Between two layers each channel is
 * formed once per pixel from the producer's Q maps (expand → norm → ReLU → 2×2 max-pool where
 * the network pools) and at once projected on every consumer's frequencies: the next conv's P
 * maps, the pooled next level's P maps, the skip's share of the later concatenation, the
 * transposed conv's input maps, or the logits (kernel `spectral_fuse_f32`).
 *
 * Per image and layer: spatial convs P → Q (`spectral_conv2d_f32_3x3p1`), statistics of Q
 * (`spectral_sum_f64`, then `spectral_center_cov_f64`, which also centres Q in place), the norm
 * folded into the expansion table F[o,a] = φ_a(o) / √(φ(o)ᵀ Cov(Q) φ(o) + eps) on the host,
 * then the fused pass. The transposed conv and the upsampled half of the concatenation are one
 * 2×2 stride-2 scatter into the skip-share maps (`spectral_scatter_f32_2x2s2`).
 *
 * Maps are float32 planes with a one-pixel zero border (row stride w + 2) so the 3×3 convs read
 * their padding; kernels write interiors only, so borders stay zero. Every kernel takes a row
 * range; each step's rows are split over `parallel` shares (statistics into one slot per share).
 */
import { FreqregError } from '../errors.js';
import type { FrModel } from '../model.js';
import { UNET_DEPTH } from '../model.js';
import type { KernelInstance } from '../wasm/instance.js';
import { splitRange, type KernelCall, type Parallel } from '../wasm/parallel.js';
import type { Engine, Logits } from './engine.js';
import { NORM_EPS } from './reference.js';
import { createOracleKernels, padded4, type SpectralKernels } from './spectral-oracle.js';
import { basisMatrix, dense1x1, layerFactors, levelSizes, outcForm, type LayerFactors } from './spectral-plan.js';

export interface SpectralEngineOptions {
  /** Threads sharing the kernel memory (default: the calling thread only). */
  parallel?: Parallel;
  /** Reported engine name ('auto' runs spectrally too, for now). */
  name?: 'spectral' | 'auto';
  /** 'wasm' (default) or 'js': the TypeScript oracle kernels over the same memory (slow). */
  kernels?: 'wasm' | 'js';
  /** outc's consumer projection: with the dense (classes × width) weight or spectrally (default: cheaper). */
  outc?: 'auto' | 'dense' | 'spectral';
}

/** A conv run spectrally: its factors and its tables in kernel memory. */
interface ConvStage {
  f: LayerFactors;
  /** (cout, na) float64: E[o,a] = φ_{a}^{cout}(o). */
  E: Float64Array;
  pairsPtr: number; // (nPairs, 2) int32
  tapsPtr: number; // (nPairs, 3, 3) float32 (1×1 kernels in the centre tap)
  nPairs: number;
  /** (cout, na) float32, filled per image: E scaled by the norm. */
  fPtr: number;
}

/** A projection of a producer's channels: G (channels, padded4(n)) float32. */
interface Consumer {
  n: number;
  gPtr: number;
}

/** The transposed conv folded with the concatenation's share of the next conv. */
interface ScatterStage {
  pairsPtr: number; // (nPairs, 2) int32: (source map a, destination map b)
  tapsPtr: number; // (nPairs, 2, 2) float32
  nPairs: number;
  /** Constant added to each destination map over the upsampled region (transposed-conv bias), or undefined. */
  bias?: Float64Array;
}

interface Level {
  w: number;
  h: number;
  stride: number; // row stride of every map at this level (w + 2)
  mapSize: number; // (h + 2)·stride
  P: number; // P maps (input projections of the level's current conv)
  Q: number; // Q maps
  S: number; // skip-share maps (levels < UNET_DEPTH): P maps of the up stage's first conv
}

interface SizePlan {
  width: number;
  height: number;
  levels: Level[];
  /** The image (Cin maps), in level 0's map geometry: aliases Q[0], only read before Q[0] is first written. */
  input: number;
  /** The logits (classes maps), in level 0's map geometry: aliases P[0], dead when the logits are formed. */
  logits: number;
  sums: number; // (shares, naMax) float64
  covs: number; // (shares, naMax, naMax) float64
  mean: number; // (naMax) float32
}

/** Copies `planes` planes of width × height between layouts with other map and row strides (elements). */
function copyPlanes(
  dst: Float32Array, dstMap: number, dstRow: number, src: Float32Array, srcMap: number, srcRow: number, planes: number, width: number, height: number,
): void {
  for (let c = 0; c < planes; c++)
    for (let y = 0; y < height; y++) {
      const s = c * srcMap + y * srcRow;
      dst.set(src.subarray(s, s + width), c * dstMap + y * dstRow);
    }
}

export function createSpectralEngine(kernels: KernelInstance, model: FrModel, options: SpectralEngineOptions = {}): Engine {
  const { arena, memory } = kernels;
  const parallel = options.parallel;
  const useJs = options.kernels === 'js';
  const k: SpectralKernels = useJs ? createOracleKernels(memory) : (kernels.exports as unknown as SpectralKernels);
  if (!useJs && typeof k.spectral_fuse_f32 !== 'function') {
    throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'the kernel module has no spectral kernels; rebuild it (npm run asbuild:release)');
  }
  // The engine owns everything it allocates above this mark (model tables, then per-size buffers);
  // nothing else may allocate from this arena while the engine lives.
  const startMark = arena.mark();
  const { arch } = model;
  const width = arch.width, classes = arch.classes, cinImage = arch.inChannels;
  const chan = (level: number) => width << level;

  // ---- per-model tables (once) ----
  const f32Table = (data: ArrayLike<number>): number => {
    const ptr = arena.allocF32(Math.max(data.length, 4));
    arena.f32(ptr, data.length).set(data);
    return ptr;
  };
  const i32Table = (data: Int32Array): number => {
    const ptr = arena.alloc(Math.max(data.length, 4) * 4);
    new Int32Array(memory.buffer, ptr, data.length).set(data);
    return ptr;
  };
  /** G (channels, n) float64 → float32 rows padded to a multiple of 4. */
  const consumer = (G: Float64Array, channels: number, n: number): Consumer => {
    const s = padded4(n);
    const t = new Float32Array(Math.max(channels * s, 4));
    for (let o = 0; o < channels; o++) for (let g = 0; g < n; g++) t[o * s + g] = G[o * n + g];
    return { n, gPtr: f32Table(t) };
  };
  const conv = (f: LayerFactors): ConvStage => {
    const nPairs = f.pairs.length / 2;
    const taps = new Float32Array(nPairs * 9);
    for (let p = 0; p < nPairs; p++) {
      if (f.k === 3) for (let t = 0; t < 9; t++) taps[p * 9 + t] = f.taps[p * 9 + t];
      else if (f.k === 1) taps[p * 9 + 4] = f.taps[p];
      else throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `${f.layer.name}: the spectral engine runs 3×3 and 1×1 convs, not ${f.k}×${f.k}`);
    }
    return {
      f, E: basisMatrix(f.cout, f.outFreqs), pairsPtr: i32Table(f.pairs), tapsPtr: f32Table(taps), nPairs,
      fPtr: arena.allocF32(Math.max(f.cout * f.outFreqs.length, 4)),
    };
  };
  const inputOf = (c: ConvStage, channels: number, offset = 0, total = channels) =>
    consumer(basisMatrix(total, c.f.inFreqs, offset, channels), channels, c.f.inFreqs.length);

  const down = [model.inc, ...model.down].map((dc) => ({ conv1: conv(layerFactors(dc.conv1)), conv2: conv(layerFactors(dc.conv2)) }));
  // ups[l]: the up stage whose output is at level l (model.up[UNET_DEPTH - 1 - l]).
  const ups = Array.from({ length: UNET_DEPTH }, (_, l) => {
    const st = model.up[UNET_DEPTH - 1 - l];
    return { t: layerFactors(st.up), bias: st.up.bias, conv1: conv(layerFactors(st.conv.conv1)), conv2: conv(layerFactors(st.conv.conv2)) };
  });
  const outcF = layerFactors(model.outc);
  const outcMode = options.outc && options.outc !== 'auto' ? options.outc : outcForm(outcF);
  const outc = outcMode === 'spectral' ? conv(outcF) : undefined;
  const outcBias = model.outc.bias;

  // Image projection: the image channels are the "Q maps" of an identity expansion.
  const identity = new Float32Array(cinImage * cinImage);
  for (let i = 0; i < cinImage; i++) identity[i * cinImage + i] = 1;
  const projectF = f32Table(identity);
  const projectG = inputOf(down[0].conv1, cinImage);

  // Consumers of each fused pass.
  const downNext = down.map((d, l) => inputOf(d.conv2, chan(l))); // conv1 → conv2
  const skipShare = ups.map((u, l) => inputOf(u.conv1, chan(l), 0, 2 * chan(l))); // x_l → up conv1 (first half)
  const pooled = down.slice(1).map((d, l) => inputOf(d.conv1, chan(l))); // x_l → down_{l+1} conv1
  const upNext = ups.map((u, l) => inputOf(u.conv2, chan(l))); // up conv1 → conv2
  const toTransposed = ups.map((u, l) => consumer(basisMatrix(chan(l + 1), u.t.inFreqs), chan(l + 1), u.t.inFreqs.length)); // level l+1 → up_l's transposed conv
  let toLogits: Consumer;
  if (outc) toLogits = inputOf(outc, width);
  else {
    const W = dense1x1(model.outc); // (classes, width)
    const G = new Float64Array(width * classes);
    for (let o = 0; o < width; o++) for (let c = 0; c < classes; c++) G[o * classes + c] = W[c * width + o];
    toLogits = consumer(G, width, classes);
  }
  // outc spectral: F = E without norm, written once; its fused pass forms the logits themselves (G = I).
  let identityG: Consumer | undefined;
  if (outc) {
    arena.f32(outc.fPtr, outc.E.length).set(outc.E);
    const I = new Float64Array(classes * classes);
    for (let c = 0; c < classes; c++) I[c * classes + c] = 1;
    identityG = consumer(I, classes, classes);
  }

  // Transposed conv + concat: K'_{a,b} = Σ_b' M[b,b'] Kt_{a,b'}, M[b,b'] = Σ_j φ_b^{2C}(C+j) φ_b'^{C}(j).
  const scatters: ScatterStage[] = ups.map((u, l) => {
    const C = chan(l), t = u.t, dst = u.conv1.f.inFreqs;
    const nb = dst.length, nbt = t.outFreqs.length, na = t.inFreqs.length;
    const hi = basisMatrix(2 * C, dst, C, C); // (C, nb): φ_b^{2C}(C + j)
    const lo = basisMatrix(C, t.outFreqs); // (C, nbt): φ_b'^{C}(j)
    const M = new Float64Array(nb * nbt);
    for (let j = 0; j < C; j++) for (let b = 0; b < nb; b++) for (let bt = 0; bt < nbt; bt++) M[b * nbt + bt] += hi[j * nb + b] * lo[j * nbt + bt];
    const K = new Float64Array(na * nb * 4); // (a, b, 2, 2)
    for (let p = 0; p < t.pairs.length / 2; p++) {
      const bt = t.pairs[2 * p], a = t.pairs[2 * p + 1];
      for (let b = 0; b < nb; b++) for (let q = 0; q < 4; q++) K[(a * nb + b) * 4 + q] += M[b * nbt + bt] * t.taps[p * 4 + q];
    }
    const pairs: number[] = [], taps: number[] = [];
    for (let a = 0; a < na; a++)
      for (let b = 0; b < nb; b++) {
        const k4 = K.subarray((a * nb + b) * 4, (a * nb + b) * 4 + 4);
        if (k4.every((v) => v === 0)) continue;
        pairs.push(a, b);
        taps.push(...k4);
      }
    let bias: Float64Array | undefined;
    if (u.bias) {
      bias = new Float64Array(nb);
      for (let j = 0; j < C; j++) for (let b = 0; b < nb; b++) bias[b] += hi[j * nb + b] * u.bias[j];
    }
    return { pairsPtr: i32Table(Int32Array.from(pairs)), tapsPtr: f32Table(taps), nPairs: pairs.length / 2, bias };
  });

  const allConvs = [...down.flatMap((d) => [d.conv1, d.conv2]), ...ups.flatMap((u) => [u.conv1, u.conv2])];
  const naMax = Math.max(1, ...allConvs.map((c) => c.f.outFreqs.length), outc ? outc.f.outFreqs.length : 1);
  const shares = parallel ? parallel.threads : 1;
  const modelMark = arena.mark();

  // ---- per image size buffers (planned once per size) ----
  let size: SizePlan | undefined;
  const planSize = (W: number, H: number): SizePlan => {
    arena.release(modelMark);
    const sizes = levelSizes(W, H);
    const levels: Level[] = sizes.map(({ w, h }, l) => {
      const stride = w + 2, mapSize = (h + 2) * stride;
      const maps = (n: number) => arena.allocF32(Math.max(n, 1) * mapSize);
      const nP = Math.max(
        down[l].conv1.f.inFreqs.length, down[l].conv2.f.inFreqs.length,
        l < UNET_DEPTH ? ups[l].conv2.f.inFreqs.length : 0,
        l > 0 ? ups[l - 1].t.inFreqs.length : 0,
        l === 0 && outc ? outc.f.inFreqs.length : 0,
      );
      const nQ = Math.max(
        down[l].conv1.f.outFreqs.length, down[l].conv2.f.outFreqs.length,
        l < UNET_DEPTH ? Math.max(ups[l].conv1.f.outFreqs.length, ups[l].conv2.f.outFreqs.length) : 0,
        l === 0 && outc ? outc.f.outFreqs.length : 0,
      );
      // Level 0 also holds the image (in Q's place) and the logits (in P's place).
      const P = maps(l === 0 ? Math.max(nP, classes) : nP), Q = maps(l === 0 ? Math.max(nQ, cinImage) : nQ);
      const S = l < UNET_DEPTH ? maps(ups[l].conv1.f.inFreqs.length) : 0;
      return { w, h, stride, mapSize, P, Q, S };
    });
    const input = levels[0].Q, logits = levels[0].P;
    const sums = arena.alloc(shares * naMax * 8);
    const covs = arena.alloc(shares * naMax * naMax * 8);
    const mean = arena.allocF32(naMax);
    // Zero everything once: the map borders are the convs' padding and are never written.
    new Uint8Array(memory.buffer, modelMark, arena.mark() - modelMark).fill(0);
    return { width: W, height: H, levels, input, logits, sums, covs, mean };
  };

  // ---- execution ----
  const run = (calls: KernelCall[][]) => {
    if (useJs || !parallel) {
      for (const share of calls) for (const [name, ...args] of share) (k[name as keyof SpectralKernels] as (...a: number[]) => void)(...args);
    } else parallel.run(calls);
  };
  /** One kernel call per share over rows [0, rows), split at multiples of `align`. */
  const rows = (n: number, align: number, make: (y0: number, y1: number, share: number) => KernelCall) => {
    run(splitRange(n, shares, align).map(([y0, y1], s) => (y1 > y0 ? [make(y0, y1, s)] : [])));
  };
  const interior = (L: Level, buf: number) => buf + (L.stride + 1) * 4;

  /** Spatial convs P → Q at a level, statistics, and the norm folded into F. */
  const convNorm = (c: ConvStage, L: Level, P: number, sp: SizePlan) => {
    const na = c.f.outFreqs.length;
    const q = interior(L, L.Q), p = interior(L, P);
    rows(L.h, 1, (y0, y1) => ['spectral_conv2d_f32_3x3p1', q, L.mapSize, p, L.mapSize, L.stride, c.pairsPtr, c.tapsPtr, c.nPairs, na, L.w, y0, y1]);
    if (na === 0) return;
    const n = L.w * L.h;
    new Float64Array(memory.buffer, sp.sums, shares * naMax).fill(0);
    rows(L.h, 1, (y0, y1, s) => ['spectral_sum_f64', sp.sums + s * naMax * 8, q, L.mapSize, L.stride, na, L.w, y0, y1]);
    const sums = new Float64Array(memory.buffer, sp.sums, shares * naMax);
    const mean = arena.f32(sp.mean, naMax);
    for (let a = 0; a < na; a++) {
      let s = 0;
      for (let sh = 0; sh < shares; sh++) s += sums[sh * naMax + a];
      mean[a] = s / n;
    }
    new Float64Array(memory.buffer, sp.covs, shares * naMax * naMax).fill(0);
    rows(L.h, 1, (y0, y1, s) => ['spectral_center_cov_f64', sp.covs + s * naMax * naMax * 8, q, L.mapSize, L.stride, sp.mean, na, L.w, y0, y1]);
    const covs = new Float64Array(memory.buffer, sp.covs, shares * naMax * naMax);
    const cov = new Float64Array(na * na);
    for (let a = 0; a < na; a++)
      for (let b = a; b < na; b++) {
        let s = 0;
        for (let sh = 0; sh < shares; sh++) s += covs[sh * naMax * naMax + a * na + b];
        cov[a * na + b] = cov[b * na + a] = s / n;
      }
    const F = arena.f32(c.fPtr, c.f.cout * na);
    for (let o = 0; o < c.f.cout; o++) {
      const e = c.E.subarray(o * na, o * na + na);
      let v = 0;
      for (let a = 0; a < na; a++) {
        let r = 0;
        for (let b = 0; b < na; b++) r += cov[a * na + b] * e[b];
        v += e[a] * r;
      }
      const inv = 1 / Math.sqrt(Math.max(v, 0) + NORM_EPS);
      for (let a = 0; a < na; a++) F[o * na + a] = e[a] * inv;
    }
  };

  interface Target { ptr: number; mapStride: number; rowStride: number; c: Consumer }
  const mapsAt = (L: Level, buf: number, c: Consumer): Target => ({ ptr: interior(L, buf), mapStride: L.mapSize, rowStride: L.stride, c });
  const none: Target = { ptr: 0, mapStride: 0, rowStride: 0, c: { n: 0, gPtr: 0 } };
  /** The fused pass over a level's Q maps (or any planar source). */
  const fuse = (
    src: { ptr: number; mapStride: number; rowStride: number; na: number; fPtr: number; channels: number },
    L: { w: number; h: number }, out: Target, pool: Target, relu: boolean,
  ) => {
    rows(L.h, pool.c.n > 0 ? 2 : 1, (y0, y1) => [
      'spectral_fuse_f32',
      out.ptr, out.mapStride, out.rowStride, out.c.n, out.c.gPtr,
      pool.ptr, pool.mapStride, pool.rowStride, pool.c.n, pool.c.gPtr,
      src.ptr, src.mapStride, src.rowStride, src.na, src.fPtr,
      src.channels, L.w, L.h, y0, y1, relu ? 1 : 0,
    ]);
  };
  const fromQ = (c: ConvStage, L: Level) => ({
    ptr: interior(L, L.Q), mapStride: L.mapSize, rowStride: L.stride, na: c.f.outFreqs.length, fPtr: c.fPtr, channels: c.f.cout,
  });

  const forward = (sp: SizePlan) => {
    const { levels } = sp;
    // The image, materialized: projected directly on inc.conv1's input frequencies.
    const L0 = levels[0];
    fuse({ ptr: interior(L0, sp.input), mapStride: L0.mapSize, rowStride: L0.stride, na: cinImage, fPtr: projectF, channels: cinImage }, L0,
      mapsAt(levels[0], levels[0].P, projectG), none, false);
    for (let l = 0; l <= UNET_DEPTH; l++) {
      const L = levels[l], d = down[l];
      convNorm(d.conv1, L, L.P, sp);
      fuse(fromQ(d.conv1, L), L, mapsAt(L, L.P, downNext[l]), none, true);
      convNorm(d.conv2, L, L.P, sp);
      if (l < UNET_DEPTH) fuse(fromQ(d.conv2, L), L, mapsAt(L, L.S, skipShare[l]), mapsAt(levels[l + 1], levels[l + 1].P, pooled[l]), true);
      else fuse(fromQ(d.conv2, L), L, mapsAt(L, L.P, toTransposed[l - 1]), none, true);
    }
    for (let l = UNET_DEPTH - 1; l >= 0; l--) {
      const L = levels[l], B = levels[l + 1], u = ups[l], sc = scatters[l];
      const top = (L.h - 2 * B.h) >> 1, left = (L.w - 2 * B.w) >> 1;
      rows(L.h, 1, (y0, y1) => [
        'spectral_scatter_f32_2x2s2', interior(L, L.S), L.mapSize, L.stride, interior(B, B.P), B.mapSize, B.stride,
        sc.pairsPtr, sc.tapsPtr, sc.nPairs, B.w, B.h, top, left, y0, y1,
      ]);
      if (sc.bias) addConstant(L, L.S, sc.bias, top, left, 2 * B.h, 2 * B.w);
      convNorm(u.conv1, L, L.S, sp);
      fuse(fromQ(u.conv1, L), L, mapsAt(L, L.P, upNext[l]), none, true);
      convNorm(u.conv2, L, L.P, sp);
      if (l > 0) fuse(fromQ(u.conv2, L), L, mapsAt(L, L.P, toTransposed[l - 1]), none, true);
      else {
        const logits = mapsAt(L, sp.logits, toLogits);
        if (!outc) fuse(fromQ(u.conv2, L), L, logits, none, true);
        else {
          fuse(fromQ(u.conv2, L), L, mapsAt(L, L.P, toLogits), none, true);
          const q = interior(L, L.Q), p = interior(L, L.P), na = outc.f.outFreqs.length;
          rows(L.h, 1, (y0, y1) => ['spectral_conv2d_f32_3x3p1', q, L.mapSize, p, L.mapSize, L.stride, outc.pairsPtr, outc.tapsPtr, outc.nPairs, na, L.w, y0, y1]);
          fuse({ ...fromQ(outc, L), channels: classes }, L, { ...logits, c: identityG! }, none, false);
        }
      }
    }
  };


  const addConstant = (L: Level, buf: number, c: Float64Array, top: number, left: number, h: number, w: number) => {
    const m = arena.f32(interior(L, buf), c.length * L.mapSize);
    for (let b = 0; b < c.length; b++) {
      const v = c[b];
      for (let y = top; y < top + h; y++) for (let x = left; x < left + w; x++) m[b * L.mapSize + y * L.stride + x] += v;
    }
  };

  let disposed = false;
  return {
    name: options.name ?? 'spectral',
    form: 'spectral',
    threads: shares,
    async run(input: Float32Array, W: number, H: number): Promise<Logits> {
      if (disposed) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', 'the spectral engine was disposed');
      if (!size || size.width !== W || size.height !== H) {
        size = undefined; // planSize releases the old buffers first; a failed plan must not leave them in use
        size = planSize(W, H);
      }
      const sp = size;
      if (input.length !== cinImage * W * H) {
        throw new FreqregError('engine', 'INPUT_SHAPE', `expected ${cinImage}×${H}×${W} = ${cinImage * W * H} values, got ${input.length}`);
      }
      const L0 = sp.levels[0];
      copyPlanes(arena.f32(interior(L0, sp.input), cinImage * L0.mapSize), L0.mapSize, L0.stride, input, W * H, W, cinImage, W, H);
      forward(sp);
      const data = new Float32Array(classes * W * H);
      copyPlanes(data, W * H, W, arena.f32(interior(L0, sp.logits), classes * L0.mapSize), L0.mapSize, L0.stride, classes, W, H);
      if (outcBias) for (let c = 0; c < classes; c++) for (let p = 0; p < W * H; p++) data[c * W * H + p] += outcBias[c];
      return { classes, height: H, width: W, data };
    },
    async dispose() {
      disposed = true;
      arena.release(startMark);
      await parallel?.dispose();
    },
  };
}
