/**
 * The packed format `.frq` (docs/format.md) and the PyTorch exporter: the zig-zag order against a
 * brute-force sort of the upstream key, float16 conversions over all 65,536 patterns, the upstream
 * model in under 2 KB with bit-identical coefficients, byte-identical round trips for the upstream
 * model, the four PyTorch fixtures and seeded random state dicts, every single-byte change of a
 * packed upstream model refused, crafted files reaching each PACK_* check, and the CLI.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FreqregError, type ErrorCode } from '../src/errors.js';
import {
  exactHalfBits, forEachZigzag, halfBitsToFloatBits, readPacked, readPackedHeader, unetTemplate, writePacked,
} from '../src/formats/packed.js';
import { halfToFloat, readTorchZip } from '../src/formats/torch.js';
import { writeTorchZip } from '../src/formats/torch-write.js';
import { crc32 } from '../src/formats/zip.js';
import { DEFAULT_LIMITS, withLimits } from '../src/formats/limits.js';
import { detectFormat, loadModel, readCheckpoint } from '../src/loader.js';
import type { CoeffTensor, Dtype } from '../src/model.js';
import { unetKeys } from '../src/model.js';
import { createNodeEngine } from '../src/node/engines.js';
import { loadModelFile, xzWasmModule } from '../src/node/load.js';
import { fixturesDir, PACKAGE_ROOT, readFixtures, rng, upstreamDir } from './helpers.js';
import { craftFrq, frqVarint } from './support/frq-builder.js';
import { modelDict, writeCheckpoint } from './support/checkpoint.js';
import { syntheticModel } from './support/synthetic.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');
/** The budget for the packed upstream model. */
const MAX_UPSTREAM_FRQ_BYTES = 2048;
/** The upstream model's information: 759 float16 values. */
const UPSTREAM_VALUE_BYTES = 759 * 2;

const readBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function codeOf(run: () => unknown): ErrorCode | 'no error' | string {
  try {
    run();
    return 'no error';
  } catch (e) {
    return e instanceof FreqregError ? e.code : `crash: ${(e as Error).name}: ${(e as Error).message}`;
  }
}

/** Recomputes the trailing CRC-32 after a deliberate edit (a tampered file, not a corrupted one). */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

/** A tensor as position → float32 bits, for comparisons that do not depend on order. */
function coefficientMap(t: CoeffTensor): Map<string, number> {
  const rank = t.shape.length;
  const bits = new Uint32Array(t.values.buffer, t.values.byteOffset, t.values.length);
  const m = new Map<string, number>();
  for (let k = 0; k < t.values.length; k++) m.set(Array.from(t.indices.subarray(k * rank, k * rank + rank)).join(','), bits[k]);
  return m;
}

