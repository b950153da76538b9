/**
 * The spectral engine's per-model tables, built once per model and shared by the forward and the
 * backward schedules (spectral-forward.ts, spectral-backward.ts): one stage per conv (its
 * factors, its pair and tap tables, its per-image norm table F and Q means), the consumer
 * projections G of every fused pass, and the transposed convs folded with the concatenation
 * (scatters). Everything lives in kernel memory; `setStageCoefficients` rewrites the taps of a
 * model built for training without touching the layout.
 */
import { FreqregError } from '../errors.js';
import type { FrLayer, FrModel } from '../model.js';
import { UNET_DEPTH } from '../model.js';
import type { Arena } from '../wasm/instance.js';
import { padded4 } from './spectral-oracle.js';
import { basisMatrix, dense1x1, layerFactors, outcForm, type LayerFactors } from './spectral-plan.js';

/** A conv run spectrally: its factors and its tables in kernel memory. */
export interface ConvStage {
  f: LayerFactors;
  /** (cout, na) float64: E[o,a] = φ_{a}^{cout}(o). */
  E: Float64Array;
  pairsPtr: number; // (nPairs, 2) int32: (Q map a, P map b), sorted by a
  tapsPtr: number; // (nPairs, 3, 3) float32 (1×1 kernels in the centre tap)
  nPairs: number;
  /** (cout, na) float32, filled per image: E scaled by the norm (E itself for outc). */
  fPtr: number;
  /** (na) float32, filled per image: the Q means the forward centred Q with. */
  meanPtr: number;
  /** The transposed correlation dP_b = Σ_a K_ab^flip ⋆ dQ_a: (nPairs, 2) (b, a) sorted by b, and flipped taps. */
  backPairsPtr: number;
  backTapsPtr: number;
}

/** A projection of a producer's channels: G (channels, padded4(n)) float32. */
export interface Consumer {
  n: number;
  gPtr: number;
}

/** The transposed conv folded with the concatenation's share of the next conv. */
export interface ScatterStage {
  t: LayerFactors;
  pairsPtr: number; // (nPairs, 2) int32: (source map a, destination map b)
  tapsPtr: number; // (nPairs, 2, 2) float32
  nPairs: number;
  /** Constant added to each destination map over the upsampled region (transposed-conv bias), or undefined. */
  bias?: Float64Array;
  /** (C, nb): φ_b^{2C}(C + j), the upsampled half of the concatenation on the next conv's input frequencies. */
  hi: Float64Array;
  /** (nb, nbt): M[b,b'] = Σ_j φ_b^{2C}(C + j) φ_b'^{C}(j). */
  M: Float64Array;
}

export interface UpTables {
  scatter: ScatterStage;
  conv1: ConvStage;
  conv2: ConvStage;
}

export interface SpectralTables {
  model: FrModel;
  train: boolean;
  down: { conv1: ConvStage; conv2: ConvStage }[];
  /** ups[l]: the up stage whose output is at level l (model.up[UNET_DEPTH - 1 - l]). */
  ups: UpTables[];
  /** outc run spectrally, else (always for training) applied as a dense consumer (toLogits). */
  outc?: ConvStage;
  /** (cin, nb) float64 in kernel memory: φ_b(i) for the image's projection on inc.conv1's input frequencies. */
  imageBasisPtr: number;
  /** outc's bias (classes float32) in kernel memory, added to the logits by their fused pass; 0 without one. */
  outcBiasPtr: number;
  downNext: Consumer[]; // conv1 → conv2
  skipShare: Consumer[]; // x_l → up conv1 (first half)
  pooled: Consumer[]; // x_l → down_{l+1} conv1
  upNext: Consumer[]; // up conv1 → conv2
  toTransposed: Consumer[]; // level l+1 → up_l's transposed conv
  toLogits: Consumer;
  /** outc spectral: its fused pass forms the logits themselves (G = I). */
  identityG?: Consumer;
  naMax: number;
  nbMax: number;
  pairsMax: number;
  channelsMax: number;
}

