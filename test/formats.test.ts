/**
 * The safe checkpoint loader: real checkpoints load with the right counts; hostile xz, tar, zip,
 * pickle and tensor inputs are refused with their code (never another exception), before
 * allocating what they declare.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FreqregError } from '../src/errors.js';
import { DEFAULT_LIMITS, EDGE_LIMITS, type Limits } from '../src/formats/limits.js';
import { unpickle, type PickleEnv } from '../src/formats/pickle.js';
import { readTarFiles, selectCheckpointMember } from '../src/formats/tar.js';
import { halfToFloat, TORCH_GLOBALS } from '../src/formats/torch.js';
import { decodeXz } from '../src/formats/xz.js';
import { crc32, readZip, readZipEntry } from '../src/formats/zip.js';
import { detectFormat, readCheckpoint } from '../src/loader.js';
import { countParameters } from '../src/model.js';
import { loadModelFile, xzWasmModule } from '../src/node/load.js';
import { fixturesDir, readFixtures, rng, upstreamDir } from './helpers.js';
import { adler32Bitwise, crc32Bitwise, crc64Bitwise } from './support/checksums.js';
import { crc32 as pngCrc32 } from '../src/image/png.js';
import {
  bytesOf, concat, f32Bytes, i64Bytes, paxRecord, PickleWriter, statePickle, tarHeader, torchZip, writeTar, writeZip,
  type ViewSpec,
} from './support/writers.js';

const xz = xzWasmModule();
/** A file's bytes as a plain Uint8Array (Buffer.slice would share memory). */
const readBytes = (path: string): Uint8Array => new Uint8Array(readFileSync(path));

/** The code of the FreqregError `run` throws, 'OK' if it returns; any other exception fails the test. */
function codeOf(run: () => unknown): string {
  try {
    run();
    return 'OK';
  } catch (e) {
    if (e instanceof FreqregError) return e.code;
    throw e;
  }
}
function errorOf(run: () => unknown): FreqregError {
  try { run(); } catch (e) { if (e instanceof FreqregError) return e; throw e; }
  throw new Error('expected a FreqregError');
}

const read = (bytes: Uint8Array, limits?: Partial<Limits>) => readCheckpoint(bytes, { xz, limits });
const flip = (bytes: Uint8Array, at: number, mask = 0xff): Uint8Array => { const b = bytes.slice(); b[at] ^= mask; return b; };

// A minimal valid checkpoint: one dense 2×2 float32 tensor and one sparse 2×3 tensor.
const denseView: ViewSpec = { key: '0', type: 'FloatStorage', numel: 4, size: [2, 2], stride: [2, 1] };
const tinyStorages = { 0: f32Bytes([1, 0, 0, 2]) };
const tinyCheckpoint = (view: Partial<ViewSpec> = {}, storages: Record<string, Uint8Array> = tinyStorages) =>
  torchZip(statePickle([['w', (w) => w.dense({ ...denseView, ...view })]]), storages);

t.test('upstream unet_fr.tar.xz: 23 tensors, 759 non-zeros, 31,024,960 dense weights', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const path = join(dir, 'unet_fr.tar.xz');
  const tensors = read(readBytes(path));
  t.equal(tensors.size, 23);
  const loaded = await loadModelFile(path);
  t.equal(loaded.format, 'pt.tar.xz');
  t.equal(loaded.bytes, readBytes(path).length);
  t.same(countParameters(loaded.model), { weights: 759, biases: 0, denseWeights: 31_024_960 });
  const edge = readCheckpoint(readBytes(path), { xz, limits: EDGE_LIMITS });
  t.equal(edge.size, 23, 'fits the edge limits');
});

t.test('PyTorch fixtures: .pt and .tar.xz give fixtures.json counts, dtype and layout', async (t) => {
  const dir = fixturesDir(t);
  if (!dir) return;
  for (const f of readFixtures(dir)) {
    for (const file of [f.model, f.model_xz]) {
      const { model, format } = await loadModelFile(join(dir, file));
      t.equal(format, file.endsWith('.xz') ? 'pt.tar.xz' : 'pt', `${file} format`);
      t.equal(countParameters(model).weights, f.nonzero_parameters, `${file} non-zeros`);
      t.ok(model.layers.every((l) => l.dtype === f.dtype && l.sparse === (f.storage === 'sparse')), `${file} is ${f.storage} ${f.dtype}`);
      t.equal(model.arch.classes, f.classes, `${file} classes`);
    }
  }
});

t.test('tensor reading: float16 exact, strides, offsets, zero strides refused, sparse order', async (t) => {
  t.equal(halfToFloat(0x3c00), 1);
  t.equal(halfToFloat(0x0001), 2 ** -24);
  t.equal(halfToFloat(0x7bff), 65504);
  t.equal(halfToFloat(0xfc00), -Infinity);
  t.ok(Number.isNaN(halfToFloat(0x7e00)));
  let inexact = 0;
  for (let h = 0; h < 0x10000; h++) { const v = halfToFloat(h); if (!Number.isNaN(v) && Math.fround(v) !== v) inexact++; }
  t.equal(inexact, 0, 'every float16 is exactly a float32');

  const storage = { 0: f32Bytes([9, 1, 2, 3, 4, 0, 6]) };
  const transposed = read(tinyCheckpoint({ numel: 7, offset: 1, size: [2, 3], stride: [1, 2] }, storage)).get('w')!;
  t.same(transposed.shape, [2, 3]);
  t.same([...transposed.values], [1, 3, 2, 4, 6], 'column-major view read in row-major order; the zero dropped');
  t.same([...transposed.indices], [0, 0, 0, 1, 1, 0, 1, 1, 1, 2]);
  t.equal(codeOf(() => read(tinyCheckpoint({ numel: 7, offset: 3, size: [3, 2], stride: [0, 1] }, storage))), 'TENSOR_OVERLAP', 'a zero stride reads elements twice: refused');

  const half = new Uint8Array(Uint16Array.from([0x3c00, 0xc000]).buffer);
  const sparse = read(torchZip(statePickle([['s', (w) => w.sparse(
    { key: '0', type: 'LongStorage', numel: 4, size: [2, 2], stride: [2, 1] },
    { key: '1', type: 'HalfStorage', numel: 2, size: [2], stride: [1] }, [3, 5])]]), { 0: i64Bytes([2, 0, 4, 1]), 1: half })).get('s')!;
  t.same(sparse, { shape: [3, 5], indices: Int32Array.from([2, 4, 0, 1]), values: Float32Array.from([1, -2]), dtype: 'float16', sparse: true });
  const double = read(tinyCheckpoint({ type: 'DoubleStorage' }, { 0: new Uint8Array(Float64Array.from([0.1, 0, 0, 2]).buffer) })).get('w')!;
  t.same([...double.values], [Math.fround(0.1), 2], 'float64 rounds to float32');
  t.equal(double.dtype, 'float64');
});

