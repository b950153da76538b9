import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachZigzag } from '../src/formats/packed.js';
import { referenceForward } from '../src/engines/reference.js';
import {
  setTrainableValues, trainableModel, trainableValues, upstreamSortPrefix, zigzagKeyF32, zigzagPositions,
} from '../src/engines/trainable.js';
import { denseSize } from '../src/model.js';
import { loadModelFile } from '../src/node/load.js';
import { fixturesDir, rng } from './helpers.js';
import { syntheticModel } from './support/synthetic.js';

function exactOrder(shape: number[], count: number): number[][] {
  const out: number[][] = [];
  forEachZigzag(shape, count, (p) => { out.push(Array.from(p)); });
  return out;
}

function rows(positions: Int32Array): number[][] {
  return Array.from({ length: positions.length / 4 }, (_, r) => Array.from(positions.subarray(r * 4, r * 4 + 4)));
}

/** Every shape of the upstream UNet (width 64, 3 → 2 classes). */
const UPSTREAM_SHAPES: number[][] = [
  [64, 3, 3, 3], [64, 64, 3, 3], [128, 64, 3, 3], [128, 128, 3, 3], [256, 128, 3, 3], [256, 256, 3, 3],
  [512, 256, 3, 3], [512, 512, 3, 3], [1024, 512, 3, 3], [1024, 1024, 3, 3],
  [1024, 512, 2, 2], [512, 1024, 3, 3], [512, 256, 2, 2], [256, 512, 3, 3],
  [256, 128, 2, 2], [128, 256, 3, 3], [128, 64, 2, 2], [64, 128, 3, 3], [2, 64, 1, 1],
];

/**
 * PyTorch 1.13's CPU torch.sort(stable=False) of upstream's float32 keys over the whole tensor:
 * libstdc++ std::sort (introsort, then one final insertion sort), written out in full as the
 * twin of upstreamSortPrefix, which follows only the partitions reaching the first ranks.
 */
function fullUpstreamOrder(shape: number[]): number[][] {
  const size = denseSize(shape);
  const key = new Float32Array(size), idx = new Int32Array(size);
  const p = [0, 0, 0, 0];
  for (let f = 0; f < size; f++) {
    let r = f;
    for (let a = 3; a >= 0; a--) { p[a] = r % shape[a]; r = Math.floor(r / shape[a]); }
    key[f] = zigzagKeyF32(shape, p);
    idx[f] = f;
  }
  const swap = (i: number, j: number) => { [key[i], key[j]] = [key[j], key[i]]; [idx[i], idx[j]] = [idx[j], idx[i]]; };
  const lt = (i: number, j: number) => key[i] < key[j];
  const loop = (first: number, last: number, depth: number): void => {
    while (last - first > 16) {
      if (depth-- === 0) throw new Error('heapsort fallback');
      const mid = first + ((last - first) >> 1);
      const [a, b, c] = [first + 1, mid, last - 1];
      if (lt(a, b)) { if (lt(b, c)) swap(first, b); else if (lt(a, c)) swap(first, c); else swap(first, a); }
      else if (lt(a, c)) swap(first, a); else if (lt(b, c)) swap(first, c); else swap(first, b);
      let lo = first + 1, hi = last;
      for (;;) {
        while (lt(lo, first)) lo++;
        hi--;
        while (lt(first, hi)) hi--;
        if (!(lo < hi)) break;
        swap(lo, hi);
        lo++;
      }
      loop(lo, last, depth);
      last = lo;
    }
  };
  loop(0, size, 2 * Math.floor(Math.log2(size)));
  const insert = (i: number, guarded: boolean) => {
    const vk = key[i], vi = idx[i];
    let j = i;
    if (guarded && vk < key[0]) for (; j > 0; j--) { key[j] = key[j - 1]; idx[j] = idx[j - 1]; }
    else for (; vk < key[j - 1]; j--) { key[j] = key[j - 1]; idx[j] = idx[j - 1]; }
    key[j] = vk; idx[j] = vi;
  };
  for (let i = 1; i < size; i++) insert(i, i < 16);
  return Array.from(idx, (f) => {
    const q = [0, 0, 0, 0];
    for (let a = 3; a >= 0; a--) { q[a] = f % shape[a]; f = Math.floor(f / shape[a]); }
    return q;
  });
}