/** Same names in the same order, same shapes, dtypes, layouts, and identical positions and value bits. */
function sameStateDict(t: Test, got: Map<string, CoeffTensor>, want: Map<string, CoeffTensor>, label: string): void {
  t.same([...got.keys()], [...want.keys()], `${label}: names in order`);
  let mismatches = 0;
  for (const [name, w] of want) {
    const g = got.get(name);
    if (!g) continue;
    const same = g.dtype === w.dtype && g.sparse === w.sparse && g.shape.join() === w.shape.join()
      && sameBytes(new Uint8Array(g.indices.buffer, g.indices.byteOffset, g.indices.byteLength), new Uint8Array(w.indices.buffer, w.indices.byteOffset, w.indices.byteLength))
      && sameBytes(new Uint8Array(g.values.buffer, g.values.byteOffset, g.values.byteLength), new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
    if (!same && mismatches++ < 3) t.fail(`${label}: ${name} differs (${g.dtype}/${w.dtype}, ${g.values.length}/${w.values.length} values)`);
  }
  t.equal(mismatches, 0, `${label}: every tensor identical (positions, value bits, dtype, layout)`);
}

// ---------- zig-zag order ----------

/** Every position of `shape`, sorted by the upstream key Σ_k (i_k + i_k / Π_{j≤k} (D_j + 1)) in float64. */
function upstreamKeyOrder(shape: number[]): number[][] {
  const all: number[][] = [[]];
  for (const d of shape) {
    const next: number[][] = [];
    for (const p of all) for (let i = 0; i < d; i++) next.push([...p, i]);
    all.splice(0, all.length, ...next);
  }
  const key = (p: number[]): number => {
    let k = 0, radix = 1;
    p.forEach((i, a) => { radix *= shape[a] + 1; k += i + i / radix; });
    return k;
  };
  return all.sort((a, b) => key(a) - key(b));
}

t.test('zig-zag order = the upstream key, sorted exactly', async (t) => {
  const shapes = [[], [1], [7], [3, 4], [4, 3, 3, 3], [4, 5, 2, 2], [2, 17, 1, 1], [3, 1, 4, 2], [2, 3, 2, 2, 2], [6, 6, 3, 3]];
  for (const shape of shapes) {
    const want = upstreamKeyOrder(shape);
    const keys = new Set(want.map((p) => p.join()));
    const got: number[][] = [];
    const visited = forEachZigzag(shape, Infinity, (p) => { got.push(Array.from(p)); });
    t.equal(visited, want.length, `[${shape}]: visits all ${want.length} positions`);
    t.equal(keys.size, want.length, `[${shape}]: the float64 upstream keys have no ties`);
    t.same(got, want, `[${shape}]: same order as the upstream key`);
    const first = [] as number[][];
    forEachZigzag(shape, 5, (p) => { first.push(Array.from(p)); });
    t.same(first, want.slice(0, 5), `[${shape}]: a prefix of 5`);
  }
  t.equal(forEachZigzag([3, 0, 2], 10, () => {}), 0, 'an empty tensor has no positions');
  // A huge shape costs only the prefix asked for.
  let n = 0;
  forEachZigzag([1 << 30, 1 << 30, 1 << 30, 3], 1000, () => { n++; });
  t.equal(n, 1000, 'prefix of 1000 in a 2^90-element shape');
});

// ---------- float16 ----------

t.test('float16: every pattern converts exactly both ways', async (t) => {
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  let bad = 0;
  for (let h = 0; h < 0x10000; h++) {
    const bits = halfBitsToFloatBits(h);
    u[0] = bits;
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const ok = isNaN ? Number.isNaN(f[0]) && exactHalfBits(bits) === -1
      : Object.is(f[0], halfToFloat(h)) && exactHalfBits(bits) === h;
    if (!ok && bad++ < 3) t.fail(`half 0x${h.toString(16)}: float bits 0x${bits.toString(16)}, back ${exactHalfBits(bits)}`);
  }
  t.equal(bad, 0, 'all 65,536 half patterns');
  const r = rng(5);
  let inexact = 0;
  for (let i = 0; i < 100_000; i++) {
    u[0] = Math.floor(r() * 2 ** 32);
    const h = exactHalfBits(u[0]);
    if (h >= 0) t.equal(halfBitsToFloatBits(h), u[0]);
    else inexact++;
  }
  t.ok(inexact > 90_000, 'random float32 patterns are mostly not float16; the rest convert back exactly');
  f[0] = 2 ** -24; t.equal(exactHalfBits(u[0]), 1, 'smallest subnormal');
  f[0] = 2 ** -25; t.equal(exactHalfBits(u[0]), -1, 'below the smallest subnormal');
  f[0] = 65504; t.equal(exactHalfBits(u[0]), 0x7bff, 'largest finite');
  f[0] = 65520; t.equal(exactHalfBits(u[0]), -1, 'beyond the largest finite');
  f[0] = 1 + 2 ** -10; t.equal(exactHalfBits(u[0]), 0x3c01, '1 + ulp');
  f[0] = 1 + 2 ** -11; t.equal(exactHalfBits(u[0]), -1, '1 + half an ulp');
});

// ---------- the upstream model ----------

const xz = xzWasmModule();

t.test('upstream model: ≤ 2,048 bytes, bit-identical, byte-identical round trip, same logits', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const original = readCheckpoint(readBytes(join(dir, 'unet_fr.tar.xz')), { xz });
  const packed = writePacked(original);
  t.ok(packed.length <= MAX_UPSTREAM_FRQ_BYTES, `packed upstream model is ${packed.length} bytes (budget ${MAX_UPSTREAM_FRQ_BYTES}; the values alone are ${UPSTREAM_VALUE_BYTES})`);
  // 12 header + 3 template parameters + 23 × (code + count) + 1,518 values + 4 checksum.
  t.equal(packed.length, 12 + 3 + 23 * 2 + UPSTREAM_VALUE_BYTES + 4, 'exactly the expected layout: 1,583 bytes');
  t.equal(readPackedHeader(packed).layout, 'unet', 'UNet template layout');
  t.equal(detectFormat(packed), 'frq', 'detected from its bytes');

  const read = readPacked(packed);
  sameStateDict(t, read, original, 'read(pack(upstream))');
  t.ok(sameBytes(writePacked(read), packed), 'pack → read → pack is byte-identical');
  const again = readCheckpoint(packed, { xz });
  sameStateDict(t, again, original, 'readCheckpoint(.frq)');

  // Every tensor: zig-zag positions, float16 values, float32 sparse source (code 0b0_01_0_00 = 0x28).
  const codes: number[] = [];
  let at = 15;
  for (const [, tensor] of original) { codes.push(packed[at]); at += 2 + tensor.values.length * 2; }
  t.same(codes, new Array(23).fill(0x28), 'every layer: zig-zag, float16 values, sparse float32 source');

  // The engines see the same model, so give the same logits (bit for bit) and masks.
  const fromPt = loadModel(readBytes(join(dir, 'unet_fr.tar.xz')), { xz });
  const fromFrq = loadModel(packed);
  const h = 24, w = 20;
  const r = rng(11);
  const input = Float32Array.from({ length: 3 * h * w }, () => r());
  const outputs: Float32Array[] = [];
  for (const model of [fromPt, fromFrq]) {
    const engine = await createNodeEngine('spectral', model, 1);
    outputs.push((await engine.run(input, w, h)).data.slice());
    await engine.dispose();
  }
  t.ok(sameBytes(new Uint8Array(outputs[0].buffer), new Uint8Array(outputs[1].buffer)), `spectral engine: identical logits ${h}×${w} from .tar.xz and .frq`);
});

