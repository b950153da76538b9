/**
 * Input families for the "cost bounded by the bytes present" property (test/fuzz-cost.test.ts):
 * each makes an input of about N bytes for one parser, hostile or valid, so time and memory can be
 * measured across sizes. The hostile ones are the shapes that once cost more than their bytes: an
 * xz stream cut short whose payload is full of plausible stream footers (the recovery scan parsed
 * an index at each), views that read one storage element many times, several tensors reading one
 * storage in full.
 */
import { DEFAULT_LIMITS, withLimits, type Limits } from '../../src/formats/limits.js';
import { readPacked, writePacked } from '../../src/formats/packed.js';
import { unpickle } from '../../src/formats/pickle.js';
import { readTarFiles } from '../../src/formats/tar.js';
import { readTorchZip } from '../../src/formats/torch.js';
import { decodeXz } from '../../src/formats/xz.js';
import { readZip, readZipEntry } from '../../src/formats/zip.js';
import type { CoeffTensor } from '../../src/model.js';
import { decodePng, encodeRgbPng } from '../../src/node/png.js';
import { xzWasmModule } from '../../src/node/load.js';
import { rng } from '../helpers.js';
import { f32Bytes, statePickle, torchZip, writeTar, writeZip } from './writers.js';
import { xzStored } from './xz-writer.js';

export interface CostFamily {
  name: string;
  /** An input of about `n` bytes. */
  make(n: number): Uint8Array;
  /** Parses it; returns or throws a FreqregError (either is fine: the cost is measured). */
  run(bytes: Uint8Array): void;
}

const xz = xzWasmModule();
/** The defaults, with the element caps high enough that only the bytes present bound the work. */
const LIMITS: Limits = withLimits({ maxTotalParameters: DEFAULT_LIMITS.maxTotalParameters, maxDecompressedBytes: 64 << 20 });

function randomBytes(n: number, seed: number): Uint8Array {
  const rand = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
}

function randomFloats(n: number, seed: number): number[] {
  const rand = rng(seed);
  return Array.from({ length: n }, () => rand() * 2 - 1);
}

/**
 * A stored xz stream cut short, its payload 0x01 bytes (each a one-byte index varint) with a
 * candidate stream footer every 16 bytes: "YZ", and a backward size pointing every candidate's
 * index at one 0x00 indicator near the start, followed by a record count of 2^35. Scanning every
 * candidate and parsing its index costs N²/32 varint reads.
 */
function xzFooterFlood(n: number): Uint8Array {
  const whole = xzStored(new Uint8Array(n).fill(0x01), { check: 'crc32' });
  const file = whole.subarray(0, whole.length - 64); // cut inside the last chunk: truncated
  const payloadStart = 12 + 12 + 3; // stream header, block header, first chunk header
  const chunkHeader = (p: number) => p >= payloadStart && (p - payloadStart) % (65536 + 3) >= 65536;
  const S = payloadStart;
  file.set([0x00, 0xff, 0xff, 0xff, 0xff, 0x7f], S);
  for (let e = S + 64; e < file.length; e += 16) {
    if ([0, 1, 2, 3, 4, 5, 6, 7].some((k) => chunkHeader(e - 8 + k))) continue;
    const backward = (e - 12 - S) / 4 - 1;
    file.set([backward & 0xff, (backward >>> 8) & 0xff, (backward >>> 16) & 0xff, (backward >>> 24) & 0xff], e - 8);
    file.set([0x59, 0x5a], e - 2);
  }
  return file;
}

/** A checkpoint whose tensors are written by `entries`, over one float32 storage of n/4 elements. */
function oneStoragePt(n: number, entries: (elements: number) => [string, Parameters<typeof statePickle>[0][number][1]][]): Uint8Array {
  const elements = Math.max(4, n >> 2);
  return torchZip(statePickle(entries(elements)), { 0: f32Bytes(randomFloats(elements, 5)) });
}

