/**
 * Fuzz targets, one per layer, for test/fuzz.test.ts (run in a worker by fuzz-worker.ts). Each is
 * a pure `(bytes) → result | FreqregError` over tiny limits, with a structure-aware generator:
 * valid inputs are built by the test writers, mutated at the level the layer reads (tar headers,
 * zip records, pickle opcodes, PNG chunks, xz headers), and checksums and lengths are fixed up
 * afterwards so the mutations reach the checks behind them. Where a writer exists, the unmutated
 * input must also round-trip exactly.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { FreqregError } from '../../src/errors.js';
import { withLimits, type Limits } from '../../src/formats/limits.js';
import { unpickle, type PickleEnv } from '../../src/formats/pickle.js';
import { readTarFiles, selectCheckpointMember } from '../../src/formats/tar.js';
import { readTorchZip } from '../../src/formats/torch.js';
import { readPacked, writePacked } from '../../src/formats/packed.js';
import { decodeXz } from '../../src/formats/xz.js';
import { crc32, readZip, readZipEntry } from '../../src/formats/zip.js';
import { loadModel } from '../../src/loader.js';
import type { CoeffTensor } from '../../src/model.js';
import { createEngine, type EngineContext } from '../../src/engines/index.js';
import { loadKernels } from '../../src/node/kernels.js';
import { decodePng } from '../../src/node/png.js';
import { decodePng as decodePngPortable } from '../../src/image/png-fflate.js';
import { applyOrientation, readJpegLayout } from '../../src/image/jpeg.js';
import { decodeImage } from '../../src/node/png.js';
import { xzWasmModule } from '../../src/node/load.js';
import { PACKAGE_ROOT } from '../helpers.js';
import { modelDict, writeCheckpoint } from './checkpoint.js';
import { chunk, fixCrcs, LEGAL_PAIRS, makePngCase, SIG, splitChunks } from './png-builder.js';
import { syntheticModel } from './synthetic.js';
import { exifBody, joinJpeg, splitJpeg, withOrientation, type Segment } from './jpeg-builder.js';
import { bytesOf, concat, paxRecord, torchZip, writeTar, writeZip, type TarSpecMember, type ZipSpecEntry } from './writers.js';

/** Small caps so runs explore logic, not allocation (docs/bad-inputs.md, "Fuzzing"). */
export const TINY_LIMITS: Limits = withLimits({
  maxInputBytes: 1 << 20, maxDecompressedBytes: 1 << 20, maxTarMembers: 16, maxTarExtendedHeaderBytes: 4096,
  maxZipEntries: 64, maxZipCentralDirectoryBytes: 64 << 10, maxPickleBytes: 256 << 10, maxPickleOpcodes: 100_000,
  maxPickleStack: 10_000, maxPickleDepth: 64, maxPickleMemo: 10_000, maxPickleStringBytes: 4096, maxTensorBytes: 4 << 20,
  maxTotalParameters: 1_000_000, maxDenseWeights: 1_000_000, maxActivationBytes: 16 << 20,
});
export const TINY_PNG_LIMITS = { maxWidth: 1024, maxHeight: 1024, maxPixels: 65536, maxJpegDecoderBytes: 4 << 20 };

export interface Target {
  /** Layer name: the folder of its regression files under test/fixtures/malformed/. */
  layer: string;
  /** What one input is. */
  what: string;
  arbitrary: fc.Arbitrary<Uint8Array>;
  /** Parses (and for e2e runs) the bytes; returns normally or throws FreqregError. */
  run(bytes: Uint8Array): void | Promise<void>;
  /** Round-trip property on valid inputs, where a writer exists. */
  roundTrip?: fc.IProperty<[unknown]> | fc.IAsyncProperty<[unknown]>;
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations (positions are taken modulo the length, so they shrink well)

const INTERESTING_U8 = [0, 1, 0x7f, 0x80, 0xff];
const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 31 - 2, 65535 + 22];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number; big: boolean }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'repeat'; at: number; n: number; times: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING_U8), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.constantFrom(...INTERESTING_U32), big: fc.boolean() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 8 }) }),
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

/** Applies mutations inside [start, end) of `bytes` (default: all of it). */
function mutate(bytes: Uint8Array, muts: readonly Mutation[], start = 0, end = bytes.length): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const m of muts) {
    const span = Math.max(1, Math.min(end, b.length) - start);
    const at = Math.min(b.length, start + (m.at % span));
    switch (m.kind) {
      case 'flip': if (at < b.length) b[at] ^= 1 << m.bit; break;
      case 'byte': if (at < b.length) b[at] = m.value; break;
      case 'u32': if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, m.value >>> 0, !m.big); break;
      case 'cut': b = b.slice(0, at); break;
      case 'insert': b = concat(b.subarray(0, at), m.bytes, b.subarray(at)); break;
      case 'delete': b = concat(b.subarray(0, at), b.subarray(at + m.n)); break;
      case 'repeat': {
        const piece = b.slice(at, at + m.n);
        b = concat(b.subarray(0, at + piece.length), ...Array.from({ length: m.times }, () => piece), b.subarray(at + piece.length));
        break;
      }
    }
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// xz → bytes