t.test('xz: magic, truncation, corruption, checks, dictionary, output cap, trailing data', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const good = readBytes(join(dir, 'unet_fr.tar.xz'));
  const decode = (b: Uint8Array, cap = DEFAULT_LIMITS.maxDecompressedBytes) => codeOf(() => decodeXz(b, xz, cap));
  t.equal(decode(new Uint8Array(0)), 'XZ_MAGIC', 'empty input');
  t.match(errorOf(() => decodeXz(readBytes(join(dir, 'testimgs', 'input', 'in0000.png')), xz, 1e9)).message, /PNG/, 'names a PNG');
  t.equal(decode(good.subarray(0, 5)), 'XZ_MAGIC', 'shorter than the magic');
  t.equal(decode(writeTar([{ name: 'm.pt', data: bytesOf('PK') }])), 'XZ_MAGIC', 'plain tar');
  for (const cut of [8, 12, 100, good.length >> 1, good.length - 13, good.length - 1]) {
    t.equal(decode(good.subarray(0, cut)), 'XZ_TRUNCATED', `cut at ${cut}`);
  }
  t.equal(decode(flip(good, good.length >> 1)), 'XZ_DATA', 'middle byte flipped');
  t.equal(decode(flip(good, good.length - 20)), 'XZ_DATA', 'index byte flipped');
  const withCheck = (type: number) => { const b = good.slice(); b[7] = type; return b; };
  t.equal(decode(withCheck(0x00)), 'XZ_UNSUPPORTED_CHECK', '-C none');
  t.equal(decode(withCheck(0x0a)), 'XZ_UNSUPPORTED_CHECK', '-C sha256');
  // LZMA2 dictionary property at byte 16 (block header 12..23, CRC32 at 20): 0x20 = 256 MiB.
  const bigDict = good.slice();
  bigDict[16] = 0x20;
  new DataView(bigDict.buffer).setUint32(20, crc32(bigDict.subarray(12, 20)), true);
  t.equal(decode(bigDict), 'XZ_MEMLIMIT', '256 MiB dictionary');
  t.equal(decode(good, 10_000), 'DECOMPRESSED_TOO_LARGE', 'output passes a 10 kB cap');
  t.equal(decode(good, 42_496), 'OK', 'output exactly at the cap');
  t.equal(decode(concat(good, good)), 'XZ_TRAILING', 'two streams');
  t.equal(decode(concat(good, new Uint8Array(4))), 'XZ_TRAILING', 'stream padding');
  t.equal(decode(concat(good, bytesOf('garbage after the stream'))), 'XZ_TRAILING', 'garbage');
  t.equal(codeOf(() => decodeXz(good, {} as WebAssembly.Module, 1e9)), 'ENGINE_UNAVAILABLE', 'not a module');

  const instance = new WebAssembly.Instance(xz, {});
  for (const bad of [good.subarray(0, 100), flip(good, 2000), bigDict, concat(good, good)]) codeOf(() => decodeXz(bad, instance, 1e9));
  t.equal(decodeXz(good, instance, 1e9).length, 42_496, 'a reused instance still decodes after four errors');
  t.equal(decodeXz(good, xz, 1e9).length, 42_496, 'and so does a fresh one');
});

