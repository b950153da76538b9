/**
 * The trainable set of an FR model: for each layer, the coefficients at zig-zag ranks 0 … R−1
 * (R capped at the layer's size), zeros included, in the order the upstream training code ranks
 * them (`ZIdx2Int(getZIdx_4d(shape))` of frereg/_freqreg_eva.py).
 *
 * Upstream sorts positions by the key Σ_k (i_k + i_k / Π_{j≤k}(D_j + 1)) computed in float32. In
 * exact arithmetic that is the order of (i0+i1+i2+i3, i0, i1, i2, i3), which forEachZigzag
 * (src/formats/packed.ts) walks. In float32 the key's smallest terms vanish in the large layers,
 * neighbouring positions get equal keys, and PyTorch's unstable sort puts some of those pairs
 * in reverse (512×1024×3×3 at ranks 34/35; 1024×1024×3×3 at 39/40, 53/54, 56/57 among the first
 * 64). zigzagPositions follows upstream's order, so a trainer ranks coefficients as upstream does.
 */
import { fail } from '../errors.js';
import { forEachZigzag } from '../formats/packed.js';
import { denseSize, type FrLayer, type FrModel } from '../model.js';

/**
 * Upstream's zig-zag key of one position in float32, operation by operation as PyTorch evaluates
 * getZIdx_4d: m_k = i_k + i_k / f32(Π_{j≤k}(D_j + 1)) per axis (the product in double, as Python
 * forms it), then ((m_0 + m_1) + m_2) + m_3, every step rounded to float32.
 */
export function zigzagKeyF32(shape: readonly number[], position: ArrayLike<number>): number {
  const f = Math.fround;
  let denominator = 1;
  let key = 0;
  for (let k = 0; k < shape.length; k++) {
    denominator *= shape[k] + 1;
    const i = position[k];
    const term = f(i + f(i / f(denominator)));
    key = k === 0 ? term : f(key + term);
  }
  return key;
}

/**
 * The first `count` positions (fewer if the tensor is smaller) of `shape` in upstream's zig-zag
 * order, (count, 4) row-major.
 *
 * The float32 key of a position with index sum s lies within a few units in the last place of
 * [s, s + 1], so only positions of the last sum reached and of the next one can change places.
 * Those candidates are enumerated in exact order (never the whole tensor) and sorted by the
 * float32 key. Where two of the first `count` have the same float32 key (the large layers: the
 * key's last terms fall below float32's resolution), the order is that of PyTorch's unstable CPU
 * sort, which `upstreamSortPrefix` replays.
 */
export function zigzagPositions(shape: readonly number[], count: number): Int32Array {
  const n = Math.min(count, denseSize(shape));
  if (n <= 0) return new Int32Array(0);
  const cacheKey = `${shape.join('x')}:${n}`;
  let positions = orderCache.get(cacheKey);
  if (!positions) {
    positions = upstreamOrder(shape, n);
    if (orderCache.size >= ORDER_CACHE_SIZE) orderCache.delete(orderCache.keys().next().value!);
    orderCache.set(cacheKey, positions);
  }
  return positions.slice();
}

/** Orders computed so far, by shape and count (a model has at most a few dozen distinct shapes). */
const orderCache = new Map<string, Int32Array>();
const ORDER_CACHE_SIZE = 64;

function upstreamOrder(shape: readonly number[], n: number): Int32Array {
  const rank = shape.length;
  // Index sum of the n-th position in exact order: candidates run to that sum + 1.
  let lastSum = 0;
  forEachZigzag(shape, n, (p) => { lastSum = sumOf(p); });
  const candidates: Int32Array[] = [];
  forEachZigzag(shape, Number.MAX_SAFE_INTEGER, (p) => {
    if (sumOf(p) > lastSum + 1) return false;
    candidates.push(Int32Array.from(p));
  });
  const keyed = candidates.map((p, exactRank) => ({ p, exactRank, key: zigzagKeyF32(shape, p) }));
  keyed.sort((a, b) => a.key - b.key || a.exactRank - b.exactRank);
  const out = new Int32Array(n * rank);
  let tied = false;
  for (let r = 0; r < n; r++) {
    out.set(keyed[r].p, r * rank);
    if (r + 1 < keyed.length && keyed[r].key === keyed[r + 1].key) tied = true;
  }
  if (!tied || rank !== 4) return out;
  const flat = upstreamSortPrefix(shape, n);
  if (!flat) return out;
  for (let r = 0; r < n; r++) {
    let f = flat[r];
    for (let a = rank - 1; a >= 0; a--) { out[r * rank + a] = f % shape[a]; f = Math.floor(f / shape[a]); }
  }
  return out;
}