const xz = xzWasmModule();
const XZ_SEED = new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'fuzz', 'seed.tar.xz')));

/** Recomputes the stream header, first block header and stream footer CRC32s after a mutation. */
function fixXz(b: Uint8Array): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 12) dv.setUint32(8, crc32(b.subarray(6, 8)), true);
  if (b.length > 12 && b[12] !== 0) {
    const size = (b[12] + 1) * 4;
    if (12 + size <= b.length) dv.setUint32(12 + size - 4, crc32(b.subarray(12, 12 + size - 4)), true);
  }
  if (b.length >= 24) dv.setUint32(b.length - 12, crc32(b.subarray(b.length - 8, b.length - 2)), true);
  return b;
}

const xzTarget: Target = {
  layer: 'xz', what: 'a mutated .tar.xz (header, block header or footer CRCs fixed up)',
  arbitrary: fc.tuple(fc.constantFrom<'header' | 'block' | 'data' | 'tail' | 'any'>('header', 'block', 'data', 'tail', 'any'), mutations, fc.boolean()).map(([region, muts, fix]) => {
    const n = XZ_SEED.length;
    const [start, end] = { header: [0, 12], block: [12, 24], data: [24, n - 64], tail: [n - 64, n], any: [0, n] }[region];
    const b = mutate(XZ_SEED, muts, start, end);
    return fix ? fixXz(b) : b;
  }),
  run(bytes) {
    decodeXz(bytes, xz, TINY_LIMITS.maxDecompressedBytes);
  },
};

// ---------------------------------------------------------------------------------------------
// tar → entries

const TAR_NAMES = ['m.pt', 'a/b.pt', 'dir/', '../x.pt', '/abs.pt', 'a\\b.pt', 'a//b.pt', '', 'x'.repeat(99), 'PaxHeader', '././@LongLink', 'm\u00e9.pt'];
const TAR_TYPES = ['0', '\0', '5', 'x', 'g', 'L', 'K', '1', '2', '3', '4', '6', '7', 'S'];

const tarMember: fc.Arbitrary<TarSpecMember> = fc.record({
  name: fc.constantFrom(...TAR_NAMES),
  type: fc.constantFrom(...TAR_TYPES),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 1100 }),
    fc.array(fc.tuple(fc.constantFrom('path', 'size', 'mtime', 'linkpath', 'uid'), fc.constantFrom('m.pt', '../x', '12', '1e18', '99999999999999999', '-1', 'a/b.pt')), { maxLength: 3 })
      .map((recs) => bytesOf(recs.map(([k, v]) => paxRecord(k, v)).join(''))),
  ),
});