t.test('upstream model: every single-byte change of the packed file is refused', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const packed = writePacked(readCheckpoint(readBytes(join(dir, 'unet_fr.tar.xz')), { xz }));
  const codes = new Map<string, number>();
  const accepted: string[] = [];
  for (const mask of [0xff, 0x01, 0x80]) {
    for (let i = 0; i < packed.length; i++) {
      const bad = packed.slice();
      bad[i] ^= mask;
      const code = codeOf(() => readPacked(bad));
      const viaLoader = codeOf(() => readCheckpoint(bad, { xz }));
      if (code === 'no error' || viaLoader === 'no error') accepted.push(`byte ${i} ^ 0x${mask.toString(16)}`);
      if (code !== viaLoader && !(i < 4 && viaLoader === 'UNKNOWN_FORMAT')) t.fail(`byte ${i} ^ 0x${mask.toString(16)}: readPacked ${code}, readCheckpoint ${viaLoader}`);
      const region = i < 4 ? 'magic' : i < 8 ? 'version/layout/count' : i < 12 ? 'length' : i < packed.length - 4 ? 'body' : 'checksum';
      codes.set(`${region} ${code}`, (codes.get(`${region} ${code}`) ?? 0) + 1);
    }
  }
  t.same(accepted, [], `all ${3 * packed.length} changed files refused`);
  const allowed = new Set(['PACK_HEADER', 'PACK_TRAILING', 'PACK_CHECKSUM']);
  t.ok([...codes.keys()].every((k) => allowed.has(k.split(' ')[1])), `only coded refusals: ${JSON.stringify(Object.fromEntries(codes))}`);
  t.equal(codes.get('body PACK_CHECKSUM'), 3 * (packed.length - 16), 'every body change is a checksum mismatch');
  t.equal(codes.get('checksum PACK_CHECKSUM'), 12);
  t.equal(codes.get('magic PACK_HEADER'), 12);

  const truncations: string[] = [];
  for (let n = 0; n < packed.length; n++) {
    const code = codeOf(() => readPacked(packed.subarray(0, n)));
    if (code !== 'PACK_HEADER') truncations.push(`${n}: ${code}`);
  }
  t.same(truncations, [], `every truncation (0…${packed.length - 1} bytes) is PACK_HEADER`);
  const longer = new Uint8Array(packed.length + 1);
  longer.set(packed);
  t.equal(codeOf(() => readPacked(longer)), 'PACK_TRAILING', 'one byte appended');
  const polyglot = new Uint8Array(packed.length + 22);
  polyglot.set(packed);
  polyglot.set([0x50, 0x4b, 0x05, 0x06], packed.length);
  t.equal(codeOf(() => readCheckpoint(polyglot)), 'PACK_TRAILING', 'a zip end record appended (polyglot)');
});

// ---------- the PyTorch fixtures ----------

t.test('PyTorch fixtures: byte-identical round trips, float16 stays float16, dense stays lossless', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    const original = readCheckpoint(readBytes(join(dir, f.model)));
    const packed = writePacked(original);
    const read = readPacked(packed);
    sameStateDict(t, read, original, f.name);
    t.ok(sameBytes(writePacked(read), packed), `${f.name}: pack → read → pack byte-identical (${packed.length} bytes)`);
    const fromXz = readCheckpoint(readBytes(join(dir, f.model_xz)), { xz });
    t.ok(sameBytes(writePacked(fromXz), packed), `${f.name}: .tar.xz packs to the same bytes as .pt`);
    const code = packed[15]; // the first tensor's code, after the header and the 3 template bytes
    if (f.name === 'tiny-half') {
      t.ok([...read.values()].every((x) => x.dtype === 'float16' && x.sparse), 'tiny-half: float16 sparse tensors');
      t.equal(code, 0x20, 'tiny-half: zig-zag, float16 values, float16 source');
    } else if (f.name === 'tiny-dense') {
      t.ok([...read.values()].every((x) => !x.sparse && x.dtype === 'float32'), 'tiny-dense: dense float32 tensors');
      t.equal(code & 3, 2, 'tiny-dense: full storage');
      t.equal(packed.length, 15 + 23 + f.nonzero_parameters * 2 + 4, 'tiny-dense: every coefficient, as float16 (each is exactly one)');
    } else {
      t.equal(code, 0x28, `${f.name}: zig-zag, float16 values, float32 source`);
    }
  }
});