t.test('tar: names, types, sizes, checksums, extended headers, ambiguity, floods, truncation', async (t) => {
  const limits = DEFAULT_LIMITS;
  const pt = bytesOf('PK\x03\x04 model');
  const files = (tar: Uint8Array, l: Partial<Limits> = {}) => readTarFiles(tar, { ...limits, ...l });
  const code = (tar: Uint8Array, l: Partial<Limits> = {}) => codeOf(() => selectCheckpointMember(files(tar, l)));
  t.equal(code(writeTar([{ name: 'unet_fr.pt', data: pt }])), 'OK');
  t.same(selectCheckpointMember(files(writeTar([{ name: 'd/', type: '5' }, { name: './d/m.pt', data: pt }]))).name, 'd/m.pt');
  for (const name of ['../../m.pt', '/abs/m.pt', 'C:\\m.pt', 'a\\..\\m.pt', 'a/../m.pt', 'a//m.pt', 'm\x01.pt']) {
    t.equal(code(writeTar([{ name, data: pt }])), 'TAR_NAME', `name ${JSON.stringify(name)}`);
  }
  const nulName = new Uint8Array(100); nulName.set(bytesOf('m.pt\0evil'));
  t.equal(code(writeTar([{ name: '', nameField: nulName, data: pt }])), 'TAR_NAME', 'bytes after the NUL in the name');
  const badUtf8 = new Uint8Array(100); badUtf8.set([0x6d, 0xff, 0x2e, 0x70, 0x74]);
  t.equal(code(writeTar([{ name: '', nameField: badUtf8, data: pt }])), 'TAR_NAME', 'invalid UTF-8 name');
  for (const type of ['1', '2', '3', '4', '6', '7', 'g', 'L', 'K', 'S']) {
    t.equal(code(writeTar([{ name: 'm.pt', type, data: type === 'L' ? bytesOf('x') : undefined }])), 'TAR_TYPE', `typeflag ${type}`);
  }
  const sizeField = (bytes: number[]) => { const f = new Uint8Array(12); f.set(bytes); return f; };
  t.equal(code(writeTar([{ name: 'm.pt', sizeField: bytesOf('00000000018\0'), data: pt }])), 'TAR_SIZE', 'size "18" is not octal');
  t.equal(code(writeTar([{ name: 'm.pt', sizeField: sizeField(Array(12).fill(0xff)) }])), 'TAR_SIZE', 'base-256 -1');
  t.equal(code(writeTar([{ name: 'm.pt', sizeField: sizeField([0x80, 0x80, ...Array(10).fill(0)]) }])), 'TAR_SIZE', 'base-256 2^79');
  t.equal(code(writeTar([{ name: 'm.pt', sizeField: sizeField([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]) }])), 'TAR_TRUNCATED', 'base-256 size past the end');
  t.equal(code(writeTar([{ name: 'm.pt', sizeField: bytesOf('77777777777\0') }])), 'TAR_TRUNCATED', '8 GiB declared, 1 KiB present');
  t.equal(code(flip(writeTar([{ name: 'm.pt', data: pt }]), 3, 0x01)), 'TAR_CHECKSUM', 'name byte flipped');

  const pax = (records: string) => ({ name: 'PaxHeader', type: 'x', data: bytesOf(records) });
  t.equal(selectCheckpointMember(files(writeTar([pax(paxRecord('path', 'long/name.pt')), { name: 'x', data: pt }]))).name, 'long/name.pt');
  t.equal(code(writeTar([pax(paxRecord('path', '../x.pt')), { name: 'x', data: pt }])), 'TAR_NAME', 'pax path=../x.pt');
  t.equal(code(writeTar([pax(paxRecord('size', '1000000000000000000')), { name: 'm.pt', data: pt }])), 'TAR_SIZE', 'pax size=1e18');
  t.equal(code(writeTar([pax(paxRecord('size', '9000')), { name: 'm.pt', data: pt }])), 'TAR_TRUNCATED', 'pax size past the end');
  t.equal(code(writeTar([pax(paxRecord('size', '1e18')), { name: 'm.pt', data: pt }])), 'TAR_SIZE', 'pax size not decimal');
  t.equal(code(writeTar([pax(paxRecord('linkpath', '/etc/passwd')), { name: 'm.pt', data: pt }])), 'TAR_PAX', 'pax key not allowed');
  t.equal(code(writeTar([pax('99 path=x\n'), { name: 'm.pt', data: pt }])), 'TAR_PAX', 'pax record length lies');
  t.equal(code(writeTar([{ name: 'PaxHeader', type: 'x', sizeField: bytesOf('00000200001\0') }])), 'TAR_HEADER_TOO_LARGE', 'pax header of 64 KiB + 1');
  t.equal(code(writeTar([{ name: '././@LongLink', type: 'L', sizeField: bytesOf('10000000000\0') }])), 'TAR_HEADER_TOO_LARGE', 'GNU longname of 1 GiB');

  t.equal(code(writeTar([{ name: 'a.pt', data: pt }, { name: 'b.pt', data: pt }])), 'TAR_AMBIGUOUS', 'two *.pt');
  t.equal(code(writeTar([{ name: 'model.pt', data: pt }, { name: 'model.pt', data: pt }])), 'TAR_AMBIGUOUS', 'model.pt twice');
  t.equal(code(writeTar([{ name: 'readme.txt', data: pt }])), 'TAR_EMPTY', 'no *.pt');
  const flood = concat(...Array.from({ length: 100 }, (_, i) => tarHeader({ name: `d${i}/`, type: '5' })));
  t.equal(code(flood), 'TAR_TOO_MANY_ENTRIES', '100 empty members, cap 64');

  const big = writeTar([{ name: 'm.pt', data: new Uint8Array(2000).fill(7) }]);
  t.equal(code(big.subarray(0, 300)), 'TAR_TRUNCATED', 'inside the header');
  t.equal(code(big.subarray(0, 1500)), 'TAR_TRUNCATED', 'inside the data');
  t.equal(code(big.subarray(0, 512 + 2048)), 'OK', 'no zero-block trailer: accepted (documented policy)');
  t.equal(code(concat(writeTar([{ name: 'm.pt', data: pt }]), bytesOf('anything after the end-of-archive block'))), 'OK', 'nothing after the trailer is read');
});

t.test('zip: EOCD, central directory, overlaps, duplicates, mismatches, methods, CRC, names', async (t) => {
  const entry = (name: string, text = 'x') => ({ name, data: bytesOf(text) });
  const code = (zip: Uint8Array) => codeOf(() => readZip(zip, DEFAULT_LIMITS));
  const good = writeZip([entry('a/x'), entry('a/y', 'yy')]);
  t.equal(code(good), 'OK');
  t.equal(code(good.subarray(0, good.length - 22)), 'ZIP_EOCD', 'no EOCD');
  t.equal(code(writeZip([entry('a/x')], { comment: bytesOf('short') }).subarray(0, -2)), 'ZIP_EOCD', 'comment length past EOF');
  const fakeEocd = writeZip([entry('a/x')]).subarray(-22);
  const twoEocds = writeZip([entry('a/x')], { comment: concat(bytesOf('ab'), fakeEocd) });
  new DataView(twoEocds.buffer).setUint16(twoEocds.length - 24 - 22 - 2 + 2 + 18, 0, true); // keep the fake's comment length 0
  t.equal(code(twoEocds), 'ZIP_EOCD', 'a fake EOCD in the comment');
  t.equal(code(concat(bytesOf('#!/bin/sh\n'), good)), 'ZIP_CD', 'junk prepended (offsets no longer meet)');
  t.equal(code(writeZip([entry('a/x')], { eocd: { entries: 65534 } })), 'ZIP_CD', '65,534 entries declared in a tiny file');
  t.equal(code(writeZip([entry('a/x')], { eocd: { cdOffset: 1000 } })), 'ZIP_CD', 'CD offset past the file');
  t.equal(code(writeZip([entry('a/x')], { eocd: { cdOffset: 0xffffffff } })), 'ZIP_RANGE', 'zip64 marker without a locator');
  t.equal(code(writeZip(Array.from({ length: 5000 }, (_, i) => entry(`a/${i}`)))), 'ZIP_CD', '5,000 entries, cap 4,096');

  // Entry b's local header hides inside a's data: data ranges overlap.
  const inner = writeZip([entry('a/b', 'BBBB')]).subarray(0, 30 + 3 + 4);
  const nested = writeZip([{ name: 'a/a', data: inner }], { extraCentral: [{ name: 'a/b', size: 4, crc: crc32(bytesOf('BBBB')), localOffset: 30 + 3 }] });
  t.equal(code(nested), 'ZIP_OVERLAP', 'an entry inside another');
  const same = writeZip([entry('a/x')], { extraCentral: [{ name: 'a/x2', size: 1, crc: crc32(bytesOf('x')), localOffset: 0 }] });
  t.equal(code(same), 'ZIP_HEADER_MISMATCH', 'two central records for one local header');
  t.equal(code(writeZip([entry('a/x'), entry('a/x', 'other')])), 'ZIP_DUPLICATE', 'a/x twice');
  t.equal(code(writeZip([{ ...entry('a/x'), localName: 'a/z' }])), 'ZIP_HEADER_MISMATCH', 'local name differs');
  const lyingLocal = writeZip([entry('a/x', 'xyz')]);
  new DataView(lyingLocal.buffer).setUint32(22, 2, true); // local uncompressed size
  t.equal(code(lyingLocal), 'ZIP_HEADER_MISMATCH', 'local size differs');
  const lyingDescriptor = writeZip([{ ...entry('a/x', 'xyz'), descriptor: true }]);
  lyingDescriptor[30 + 3 + 3 + 8] ^= 1; // descriptor's compressed size
  t.equal(code(lyingDescriptor), 'ZIP_HEADER_MISMATCH', 'data descriptor differs');
  t.equal(code(writeZip([{ ...entry('a/x'), method: 8 }])), 'ZIP_METHOD', 'deflate');
  t.equal(code(writeZip([{ ...entry('a/x'), flags: 1 }])), 'ZIP_UNSUPPORTED', 'encrypted');
  t.equal(code(writeZip([{ ...entry('a/x'), method: 99 }])), 'ZIP_UNSUPPORTED', 'AES (method 99)');
  for (const name of ['a/x\0y', 'a\\x', 'a/../x', '/a/x', 'C:/x', 'a/' + 'n'.repeat(1100)]) {
    t.equal(code(writeZip([entry(name)])), 'ZIP_NAME', `name ${JSON.stringify(name.slice(0, 20))}`);
  }
  t.equal(code(writeZip([{ name: Uint8Array.from([0x61, 0x2f, 0xc0, 0xaf]), data: bytesOf('x') }])), 'ZIP_NAME', 'overlong UTF-8');
  const crcBad = torchZip(bytesOf('\x80\x02}.'));
  crcBad[30 + 16 + 2] ^= 1; // inside data.pkl: its data starts after a 30 + 16-byte local header
  t.equal(codeOf(() => read(crcBad)), 'ZIP_CRC', 'data.pkl edited');
});