/** Every header's checksum recomputed, for headers that still sit on block boundaries. */
function fixTarChecksums(tar: Uint8Array): Uint8Array {
  for (let off = 0; off + 512 <= tar.length; off += 512) {
    const h = tar.subarray(off, off + 512);
    if (h[257] !== 0x75 || h[258] !== 0x73) continue; // only what looks like a ustar header
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(bytesOf(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  }
  return tar;
}

const tarTarget: Target = {
  layer: 'tar', what: 'a tar of generated members (names, types, pax records), header fields mutated, checksums fixed up',
  arbitrary: fc.tuple(fc.array(tarMember, { minLength: 1, maxLength: 5 }), fc.option(mutations), fc.boolean(), fc.boolean()).map(([members, muts, headerOnly, trailer]) => {
    let tar = writeTar(members, trailer);
    if (muts) tar = mutate(tar, muts, 0, headerOnly ? 512 : tar.length);
    return fixTarChecksums(tar);
  }),
  run(bytes) {
    selectCheckpointMember(readTarFiles(bytes, TINY_LIMITS));
  },
};

// ---------------------------------------------------------------------------------------------
// zip → records

const ZIP_NAMES = ['a/data.pkl', 'a/version', 'a/data/0', 'b/data/0', 'data.pkl', 'a/../x', 'a\\x', '/a', 'a/x\0', 'a/constants.pkl', 'a/code/x.py'];

const zipEntry: fc.Arbitrary<ZipSpecEntry> = fc.record({
  name: fc.constantFrom(...ZIP_NAMES),
  data: fc.uint8Array({ maxLength: 64 }),
  method: fc.constantFrom(0, 0, 0, 8, 99),
  flags: fc.constantFrom(0, 0, 0, 1, 8, 0x40, 0x2000),
  descriptor: fc.boolean(),
});

const zipTarget: Target = {
  layer: 'zip', what: 'a zip of generated entries (written with correct CRCs), then its header fields mutated',
  arbitrary: fc.tuple(fc.array(zipEntry, { minLength: 1, maxLength: 5 }), fc.option(mutations), fc.option(fc.uint8Array({ maxLength: 40 }))).map(([entries, muts, comment]) => {
    const zip = writeZip(entries, { comment: comment ?? undefined });
    return muts ? mutate(zip, muts) : zip;
  }),
  run(bytes) {
    const archive = readZip(bytes, TINY_LIMITS);
    for (const entry of archive.entries.values()) readZipEntry(archive, entry);
  },
};

// ---------------------------------------------------------------------------------------------
// pickle → object graph, opcode-level

/** Argument bytes after each opcode this interpreter knows (−1: a newline-terminated line, −2: two). */
const ARG_BYTES: Record<number, number> = {
  0x80: 1, 0x4a: 4, 0x4b: 1, 0x4d: 2, 0x47: 8, 0x71: 1, 0x72: 4, 0x68: 1, 0x6a: 4, 0x63: -2,
};

/** Splits a pickle into opcode chunks (opcode + arguments); an unknown tail stays one chunk. */
export function pickleOps(bytes: Uint8Array): Uint8Array[] {
  const ops: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const op = bytes[pos];
    let end = pos + 1;
    if (op === 0x58) end = pos + 5 + new DataView(bytes.buffer, bytes.byteOffset + pos + 1, 4).getUint32(0, true);
    else if (op === 0x8a) end = pos + 2 + bytes[pos + 1];
    else if (ARG_BYTES[op] === -2) { end = bytes.indexOf(0x0a, bytes.indexOf(0x0a, pos) + 1) + 1; if (end === 0) end = bytes.length; }
    else if (ARG_BYTES[op] !== undefined) end = pos + 1 + ARG_BYTES[op];
    end = Math.min(end, bytes.length);
    ops.push(bytes.subarray(pos, end));
    pos = end;
  }
  return ops;
}

/** Opcodes (with arguments) a mutation may insert: every opcode torch.save writes, plus refused ones. */
const OP_POOL: Uint8Array[] = [
  '(', '}', ']', ')', 'N', '\x88', '\x89', 't', '\x85', '\x86', '\x87', 'R', 'Q', 's', 'u', 'a', 'e', 'b', '.', '0', '2', '\x93', '\x94', 'o',
  'K\x00', 'K\xff', 'J\xff\xff\xff\xff', 'J\xff\xff\xff\x7f', 'M\xff\xff', '\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f', '\x8a\x01\xff', '\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01',
  'q\x00', 'q\x01', 'r\xff\xff\xff\xff', 'h\x00', 'h\x01', 'j\x00\x00\x00\x00', 'G\x7f\xf8\x00\x00\x00\x00\x00\x00',
  'X\x00\x00\x00\x00', 'X\x07\x00\x00\x00storage', 'X\x03\x00\x00\x00cpu', 'X\x01\x00\x00\x000', 'X\x01\x00\x00\x00\xff', 'X\xff\xff\xff\x7fab',
  'ctorch._utils\n_rebuild_tensor_v2\n', 'ctorch._utils\n_rebuild_sparse_tensor\n', 'ccollections\nOrderedDict\n', 'ctorch\nFloatStorage\n',
  'ctorch\nLongStorage\n', 'ctorch\nHalfStorage\n', 'ctorch\nSize\n', 'ctorch.serialization\n_get_layout\n', 'cos\nsystem\n', 'cbuiltins\neval\n', '\x80\x02',
].map(bytesOf);

type OpEdit =
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number; op: number }
  | { kind: 'swap'; at: number; with: number }
  | { kind: 'duplicate'; at: number; n: number }
  | { kind: 'int'; at: number; value: number };

const opEdit: fc.Arbitrary<OpEdit> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), op: fc.nat({ max: OP_POOL.length - 1 }) }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('int' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 2, 7, 255, 65535, 2 ** 31 - 1, -1, -(2 ** 31)) }),
);