t.test('a model whose coefficients are not float16: stored as float32, bit-identical, same logits as its .pt', async (t) => {
  const model = syntheticModel({ width: 4, nnzPerLayer: 9, seed: 71 });
  const dict = modelDict(model);
  const inexact = [...dict.values()].flatMap((x) => [...x.values]).filter((v) => exactHalfBits(new Uint32Array(Float32Array.of(v).buffer)[0]) === -1);
  t.ok(inexact.length > 0.9 * model.layers.length * 9, `${inexact.length} coefficients are not exactly a float16`);
  const packed = writePacked(dict);
  const read = readPacked(packed);
  sameStateDict(t, read, dict, 'non-float16');
  t.ok([...read.values()].every((x) => x.dtype === 'float32'), 'float32 kept');
  t.equal(packed[15] & 4, 4, 'the first tensor is coded with float32 values');
  const fromPt = await createNodeEngine('dense', loadModel(writeCheckpoint(dict)), 1);
  const fromFrq = await createNodeEngine('dense', loadModel(packed), 1);
  const input = Float32Array.from({ length: 3 * 20 * 24 }, (_, i) => ((i * 37) % 101) / 100);
  const a = await fromPt.run(input, 24, 20), b = await fromFrq.run(input, 24, 20);
  await fromPt.dispose();
  await fromFrq.dispose();
  t.same([...b.data], [...a.data], 'identical logits from the .pt and the .frq');
});

// ---------- export ----------

t.test('export: the project reads back what it writes, identical coefficients', async (t) => {
  const dir = upstreamDir(t);
  const fixtures = fixturesDir(t);
  const cases: [string, Uint8Array][] = [];
  if (dir) cases.push(['upstream', readBytes(join(dir, 'unet_fr.tar.xz'))]);
  if (fixtures) for (const f of readFixtures(fixtures)) cases.push([f.name, readBytes(join(fixtures, f.model))]);
  for (const [name, bytes] of cases) {
    const original = readCheckpoint(bytes, { xz });
    const exported = writeTorchZip(original);
    t.equal(detectFormat(exported), 'pt', `${name}: a zip checkpoint`);
    sameStateDict(t, readTorchZip(exported, DEFAULT_LIMITS), original, `${name} export`);
    t.ok(sameBytes(writeTorchZip(readPacked(writePacked(original))), exported), `${name}: export of the packed model = export of the original`);
    const renamed = writeTorchZip(original, { prefix: 'unet_fr' });
    sameStateDict(t, readTorchZip(renamed, DEFAULT_LIMITS), original, `${name} export under unet_fr/`);
  }
  t.equal(codeOf(() => writeTorchZip(new Map(), { prefix: '../x' })), 'ZIP_NAME', 'record folder must be a plain name');
});