t.test('torch archive records: layout, TorchScript, version, byteorder, legacy formats', async (t) => {
  const emptyDict = new PickleWriter().proto().emptyDict().stop().bytes();
  const code = (zip: Uint8Array) => codeOf(() => read(zip));
  t.equal(code(torchZip(emptyDict)), 'OK', 'an empty state dict reads');
  t.equal(code(torchZip(emptyDict, {}, { prefix: 'tiny-half' })), 'OK', 'prefix other than archive/');
  t.equal(code(writeZip([{ name: 'data.pkl', data: emptyDict }, { name: 'version', data: bytesOf('3\n') }])), 'ZIP_LAYOUT', 'data.pkl at the root');
  t.equal(code(torchZip(emptyDict, {}, { extra: [{ name: 'b/data/0', data: f32Bytes([1]) }] })), 'ZIP_LAYOUT', 'a/… with b/data/0');
  t.equal(code(torchZip(emptyDict, {}, { extra: [{ name: 'archive/constants.pkl', data: emptyDict }] })), 'PT_TORCHSCRIPT', 'constants.pkl');
  t.equal(code(torchZip(emptyDict, {}, { extra: [{ name: 'archive/code/__torch__/m.py', data: bytesOf('') }] })), 'PT_TORCHSCRIPT', 'code/');
  t.equal(code(writeZip([{ name: 'archive/version', data: bytesOf('3\n') }])), 'PT_MISSING_RECORD', 'no data.pkl');
  t.equal(code(writeZip([{ name: 'archive/data.pkl', data: emptyDict }])), 'PT_MISSING_RECORD', 'no version');
  t.equal(code(torchZip(emptyDict, {}, { version: 'three' })), 'PT_MISSING_RECORD', 'version not an integer');
  t.equal(code(torchZip(emptyDict, {}, { extra: [{ name: 'archive/byteorder', data: bytesOf('big') }] })), 'PT_BYTEORDER', 'big-endian');
  t.equal(code(torchZip(emptyDict, {}, { extra: [{ name: 'archive/byteorder', data: bytesOf('little') }] })), 'OK', 'little-endian');
  t.equal(code(bytesOf('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.')), 'PT_LEGACY_UNSUPPORTED', 'legacy magic-number stream');
  t.equal(code(writeTar([{ name: 'pickle' }, { name: 'storages' }, { name: 'tensors' }])), 'UNKNOWN_FORMAT', 'an uncompressed tar');
  t.equal(codeOf(() => detectFormat(bytesOf('\x89PNG\r\n\x1a\n....'))), 'UNKNOWN_FORMAT');
  t.match(errorOf(() => detectFormat(bytesOf('\x89PNG\r\n\x1a\n....'))).message, /PNG/, 'names a PNG');
  t.equal(codeOf(() => readCheckpoint(bytesOf('\xfd7zXZ\0\0\x04'), {})), 'ENGINE_UNAVAILABLE', '.tar.xz without the xz module');
});

/** An env with one allowlisted callable that counts its calls, to show refused pickles run nothing. */
function spyEnv(limits: Partial<Limits> = {}): { env: PickleEnv<never>; calls: () => number } {
  let calls = 0;
  const env: PickleEnv<never> = {
    globals: new Map([['torch._utils\n_rebuild_tensor_v2', { call: () => { calls++; return null; } }], ['collections\nOrderedDict', {}]]),
    persistentLoad: () => { calls++; return null; },
    limits: { ...DEFAULT_LIMITS, ...limits },
  };
  return { env, calls: () => calls };
}

t.test('the product\'s allowlist is exactly these nine globals', async (t) => {
  t.same([...TORCH_GLOBALS.keys()].sort(), [
    'collections\nOrderedDict', 'torch._utils\n_rebuild_sparse_tensor', 'torch._utils\n_rebuild_tensor_v2',
    'torch.serialization\n_get_layout', 'torch\nDoubleStorage', 'torch\nFloatStorage', 'torch\nHalfStorage',
    'torch\nLongStorage', 'torch\nSize',
  ].sort());
  const storages = [...TORCH_GLOBALS].filter(([key]) => key.endsWith('Storage'));
  t.ok(storages.every(([, g]) => g.call === undefined), 'storage types cannot be called (they only name a persistent id\'s type)');
});