t.test('float32 zig-zag order: the swaps upstream makes, and none elsewhere', async (t) => {
  // The grad fixtures' README lists where upstream's order differs from the exact one in the first 64 ranks.
  const expectedSwaps: Record<string, number[]> = { '512,1024,3,3': [34], '1024,1024,3,3': [39, 53, 56] };
  for (const shape of UPSTREAM_SHAPES) {
    const f32 = rows(zigzagPositions(shape, 64));
    const exact = exactOrder(shape, 64);
    const swaps: number[] = [];
    for (let r = 0; r < 64; r++) {
      if (f32[r].join() === exact[r].join()) continue;
      if (r + 1 < 64 && f32[r].join() === exact[r + 1].join() && f32[r + 1].join() === exact[r].join()) { swaps.push(r); r++; continue; }
      swaps.push(-r); // anything but a neighbour swap
    }
    t.same(swaps, expectedSwaps[shape.join()] ?? [], `[${shape}] swapped ranks (r with r+1)`);
  }
});

t.test('zigzagPositions equals the full upstream sort', async (t) => {
  const cases: [number[], number][] = [
    [[3, 4, 3, 3], 108], [[5, 2, 2, 2], 40], [[2, 17, 1, 1], 34], [[1, 1, 1, 1], 3], [[7, 3, 1, 2], 20],
    [[64, 128, 3, 3], 400], [[128, 64, 2, 2], 300], [[256, 512, 3, 3], 200], [[1024, 512, 2, 2], 100],
  ];
  for (const [shape, count] of cases) {
    const full = fullUpstreamOrder(shape).slice(0, count);
    t.same(rows(zigzagPositions(shape, count)), full, `[${shape}] first ${count}`);
  }
  t.equal(zigzagPositions([2, 2, 1, 1], 0).length, 0, 'count 0: nothing');
});

/**
 * The replayed sort follows only the partitions that reach the first `need` slots: counted in keys
 * scanned, about 1.2–1.3 passes over the keys on the upstream shapes, where a full introsort makes
 * about log2(size) ≈ 23. A deterministic count, not a timing.
 */
const MAX_PASSES = 4;

t.test('zigzagPositions stays a few passes over the keys on 1024x1024x3x3, not a sort', async (t) => {
  for (const [shape, need] of [[[1024, 1024, 3, 3], 500], [[1024, 512, 2, 2], 100], [[64, 128, 3, 3], 400]] as [number[], number][]) {
    const size = denseSize(shape);
    const work = { scanned: 0 };
    const flat = upstreamSortPrefix(shape, need, work);
    t.equal(flat?.length, need, `[${shape}]: ${need} positions`);
    t.ok(work.scanned <= MAX_PASSES * size, `[${shape}]: ${(work.scanned / size).toFixed(2)} passes over ${size} keys`);
  }
  const shape = [1024, 1024, 3, 3];
  const p = zigzagPositions(shape, 500);
  t.equal(p.length, 2000);
  const q = zigzagPositions(shape, 500);
  t.same(q, p, 'a second call gives the same (from the cache)');
  q[0] = 99;
  t.not(zigzagPositions(shape, 500)[0], 99, 'and a copy: changing it leaves the cache alone');
});