t.test('export: PyTorch layout (64-byte aligned records, data descriptors, protocol-2 pickle)', async (t) => {
  const tensors = new Map<string, CoeffTensor>([
    ['a.weight', { shape: [2, 3], indices: Int32Array.from([1, 2, 0, 1]), values: Float32Array.from([0.5, -2]), dtype: 'float32', sparse: true }],
    ['b.weight', { shape: [2], indices: Int32Array.from([1]), values: Float32Array.from([3]), dtype: 'float16', sparse: false }],
  ]);
  const zip = writeTorchZip(tensors);
  const dv = new DataView(zip.buffer);
  const names: string[] = [];
  for (let at = 0; dv.getUint32(at, true) === 0x04034b50;) {
    const nameLength = dv.getUint16(at + 26, true), extra = dv.getUint16(at + 28, true);
    const data = at + 30 + nameLength + extra;
    names.push(new TextDecoder().decode(zip.subarray(at + 30, at + 30 + nameLength)));
    t.equal(data % 64, 0, `${names.at(-1)}: data 64-byte aligned`);
    t.equal(dv.getUint16(at + 6, true), 0x0808, 'flags: descriptor, UTF-8');
    const size = readTorchZipEntrySize(zip, names.at(-1)!);
    at = data + size + 16;
  }
  t.same(names, ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/data/2', 'archive/version']);
  const read = readTorchZip(zip, DEFAULT_LIMITS);
  // Sparse positions come back row-major (coalesced), whatever order they were given in.
  t.same(Array.from(read.get('a.weight')!.indices), [0, 1, 1, 2]);
  t.same(Array.from(read.get('a.weight')!.values), [-2, 0.5]);
  t.same(read.get('b.weight'), { ...tensors.get('b.weight'), indices: Int32Array.from([1]) });
});

/** Size of a record, from the central directory (the local header holds zeros). */
function readTorchZipEntrySize(zip: Uint8Array, name: string): number {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  let at = dv.getUint32(eocd + 16, true);
  for (let i = 0; i < dv.getUint16(eocd + 10, true); i++) {
    const nameLength = dv.getUint16(at + 28, true);
    if (new TextDecoder().decode(zip.subarray(at + 46, at + 46 + nameLength)) === name) return dv.getUint32(at + 24, true);
    at += 46 + nameLength + dv.getUint16(at + 30, true) + dv.getUint16(at + 32, true);
  }
  throw new Error(`no ${name}`);
}

// ---------- random state dicts (generic layout, every mode) ----------

function randomTensor(r: () => number, forceSparse?: boolean): CoeffTensor {
  const rank = Math.floor(r() * 6);
  const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * (rank > 3 ? 3 : 6)));
  const numel = shape.reduce((a, b) => a * b, 1);
  const sparse = forceSparse ?? r() < 0.6;
  const dtype = (['float16', 'float32', 'float64'] as Dtype[])[Math.floor(r() * 3)];
  const style = r();
  // Position sets: a zig-zag prefix, everything, or a random subset.
  let linear: number[];
  if (style < 0.35) {
    const n = Math.floor(r() * (numel + 1));
    linear = [];
    forEachZigzag(shape, n, (p) => { linear.push(p.reduce((l, i, a) => l * shape[a] + i, 0)); });
  } else if (style < 0.5) {
    linear = Array.from({ length: numel }, (_, i) => i);
  } else {
    linear = Array.from({ length: numel }, (_, i) => i).filter(() => r() < 0.3);
  }
  linear.sort(() => r() - 0.5);
  const special = [0, -0, NaN, Infinity, -Infinity, 2 ** -24, 65504, 1e-30, 3.4e38];
  const values = Float32Array.from(linear, () => {
    const x = r();
    if (x < 0.1) return special[Math.floor(r() * special.length)];
    if (dtype === 'float16' || x < 0.6) return halfToFloat(Math.floor(r() * 0x7c00) | (r() < 0.5 ? 0x8000 : 0));
    return (r() - 0.5) * 100;
  });
  if (dtype === 'float16') for (let k = 0; k < values.length; k++) if (!Number.isNaN(values[k]) && exactHalfBits(new Uint32Array(Float32Array.of(values[k]).buffer)[0]) < 0) values[k] = 1;
  const indices = new Int32Array(linear.length * rank);
  linear.forEach((l, k) => {
    for (let a = rank - 1; a >= 0; a--) { indices[k * rank + a] = l % shape[a]; l = Math.floor(l / shape[a]); }
  });
  if (sparse) return { shape, indices, values, dtype, sparse };
  // A dense source holds its non-zeros only.
  const keep = Array.from(values.keys()).filter((k) => values[k] !== 0);
  return {
    shape, dtype, sparse,
    values: Float32Array.from(keep, (k) => values[k]),
    indices: Int32Array.from(keep.flatMap((k) => Array.from(indices.subarray(k * rank, k * rank + rank)))),
  };
}

t.test('seeded random state dicts: canonical, byte-identical round trips in every mode', async (t) => {
  const r = rng(2024);
  const modes = new Map<number, number>();
  let failures = 0;
  for (let i = 0; i < 300; i++) {
    const dict = new Map<string, CoeffTensor>();
    const count = 1 + Math.floor(r() * 4);
    for (let k = 0; k < count; k++) dict.set(`layer${k}.${'é'.repeat(k)}weight`, randomTensor(r));
    const packed = writePacked(dict);
    const read = readPacked(packed);
    const again = writePacked(read);
    let ok = sameBytes(again, packed) && [...read.keys()].join() === [...dict.keys()].join();
    for (const [name, want] of dict) {
      const got = read.get(name)!;
      const wantMap = coefficientMap(want);
      if (want.sparse === false) for (const [k, v] of wantMap) if (v === 0 || v === 0x80000000) wantMap.delete(k);
      const gotMap = coefficientMap(got);
      ok &&= got.dtype === want.dtype && got.sparse === want.sparse && got.shape.join() === want.shape.join()
        && gotMap.size === wantMap.size && [...wantMap].every(([k, v]) => gotMap.get(k) === v);
    }
    // Position mode of the first tensor (generic layout: its code is byte 12).
    modes.set(packed[12] & 3, (modes.get(packed[12] & 3) ?? 0) + 1);
    if (!ok && failures++ < 3) t.fail(`dict ${i}: round trip differs`);
  }
  t.equal(failures, 0, '300 random state dicts round-trip exactly');
  t.equal(modes.size, 3, `first tensors used every mode: ${JSON.stringify(Object.fromEntries(modes))}`);
});