t.test('pickle globals: only exact allowlisted names; code opcodes refused; nothing runs', async (t) => {
  const rce = bytesOf('\x80\x02cos\nsystem\n(X\x02\x00\x00\x00idtR.');
  const { env, calls } = spyEnv();
  const err = errorOf(() => unpickle(rce, env));
  t.equal(err.code, 'PICKLE_GLOBAL');
  t.equal(err.where.offset, 2, 'at the GLOBAL opcode');
  t.match(err.message, /os\.system/, 'names os.system');
  t.equal(codeOf(() => read(torchZip(rce))), 'PICKLE_GLOBAL', 'through the loader too');

  const denied: [string, string][] = [
    ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['builtins', '__import__'], ['__builtin__', 'eval'],
    ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['runpy', '_run_code'], ['functools', 'partial'],
    ['operator', 'attrgetter'], ['torch.serialization', 'load'], ['pydoc', 'locate'], ['ctypes', 'CDLL'], ['torch', 'QUInt8Storage'],
    ['torch', 'EvilStorage'], ['torch._utils', '_rebuild_parameter'], ['numpy.core.multiarray', '_reconstruct'],
  ];
  for (const [module, name] of denied) {
    const p = new PickleWriter().proto().global(module, name).mark().str('id').tuple().reduce().stop().bytes();
    const e = errorOf(() => unpickle(p, env));
    t.ok(e.code === 'PICKLE_GLOBAL' && e.message.includes(`${module}.${name}`), `${module}.${name} → PICKLE_GLOBAL naming it`);
    // The same pickle as a state dict value, through the product's own allowlist and loader.
    const asState = statePickle([['w', (w) => w.global(module, name).mark().str('id').tuple().reduce()]]);
    const real = errorOf(() => read(torchZip(asState)));
    t.ok(real.code === 'PICKLE_GLOBAL' && real.message.includes(`${module}.${name}`), `${module}.${name} → PICKLE_GLOBAL from readCheckpoint`);
  }
  for (const line of ['torch._utils\n_rebuild_tensor_v2 \n', 'torch._utils\n_rebuild_tensor_v2\r\n', 'collections\nOrderedDict\x00\n',
    'torch\nFloatStorage.x\n', ' torch._utils\n_rebuild_tensor_v2\n', 'torch._utils\n_REBUILD_TENSOR_V2\n', 'torch._utils.\n_rebuild_tensor_v2\n']) {
    const p = new PickleWriter().proto().raw(`c${line}`).emptyTuple().reduce().stop().bytes();
    t.equal(codeOf(() => unpickle(p, env)), 'PICKLE_GLOBAL', `near miss ${JSON.stringify(line)}`);
  }
  const stackGlobal = new PickleWriter().proto().str('os').put(0).str('system').put(1).get(0).get(1).raw([0x93]).stop().bytes();
  t.equal(codeOf(() => unpickle(stackGlobal, env)), 'PICKLE_OPCODE', 'STACK_GLOBAL via memo');
  const codeOps: [string, string][] = [
    ['INST', '(ios\nsystem\nX\x02\x00\x00\x00id.'], ['OBJ', '(N)o'], ['NEWOBJ_EX', '\x92'], ['NEWOBJ', '\x81'],
    ['EXT1', '\x82\x01'], ['PERSID', 'P0\n'], ['FRAME', '\x95\x00\x00\x00\x00\x00\x00\x00\x00'], ['MEMOIZE', ']\x94'],
    ['STRING', "S'os'\n"], ['SHORT_BINUNICODE', '\x8c\x02os'], ['POP', 'N0'], ['DUP', 'N2'],
  ];
  for (const [name, body] of codeOps) {
    const e = errorOf(() => unpickle(bytesOf(`\x80\x02${body}.`), env));
    t.ok(e.code === 'PICKLE_OPCODE' && e.message.includes(name), `${name} → PICKLE_OPCODE naming it`);
  }
  t.equal(calls(), 0, 'no allowlisted handler or persistent_load ran for any refused pickle');
});