function editOps(pickle: Uint8Array, edits: readonly OpEdit[]): Uint8Array {
  const ops = pickleOps(pickle);
  for (const e of edits) {
    const at = ops.length ? e.at % ops.length : 0;
    if (e.kind === 'delete') ops.splice(at, 1);
    if (e.kind === 'insert') ops.splice(at, 0, OP_POOL[e.op]);
    if (e.kind === 'swap' && ops.length) { const w = e.with % ops.length; [ops[at], ops[w]] = [ops[w], ops[at]]; }
    if (e.kind === 'duplicate') ops.splice(at, 0, ...ops.slice(at, at + e.n));
    if (e.kind === 'int') {
      // Replace the first integer opcode at or after `at` by BININT of the value.
      const i = ops.findIndex((op, k) => k >= at && (op[0] === 0x4a || op[0] === 0x4b || op[0] === 0x4d || op[0] === 0x8a));
      if (i >= 0) { const b = new Uint8Array(5); b[0] = 0x4a; new DataView(b.buffer).setInt32(1, e.value, true); ops[i] = b; }
    }
  }
  return concat(...ops);
}

/** A state-dict pickle of a tiny UNet and its storages, written the way torch.save does. */
function tinyCheckpointParts(seed: number, width: number, form: 'sparse' | 'dense'): { pickle: Uint8Array; storages: Record<string, Uint8Array>; zip: Uint8Array } {
  const zip = writeCheckpoint(modelDict(syntheticModel({ width, inChannels: 1 + (seed % 3), classes: 2, nnzPerLayer: 3, seed })), form);
  const archive = readZip(zip, TINY_LIMITS);
  const storages: Record<string, Uint8Array> = {};
  let pickle = new Uint8Array(0);
  for (const e of archive.entries.values()) {
    const data = readZipEntry(archive, e);
    if (e.name === 'archive/data.pkl') pickle = data.slice();
    else if (e.name.startsWith('archive/data/')) storages[e.name.slice('archive/data/'.length)] = data.slice();
  }
  return { pickle, storages, zip };
}

const STATE_SEEDS = [tinyCheckpointParts(1, 1, 'sparse'), tinyCheckpointParts(2, 1, 'dense'), tinyCheckpointParts(3, 2, 'sparse')];

/** A permissive allowlist env: every torch global callable, returning None (the pickle machine alone). */
const PICKLE_ENV: PickleEnv<never> = {
  globals: new Map([
    ['torch._utils\n_rebuild_tensor_v2', { call: () => null }], ['torch._utils\n_rebuild_sparse_tensor', { call: () => null }],
    ['collections\nOrderedDict', { call: () => ({ kind: 'dict', entries: new Map(), ordered: true }) }], ['torch\nSize', { call: () => null }],
    ['torch.serialization\n_get_layout', { call: () => null }], ['torch\nFloatStorage', {}], ['torch\nLongStorage', {}], ['torch\nHalfStorage', {}],
  ]),
  persistentLoad: () => null,
  limits: TINY_LIMITS,
};

const pickleTarget: Target = {
  layer: 'pickle', what: 'a state-dict pickle with opcodes deleted, inserted, swapped, duplicated or their ints replaced',
  arbitrary: fc.tuple(fc.nat({ max: STATE_SEEDS.length - 1 }), fc.array(opEdit, { minLength: 1, maxLength: 6 })).map(([s, edits]) => editOps(STATE_SEEDS[s].pickle, edits)),
  run(bytes) {
    unpickle(bytes, PICKLE_ENV);
  },
};

// ---------------------------------------------------------------------------------------------
// state dict → validated tensors

const tensorSpec: fc.Arbitrary<CoeffTensor> = fc.tuple(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 4 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 - 1 }))
  .chain(([shape, sparse, seed]) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    return fc.uniqueArray(fc.nat({ max: numel - 1 }), { maxLength: Math.min(numel, 12) }).map((positions) => {
      positions.sort((a, b) => a - b);
      const rank = shape.length;
      const indices = new Int32Array(positions.length * rank);
      positions.forEach((p, k) => { for (let a = rank - 1; a >= 0; a--) { indices[k * rank + a] = p % shape[a]; p = Math.floor(p / shape[a]); } });
      const values = Float32Array.from(positions, (_, k) => Math.fround(((seed + k * 7919) % 1000) / 100 - 4.995) || 1);
      return { shape, indices, values, dtype: 'float32' as const, sparse };
    });
  });

const stateDict = fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_.]{0,11}$/), tensorSpec), { minLength: 1, maxLength: 4, selector: ([k]) => k })
  .map((entries) => new Map(entries));

type StorageEdit = { key: number; kind: 'cut' | 'grow' | 'flip'; n: number };
const storageEdit: fc.Arbitrary<StorageEdit> = fc.record({ key: fc.nat(), kind: fc.constantFrom('cut' as const, 'grow' as const, 'flip' as const), n: fc.integer({ min: 1, max: 16 }) });