interface TableWriter {
  f32(data: ArrayLike<number>): number;
  f64(data: Float64Array): number;
  i32(data: Int32Array): number;
  arena: Arena;
}

function writer(arena: Arena, memory: WebAssembly.Memory): TableWriter {
  return {
    arena,
    f32(data) {
      const ptr = arena.allocF32(Math.max(data.length, 4));
      arena.f32(ptr, data.length).set(data);
      return ptr;
    },
    f64(data) {
      const ptr = arena.alloc(Math.max(data.length, 2) * 8);
      new Float64Array(memory.buffer, ptr, data.length).set(data);
      return ptr;
    },
    i32(data) {
      const ptr = arena.alloc(Math.max(data.length, 4) * 4);
      new Int32Array(memory.buffer, ptr, data.length).set(data);
      return ptr;
    },
  };
}

/** G (channels, n) float64 → float32 rows padded to a multiple of 4. */
function consumer(w: TableWriter, G: Float64Array, channels: number, n: number): Consumer {
  const s = padded4(n);
  const t = new Float32Array(Math.max(channels * s, 4));
  for (let o = 0; o < channels; o++) for (let g = 0; g < n; g++) t[o * s + g] = G[o * n + g];
  return { n, gPtr: w.f32(t) };
}

/** The 3×3 tap tables of a conv's factors: forward (nPairs, 9), and the flipped ones in (b, a) order. */
function convTaps(f: LayerFactors): { taps: Float32Array; backPairs: Int32Array; backTaps: Float32Array } {
  const nPairs = f.pairs.length / 2;
  const taps = new Float32Array(nPairs * 9);
  for (let p = 0; p < nPairs; p++) {
    if (f.k === 3) for (let t = 0; t < 9; t++) taps[p * 9 + t] = f.taps[p * 9 + t];
    else if (f.k === 1) taps[p * 9 + 4] = f.taps[p];
    else throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `${f.layer.name}: the spectral engine runs 3×3 and 1×1 convs, not ${f.k}×${f.k}`);
  }
  const order = Array.from({ length: nPairs }, (_, p) => p).sort((p, q) => f.pairs[2 * p + 1] - f.pairs[2 * q + 1] || p - q);
  const backPairs = new Int32Array(nPairs * 2), backTaps = new Float32Array(nPairs * 9);
  order.forEach((p, j) => {
    backPairs[2 * j] = f.pairs[2 * p + 1];
    backPairs[2 * j + 1] = f.pairs[2 * p];
    for (let t = 0; t < 9; t++) backTaps[j * 9 + t] = taps[p * 9 + 8 - t];
  });
  return { taps, backPairs, backTaps };
}

function convStage(w: TableWriter, f: LayerFactors): ConvStage {
  const nPairs = f.pairs.length / 2;
  const { taps, backPairs, backTaps } = convTaps(f);
  const na = f.outFreqs.length;
  return {
    f, E: basisMatrix(f.cout, f.outFreqs), pairsPtr: w.i32(f.pairs), tapsPtr: w.f32(taps), nPairs,
    fPtr: w.arena.allocF32(Math.max(f.cout * na, 4)), meanPtr: w.arena.allocF32(Math.max(na, 4)),
    backPairsPtr: w.i32(backPairs), backTapsPtr: w.f32(backTaps),
  };
}

/** Transposed conv + concat: K'_{a,b} = Σ_b' M[b,b'] Kt_{a,b'}, M[b,b'] = Σ_j φ_b^{2C}(C+j) φ_b'^{C}(j). */
function scatterTables(t: LayerFactors, dst: readonly number[], C: number, keepAllPairs: boolean) {
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
      if (!keepAllPairs && k4.every((v) => v === 0)) continue;
      pairs.push(a, b);
      taps.push(...k4);
    }
  return { pairs: Int32Array.from(pairs), taps: Float32Array.from(taps), hi, M };
}