t.test('each position mode and value encoding, chosen by size', async (t) => {
  const tensor = (shape: number[], positions: number[][], values: number[], sparse = true, dtype: Dtype = 'float32'): CoeffTensor =>
    ({ shape, indices: Int32Array.from(positions.flat()), values: Float32Array.from(values), dtype, sparse });
  const code = (tt: CoeffTensor): number => {
    const packed = writePacked(new Map([['x', tt]]));
    return packed[12];
  };
  t.equal(code(tensor([4, 4], [[0, 0], [0, 1], [1, 0]], [1, 2, 3])) & 7, 0, 'zig-zag prefix, float16');
  t.equal(code(tensor([4, 4], [[0, 0], [0, 1], [1, 0]], [1, 2, 0.1])) & 7, 4, 'zig-zag prefix, float32 (0.1 is not a float16)');
  t.equal(code(tensor([4, 4], [[0, 0], [3, 3]], [1, 2])) & 3, 1, 'two far positions: explicit');
  t.equal(code(tensor([2, 2], [[0, 0], [0, 1], [1, 0], [1, 1]], [1, 2, 3, 4])) & 3, 2, 'every position: full');
  t.equal(code(tensor([20], [[0], [1], [2], [3], [5], [6], [7], [8], [9]], [1, 2, 3, 4, 5, 6, 7, 8, 9], false)) & 3, 0, 'dense source: a zig-zag prefix with a zero filled in is smaller');
  t.equal(code(tensor([100], [[99]], [1], false)) & 3, 1, 'dense source, one far non-zero: explicit');
  t.equal(code(tensor([3], [], [], true)) & 3, 0, 'no positions: zig-zag with N = 0');
  t.equal(code(tensor([4], [[0]], [1], true, 'float64')) >> 3 & 3, 2, 'float64 source recorded');
  t.equal(code(tensor([4], [[0]], [NaN], true, 'float16')) & 4, 4, 'a NaN is stored as float32 bits');
  const nan = new Float32Array(1);
  new Uint32Array(nan.buffer)[0] = 0x7fc01234;
  const payload = readPacked(writePacked(new Map([['x', { ...tensor([2], [[1]], [0]), values: nan }]]))).get('x')!;
  t.equal(new Uint32Array(payload.values.buffer)[0], 0x7fc01234, 'NaN payload kept');
  const negZero = readPacked(writePacked(new Map([['x', tensor([2], [[1]], [-0])]]))).get('x')!;
  t.ok(Object.is(negZero.values[0], -0), 'sparse -0 kept');
  t.equal(codeOf(() => writePacked(new Map())), 'PACK_HEADER', 'no tensors');
  t.equal(codeOf(() => writePacked(new Map([['x', tensor([2], [[2]], [1])]]))), 'PACK_TENSOR', 'index out of range');
  t.equal(codeOf(() => writePacked(new Map([['x', tensor([2], [[1], [1]], [1, 2])]]))), 'PACK_TENSOR', 'repeated position');
  t.equal(codeOf(() => writePacked(new Map([['x', tensor(new Array(9).fill(1), [], [])]]))), 'PACK_TENSOR', 'rank 9');
  t.equal(codeOf(() => writePacked(new Map([['', tensor([1], [], [])]]))), 'PACK_TENSOR', 'empty name');
});

// ---------- crafted files ----------

/** Varint bytes, optionally padded to a non-minimal length. */

const name = (s: string): number[] => { const b = new TextEncoder().encode(s); return [...frqVarint(b.length), ...b]; };
const half = (x: number): number[] => { const h = exactHalfBits(new Uint32Array(Float32Array.of(x).buffer)[0]); return [h & 0xff, h >> 8]; };