const torchTarget: Target = {
  layer: 'torch', what: 'a tiny UNet checkpoint: pickle opcodes edited and storages resized, re-zipped with correct CRCs',
  arbitrary: fc.tuple(fc.nat({ max: STATE_SEEDS.length - 1 }), fc.array(opEdit, { maxLength: 4 }), fc.array(storageEdit, { maxLength: 2 })).map(([s, edits, storageEdits]) => {
    const seed = STATE_SEEDS[s];
    const storages = { ...seed.storages };
    const keys = Object.keys(storages);
    for (const e of storageEdits) {
      const key = keys[e.key % keys.length];
      const b = storages[key];
      storages[key] = e.kind === 'cut' ? b.subarray(0, Math.max(0, b.length - e.n)) : e.kind === 'grow' ? concat(b, new Uint8Array(e.n)) : (() => { const c = b.slice(); if (c.length) c[e.n % c.length] ^= 0xff; return c; })();
    }
    return torchZip(editOps(seed.pickle, edits), storages);
  }),
  run(bytes) {
    readTorchZip(bytes, TINY_LIMITS);
  },
  roundTrip: fc.property(stateDict, fc.constantFrom<'sparse' | 'dense' | undefined>('sparse', 'dense', undefined), (dict, form) => {
    const back = readTorchZip(writeCheckpoint(dict, form), TINY_LIMITS);
    if (back.size !== dict.size) return false;
    for (const [name, t] of dict) {
      const r = back.get(name)!;
      const sparse = (form ?? (t.sparse ? 'sparse' : 'dense')) === 'sparse';
      if (!r || r.sparse !== sparse || r.shape.join() !== t.shape.join() || r.dtype !== 'float32') return false;
      if (r.values.join() !== t.values.join() || r.indices.join() !== t.indices.join()) return false;
    }
    return true;
  }) as unknown as fc.IProperty<[unknown]>,
};

// ---------------------------------------------------------------------------------------------
// packed (.frq) → tensors