export interface TableOptions {
  outc?: 'auto' | 'dense' | 'spectral';
  /**
   * Built for training: every listed position kept (zeros included), and outc dense: its weight
   * gradient is then a per-channel sum in the last conv's backward pass, and its input maps are
   * never stored.
   */
  train?: boolean;
}

export function buildSpectralTables(arena: Arena, memory: WebAssembly.Memory, model: FrModel, options: TableOptions = {}): SpectralTables {
  const w = writer(arena, memory);
  const train = options.train ?? false;
  const { arch } = model;
  const width = arch.width, classes = arch.classes, cinImage = arch.inChannels;
  const chan = (level: number) => width << level;
  const factors = (layer: FrLayer) => layerFactors(layer, { keepZeros: train });
  const conv = (layer: FrLayer) => convStage(w, factors(layer));
  const inputOf = (c: ConvStage, channels: number, offset = 0, total = channels) =>
    consumer(w, basisMatrix(total, c.f.inFreqs, offset, channels), channels, c.f.inFreqs.length);

  const down = [model.inc, ...model.down].map((dc) => ({ conv1: conv(dc.conv1), conv2: conv(dc.conv2) }));
  const ups: UpTables[] = Array.from({ length: UNET_DEPTH }, (_, l) => {
    const st = model.up[UNET_DEPTH - 1 - l];
    const t = factors(st.up);
    const conv1 = conv(st.conv.conv1), conv2 = conv(st.conv.conv2);
    const C = chan(l);
    const s = scatterTables(t, conv1.f.inFreqs, C, train);
    let bias: Float64Array | undefined;
    if (st.up.bias) {
      const nb = conv1.f.inFreqs.length;
      bias = new Float64Array(nb);
      for (let j = 0; j < C; j++) for (let b = 0; b < nb; b++) bias[b] += s.hi[j * nb + b] * st.up.bias[j];
    }
    const scatter: ScatterStage = { t, pairsPtr: w.i32(s.pairs), tapsPtr: w.f32(s.taps), nPairs: s.pairs.length / 2, bias, hi: s.hi, M: s.M };
    return { scatter, conv1, conv2 };
  });
  const outcF = factors(model.outc);
  const outcMode = train ? 'dense' : options.outc && options.outc !== 'auto' ? options.outc : outcForm(outcF);
  const outc = outcMode === 'spectral' ? convStage(w, outcF) : undefined;

  const identity = (n: number) => {
    const I = new Float64Array(n * n);
    for (let i = 0; i < n; i++) I[i * n + i] = 1;
    return I;
  };
  const downNext = down.map((d, l) => inputOf(d.conv2, chan(l)));
  const skipShare = ups.map((u, l) => inputOf(u.conv1, chan(l), 0, 2 * chan(l)));
  const pooled = down.slice(1).map((d, l) => inputOf(d.conv1, chan(l)));
  const upNext = ups.map((u, l) => inputOf(u.conv2, chan(l)));
  const toTransposed = ups.map((u, l) => consumer(w, basisMatrix(chan(l + 1), u.scatter.t.inFreqs), chan(l + 1), u.scatter.t.inFreqs.length));
  let toLogits: Consumer;
  let identityG: Consumer | undefined;
  if (outc) {
    toLogits = inputOf(outc, width);
    arena.f32(outc.fPtr, outc.E.length).set(outc.E); // F = E without norm, written once
    identityG = consumer(w, identity(classes), classes, classes);
  } else toLogits = consumer(w, denseLogitsTable(model.outc), width, classes);

  const convs = [...down.flatMap((d) => [d.conv1, d.conv2]), ...ups.flatMap((u) => [u.conv1, u.conv2]), ...(outc ? [outc] : [])];
  return {
    model, train, down, ups, outc, imageBasisPtr: w.f64(basisMatrix(cinImage, down[0].conv1.f.inFreqs)),
    outcBiasPtr: model.outc.bias ? w.f32(model.outc.bias) : 0, downNext, skipShare, pooled, upNext, toTransposed, toLogits, identityG,
    naMax: Math.max(1, ...convs.map((c) => c.f.outFreqs.length)),
    nbMax: Math.max(1, ...convs.map((c) => c.f.inFreqs.length), ...ups.map((u) => u.scatter.t.inFreqs.length)),
    pairsMax: Math.max(1, ...convs.map((c) => c.nPairs), ...ups.map((u) => u.scatter.nPairs)),
    channelsMax: Math.max(1, ...convs.map((c) => c.f.cout)),
  };
}