export const COST_FAMILIES: CostFamily[] = [
  {
    name: 'xz: cut short, a plausible footer every 16 bytes (refused)',
    make: xzFooterFlood,
    run: (b) => { decodeXz(b, xz, LIMITS.maxDecompressedBytes); },
  },
  {
    name: 'xz: one stored stream (accepted)',
    make: (n) => xzStored(randomBytes(n, 1), { check: 'crc32' }),
    run: (b) => { decodeXz(b, xz, LIMITS.maxDecompressedBytes); },
  },
  {
    name: 'tar: one member (accepted)',
    make: (n) => writeTar([{ name: 'm.pt', data: randomBytes(n, 2) }]),
    run: (b) => { readTarFiles(b, LIMITS); },
  },
  {
    name: 'zip: one stored entry, CRC checked (accepted)',
    make: (n) => writeZip([{ name: 'a/data/0', data: randomBytes(n, 3) }]),
    run: (b) => { const z = readZip(b, LIMITS); for (const e of z.entries.values()) readZipEntry(z, e); },
  },
  {
    name: 'pickle: a flat list of ints (refused at the stack cap above 100,000 items)',
    make: (n) => {
      const items = Math.max(1, (n - 6) >> 1);
      const b = new Uint8Array(items * 2 + 6);
      b.set([0x80, 0x02, 0x5d, 0x28]); // PROTO 2, EMPTY_LIST, MARK
      for (let i = 0; i < items; i++) b.set([0x4b, i & 0xff], 4 + 2 * i); // BININT1
      b.set([0x65, 0x2e], 4 + 2 * items); // APPENDS, STOP
      return b;
    },
    run: (b) => { unpickle(b, { globals: new Map(), persistentLoad: () => null, limits: LIMITS }); },
  },
  {
    name: 'torch: a stride-0 view, 64 reads of every storage element (refused)',
    make: (n) => oneStoragePt(n, (e) => [['w', (w) => w.dense({ key: '0', type: 'FloatStorage', numel: e, size: [64, e], stride: [0, 1] })]]),
    run: (b) => { readTorchZip(b, LIMITS); },
  },
  {
    name: 'torch: overlapping strides (64, e):(1, 1) (refused)',
    make: (n) => oneStoragePt(n, (e) => [['w', (w) => w.dense({ key: '0', type: 'FloatStorage', numel: e, size: [64, e - 64], stride: [1, 1] })]]),
    run: (b) => { readTorchZip(b, LIMITS); },
  },
  {
    name: 'torch: 64 tensors each reading one storage in full (refused)',
    make: (n) => oneStoragePt(n, (e) => Array.from({ length: 64 }, (_, i) => [`w${i}`, (w) => w.dense({ key: '0', type: 'FloatStorage', numel: e, size: [e], stride: [1] })])),
    run: (b) => { readTorchZip(b, LIMITS); },
  },
  {
    name: 'torch: one dense tensor (accepted)',
    make: (n) => oneStoragePt(n, (e) => [['w', (w) => w.dense({ key: '0', type: 'FloatStorage', numel: e, size: [e], stride: [1] })]]),
    run: (b) => { readTorchZip(b, LIMITS); },
  },
  {
    name: 'packed: one float32 tensor, every position explicit (accepted)',
    make: (n) => {
      const count = Math.max(1, Math.floor(n / 8));
      const rand = rng(4);
      const values = Float32Array.from({ length: count }, () => rand() + 0.5);
      const tensor: CoeffTensor = { shape: [count * 2], indices: Int32Array.from({ length: count }, (_, i) => 2 * i), values, dtype: 'float32', sparse: true };
      return writePacked(new Map([['w', tensor]]));
    },
    run: (b) => { readPacked(b, LIMITS); },
  },
  {
    name: 'png: random RGB pixels (accepted)',
    make: (n) => {
      const side = Math.max(1, Math.round(Math.sqrt(n / 3)));
      return encodeRgbPng(randomBytes(side * side * 3, 6), side, side);
    },
    run: (b) => { decodePng(b); },
  },
];