/** Declared length and CRC-32 rewritten after a mutation, so it reaches the body's checks. */
function resealFrq(b: Uint8Array): Uint8Array {
  if (b.length < 16) return b;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(8, b.length, true);
  dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

const PACKED_SEEDS = STATE_SEEDS.map((s) => writePacked(readTorchZip(s.zip, TINY_LIMITS)));

const packedTarget: Target = {
  layer: 'packed', what: 'a packed tiny UNet or state dict, body bytes mutated, length and CRC-32 fixed up',
  arbitrary: fc.tuple(fc.oneof(fc.nat({ max: PACKED_SEEDS.length - 1 }).map((i) => PACKED_SEEDS[i]), stateDict.map((d) => writePacked(d))), mutations, fc.boolean())
    .map(([packed, muts, reseal]) => {
      const b = mutate(packed, muts, 5, packed.length - 4);
      return reseal ? resealFrq(b) : b;
    }),
  run(bytes) {
    readPacked(bytes, TINY_LIMITS);
  },
  roundTrip: fc.property(stateDict, (dict) => {
    const packed = writePacked(dict);
    return Buffer.from(writePacked(readPacked(packed, TINY_LIMITS))).equals(Buffer.from(packed));
  }) as unknown as fc.IProperty<[unknown]>,
};

// ---------------------------------------------------------------------------------------------
// png → pixels

const pngSpec = fc.record({
  pair: fc.constantFrom(...LEGAL_PAIRS),
  width: fc.integer({ min: 1, max: 12 }),
  height: fc.integer({ min: 1, max: 12 }),
  interlace: fc.integer({ min: 0, max: 1 }),
  trns: fc.boolean(),
  seed: fc.nat(),
});
const validPng = pngSpec.map((s) => makePngCase(s.width, s.height, s.pair[0], s.pair[1], s.interlace, s.trns && s.pair[0] !== 4 && s.pair[0] !== 6, s.seed));

type ChunkEdit =
  | { kind: 'data'; chunk: number; muts: Mutation[] }
  | { kind: 'ihdr'; field: number; value: number }
  | { kind: 'drop' | 'dup'; chunk: number }
  | { kind: 'swap'; chunk: number; with: number }
  | { kind: 'idat'; extra: number }
  | { kind: 'insert'; chunk: number; type: string; data: Uint8Array };

/** Weighted towards edits that keep the file readable, so more of them reach inflation and unfiltering. */
const chunkEdit: fc.Arbitrary<ChunkEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('data' as const), chunk: fc.nat(), muts: fc.array(mutation, { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ihdr' as const), field: fc.integer({ min: 0, max: 12 }), value: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 6, 7, 8, 16, 255), fc.integer({ min: 0, max: 255 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drop' as const, 'dup' as const), chunk: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap' as const), chunk: fc.nat(), with: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('idat' as const), extra: fc.integer({ min: -40, max: 4000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), chunk: fc.nat(), type: fc.constantFrom('PLTE', 'tRNS', 'IHDR', 'IDAT', 'IEND', 'tEXt', 'CRIT', 'zzZz'), data: fc.uint8Array({ maxLength: 40 }) }) },
);

function editPng(bytes: Uint8Array, edits: readonly ChunkEdit[]): Uint8Array {
  let chunks = splitChunks(bytes);
  for (const e of edits) {
    const at = chunks.length ? (('chunk' in e ? e.chunk : 0) % chunks.length) : 0;
    if (e.kind === 'data' && chunks.length) chunks[at] = { ...chunks[at], data: mutate(chunks[at].data, e.muts) };
    if (e.kind === 'ihdr' && chunks[0]?.type === 'IHDR' && chunks[0].data.length === 13) { const d = chunks[0].data.slice(); d[e.field] = e.value; chunks[0] = { type: 'IHDR', data: d }; }
    if (e.kind === 'drop') chunks.splice(at, 1);
    if (e.kind === 'dup' && chunks.length) chunks.splice(at, 0, chunks[at]);
    if (e.kind === 'swap' && chunks.length) { const w = e.with % chunks.length; [chunks[at], chunks[w]] = [chunks[w], chunks[at]]; }
    if (e.kind === 'insert') chunks.splice(at, 0, { type: e.type, data: e.data });
    if (e.kind === 'idat') {
      // Re-compress the image data one-off: too short, too long, or padded with a bomb of zeros.
      const idats = chunks.filter((c) => c.type === 'IDAT');
      if (!idats.length) continue;
      let raw: Uint8Array;
      try { raw = new Uint8Array(inflateSync(concat(...idats.map((c) => c.data)))); } catch { continue; }
      const n = Math.max(0, raw.length + e.extra);
      const changed = n <= raw.length ? raw.subarray(0, n) : concat(raw, new Uint8Array(n - raw.length));
      const first = chunks.findIndex((c) => c.type === 'IDAT');
      chunks = chunks.filter((c) => c.type !== 'IDAT');
      chunks.splice(first, 0, { type: 'IDAT', data: deflateSync(changed) });
    }
  }
  return concat(Uint8Array.from(SIG), ...chunks.map((c) => chunk(c.type, c.data)));
}

const pngTarget: Target = {
  layer: 'png', what: 'a random valid PNG with chunks mutated, dropped, duplicated, reordered or re-compressed, CRCs fixed up',
  arbitrary: fc.tuple(validPng, fc.array(chunkEdit, { minLength: 1, maxLength: 3 }), fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: mutations })).map(([k, edits, raw]) => {
    const edited = editPng(k.png, edits);
    return raw ? fixCrcs(mutate(edited, raw, 8)) : edited;
  }),
  run(bytes) {
    // Both decoders must agree: same pixels, or the same refusal.
    let a: unknown, b: unknown;
    try { a = decodePng(bytes, TINY_PNG_LIMITS); } catch (e) { a = e; }
    try { b = decodePngPortable(bytes, TINY_PNG_LIMITS); } catch (e) { b = e; }
    for (const r of [a, b]) if (r instanceof Error && !(r instanceof FreqregError)) throw r;
    const code = (r: unknown) => (r instanceof FreqregError ? r.code : 'OK');
    // fflate and node:zlib word some zlib faults differently; the layer's verdict must agree.
    const ok = (r: unknown) => !(r instanceof FreqregError);
    // One known, documented divergence (docs/security.md): fflate does not check a stored deflate
    // block's NLEN (the one's complement of LEN); node:zlib does. The pixels fflate returns follow
    // LEN and are still covered by the Adler-32 check.
    const nlenOnly = a instanceof FreqregError && /invalid stored block lengths/.test(a.message) && ok(b);
    if (ok(a) !== ok(b) && !nlenOnly) throw new Error(`decoders disagree: node ${code(a)}, portable ${code(b)}`);
    if (ok(a) && ok(b) && !nlenOnly) {
      const [x, y] = [a as { data: ArrayLike<number> }, b as { data: ArrayLike<number> }];
      if (Array.from(x.data).join() !== Array.from(y.data).join()) throw new Error('decoders disagree on the pixels');
    }
    if (a instanceof FreqregError) throw a;
  },
  roundTrip: fc.property(validPng, (k) => {
    const out = decodePng(k.png);
    return out.channels === k.expected.channels && out.bitDepth === k.expected.bitDepth && Array.from(out.data).join() === k.expected.data.join();
  }) as unknown as fc.IProperty<[unknown]>,
};

// ---------------------------------------------------------------------------------------------
// jpeg → pixels

/**
 * Small valid JPEGs (test/fixtures/jpeg/, made by scripts/make-jpeg-fixtures.mjs): jpeg-js's
 * baseline at sizes around the 8×8 block and 16×16 MCU and assorted qualities (seed-*.jpg), and
 * libjpeg-turbo's progressive, restart, grey, 4:2:0 and RGB files. Read once, on first use.
 */
