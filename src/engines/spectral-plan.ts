/**
 * The spectral factorization of an FR UNet, and what it costs.
 *
 * A layer whose weight is W[o,i,y,x] = Σ C[a,b,c,d] φ_a(o) φ_b(i) φ_c(y) φ_d(x) (see src/dct.ts)
 * runs as three small steps (docs: fr-unet.md, "Executing in the frequency domain"):
 * project the input channels on the distinct input-axis frequencies b (P_b maps), correlate
 * with one small spatial kernel per (a, b) pair (Q_a maps), expand on the output-axis
 * frequencies a. This file derives those factors from a layer once per model, and estimates
 * per layer, for an image size, the FLOPs and bytes of the spectral and of the dense form.
 */
import { dctBasis } from '../dct.js';
import type { FrLayer, FrModel } from '../model.js';
import { distinctPerAxis, UNET_DEPTH } from '../model.js';

/** The factors of one layer. Conv: a = axis 0 (out), b = axis 1 (in); transposed conv: swapped. */
export interface LayerFactors {
  layer: FrLayer;
  cin: number;
  cout: number;
  /** Kernel side (3, 2 or 1). */
  k: number;
  /** Distinct input-axis frequencies, ascending: P map g holds frequency inFreqs[g]. */
  inFreqs: number[];
  /** Distinct output-axis frequencies, ascending: Q (or U) map g holds frequency outFreqs[g]. */
  outFreqs: number[];
  /** (nPairs, 2): (output map index, input map index), sorted by the output map. */
  pairs: Int32Array;
  /** (nPairs, k, k): K[y,x] = Σ_{c,d} C[·,·,c,d] φ_c(y) φ_d(x), float64. */
  taps: Float64Array;
}

export interface FactorOptions {
  /**
   * Every listed position counts, zeros included (a model built for training: each trainable
   * coefficient needs its frequencies and its (a, b) pair even while it is 0, and the tables keep
   * their shape when the values change).
   */
  keepZeros?: boolean;
  /** Coefficient values to use instead of `layer.values` (same positions). */
  values?: ArrayLike<number>;
}

/** Factors of a conv (weight (Cout, Cin, k, k)) or transposed conv (weight (Cin, Cout, k, k)). */
export function layerFactors(layer: FrLayer, options: FactorOptions = {}): LayerFactors {
  const [n0, n1, kh, kw] = layer.shape;
  if (kh !== kw) throw new Error(`${layer.name}: square kernels only, got ${kh}×${kw}`);
  const transposed = layer.kind === 'convTranspose';
  const keepZeros = options.keepZeros ?? false;
  const values = options.values ?? layer.values;
  const axes = keepZeros ? listedPerAxis(layer) : distinctPerAxis(layer);
  const outAxis = transposed ? 1 : 0, inAxis = transposed ? 0 : 1;
  const outFreqs = axes[outAxis], inFreqs = axes[inAxis];
  const outIdx = new Map(outFreqs.map((f, g) => [f, g]));
  const inIdx = new Map(inFreqs.map((f, g) => [f, g]));
  const kk = kh * kw;
  const byPair = new Map<number, Float64Array>(); // key a·nIn + b
  const nnz = layer.values.length;
  for (let n = 0; n < nnz; n++) {
    const v = values[n];
    if (v === 0 && !keepZeros) continue;
    const idx = layer.indices.subarray(n * 4, n * 4 + 4);
    const a = outIdx.get(idx[outAxis])!, b = inIdx.get(idx[inAxis])!;
    const key = a * inFreqs.length + b;
    let K = byPair.get(key);
    if (!K) byPair.set(key, (K = new Float64Array(kk)));
    for (let y = 0; y < kh; y++) {
      const fy = dctBasis(kh, idx[2], y);
      for (let x = 0; x < kw; x++) K[y * kw + x] += v * fy * dctBasis(kw, idx[3], x);
    }
  }
  const keys = [...byPair.keys()].sort((p, q) => p - q);
  const pairs = new Int32Array(keys.length * 2);
  const taps = new Float64Array(keys.length * kk);
  keys.forEach((key, p) => {
    pairs[2 * p] = Math.floor(key / inFreqs.length);
    pairs[2 * p + 1] = key % inFreqs.length;
    taps.set(byPair.get(key)!, p * kk);
  });
  return {
    layer, cin: transposed ? n0 : n1, cout: transposed ? n1 : n0, k: kh, inFreqs, outFreqs, pairs, taps,
  };
}