t.test('trainableModel lists the first R zig-zag positions, zeros included, then the other stored ones', async (t) => {
  const model = syntheticModel({ width: 2, classes: 3, seed: 11, nnzPerLayer: 20, corner: 3 });
  for (const R of [1, 5, 64]) {
    const { model: m, ranks } = trainableModel(model, R);
    m.layers.forEach((layer, l) => {
      const original = model.layers[l];
      const n = Math.min(R, denseSize(layer.shape));
      t.equal(ranks[l], n, `${layer.name} R=${R}: ranks`);
      t.same(rows(layer.indices.subarray(0, n * 4)), rows(zigzagPositions(layer.shape, n)), `${layer.name} R=${R}: positions first`);
      // Same coefficients overall: each stored (position, value) appears once, extra entries are zeros.
      const dense = (idx: Int32Array, vals: Float32Array) => {
        const m2 = new Map<string, number>();
        for (let k = 0; k < vals.length; k++) if (vals[k] !== 0) m2.set(Array.from(idx.subarray(k * 4, k * 4 + 4)).join(), vals[k]);
        return m2;
      };
      t.same(dense(layer.indices, layer.values), dense(original.indices, original.values), `${layer.name} R=${R}: same coefficients`);
      t.equal(new Set(rows(layer.indices).map((p) => p.join())).size, layer.values.length, `${layer.name} R=${R}: no position twice`);
    });
    t.ok(m.inc.conv1 === m.layers[0] && m.outc === m.layers[m.layers.length - 1] && m.up[0].up === m.layers[10], 'structure points at the new layers');
  }
  t.not(trainableModel(model, 3).model.layers[0].values, model.layers[0].values, 'the input model is not shared');
  // The forward pass is the same.
  const r = rng(2);
  const input = { c: 3, h: 17, w: 19, data: Float64Array.from({ length: 3 * 17 * 19 }, () => r()) };
  const a = referenceForward(model, input).data, b = referenceForward(trainableModel(model, 7).model, input).data;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  t.ok(diff < 1e-12, `forward unchanged: max |Δlogit| ${diff}`);
});

t.test('R = 64 on tiny-sparse (stored with 33) lists the fixture positions and values', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  const json = JSON.parse(readFileSync(join(dir, 'grad', 'a-tiny-sparse.json'), 'utf8'));
  const { model } = await loadModelFile(join(dir, 'tiny-sparse.pt'));
  const trainable = trainableModel(model, 64);
  const values = trainableValues(trainable);
  json.layers.forEach((ref: { name: string; ranks: number; positions: number[][]; values: number[] }, l: number) => {
    const layer = trainable.model.layers[l];
    t.equal(layer.name, ref.name);
    t.equal(trainable.ranks[l], ref.ranks, `${ref.name}: ranks`);
    t.same(rows(layer.indices.subarray(0, ref.ranks * 4)), ref.positions, `${ref.name}: positions`);
    t.same(Array.from(values[l]), ref.values, `${ref.name}: values`);
  });
});

t.test('setTrainableValues writes the trainable entries and refuses bad values', async (t) => {
  const trainable = trainableModel(syntheticModel({ width: 1, seed: 4 }), 6);
  const next = trainableValues(trainable).map((v) => v.map((x, r) => x + r + 0.5));
  setTrainableValues(trainable, next);
  // The model holds float32 values.
  t.same(trainableValues(trainable).map((v) => Array.from(v)), next.map((v) => Array.from(v, Math.fround)));
  const fails = (what: string, f: () => void, code: string) => t.throws(f, { name: 'FreqregError', code }, what);
  fails('too few layers', () => setTrainableValues(trainable, next.slice(1)), 'TRAINABLE_VALUES');
  fails('wrong count', () => setTrainableValues(trainable, next.map((v, l) => (l === 3 ? v.subarray(1) : v))), 'TRAINABLE_VALUES');
  fails('NaN', () => setTrainableValues(trainable, next.map((v, l) => (l === 2 ? v.map(() => NaN) : v))), 'NOT_FINITE');
});

t.test('R must be a positive integer', async (t) => {
  const model = syntheticModel({ width: 1, seed: 1 });
  for (const R of [0, -3, 1.5, NaN, Infinity]) {
    t.throws(() => trainableModel(model, R), { name: 'FreqregError', code: 'RANKS_INVALID' }, `R = ${R}`);
  }
});