const JPEG_FIXTURES = ['progressive.jpg', 'restart.jpg', 'grey.jpg', 'grey-progressive.jpg', 'subsampled-progressive.jpg', 'rgb.jpg'];
let jpegSeeds: Uint8Array[] | undefined;
function loadJpegSeeds(): Uint8Array[] {
  const dir = join(PACKAGE_ROOT, 'test', 'fixtures', 'jpeg');
  jpegSeeds ??= [...readdirSync(dir).filter((n) => n.startsWith('seed-')).sort(), ...JPEG_FIXTURES].map((n) => new Uint8Array(readFileSync(join(dir, n))));
  return jpegSeeds;
}
/** Any of the 14 files (8 seeds, 6 fixtures). */
const validJpeg: fc.Arbitrary<Uint8Array> = fc.nat({ max: 13 }).map((i) => loadJpegSeeds()[i % loadJpegSeeds().length]);

type SegmentEdit =
  | { kind: 'body'; seg: number; muts: Mutation[] }
  | { kind: 'field'; marker: number; at: number; value: number }
  | { kind: 'drop' | 'dup'; seg: number }
  | { kind: 'swap'; seg: number; with: number }
  | { kind: 'scan'; muts: Mutation[] }
  | { kind: 'insert'; seg: number; marker: number; data: Uint8Array }
  | { kind: 'exif'; orientation: number; little: boolean; muts: Mutation[] };

/** Frame and scan header values that reach the interesting checks: sizes, sampling factors, ids, table selectors, spectral bounds. */
const JPEG_FIELD_VALUES = [0, 1, 2, 3, 4, 5, 8, 12, 15, 16, 0x11, 0x12, 0x21, 0x22, 0x41, 0x44, 0x51, 63, 64, 0x80, 0xfe, 0xff];

const segmentEdit: fc.Arbitrary<SegmentEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('body' as const), seg: fc.nat(), muts: fc.array(mutation, { minLength: 1, maxLength: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), marker: fc.constantFrom(0xc0, 0xc2, 0xda, 0xc4, 0xdb, 0xdd), at: fc.nat({ max: 20 }), value: fc.constantFrom(...JPEG_FIELD_VALUES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('drop' as const, 'dup' as const), seg: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('swap' as const), seg: fc.nat(), with: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('scan' as const), muts: fc.array(mutation, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), seg: fc.nat(), marker: fc.constantFrom(0xc0, 0xc1, 0xc2, 0xc3, 0xc9, 0xcc, 0xc4, 0xdb, 0xda, 0xdd, 0xdc, 0xe1, 0xee, 0xfe, 0xf0, 0x02), data: fc.uint8Array({ maxLength: 24 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('exif' as const), orientation: fc.integer({ min: 0, max: 9 }), little: fc.boolean(), muts: fc.array(mutation, { maxLength: 2 }) }) },
);

function editJpeg(bytes: Uint8Array, edits: readonly SegmentEdit[]): Uint8Array {
  const segs: Segment[] = splitJpeg(bytes);
  const pick = (n: number) => (segs.length ? n % segs.length : 0);
  for (const e of edits) {
    if (e.kind === 'body' && segs.length) { const i = pick(e.seg); segs[i] = { ...segs[i], body: mutate(segs[i].body, e.muts) }; }
    if (e.kind === 'field') {
      const i = segs.findIndex((s) => s.marker === e.marker);
      if (i >= 0 && segs[i].body.length) { const b = segs[i].body.slice(); b[e.at % b.length] = e.value; segs[i] = { ...segs[i], body: b }; }
    }
    if (e.kind === 'drop' && segs.length) segs.splice(pick(e.seg), 1);
    if (e.kind === 'dup' && segs.length) segs.splice(pick(e.seg), 0, segs[pick(e.seg)]);
    if (e.kind === 'swap' && segs.length) { const a = pick(e.seg), b = pick(e.with); [segs[a], segs[b]] = [segs[b], segs[a]]; }
    if (e.kind === 'scan') {
      const i = segs.findIndex((s) => s.scan !== undefined);
      if (i >= 0) segs[i] = { ...segs[i], scan: mutate(segs[i].scan!, e.muts) };
    }
    if (e.kind === 'insert') segs.splice(pick(e.seg), 0, { marker: e.marker, body: e.data });
    if (e.kind === 'exif') {
      const body = mutate(exifBody([{ tag: 0x0112, type: 3, count: 1, value: e.orientation }], e.little), e.muts);
      segs.unshift({ marker: 0xe1, body });
    }
  }
  return joinJpeg(segs);
}