t.test('pickle structure: types, memo, stack, truncation, protocol, trailing data, depth, sizes, ints, UTF-8', async (t) => {
  const { env } = spyEnv();
  const code = (p: string | Uint8Array, limits: Partial<Limits> = {}) =>
    codeOf(() => unpickle(typeof p === 'string' ? bytesOf(p) : p, { ...env, limits: { ...DEFAULT_LIMITS, ...limits } }));
  const cases: [string, string, string][] = [
    ['valid nested containers', '\x80\x02}(X\x01\x00\x00\x00a](K\x01K\x02eX\x01\x00\x00\x00b\x88\x89N\x87u.', 'OK'],
    ['BUILD on a tuple', '\x80\x02)}b.', 'PICKLE_BUILD'],
    ['BUILD on a plain dict', '\x80\x02}}b.', 'PICKLE_BUILD'],
    ['SETITEM on a list', '\x80\x02]K\x01K\x02s.', 'PICKLE_TYPE'],
    ['SETITEM on a tuple', '\x80\x02)K\x01K\x02s.', 'PICKLE_TYPE'],
    ['APPEND on a dict', '\x80\x02}K\x01a.', 'PICKLE_TYPE'],
    ['APPENDS on a dict', '\x80\x02}(K\x01e.', 'PICKLE_TYPE'],
    ['list as a dict key', '\x80\x02}]K\x01s.', 'PICKLE_TYPE'],
    ['duplicate dict key', '\x80\x02}(K\x01NK\x01Nu.', 'PICKLE_DUPLICATE_KEY'],
    ['REDUCE on a string', '\x80\x02X\x00\x00\x00\x00)R.', 'PICKLE_TYPE'],
    ['REDUCE on a non-callable global', '\x80\x02ccollections\nOrderedDict\n)R.', 'PICKLE_ARGS'],
    ['BINGET of an unset slot', '\x80\x02h\x05.', 'PICKLE_MEMO'],
    ['LONG_BINPUT 2^32-1 sizes nothing', '\x80\x02]r\xff\xff\xff\xff.', 'OK'],
    ['R with an empty stack', '\x80\x02R.', 'PICKLE_STACK'],
    ['TUPLE without MARK', '\x80\x02K\x01t.', 'PICKLE_STACK'],
    ['TUPLE3 with two items', '\x80\x02K\x01K\x02\x87.', 'PICKLE_STACK'],
    ['SETITEMS without MARK', '\x80\x02}u.', 'PICKLE_STACK'],
    ['pop across a MARK', '\x80\x02K\x01(\x85.', 'PICKLE_STACK'],
    ['BINPUT on an empty stack', '\x80\x02q\x00.', 'PICKLE_STACK'],
    ['BINUNICODE of 0xFFFFFFFF with 3 bytes left', '\x80\x02X\xff\xff\xff\xffabc', 'PICKLE_TRUNCATED'],
    ['EOF inside BININT', '\x80\x02J\x01\x02', 'PICKLE_TRUNCATED'],
    ['no STOP', '\x80\x02N', 'PICKLE_TRUNCATED'],
    ['GLOBAL without newline', '\x80\x02ctorch', 'PICKLE_TRUNCATED'],
    ['empty pickle', '', 'PICKLE_TRUNCATED'],
    ['no PROTO', 'N.', 'PICKLE_PROTO'],
    ['two PROTOs', '\x80\x02\x80\x02N.', 'PICKLE_PROTO'],
    ['PROTO 5', '\x80\x05N.', 'PICKLE_PROTO'],
    ['bytes after STOP', '\x80\x02N.N.', 'PICKLE_TRAILING'],
    ['STOP with two items', '\x80\x02NN.', 'PICKLE_TRAILING'],
    ['STOP with an open MARK', '\x80\x02(N.', 'PICKLE_TRAILING'],
    ['STOP with an empty stack', '\x80\x02.', 'PICKLE_TRAILING'],
    ['LONG1 of 255 bytes', `\x80\x02\x8a\xff${'\x01'.repeat(255)}.`, 'PICKLE_INT_RANGE'],
    ['LONG1 of 9 bytes', `\x80\x02\x8a\x09${'\x00'.repeat(8)}\x01.`, 'PICKLE_INT_RANGE'],
    ['LONG1 of 8 bytes (int64 max)', '\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.', 'OK'],
    ['BINUNICODE \\xff', '\x80\x02X\x01\x00\x00\x00\xff.', 'PICKLE_UTF8'],
    ['BINUNICODE lone surrogate', '\x80\x02X\x03\x00\x00\x00\xed\xa0\x80.', 'PICKLE_UTF8'],
  ];
  for (const [what, pickle, expected] of cases) t.equal(code(pickle), expected, what);

  t.equal(code(`\x80\x02${'('.repeat(1_000_000)}.`), 'PICKLE_DEPTH', '10^6 MARKs');
  const nested = new PickleWriter().proto().emptyList().put(0);
  for (let i = 0; i < 1000; i++) nested.emptyList().get(0).append().put(0);
  t.equal(code(nested.stop().bytes()), 'PICKLE_DEPTH', 'lists nested 1000 deep via the memo');
  t.equal(code(`\x80\x02${'(N'.repeat(200)}`, { maxPickleStack: 100 }), 'PICKLE_TOO_LARGE', 'stack cap');
  t.equal(code(`\x80\x02${'}q\x00'.repeat(10)}`, { maxPickleOpcodes: 8 }), 'PICKLE_TOO_LARGE', 'opcode cap');
  t.equal(code(`\x80\x02X\x05\x00\x00\x00hello.`, { maxPickleStringBytes: 4 }), 'PICKLE_TOO_LARGE', 'string cap');
  t.equal(code(`\x80\x02N${'q\x00r\x01\x00\x00\x00r\x02\x00\x00\x00'}.`, { maxPickleMemo: 2 }), 'PICKLE_MEMO', 'memo cap');
  // Refused before interpreting: the first opcode (a GLOBAL that is not allowed) would be
  // PICKLE_GLOBAL if anything were read before the size check.
  const fifty = new Uint8Array(17 * 2 ** 20).fill(0x4e);
  fifty.set(bytesOf('\x80\x02cos\nsystem\n'));
  t.equal(code(fifty), 'PICKLE_TOO_LARGE', '17 MiB starting with os.system, cap 16 MiB: refused before interpreting');
});