/** Partitions below this size are left to the final insertion sort (libstdc++ `_S_threshold`). */
const SORT_THRESHOLD = 16;

/**
 * The first `need` flat indices of `torch.sort` (CPU, stable=False) applied to upstream's float32
 * keys of a 4-D shape in row-major order: PyTorch 1.13 sorts with std::sort, libstdc++'s introsort
 * (median-of-three pivot moved to the front, unguarded partition, recursion on the right part and
 * a loop on the left, then one insertion sort), whose treatment of equal keys decides their order.
 * Only the partitions that reach the first `need` slots are followed (elements never cross a
 * partition boundary afterwards), so the work is a few passes over the keys, not a full sort.
 * Returns undefined if the introsort would fall back to heapsort (depth limit), never seen here.
 * `work.scanned`, if given, receives the number of keys the partitions followed cover (the sort's
 * work beyond filling the keys), so a caller can check that it stays a few passes.
 */
export function upstreamSortPrefix(shape: readonly number[], need: number, work?: { scanned: number }): Int32Array | undefined {
  const [n0, n1, n2, n3] = shape;
  const size = n0 * n1 * n2 * n3;
  // Per-axis terms m_k(i) = i + i / Π_{j≤k}(D_j + 1) in float32, summed ((m0 + m1) + m2) + m3.
  const f = Math.fround;
  const terms = shape.map((d, k) => {
    const denominator = f(shape.slice(0, k + 1).reduce((acc, e) => acc * (e + 1), 1));
    return Float32Array.from({ length: d }, (_, i) => f(i + f(i / denominator)));
  });
  const key = new Float32Array(size);
  const idx = new Int32Array(size);
  let at = 0;
  for (let a = 0; a < n0; a++)
    for (let b = 0; b < n1; b++) {
      const ab = f(terms[0][a] + terms[1][b]);
      for (let c = 0; c < n2; c++) {
        const abc = f(ab + terms[2][c]);
        for (let d = 0; d < n3; d++) { key[at] = abc + terms[3][d]; idx[at] = at; at++; }
      }
    }
  const swap = (i: number, j: number) => {
    const k = key[i]; key[i] = key[j]; key[j] = k;
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
  };
  const less = (i: number, j: number) => key[i] < key[j];
  const limit = Math.max(need, SORT_THRESHOLD + 1);
  let end = size; // every partition that starts before `end` has been followed
  let heapsort = false;
  let scanned = 0;
  const introsortLoop = (first: number, last: number, depth: number): void => {
    while (last - first > SORT_THRESHOLD) {
      if (depth === 0) { heapsort = true; return; }
      depth--;
      scanned += last - first;
      // __move_median_to_first(first, first + 1, mid, last − 1)
      const a = first + 1, b = first + ((last - first) >> 1), c = last - 1;
      if (less(a, b)) {
        if (less(b, c)) swap(first, b); else if (less(a, c)) swap(first, c); else swap(first, a);
      } else if (less(a, c)) swap(first, a);
      else if (less(b, c)) swap(first, c);
      else swap(first, b);
      // __unguarded_partition(first + 1, last, first)
      let lo = first + 1, hi = last;
      for (;;) {
        while (less(lo, first)) lo++;
        hi--;
        while (less(first, hi)) hi--;
        if (!(lo < hi)) break;
        swap(lo, hi);
        lo++;
      }
      if (lo < limit) introsortLoop(lo, last, depth);
      else end = Math.min(end, lo);
      last = lo;
    }
  };
  introsortLoop(0, size, 2 * Math.floor(Math.log2(size)));
  if (work) work.scanned = scanned + end;
  if (heapsort) return undefined;
  // __final_insertion_sort over [0, end): a guarded insertion sort of the first 16, then unguarded.
  for (let i = 1; i < end; i++) {
    const vk = key[i], vi = idx[i];
    let j = i;
    if (i < SORT_THRESHOLD && vk < key[0]) {
      for (; j > 0; j--) { key[j] = key[j - 1]; idx[j] = idx[j - 1]; }
    } else {
      for (; vk < key[j - 1]; j--) { key[j] = key[j - 1]; idx[j] = idx[j - 1]; }
    }
    key[j] = vk; idx[j] = vi;
  }
  return idx.slice(0, need);
}

function sumOf(p: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < p.length; k++) s += p[k];
  return s;
}