/** outc as a dense consumer of the last features: G[o,c] = W[c,o], (width, classes). */
function denseLogitsTable(layer: FrLayer, values: ArrayLike<number> = layer.values): Float64Array {
  const [classes, width] = layer.shape;
  const W = dense1x1(layer, values); // (classes, width)
  const G = new Float64Array(width * classes);
  for (let o = 0; o < width; o++) for (let c = 0; c < classes; c++) G[o * classes + c] = W[c * width + o];
  return G;
}

/** Samesness of two factorizations' layout (pairs and frequencies), so new values fit the old tables. */
function sameLayout(a: LayerFactors, b: LayerFactors): boolean {
  return a.pairs.length === b.pairs.length && a.pairs.every((v, i) => v === b.pairs[i])
    && a.inFreqs.join() === b.inFreqs.join() && a.outFreqs.join() === b.outFreqs.join();
}

/**
 * New coefficient values (one array per layer, state-dict order, one value per listed position) of a
 * model built for training: rewrites the tap tables in place. The pairs and frequencies stay (every
 * listed position is in them, zeros included), so nothing is replanned.
 */
export function setStageCoefficients(tables: SpectralTables, arena: Arena, values: ReadonlyMap<FrLayer, ArrayLike<number>>): void {
  const model = tables.model;
  const refit = (old: LayerFactors, layer: FrLayer): LayerFactors => {
    const f = layerFactors(layer, { keepZeros: true, values: values.get(layer) });
    if (!sameLayout(old, f)) throw new FreqregError('engine', 'ENGINE_UNAVAILABLE', `${layer.name}: the new coefficients do not fit the engine's tables`);
    return f;
  };
  const rewriteConv = (c: ConvStage, layer: FrLayer) => {
    c.f = refit(c.f, layer);
    const { taps, backTaps } = convTaps(c.f);
    arena.f32(c.tapsPtr, taps.length).set(taps);
    arena.f32(c.backTapsPtr, backTaps.length).set(backTaps);
  };
  [model.inc, ...model.down].forEach((dc, l) => {
    rewriteConv(tables.down[l].conv1, dc.conv1);
    rewriteConv(tables.down[l].conv2, dc.conv2);
  });
  tables.ups.forEach((u, l) => {
    const st = model.up[UNET_DEPTH - 1 - l];
    rewriteConv(u.conv1, st.conv.conv1);
    rewriteConv(u.conv2, st.conv.conv2);
    u.scatter.t = refit(u.scatter.t, st.up);
    const s = scatterTables(u.scatter.t, u.conv1.f.inFreqs, model.arch.width << l, true);
    arena.f32(u.scatter.tapsPtr, s.taps.length).set(s.taps);
  });
  if (tables.outc) rewriteConv(tables.outc, model.outc);
  else {
    const [classes, width] = model.outc.shape;
    const G = denseLogitsTable(model.outc, values.get(model.outc));
    const s = padded4(classes), t = arena.f32(tables.toLogits.gPtr, width * s);
    for (let o = 0; o < width; o++) for (let c = 0; c < classes; c++) t[o * s + c] = G[o * classes + c];
  }
}