t.test('torch semantics: allowlisted callables with bad args, persistent ids, geometry, sparse, caps', async (t) => {
  const storage4 = { 0: f32Bytes([1, 0, 0, 2]) };
  const one = (tensor: (w: PickleWriter) => void, storages: Record<string, Uint8Array> = storage4, limits?: Partial<Limits>) =>
    codeOf(() => read(torchZip(statePickle([['w', tensor]]), storages), limits));
  const rebuild = (args: (w: PickleWriter) => void) => (w: PickleWriter) => { w.global('torch._utils', '_rebuild_tensor_v2').mark(); args(w); w.tuple().reduce(); };
  const stdArgs = (w: PickleWriter) => w.storage('0', 'FloatStorage', 4).int(0).intTuple([2, 2]).intTuple([2, 1]);
  t.equal(one((w) => w.dense(denseView)), 'OK');
  t.equal(one(rebuild((w) => w.str('storage').int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict())), 'PICKLE_ARGS', 'storage is a string');
  t.equal(one(rebuild((w) => { stdArgs(w); })), 'PICKLE_ARGS', 'arity 4');
  t.equal(one(rebuild((w) => { stdArgs(w).bool(false).orderedDict().none().none().none(); })), 'PICKLE_ARGS', 'arity 9');
  t.equal(one(rebuild((w) => { stdArgs(w).int(5).orderedDict(); })), 'PICKLE_ARGS', 'requires_grad = 5');
  t.equal(one(rebuild((w) => { stdArgs(w).bool(false).emptyDict(); })), 'PICKLE_ARGS', 'backward_hooks a plain dict');
  t.equal(one(rebuild((w) => { w.storage('0', 'FloatStorage', 4).int(0).mark().str('2').tuple().intTuple([1]).bool(false).orderedDict(); })), 'PICKLE_ARGS', 'size of strings');
  t.equal(one((w) => w.global('torch', 'Size').mark().str('a').tuple().tupleN(1).reduce()), 'PICKLE_ARGS', 'torch.Size of strings');
  t.equal(one((w) => w.global('collections', 'OrderedDict').mark().none().none().none().none().none().tuple().reduce()), 'PICKLE_ARGS', 'OrderedDict with 5 args');
  t.equal(one((w) => w.dense(denseView).emptyDict().build()), 'PICKLE_BUILD', 'BUILD on a tensor');
  t.equal(one((w) => w.global('torch', 'Size').intTuple([2]).tupleN(1).reduce().emptyDict().build()), 'PICKLE_BUILD', 'BUILD on a torch.Size');
  t.equal(one((w) => w.orderedDict().emptyDict().build()), 'PICKLE_TYPE', 'BUILD on an OrderedDict is fine; an OrderedDict is not a tensor');
  t.equal(one((w) => w.str('not a tensor')), 'PICKLE_TYPE', 'state-dict value is a string');

  const persid = (pid: (w: PickleWriter) => void) => rebuild((w) => { pid(w); w.binpersid().int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict(); });
  t.equal(one(persid((w) => w.str('storage'))), 'PICKLE_PERSID', 'pid not a tuple');
  t.equal(one(persid((w) => w.mark().str('module').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple())), 'PICKLE_PERSID', 'pid[0] is not "storage"');
  t.equal(one(persid((w) => w.mark().str('storage').global('collections', 'OrderedDict').str('0').str('cpu').int(4).tuple())), 'PICKLE_PERSID', 'storage type OrderedDict');
  t.equal(one((w) => w.dense({ ...denseView, key: '../0' })), 'PICKLE_PERSID', 'key ../0');
  t.equal(one((w) => w.dense({ ...denseView, key: '0/../x' })), 'PICKLE_PERSID', 'key 0/../x');
  t.equal(one((w) => w.dense({ ...denseView, key: '7' })), 'PICKLE_PERSID', 'key missing from the zip');
  t.equal(one(rebuild((w) => { w.storage('0', 'FloatStorage', 4, 'evil'); w.int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict(); })), 'PICKLE_PERSID', 'location "evil"');
  t.equal(codeOf(() => read(torchZip(statePickle([['a', (w) => w.dense(denseView)], ['b', (w) => w.dense({ ...denseView, type: 'HalfStorage', numel: 8 })]]), storage4))), 'PT_STORAGE_CONFLICT', 'key 0 as float32 ×4 and float16 ×8');
  t.equal(codeOf(() => read(torchZip(statePickle([['a', (w) => w.dense(denseView)], ['b', (w) => w.dense({ ...denseView, size: [4], stride: [1] })]]), storage4))), 'TENSOR_OVERLAP', 'one storage read in full by two views');
  t.equal(codeOf(() => read(torchZip(statePickle([['a', (w) => w.dense({ ...denseView, size: [3], stride: [1] })], ['b', (w) => w.dense({ ...denseView, offset: 3, size: [1], stride: [1] })]]), storage4))), 'OK', 'one storage, two views that share no element');

  t.equal(one((w) => w.dense({ ...denseView, numel: 1000 })), 'STORAGE_SIZE', 'numel 1000 over 16 bytes');
  t.equal(one((w) => w.dense({ ...denseView, numel: 1 })), 'STORAGE_SIZE', 'numel 1 over 16 bytes');
  t.equal(one((w) => w.dense({ ...denseView, numel: 2n ** 62n })), 'STORAGE_SIZE', 'numel 2^62');
  t.equal(one((w) => w.dense({ ...denseView, size: [2, 2n ** 62n], stride: [0, 0] })), 'SHAPE_OVERFLOW', 'size (2, 2^62)');
  t.equal(one((w) => w.dense({ ...denseView, size: [2, 2n ** 63n - 1n], stride: [0, 0] })), 'SHAPE_OVERFLOW', 'size (2, int64 max)');
  t.equal(one((w) => w.dense({ ...denseView, size: [2 ** 31 - 1, 2 ** 31 - 1, 4], stride: [0, 0, 0] })), 'SHAPE_OVERFLOW', 'product beyond 2^53');
  t.equal(one((w) => w.dense({ ...denseView, size: [2 ** 20, 2 ** 20], stride: [0, 0] })), 'SHAPE_OVERFLOW', 'zero-stride view of 4 TiB');
  t.equal(one((w) => w.dense({ ...denseView, size: [3, 4], stride: [255, 1] })), 'TENSOR_OOB', 'size (3,4) stride (255,1) over 4');
  t.equal(one((w) => w.dense({ ...denseView, offset: 999 })), 'TENSOR_OOB', 'offset 999');
  t.equal(one((w) => w.dense({ ...denseView, size: [2, 2], stride: [1] })), 'TENSOR_GEOMETRY', 'len(size) ≠ len(stride)');
  t.equal(one((w) => w.dense({ ...denseView, size: [-1, 2], stride: [2, 1] })), 'TENSOR_GEOMETRY', 'negative size');
  t.equal(one((w) => w.dense({ ...denseView, size: [2, 2], stride: [-2, 1] })), 'TENSOR_GEOMETRY', 'negative stride');
  t.equal(one((w) => w.dense({ ...denseView, offset: -1 })), 'TENSOR_GEOMETRY', 'negative offset');
  t.equal(one((w) => w.dense({ ...denseView, size: Array(9).fill(1), stride: Array(9).fill(1) })), 'TENSOR_GEOMETRY', 'rank 9');
  t.equal(one((w) => w.dense({ ...denseView, size: [0, 3], stride: [3, 1] })), 'OK', 'a [0, 3] tensor');
  t.equal(one((w) => w.dense({ ...denseView, size: [], stride: [] })), 'OK', 'a rank-0 scalar');
  t.equal(one((w) => w.dense({ ...denseView, type: 'LongStorage', numel: 2, size: [2], stride: [1] })), 'MODEL_SPEC', 'LongStorage values');
  t.equal(one((w) => w.dense(denseView), storage4, { maxTotalParameters: 3 }), 'MODEL_TOO_LARGE', 'cap on stored elements');

  const idx: ViewSpec = { key: '0', type: 'LongStorage', numel: 4, size: [2, 2], stride: [2, 1] };
  const val: ViewSpec = { key: '1', type: 'FloatStorage', numel: 2, size: [2], stride: [1] };
  const sparse = (indices: number[], opts: { idx?: Partial<ViewSpec>; val?: Partial<ViewSpec>; size?: number[]; layout?: string } = {}) =>
    one((w) => w.sparse({ ...idx, ...opts.idx }, { ...val, ...opts.val }, opts.size ?? [3, 5], opts.layout), { 0: i64Bytes(indices), 1: f32Bytes([1, 2]) });
  t.equal(sparse([2, 0, 4, 1]), 'OK');
  t.equal(sparse([3, 0, 4, 1]), 'SPARSE_INVALID', 'index 3 on an axis of 3');
  t.equal(sparse([2, -1, 4, 1]), 'SPARSE_INVALID', 'negative index');
  t.equal(sparse([2, 2, 4, 4]), 'SPARSE_INVALID', 'duplicate position');
  t.equal(sparse([2, 0, 4, 1], { val: { size: [1] } }), 'SPARSE_INVALID', 'nnz mismatch');
  t.equal(sparse([2, 0, 4, 1], { size: [3, 5, 1] }), 'SPARSE_INVALID', 'sparse rank mismatch');
  t.equal(sparse([2, 0, 4, 1], { layout: 'torch.sparse_csr' }), 'SPARSE_INVALID', 'layout sparse_csr');
  t.equal(one((w) => w.sparse({ ...idx, type: 'FloatStorage' }, val, [3, 5]), { 0: f32Bytes([0, 0, 0, 0]), 1: f32Bytes([1, 2]) }), 'SPARSE_INVALID', 'float indices');
});