/** A model prepared for training, and how many leading entries of each layer are trainable. */
export interface TrainableModel {
  /**
   * Every layer's `indices` list its first `ranks[l]` zig-zag positions (the stored value there,
   * or 0), then the layer's other stored non-zeros, which stay fixed.
   */
  model: FrModel;
  /** Trainable count per layer, in `model.layers` order: min(R, the layer's size). */
  ranks: number[];
}

/**
 * The model with its trainable set of R ranks per layer listed first. R must be a positive
 * integer (else RANKS_INVALID). The input model is not changed; biases are shared with it.
 */
export function trainableModel(model: FrModel, ranks: number): TrainableModel {
  checkRanks(ranks);
  const counts: number[] = [];
  const byLayer = new Map<FrLayer, FrLayer>();
  for (const layer of model.layers) {
    const prepared = trainableLayer(layer, ranks);
    counts.push(Math.min(ranks, denseSize(layer.shape)));
    byLayer.set(layer, prepared);
  }
  return { model: mapLayers(model, (layer) => byLayer.get(layer)!), ranks: counts };
}

/** Refuses a rank count that is not a positive integer. */
export function checkRanks(ranks: number): void {
  if (!Number.isInteger(ranks) || ranks < 1) fail('engine', 'RANKS_INVALID', `ranks must be a positive integer, got ${ranks}`);
}

function trainableLayer(layer: FrLayer, ranks: number): FrLayer {
  const [, n1, n2, n3] = layer.shape;
  const flat = (p: ArrayLike<number>, at = 0) => ((p[at] * n1 + p[at + 1]) * n2 + p[at + 2]) * n3 + p[at + 3];
  // Stored value per dense position (duplicates add, as in the inverse DCT).
  const stored = new Map<number, number>();
  for (let k = 0; k < layer.values.length; k++) {
    const at = flat(layer.indices, k * 4);
    stored.set(at, (stored.get(at) ?? 0) + layer.values[k]);
  }
  const positions = zigzagPositions(layer.shape, ranks);
  const count = positions.length / 4;
  const indices: number[] = Array.from(positions);
  const values: number[] = [];
  for (let r = 0; r < count; r++) {
    const at = flat(positions, r * 4);
    values.push(stored.get(at) ?? 0);
    stored.delete(at);
  }
  // The other stored non-zeros, in file order, fixed.
  for (let k = 0; k < layer.values.length; k++) {
    const at = flat(layer.indices, k * 4);
    const v = stored.get(at);
    if (v === undefined || v === 0) continue;
    stored.delete(at);
    for (let a = 0; a < 4; a++) indices.push(layer.indices[k * 4 + a]);
    values.push(v);
  }
  return { ...layer, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

/** The same UNet with every layer replaced by `replace(layer)`. */
export function mapLayers(model: FrModel, replace: (layer: FrLayer) => FrLayer): FrModel {
  const layers = model.layers.map(replace);
  const of = (layer: FrLayer) => layers[model.layers.indexOf(layer)];
  const doubleConv = (dc: FrModel['inc']) => ({ conv1: of(dc.conv1), conv2: of(dc.conv2) });
  return {
    arch: model.arch,
    inc: doubleConv(model.inc),
    down: model.down.map(doubleConv),
    up: model.up.map((stage) => ({ up: of(stage.up), conv: doubleConv(stage.conv) })),
    outc: of(model.outc),
    layers,
  };
}

/** The current trainable values of every layer (the first ranks[l] entries), as float64. */
export function trainableValues(trainable: TrainableModel): Float64Array[] {
  return trainable.model.layers.map((layer, l) => Float64Array.from(layer.values.subarray(0, trainable.ranks[l])));
}

/**
 * Writes updated trainable values back into the model, layer by layer (`values[l]` has
 * ranks[l] entries; stored as float32, as the model holds them). Non-finite values are refused.
 */
export function setTrainableValues(trainable: TrainableModel, values: ArrayLike<ArrayLike<number>>): void {
  const { layers } = trainable.model;
  if (values.length !== layers.length) fail('engine', 'TRAINABLE_VALUES', `expected values for ${layers.length} layers, got ${values.length}`);
  layers.forEach((layer, l) => {
    const v = values[l];
    if (v.length !== trainable.ranks[l]) fail('engine', 'TRAINABLE_VALUES', `expected ${trainable.ranks[l]} values, got ${v.length}`, { tensor: layer.name });
    for (let r = 0; r < v.length; r++) {
      if (!Number.isFinite(v[r])) fail('engine', 'NOT_FINITE', `value ${r} is ${v[r]}`, { tensor: layer.name });
    }
  });
  layers.forEach((layer, l) => layer.values.set(values[l]));
}