/** Distinct indices along each axis over every listed position, zeros included. */
function listedPerAxis(layer: FrLayer): number[][] {
  const sets = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  for (let k = 0; k < layer.indices.length; k++) sets[k & 3].add(layer.indices[k]);
  return sets.map((s) => [...s].sort((a, b) => a - b));
}

/** (count, freqs.length): B[o, g] = φ_{freqs[g]}^N(offset + o), float64. */
export function basisMatrix(N: number, freqs: readonly number[], offset = 0, count = N): Float64Array {
  const B = new Float64Array(count * freqs.length);
  for (let o = 0; o < count; o++) for (let g = 0; g < freqs.length; g++) B[o * freqs.length + g] = dctBasis(N, freqs[g], offset + o);
  return B;
}

/** Dense weight of a 1×1 conv as (Cout, Cin): W[o,i] = Σ C[a,b,0,0] φ_a(o) φ_b(i) (`values` instead of the layer's, same positions). */
export function dense1x1(layer: FrLayer, values: ArrayLike<number> = layer.values): Float64Array {
  const [cout, cin] = layer.shape;
  const W = new Float64Array(cout * cin);
  for (let n = 0; n < layer.values.length; n++) {
    const v = values[n];
    if (v === 0) continue;
    const a = layer.indices[n * 4], b = layer.indices[n * 4 + 1];
    for (let o = 0; o < cout; o++) {
      const fo = v * dctBasis(cout, a, o);
      for (let i = 0; i < cin; i++) W[o * cin + i] += fo * dctBasis(cin, b, i);
    }
  }
  return W;
}

/** Sizes of the UNet levels for an input size: level ℓ is ⌊H/2^ℓ⌋ × ⌊W/2^ℓ⌋. */
export function levelSizes(width: number, height: number): { w: number; h: number }[] {
  const out = [];
  for (let l = 0; l <= UNET_DEPTH; l++) out.push({ w: width >> l, h: height >> l });
  return out;
}

/** Per-layer estimate of one form (FLOPs count multiply and add as 2). */
export interface FormCost {
  flops: number;
  /** Bytes moved to and from memory (activations or maps, and weights), roughly. */
  bytes: number;
}

export interface LayerPlan {
  name: string;
  kind: FrLayer['kind'];
  /** UNet level the layer's output lives at (0 = full resolution). */
  level: number;
  width: number;
  height: number;
  cin: number;
  cout: number;
  k: number;
  /** Distinct input / output frequencies (P maps / Q maps). */
  nb: number;
  na: number;
  pairs: number;
  spectral: FormCost;
  dense: FormCost;
  /** The form with fewer FLOPs. The spectral engine currently runs every layer spectrally. */
  cheaper: 'spectral' | 'dense';
}

export interface SpectralPlan {
  width: number;
  height: number;
  layers: LayerPlan[];
  total: { spectral: FormCost; dense: FormCost; best: FormCost };
  /** outc: the consumer projection done with the dense (classes × width) weight, or spectrally. */
  outc: 'dense' | 'spectral';
}

/**
 * outc (1×1, width → classes): projecting the final features on its nb input frequencies costs
 * width·nb + pairs + classes·na per pixel; applying the dense (classes × width) weight costs
 * width·classes. Pick the smaller (upstream: 128 against 1,094).
 */
export function outcForm(f: LayerFactors): 'dense' | 'spectral' {
  const spectral = f.cin * f.inFreqs.length + f.pairs.length / 2 + f.cout * f.outFreqs.length;
  return f.cin * f.cout <= spectral ? 'dense' : 'spectral';
}