t.test('huge declared sizes are refused without allocating them', async (t) => {
  const before = process.memoryUsage().arrayBuffers;
  const codes = [
    codeOf(() => read(tinyCheckpoint({ numel: 2n ** 50n }))),
    codeOf(() => read(torchZip(bytesOf('\x80\x02X\xff\xff\xff\x7fabc')))),
    codeOf(() => read(writeZip([{ name: 'a/x', data: bytesOf('x') }], { eocd: { entries: 65534 } }))),
    codeOf(() => readTarFiles(writeTar([{ name: 'm.pt', sizeField: Uint8Array.from([0x80, 0x7f, ...Array(10).fill(0xff)]) }]), DEFAULT_LIMITS)),
    codeOf(() => read(tinyCheckpoint({ size: [2 ** 31 - 1, 2 ** 31 - 1], stride: [0, 0] }))),
  ];
  t.same(codes, ['STORAGE_SIZE', 'PICKLE_TRUNCATED', 'ZIP_CD', 'TAR_SIZE', 'SHAPE_OVERFLOW']);
  t.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'array buffers grew by less than 64 MiB');
});

t.test('sweeps over the real files: truncations and byte flips only ever give FreqregError', async (t) => {
  const dir = upstreamDir(t);
  if (!dir) return;
  const packed = readBytes(join(dir, 'unet_fr.tar.xz'));
  const tar = decodeXz(packed, xz, 1e9);
  const pt = selectCheckpointMember(readTarFiles(tar, DEFAULT_LIMITS)).bytes;
  const seen = new Map<string, number>();
  const tally = (code: string) => seen.set(code, (seen.get(code) ?? 0) + 1);
  let truncatedOk = 0;
  for (let cut = 0; cut < pt.length; cut += 97) {
    const code = codeOf(() => read(pt.subarray(0, cut)));
    if (code === 'OK') truncatedOk++;
    tally(code);
  }
  t.equal(truncatedOk, 0, `no truncation of the .pt loads (${[...seen].map(([c, n]) => `${c} ${n}`).join(', ')})`);
  seen.clear();
  for (let at = 0; at < pt.length; at += 97) tally(codeOf(() => read(flip(pt, at))));
  t.ok(seen.size > 3, `byte flips: ${[...seen].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  // Flip data.pkl bytes, then re-zip with a correct CRC so the flips reach the pickle and tensor checks.
  const archive = readZip(pt, DEFAULT_LIMITS);
  const storages = Object.fromEntries([...archive.entries.values()].filter((e) => e.name.startsWith('archive/data/'))
    .map((e) => [e.name.slice('archive/data/'.length), readZipEntry(archive, e)]));
  const pickle = readZipEntry(archive, archive.entries.get('archive/data.pkl')!);
  seen.clear();
  for (let at = 0; at < pickle.length; at += 11) tally(codeOf(() => read(torchZip(flip(pickle, at, 1 << (at % 8)), storages))));
  t.ok([...seen.keys()].filter((c) => c.startsWith('PICKLE_')).length >= 5, `data.pkl bit flips: ${[...seen].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  const tarCodes = new Set<string>();
  for (let cut = 513; cut < 512 + pt.length; cut += 509) tarCodes.add(codeOf(() => selectCheckpointMember(readTarFiles(tar.subarray(0, cut), DEFAULT_LIMITS))));
  t.same([...tarCodes], ['TAR_TRUNCATED'], 'the tar cut anywhere inside the .pt');
  const xzCodes = new Set<string>();
  for (let cut = 0; cut < packed.length; cut += 331) xzCodes.add(codeOf(() => read(packed.subarray(0, cut))));
  t.same([...xzCodes].sort(), ['UNKNOWN_FORMAT', 'XZ_TRUNCATED'], 'the .tar.xz cut every 331 bytes (0 bytes: unknown format)');
});

t.test('loadModelFile: regular files only, size cap, missing files', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'freqreg-formats-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const codeOfAsync = async (p: Promise<unknown>) => p.then(() => 'OK', (e) => (e instanceof FreqregError ? e.code : Promise.reject(e)));
  const fifo = join(tmp, 'model.pt');
  execFileSync('mkfifo', [fifo]);
  t.equal(await codeOfAsync(loadModelFile(fifo)), 'FILE_NOT_REGULAR', 'a FIFO (does not block)');
  t.equal(await codeOfAsync(loadModelFile('/dev/zero')), 'FILE_NOT_REGULAR', '/dev/zero');
  t.equal(await codeOfAsync(loadModelFile(tmp)), 'FILE_NOT_REGULAR', 'a directory');
  t.equal(await codeOfAsync(loadModelFile(join(tmp, 'missing.pt'))), 'FILE_READ', 'missing');
  const small = join(tmp, 'small.pt');
  writeFileSync(small, tinyCheckpoint());
  t.equal(await codeOfAsync(loadModelFile(small, { limits: { maxInputBytes: 100 } })), 'FILE_TOO_LARGE', 'over the cap');
  t.equal(await codeOfAsync(loadModelFile(small)), 'MODEL_SPEC', 'a readable checkpoint that is not a UNet');
});

t.test('checksums: the test writers\' against published check values, the product\'s against them', async (t) => {
  const check = bytesOf('123456789');
  t.equal(crc32Bitwise(check), 0xcbf43926, 'CRC-32 check value (ISO-HDLC)');
  t.equal(crc64Bitwise(check), 0x995dc9bbdf1939fan, 'CRC-64/XZ check value');
  t.equal(adler32Bitwise(bytesOf('Wikipedia')), 0x11e60398, 'Adler-32 of "Wikipedia"');
  t.equal(crc32(check), 0xcbf43926, 'zip CRC-32: check value');
  t.equal(pngCrc32(check), 0xcbf43926, 'PNG CRC-32: check value');
  const rand = rng(99);
  for (const n of [0, 1, 3, 255, 4096]) {
    const data = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
    t.equal(crc32(data), crc32Bitwise(data), `zip CRC-32 of ${n} random bytes = the bitwise one`);
    t.equal(pngCrc32(data), crc32Bitwise(data), `PNG CRC-32 of ${n} random bytes = the bitwise one`);
  }
});