t.test('crafted files: each check names what is wrong', async (t) => {
  // x: shape [4], zig-zag N = 2, float16 values 1, 2, sparse float32 source (code 0x28).
  const good = [0x28, ...name('x'), 1, 4, 2, ...half(1), ...half(2)];
  t.equal(codeOf(() => readPacked(craftFrq({ body: good }))), 'no error', 'the well-formed base case');
  t.same(Array.from(readPacked(craftFrq({ body: good })).get('x')!.values), [1, 2]);

  const cases: [string, ErrorCode, Uint8Array][] = [
    ['bad magic', 'PACK_HEADER', craftFrq({ body: good, magic: [0x89, 0x46, 0x52, 0x52] })],
    ['version 2', 'PACK_HEADER', craftFrq({ body: good, version: 2 })],
    ['version 0', 'PACK_HEADER', craftFrq({ body: good, version: 0 })],
    ['layout 2', 'PACK_HEADER', craftFrq({ body: good, layout: 2 })],
    ['tensor count 0', 'PACK_HEADER', craftFrq({ body: good, count: 0 })],
    ['declared length beyond the file', 'PACK_HEADER', craftFrq({ body: good, length: 0xffffffff })],
    ['declared length shorter than the file', 'PACK_TRAILING', craftFrq({ body: good, length: 16 })],
    ['declared length below the minimum', 'PACK_HEADER', craftFrq({ body: good, length: 3 })],
    ['tensor count 2, one tensor', 'PACK_TENSOR', craftFrq({ body: good, count: 2 })],
    ['bytes after the last tensor', 'PACK_TRAILING', craftFrq({ body: [...good, 0] })],
    ['reserved code bits', 'PACK_TENSOR', craftFrq({ body: [0x28 | 0x40, ...good.slice(1)] })],
    ['position mode 3', 'PACK_TENSOR', craftFrq({ body: [0x2b, ...good.slice(1)] })],
    ['dtype code 3', 'PACK_TENSOR', craftFrq({ body: [0x38, ...good.slice(1)] })],
    ['empty name', 'PACK_TENSOR', craftFrq({ body: [0x28, 0, 1, 4, 2, ...half(1), ...half(2)] })],
    ['name past the end', 'PACK_TENSOR', craftFrq({ body: [0x28, ...frqVarint(500), 0x78] })],
    ['name over 1,024 bytes', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'.repeat(1025)), 1, 4, 2, ...half(1), ...half(2)] })],
    ['name not UTF-8', 'PACK_TENSOR', craftFrq({ body: [0x28, 2, 0xc3, 0x28, 1, 4, 2, ...half(1), ...half(2)] })],
    ['duplicate name', 'PACK_TENSOR', craftFrq({ body: [...good, ...good], count: 2 })],
    ['rank 9', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 9, ...new Array(9).fill(1), 0] })],
    ['dimension over 2^31 - 1', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 1, ...frqVarint(2 ** 31), 0] })],
    ['shape product over 2^53', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 3, ...frqVarint(2 ** 31 - 1), ...frqVarint(2 ** 31 - 1), ...frqVarint(2 ** 31 - 1), 0] })],
    ['non-minimal varint', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 1, ...frqVarint(4, 2), 2, ...half(1), ...half(2)] })],
    ['varint over 8 bytes', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 1, 0x84, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00] })],
    ['count over numel', 'PACK_INDEX', craftFrq({ body: [0x28, ...name('x'), 1, 4, 5, ...half(1)] })],
    ['values past the end', 'PACK_OFFSETS', craftFrq({ body: [0x28, ...name('x'), 1, 4, 2, ...half(1)] })],
    ['2^40 positions claimed in a 10-byte body', 'PACK_OFFSETS', craftFrq({ body: [0x28, ...name('x'), 2, ...frqVarint(2 ** 20), ...frqVarint(2 ** 20), ...frqVarint(2 ** 40)] })],
    ['full mode over a 2^50-element shape', 'PACK_OFFSETS', craftFrq({ body: [0x2a, ...name('x'), 2, ...frqVarint(2 ** 25), ...frqVarint(2 ** 25)] })],
    ['explicit index out of range', 'PACK_INDEX', craftFrq({ body: [0x29, ...name('x'), 1, 4, 2, 1, 2, ...half(1), ...half(2)] })],
    ['explicit: first index out of range', 'PACK_INDEX', craftFrq({ body: [0x29, ...name('x'), 1, 100, 1, 100, ...half(1)] })],
    ['not canonical: float32 values that fit float16', 'PACK_TENSOR', craftFrq({ body: [0x2c, ...name('x'), 1, 4, 2, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40] })],
    ['not canonical: explicit where a zig-zag prefix is exact', 'PACK_TENSOR', craftFrq({ body: [0x29, ...name('x'), 1, 100, 2, 0, 0, ...half(1), ...half(2)] })],
    ['not canonical: zig-zag where full storage is exact', 'PACK_TENSOR', craftFrq({ body: [0x28, ...name('x'), 1, 2, 2, ...half(1), ...half(2)] })],
    ['not canonical: dense zig-zag ending in a zero', 'PACK_TENSOR', craftFrq({ body: [0x08, ...name('x'), 1, 100, 2, ...half(1), ...half(0)] })],
    ['not canonical: dense explicit storing a zero', 'PACK_TENSOR', craftFrq({ body: [0x09, ...name('x'), 1, 100, 2, 0, 97, ...half(1), ...half(0)] })],
  ];
  for (const [what, code, bytes] of cases) t.equal(codeOf(() => readPacked(bytes)), code, what);

  // Limits: checked before allocating.
  // 1,000 explicit zeros of a sparse tensor (kept: a sparse source's stored positions are data).
  const many = craftFrq({ body: [0x28, ...name('x'), 1, ...frqVarint(2000), ...frqVarint(1000), ...new Array(2000).fill(0)] });
  t.equal(codeOf(() => readPacked(many)), 'no error', '1,000 stored zeros, default limits');
  t.equal(codeOf(() => readPacked(many, withLimits({ maxTotalParameters: 999 }))), 'MODEL_TOO_LARGE', 'over maxTotalParameters');
  t.equal(codeOf(() => readPacked(many, withLimits({ maxTensorBytes: 3999 }))), 'PACK_TENSOR', 'over maxTensorBytes');
  t.equal(codeOf(() => readPacked(craftFrq({ body: good }), withLimits({ maxInputBytes: 20 }))), 'PACK_HEADER', 'declared length over maxInputBytes');
});