const jpegTarget: Target = {
  layer: 'jpeg', what: 'a small valid JPEG (baseline, progressive, restarts, grey, 4:2:0, RGB) with segments mutated, dropped, duplicated, reordered or inserted, frame and scan fields set, scan data mutated, EXIF added',
  arbitrary: fc.tuple(validJpeg, fc.array(segmentEdit, { minLength: 1, maxLength: 3 }), fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: mutations })).map(([jpg, edits, raw]) => {
    const edited = editJpeg(jpg, edits);
    return raw ? mutate(edited, raw) : edited;
  }),
  run(bytes) {
    const out = decodeImage(bytes, TINY_PNG_LIMITS);
    // Accepted: the pixels are exactly what the header walk said they would be.
    const info = readJpegLayout(bytes, TINY_PNG_LIMITS);
    const channels = info.colour === 'grey' ? 1 : 3;
    if (out.width !== info.displayWidth || out.height !== info.displayHeight || out.channels !== channels || out.data.length !== out.width * out.height * channels) {
      throw new Error(`decoded ${out.width}×${out.height}×${out.channels} (${out.data.length} samples), the header says ${info.displayWidth}×${info.displayHeight}×${channels}`);
    }
  },
  // Valid files through EXIF: turning the photo back (the inverse orientation) gives the photo as stored.
  roundTrip: fc.property(validJpeg, fc.integer({ min: 1, max: 8 }), fc.boolean(), (jpg, o, little) => {
    const stored = decodeImage(jpg);
    const shown = decodeImage(withOrientation(jpg, o, little));
    const back = applyOrientation(shown.data as Uint8Array, shown.width, shown.height, shown.channels, INVERSE_ORIENTATION[o]);
    return Buffer.from(back).equals(Buffer.from(stored.data));
  }) as unknown as fc.IProperty<[unknown]>,
};

/** The orientation that undoes each EXIF orientation: quarter turns 6 and 8 undo each other, the rest undo themselves. */
const INVERSE_ORIENTATION: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6 };

// ---------------------------------------------------------------------------------------------
// load + run, end to end

let kernels: EngineContext | undefined;

const e2eTarget: Target = {
  layer: 'e2e', what: 'a tiny UNet .pt mutated at the pickle, storage or zip level, loaded and (if accepted) run on 16×16 by the reference, dense and spectral engines',
  arbitrary: fc.tuple(fc.nat({ max: STATE_SEEDS.length - 1 }), fc.oneof(
    fc.array(opEdit, { minLength: 1, maxLength: 3 }).map((edits) => ({ kind: 'ops' as const, edits })),
    mutations.map((muts) => ({ kind: 'bytes' as const, muts })),
    fc.array(storageEdit, { minLength: 1, maxLength: 2 }).map((edits) => ({ kind: 'storage' as const, edits })),
  )).map(([s, m]) => {
    const seed = STATE_SEEDS[s];
    if (m.kind === 'ops') return torchZip(editOps(seed.pickle, m.edits), seed.storages);
    if (m.kind === 'bytes') return mutate(seed.zip, m.muts);
    const storages = { ...seed.storages };
    const keys = Object.keys(storages);
    for (const e of m.edits) {
      const key = keys[e.key % keys.length];
      const b = storages[key].slice();
      // Values only (the float storages), so the model still loads and its new weights run.
      if (b.length % 4 === 0 && b.length) new DataView(b.buffer).setFloat32((e.n * 4) % b.length, [NaN, Infinity, -1e38, 1e-45, 0][e.n % 5], true);
      storages[key] = b;
    }
    return torchZip(seed.pickle, storages);
  }),
  async run(bytes) {
    const model = loadModel(bytes, { xz, limits: TINY_LIMITS });
    const input = new Float32Array(model.arch.inChannels * 16 * 16).fill(0.5);
    const reference = await createEngine('reference', model, undefined, { limits: TINY_LIMITS });
    const expected = await reference.run(input, 16, 16);
    // The WASM engines on one shared instance; everything an input allocates is released after it.
    kernels ??= await loadKernels(1);
    const mark = kernels.kernels.arena.mark();
    try {
      for (const name of ['dense', 'spectral'] as const) {
        const engine = await createEngine(name, model, kernels, { limits: TINY_LIMITS });
        const out = await engine.run(input, 16, 16);
        await engine.dispose();
        if (out.data.length !== expected.data.length) throw new Error(`${name}: logits of length ${out.data.length}`);
      }
    } finally {
      kernels.kernels.arena.release(mark);
    }
  },
};

export const TARGETS: Record<string, Target> = {
  xz: xzTarget, tar: tarTarget, zip: zipTarget, pickle: pickleTarget, torch: torchTarget, packed: packedTarget, png: pngTarget, jpeg: jpegTarget, e2e: e2eTarget,
};