/** Per-layer FLOPs and bytes of the spectral and dense forms for a width × height input. */
export function planSpectral(model: FrModel, width: number, height: number): SpectralPlan {
  const sizes = levelSizes(width, height);
  const layers: LayerPlan[] = [];
  const add = (layer: FrLayer, level: number) => {
    const f = layerFactors(layer);
    const { w, h } = sizes[level];
    const n = w * h;
    const nb = f.inFreqs.length, na = f.outFreqs.length, pairs = f.pairs.length / 2;
    let spectral: FormCost, dense: FormCost;
    if (layer.kind === 'convTranspose') {
      // Runs at the input level (level + 1): project on the na axis-0 frequencies; the 2×2
      // scatter, folded with the concat's share of the next conv, writes 4 pixels per input pixel.
      const m = sizes[level + 1].w * sizes[level + 1].h;
      spectral = { flops: 2 * f.cin * nb * m + 2 * 4 * pairs * m, bytes: 4 * m * (2 * nb) };
      dense = { flops: 2 * f.cin * f.cout * 4 * m, bytes: 4 * (m * f.cin + 4 * m * f.cout + f.cin * f.cout * 4) };
    } else {
      const kk = f.k * f.k;
      // project (where the input channels are formed) + spatial + expand + stats/norm/ReLU
      const stats = n * (na * (na + 3) + f.cout);
      spectral = {
        flops: 2 * f.cin * nb * n + 2 * kk * pairs * n + 2 * f.cout * na * n + stats,
        // P maps written and read, Q maps written then read three times (sum, center+cov, fuse)
        bytes: 4 * n * (2 * nb + 4 * na),
      };
      dense = { flops: 2 * f.cout * f.cin * kk * n, bytes: 4 * (n * (f.cin + f.cout) + f.cout * f.cin * kk) };
    }
    layers.push({
      name: layer.name, kind: layer.kind, level, width: w, height: h, cin: f.cin, cout: f.cout, k: f.k, nb, na, pairs,
      spectral, dense, cheaper: spectral.flops <= dense.flops ? 'spectral' : 'dense',
    });
  };
  add(model.inc.conv1, 0);
  add(model.inc.conv2, 0);
  model.down.forEach((dc, k) => { add(dc.conv1, k + 1); add(dc.conv2, k + 1); });
  model.up.forEach((st, k) => {
    const level = UNET_DEPTH - 1 - k;
    add(st.up, level);
    add(st.conv.conv1, level);
    add(st.conv.conv2, level);
  });
  const outcF = layerFactors(model.outc);
  const form = outcForm(outcF);
  add(model.outc, 0);
  if (form === 'dense') {
    // The dense 1×1 weight is applied while the last features are formed.
    const last = layers[layers.length - 1];
    const n = width * height;
    last.spectral = { flops: 2 * outcF.cin * outcF.cout * n, bytes: 4 * n * outcF.cout };
  }
  const sum = (pick: (l: LayerPlan) => FormCost): FormCost =>
    layers.reduce((s, l) => ({ flops: s.flops + pick(l).flops, bytes: s.bytes + pick(l).bytes }), { flops: 0, bytes: 0 });
  return {
    width, height, layers, outc: form,
    total: {
      spectral: sum((l) => l.spectral),
      dense: sum((l) => l.dense),
      best: sum((l) => (l.cheaper === 'spectral' ? l.spectral : l.dense)),
    },
  };
}

/** The plan as a readable table (for `freqreg inspect MODEL --plan WxH`). */
export function formatPlan(plan: SpectralPlan): string {
  const g = (x: number) => (x / 1e9).toFixed(3);
  const mb = (x: number) => (x / 2 ** 20).toFixed(1);
  const head = ['layer', 'level', 'size', 'cin→cout', 'nb', 'na', 'pairs', 'spectral GFLOP', 'MiB', 'dense GFLOP', 'MiB', 'cheaper'];
  const rows = plan.layers.map((l) => [
    l.name, String(l.level), `${l.width}×${l.height}`, `${l.cin}→${l.cout}`, String(l.nb), String(l.na), String(l.pairs),
    g(l.spectral.flops), mb(l.spectral.bytes), g(l.dense.flops), mb(l.dense.bytes), l.cheaper,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = (i: number) => i >= 4 && i <= 10;
  const line = (r: string[]) => r.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const t = plan.total;
  return [
    `spectral plan for ${plan.width}×${plan.height} (GFLOP; MiB moved; outc consumer: ${plan.outc})`,
    line(head),
    ...rows.map(line),
    `total: spectral ${g(t.spectral.flops)} GFLOP, dense ${g(t.dense.flops)} GFLOP, per-layer best ${g(t.best.flops)} GFLOP`,
  ].join('\n');
}

/** Size the auto engine plans for: the layers' cost ratios barely depend on it. */
export const AUTO_PLAN_SIZE = 256;

/**
 * The form `auto` runs the whole network in: the one with fewer planned FLOPs (spectral for every
 * sparse FR model; dense for models whose coefficients fill most of the tensor).
 */
export function chooseForm(model: FrModel): 'spectral' | 'dense' {
  const plan = planSpectral(model, AUTO_PLAN_SIZE, AUTO_PLAN_SIZE);
  return plan.total.spectral.flops <= plan.total.dense.flops ? 'spectral' : 'dense';
}