t.test('crafted UNet-template files', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const packed = writePacked(readCheckpoint(readBytes(join(dir, 'unet_fr.tar.xz')), { xz }));
  const edit = (at: number, value: number): Uint8Array => { const b = packed.slice(); b[at] = value; return reseal(b); };
  t.equal(codeOf(() => readPacked(edit(6, 22))), 'PACK_HEADER', 'count 22 with the UNet template');
  t.equal(codeOf(() => readPacked(edit(13, 0))), 'PACK_HEADER', 'width 0');
  t.equal(codeOf(() => readPacked(edit(12, 0))), 'PACK_HEADER', 'input channels 0');
  t.equal(codeOf(() => readPacked(edit(5, 0))), 'PACK_TENSOR', 'layout generic over a template body');
  // A resealed edit that stays well-formed is a different, valid model: the checksum guards
  // against corruption, not against deliberate tampering (docs/format.md, "Integrity").
  t.equal(readPacked(edit(13, 65)).get('inc.double_conv.0.weight')!.shape[0], 65, 'width 65, resealed: read as width 65');
  // Width 2^27: channels 2^31 overflow the template.
  const huge = [0x03, 0x80, 0x80, 0x80, 0x40, 0x02];
  const b = new Uint8Array(packed.length + 3);
  b.set(packed.subarray(0, 12));
  b.set(huge, 12);
  b.set(packed.subarray(15), 18);
  new DataView(b.buffer).setUint32(8, b.length, true);
  t.equal(codeOf(() => readPacked(reseal(b))), 'PACK_HEADER', 'width 2^27: channels beyond 2^31 - 1');
  // Generic layout for the UNet is not canonical.
  const dict = readPacked(packed);
  t.same(unetTemplate({ inChannels: 3, width: 64, classes: 2 }).map((x) => x.name), unetKeys(), 'template names = unetKeys()');
  t.same(unetTemplate({ inChannels: 3, width: 64, classes: 2 }).map((x) => x.shape), [...dict.values()].map((x) => x.shape), 'template shapes = upstream shapes');
});

// ---------- loader, files and CLI ----------

function freqreg(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('CLI: pack and export, output rules, every reader takes .frq', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const tmp = mkdtempSync(join(tmpdir(), 'freqreg-packed-'));
  const upstream = join(dir, 'unet_fr.tar.xz');

  const packed = freqreg(['pack', upstream], tmp);
  t.equal(packed.code, 0, packed.stderr);
  const frq = join(tmp, 'unet_fr.frq');
  t.match(packed.stdout, /1,583 bytes/, 'reports the size');
  t.ok(statSync(frq).size <= MAX_UPSTREAM_FRQ_BYTES, `default output unet_fr.frq, ${statSync(frq).size} bytes`);
  t.ok(sameBytes(readBytes(frq), writePacked(readCheckpoint(readBytes(upstream), { xz }))), 'the CLI writes the library\'s bytes');

  t.equal(freqreg(['pack', upstream], tmp).code, 3, 'an existing output is not replaced');
  t.equal(freqreg(['pack', upstream, '--overwrite'], tmp).code, 0, '--overwrite replaces it');
  t.equal(freqreg(['pack', frq, '-o', frq, '--overwrite'], tmp).code, 3, 'never over the input, even with --overwrite');
  symlinkSync(frq, join(tmp, 'link.frq'));
  t.equal(freqreg(['pack', frq, '-o', join(tmp, 'link.frq'), '--overwrite'], tmp).code, 3, 'never over the input through a symlink');
  t.equal(freqreg(['pack'], tmp).code, 2, 'MODEL is required');
  t.equal(freqreg(['pack', upstream, '-o', ''], tmp).code, 2, 'empty --output');
  const notModel = join(tmp, 'x.pt');
  writeFileSync(notModel, 'not a model');
  t.equal(freqreg(['pack', notModel, '-o', join(tmp, 'x.frq')], tmp).code, 3, 'a non-model is refused');

  const repacked = freqreg(['pack', frq, '-o', join(tmp, 'again.frq')], tmp);
  t.equal(repacked.code, 0, repacked.stderr);
  t.ok(sameBytes(readBytes(join(tmp, 'again.frq')), readBytes(frq)), 'pack of a .frq is byte-identical');

  const exported = freqreg(['export', frq, '-o', join(tmp, 'back.pt')], tmp);
  t.equal(exported.code, 0, exported.stderr);
  sameStateDict(t, readCheckpoint(readBytes(join(tmp, 'back.pt'))), readCheckpoint(readBytes(upstream), { xz }), 'exported .pt');

  const inspect = freqreg(['inspect', frq, '--json']);
  t.equal(inspect.code, 0, inspect.stderr);
  const s = JSON.parse(inspect.stdout);
  t.equal(s.format, 'frq');
  t.equal(s.nonzero.total, 759, 'inspect reads .frq: 759 non-zeros');
  const loaded = await loadModelFile(frq);
  t.equal(loaded.format, 'frq', 'loadModelFile detects .frq from its bytes');

  const corrupt = readBytes(frq);
  corrupt[100] ^= 1;
  writeFileSync(join(tmp, 'corrupt.frq'), corrupt);
  const refused = freqreg(['inspect', join(tmp, 'corrupt.frq')]);
  t.equal(refused.code, 3, 'a corrupted .frq is refused');
  t.match(refused.stderr, /PACK_CHECKSUM/, 'with the checksum error');
});
