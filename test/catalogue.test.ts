/**
 * The bad-input catalogue (72 hostile inputs by layer, cases 1–72), one test per case, through
 * the public entry points: readCheckpoint / loadModel (checkpoints), decodePng (both the Node and
 * the portable decoder), createEngine (budgets), and the `freqreg` command (files). Each case
 * asserts error codes; where the project's policy differs from the catalogue's suggestion, or a
 * case does not apply, the row says why (`policy`), and the test asserts what the policy is.
 *
 * Everything is made here (writers in test/support/), so only `npm run build` (for the CLI
 * cases) and the `xz` command (for the .tar.xz cases) are needed; no shared data.
 */
import t, { type Test } from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import pngjs from 'pngjs';
import { FreqregError, type ErrorCode } from '../src/errors.js';
import { DEFAULT_LIMITS, EDGE_LIMITS, type Limits } from '../src/formats/limits.js';
import { decodeXz } from '../src/formats/xz.js';
import { readPacked, writePacked } from '../src/formats/packed.js';
import { crc32, readZip } from '../src/formats/zip.js';
import { loadModel, readCheckpoint } from '../src/loader.js';
import { createEngine } from '../src/engines/index.js';
import { imageToTensor } from '../src/input.js';
import { decodePng as decodePngPortable } from '../src/image/png-fflate.js';
import { decodePng, encodeRgbPng } from '../src/node/png.js';
import { xzWasmModule } from '../src/node/load.js';
import { PACKAGE_ROOT, rng } from './helpers.js';
import { modelDict, writeCheckpoint } from './support/checkpoint.js';
import { be32, cat, chunk, fixCrcs, ihdr, IEND, makePngCase, png, SIG, validRgb, zeroRows } from './support/png-builder.js';
import { syntheticModel } from './support/synthetic.js';
import { craftFrq, frqVarint } from './support/frq-builder.js';
import {
  bytesOf, concat, f32Bytes, i64Bytes, localHeader, paxRecord, PickleWriter, statePickle, tarHeader, torchZip, writeTar, writeZip,
  type TarSpecMember, type ViewSpec,
} from './support/writers.js';

const xz = xzWasmModule();
const BIN = join(PACKAGE_ROOT, 'bin', 'freqreg.js');
const HAS_XZ = spawnSync('xz', ['--version']).status === 0;
const HAS_DIST = existsSync(join(PACKAGE_ROOT, 'dist', 'node', 'segment-worker.js'));
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------------------------
// Checking codes

/** Runs checks for one case: every refusal must be a FreqregError with the expected code. */
class Checker {
  constructor(readonly t: Test) {}

  /** `run` throws FreqregError `code`; returns the error. */
  refuses(code: ErrorCode, run: () => unknown, label: string): FreqregError | undefined {
    try {
      run();
    } catch (e) {
      return this.judge(code, e, label);
    }
    this.t.fail(`${label}: expected ${code}, nothing thrown`);
    return undefined;
  }

  async refusesAsync(code: ErrorCode, run: () => Promise<unknown>, label: string): Promise<FreqregError | undefined> {
    try {
      await run();
    } catch (e) {
      return this.judge(code, e, label);
    }
    this.t.fail(`${label}: expected ${code}, nothing thrown`);
    return undefined;
  }

  accepts<T>(run: () => T, label: string): T | undefined {
    try {
      const out = run();
      this.t.pass(`${label}: accepted`);
      return out;
    } catch (e) {
      this.t.fail(`${label}: expected to be accepted, got ${describe(e)}`);
      return undefined;
    }
  }

  /** decodePng (node:zlib) and the portable decoder (fflate) both refuse with `code`. */
  refusesPng(code: ErrorCode, bytes: Uint8Array, label: string): void {
    this.refuses(code, () => decodePng(bytes), `${label} (node)`);
    this.refuses(code, () => decodePngPortable(bytes), `${label} (portable)`);
  }

  private judge(code: ErrorCode, e: unknown, label: string): FreqregError | undefined {
    if (!(e instanceof FreqregError)) {
      this.t.fail(`${label}: expected FreqregError ${code}, got ${describe(e)}`);
      return undefined;
    }
    this.t.equal(e.code, code, `${label} → ${code}${e.code === code ? '' : ` (${e.message})`}`);
    return e;
  }
}

function describe(e: unknown): string {
  return e instanceof FreqregError ? `${e.code} (${e.message})` : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

interface Case {
  n: number;
  name: string;
  /** Where the project's behaviour differs from the catalogue's suggestion, and why. */
  policy?: string;
  /** Why the case cannot run here (it is reported as todo). */
  pending?: string;
  /** What the case needs beyond Node: the xz command, or dist/ (the CLI). */
  needs?: ('xz' | 'cli')[];
  check: (c: Checker) => void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Builders

const read = (bytes: Uint8Array, limits?: Partial<Limits>) => readCheckpoint(bytes, { xz, limits });
const flip = (bytes: Uint8Array, at: number, mask = 0xff): Uint8Array => { const b = bytes.slice(); b[at] ^= mask; return b; };

/** `xz -c` with its default CRC64 check (or the given options). */
function xzCompress(data: Uint8Array, options: string[] = []): Uint8Array {
  return new Uint8Array(execFileSync('xz', ['-c', '-T1', ...options], { input: data, maxBuffer: 1 << 30 }));
}
const tarXz = (members: TarSpecMember[], trailer = true) => xzCompress(writeTar(members, trailer));

const denseView: ViewSpec = { key: '0', type: 'FloatStorage', numel: 4, size: [2, 2], stride: [2, 1] };
const storage4 = { 0: f32Bytes([1, 0, 0, 2]) };
/** A readable checkpoint with one dense 2×2 tensor. */
const tinyPt = (view: Partial<ViewSpec> = {}, storages: Record<string, Uint8Array> = storage4) =>
  torchZip(statePickle([['w', (w) => w.dense({ ...denseView, ...view })]]), storages);
/** A checkpoint whose only tensor is written by `tensor`. */
const onePt = (tensor: (w: PickleWriter) => void, storages: Record<string, Uint8Array> = storage4) => torchZip(statePickle([['w', tensor]]), storages);
const rebuild = (args: (w: PickleWriter) => void) => (w: PickleWriter) => { w.global('torch._utils', '_rebuild_tensor_v2').mark(); args(w); w.tuple().reduce(); };
const stdArgs = (w: PickleWriter) => w.storage('0', 'FloatStorage', 4).int(0).intTuple([2, 2]).intTuple([2, 1]);
/** A checkpoint whose data.pkl is exactly `pickle`. */
const pkl = (pickle: string | Uint8Array) => torchZip(typeof pickle === 'string' ? bytesOf(pickle) : pickle);

/** A 16 KiB random storage, so the xz payload is not trivially compressible. */
function randomPt(seed = 7): Uint8Array {
  const rand = rng(seed);
  const values = Array.from({ length: 4096 }, () => rand() * 2 - 1);
  return torchZip(statePickle([['w', (w) => w.dense({ key: '0', type: 'FloatStorage', numel: 4096, size: [64, 64], stride: [64, 1] })]]), { 0: f32Bytes(values) });
}

const frqName = (s: string): number[] => { const b = new TextEncoder().encode(s); return [...frqVarint(b.length), ...b]; };
const frqHalf = (x: number): number[] => (x === 1 ? [0x00, 0x3c] : x === 2 ? [0x00, 0x40] : [0, 0]);
/** Tensor "x": shape [4], the first 2 zig-zag positions, float16 values 1 and 2, from a sparse float32 source (code 0x28). */
const FRQ_X = [0x28, ...frqName('x'), 1, 4, 2, ...frqHalf(1), ...frqHalf(2)];

/** A small valid FR UNet checkpoint (width 2) and its state dict. */
function unetDict() {
  return modelDict(syntheticModel({ width: 2, inChannels: 3, classes: 2, nnzPerLayer: 5, seed: 3 }));
}

function u16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function u32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
function u64(v: bigint): number[] { return Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)); }

/**
 * The zip rewritten with zip64 end records (the EOCD's fields set to 0xFFFF/0xFFFFFFFF), with
 * optional lies in the zip64 record or its locator. The input has no comment.
 */
function toZip64(zip: Uint8Array, lie: { cdOffset?: bigint; recordOffset?: bigint; signature?: number } = {}): Uint8Array {
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = zip.length - 22;
  const entries = BigInt(dv.getUint16(eocd + 10, true)), cdSize = BigInt(dv.getUint32(eocd + 12, true)), cdOffset = BigInt(dv.getUint32(eocd + 16, true));
  const record = Uint8Array.from([...u32(lie.signature ?? 0x06064b50), ...u64(44n), ...u16(45), ...u16(45), ...u32(0), ...u32(0),
    ...u64(entries), ...u64(entries), ...u64(cdSize), ...u64(lie.cdOffset ?? cdOffset)]);
  const locator = Uint8Array.from([...u32(0x07064b50), ...u32(0), ...u64(lie.recordOffset ?? BigInt(eocd)), ...u32(1)]);
  const end = Uint8Array.from([...u32(0x06054b50), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, ...u32(0xffffffff), ...u32(0xffffffff), 0, 0]);
  return concat(zip.subarray(0, eocd), record, locator, end);
}

/** A one-entry zip whose central record says zip64 sizes and gives `size` in the zip64 extra field. */
function zip64EntrySize(size: bigint): Uint8Array {
  const name = bytesOf('a/x'), data = bytesOf('x');
  const local = concat(localHeader(name, 0, 0, crc32(data), 1), data);
  const extra = [...u16(1), ...u16(16), ...u64(size), ...u64(size)];
  const central = Uint8Array.from([...u32(0x02014b50), ...u16(45), ...u16(45), 0, 0, 0, 0, 0, 0, 0, 0, ...u32(crc32(data)),
    ...u32(0xffffffff), ...u32(0xffffffff), ...u16(name.length), ...u16(extra.length), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(0), ...name, ...extra]);
  const eocd = Uint8Array.from([...u32(0x06054b50), 0, 0, 0, 0, 1, 0, 1, 0, ...u32(central.length), ...u32(local.length), 0, 0]);
  return concat(local, central, eocd);
}

/** `junk` prepended with every offset moved so the archive stays consistent: a polyglot. */
function prependConsistently(zip: Uint8Array, junk: Uint8Array): Uint8Array {
  const out = concat(junk, zip);
  const dv = new DataView(out.buffer);
  const eocd = out.length - 22;
  const cdOffset = dv.getUint32(eocd + 16, true) + junk.length;
  dv.setUint32(eocd + 16, cdOffset, true);
  for (let p = cdOffset, i = 0; i < dv.getUint16(eocd + 10, true); i++) {
    dv.setUint32(p + 42, dv.getUint32(p + 42, true) + junk.length, true);
    p += 46 + dv.getUint16(p + 28, true) + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The CLI

function freqreg(args: string[], opts: { input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, input: opts.input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A work folder with a tiny model and a few good images. */
function cliWorkspace(): { dir: string; model: string; inputs: string; out: string; goodPng: Uint8Array } {
  const dir = mkdtempSync(join(tmpdir(), 'freqreg-catalogue-'));
  const model = join(dir, 'model.pt');
  writeFileSync(model, writeCheckpoint(unetDict()));
  const inputs = join(dir, 'in');
  mkdirSync(inputs);
  const rand = rng(11);
  const goodPng = encodeRgbPng(Uint8Array.from({ length: 24 * 20 * 3 }, () => Math.floor(rand() * 256)), 24, 20);
  return { dir, model, inputs, out: join(dir, 'out'), goodPng };
}

/** The files under `dir`, recursively, relative to it. */
function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...listTree(join(dir, e.name), rel));
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// The catalogue

const PICKLE_DENYLIST: [string, string][] = [
  ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['builtins', '__import__'], ['__builtin__', 'eval'],
  ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['runpy', '_run_code'], ['functools', 'partial'],
  ['operator', 'attrgetter'], ['torch.serialization', 'load'], ['pydoc', 'locate'], ['ctypes', 'CDLL'],
];

const CASES: Case[] = [
  // ---------------- xz / tar ----------------
  {
    n: 1, name: 'empty or wrong container', needs: ['xz'],
    policy: 'The loader picks the format by magic bytes, not by file name: bytes that are neither xz nor zip are UNKNOWN_FORMAT naming what they look like; the xz layer itself says XZ_MAGIC (pre-checked, so xz-decompress never sees empty input).',
    check(c) {
      const plainTar = writeTar([{ name: 'm.pt', data: tinyPt() }]);
      const pngBytes = png(...validRgb());
      for (const [label, bytes] of [['0 bytes', new Uint8Array(0)], ['a zip', tinyPt()], ['a PNG', pngBytes], ['a plain tar', plainTar]] as const) {
        c.refuses('XZ_MAGIC', () => decodeXz(bytes, xz, DEFAULT_LIMITS.maxDecompressedBytes), `xz layer: ${label}`);
      }
      for (const [label, bytes] of [['0 bytes', new Uint8Array(0)], ['a PNG', pngBytes], ['a plain tar', plainTar]] as const) {
        const e = c.refuses('UNKNOWN_FORMAT', () => read(bytes), `loader: ${label}`);
        if (label !== '0 bytes') c.t.match(e?.message ?? '', label === 'a PNG' ? /PNG/ : /tar/, `${label}: the message names it`);
      }
    },
  },
  {
    n: 2, name: 'truncated xz', needs: ['xz'],
    check(c) {
      const good = tarXz([{ name: 'm.pt', data: randomPt() }]);
      c.accepts(() => read(good), 'the whole stream');
      for (const cut of [good.length >> 1, 13, good.length - 1]) c.refuses('XZ_TRUNCATED', () => read(good.subarray(0, cut)), `cut at ${cut} of ${good.length}`);
    },
  },
  {
    n: 3, name: 'corrupt block', needs: ['xz'],
    check(c) {
      const good = tarXz([{ name: 'm.pt', data: randomPt() }]);
      c.refuses('XZ_DATA', () => read(flip(good, good.length >> 1)), 'middle byte flipped');
      c.refuses('XZ_DATA', () => read(flip(good, good.length - 20)), 'index byte flipped');
    },
  },
  {
    n: 4, name: 'xz bomb',
    policy: 'The committed 30 KB bomb expands to 200 MiB of zeros: under EDGE_LIMITS (64 MiB) it is DECOMPRESSED_TOO_LARGE as the running count passes the cap; under the Node default (1 GiB) it is within the cap and the empty tar it holds is TAR_EMPTY.',
    check(c) {
      const bomb = new Uint8Array(readFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'catalogue', 'zeros-200MiB.xz')));
      c.t.ok(bomb.length < 40_000, `the bomb is ${bomb.length} bytes`);
      const t0 = performance.now();
      c.refuses('DECOMPRESSED_TOO_LARGE', () => read(bomb, EDGE_LIMITS), 'edge limits');
      c.refuses('DECOMPRESSED_TOO_LARGE', () => read(bomb, { maxDecompressedBytes: 2 ** 20 }), '1 MiB cap');
      c.t.ok(performance.now() - t0 < 5000, `refused in ${(performance.now() - t0).toFixed(0)} ms`);
      c.refuses('TAR_EMPTY', () => read(bomb), 'default limits: 200 MiB < 1 GiB');
    },
  },
  {
    n: 5, name: 'dictionary or check type', needs: ['xz'],
    check(c) {
      const tar = writeTar([{ name: 'm.pt', data: tinyPt() }]);
      c.refuses('XZ_MEMLIMIT', () => read(xzCompress(tar, ['--lzma2=dict=256MiB'])), '--lzma2=dict=256MiB');
      c.refuses('XZ_UNSUPPORTED_CHECK', () => read(xzCompress(tar, ['-C', 'sha256'])), '-C sha256');
      c.refuses('XZ_UNSUPPORTED_CHECK', () => read(xzCompress(tar, ['-C', 'none'])), '-C none');
      c.accepts(() => read(xzCompress(tar, ['-C', 'crc32'])), '-C crc32');
      c.accepts(() => read(xzCompress(tar, ['-C', 'crc64'])), '-C crc64');
    },
  },
  {
    n: 6, name: 'trailing data', needs: ['xz'],
    check(c) {
      const good = tarXz([{ name: 'm.pt', data: tinyPt() }]);
      c.refuses('XZ_TRAILING', () => read(concat(good, good)), 'a second stream');
      c.refuses('XZ_TRAILING', () => read(concat(good, bytesOf('garbage'))), 'garbage');
      c.refuses('XZ_TRAILING', () => read(concat(good, new Uint8Array(4))), 'stream padding');
    },
  },
  {
    n: 7, name: 'traversal names', needs: ['xz'],
    check(c) {
      for (const name of ['../../m.pt', '/abs/m.pt', 'C:\\m.pt', 'a\\..\\m.pt']) c.refuses('TAR_NAME', () => read(tarXz([{ name, data: tinyPt() }])), JSON.stringify(name));
      const nul = new Uint8Array(100);
      nul.set(bytesOf('m.pt\0../../evil'));
      c.refuses('TAR_NAME', () => read(tarXz([{ name: '', nameField: nul, data: tinyPt() }])), 'a NUL in the name');
    },
  },
  {
    n: 8, name: 'link and special members', needs: ['xz'],
    check(c) {
      for (const type of ['1', '2', '3', '4', '6']) c.refuses('TAR_TYPE', () => read(tarXz([{ name: 'model.pt', type }])), `typeflag ${type}`);
      c.accepts(() => read(tarXz([{ name: 'd/', type: '5' }, { name: 'd/model.pt', type: '\0', data: tinyPt() }])), 'directory, then typeflag NUL');
    },
  },
  {
    n: 9, name: 'size field abuse', needs: ['xz'],
    policy: 'A well-formed size larger than the bytes left is TAR_TRUNCATED: from inside the archive it cannot be told from a truncated member (src/formats/tar.ts); malformed, negative or > 2^53 sizes are TAR_SIZE.',
    check(c) {
      const field = (bytes: number[]) => { const f = new Uint8Array(12); f.set(bytes); return f; };
      c.refuses('TAR_SIZE', () => read(tarXz([{ name: 'm.pt', sizeField: bytesOf('00000000018\0'), data: tinyPt() }])), 'size "18"');
      c.refuses('TAR_SIZE', () => read(tarXz([{ name: 'm.pt', sizeField: field(Array(12).fill(0xff)) }])), 'base-256 0xFF×12 (−1)');
      c.refuses('TAR_SIZE', () => read(tarXz([{ name: 'm.pt', sizeField: field([0x80, 0x80, ...Array(10).fill(0)]) }])), 'base-256 2^79');
      c.refuses('TAR_SIZE', () => read(tarXz([{ name: 'm.pt', sizeField: field([0xbf, ...Array(11).fill(0xff)]) }])), 'base-256 2^94 − 1');
      c.refuses('TAR_TRUNCATED', () => read(tarXz([{ name: 'm.pt', sizeField: bytesOf('77777777777\0') }])), '8 GiB declared, 1 KiB left');
    },
  },
  {
    n: 10, name: 'header checksum', needs: ['xz'],
    check(c) {
      c.refuses('TAR_CHECKSUM', () => read(xzCompress(flip(writeTar([{ name: 'm.pt', data: tinyPt() }]), 1, 0x01))), 'a name byte flipped');
      // A signed-sum checksum (old tars with high-bit names) is accepted.
      const h = tarHeader({ name: 'm\u00e9.pt', data: tinyPt() });
      const raw = h.slice();
      raw.set(bytesOf('        '), 148);
      const signed = raw.reduce((a, b) => a + (b >= 0x80 ? b - 256 : b), 0);
      h.set(bytesOf(`${signed.toString(8).padStart(6, '0')}\0 `), 148);
      const data = tinyPt();
      c.accepts(() => read(xzCompress(concat(h, data, new Uint8Array((512 - (data.length % 512)) % 512), new Uint8Array(1024)))), 'signed checksum');
    },
  },
  {
    n: 11, name: 'pax and GNU long records', needs: ['xz'],
    policy: 'The most specific code wins: pax size=1e18 is a bad size (TAR_SIZE), pax path=../x a bad name (TAR_NAME); records over the 64 KiB cap, pax or GNU L, are TAR_HEADER_TOO_LARGE; GNU L/K members are refused outright (TAR_TYPE) when small.',
    check(c) {
      const pax = (records: string) => ({ name: 'PaxHeader', type: 'x', data: bytesOf(records) });
      const pt = tinyPt();
      c.refuses('TAR_SIZE', () => read(tarXz([pax(paxRecord('size', '1000000000000000000')), { name: 'm.pt', data: pt }])), 'pax size=1e18');
      c.refuses('TAR_NAME', () => read(tarXz([pax(paxRecord('path', '../x.pt')), { name: 'm.pt', data: pt }])), 'pax path=../x.pt');
      c.refuses('TAR_HEADER_TOO_LARGE', () => read(tarXz([{ name: '././@LongLink', type: 'L', sizeField: bytesOf('10000000000\0') }])), 'GNU longname of 1 GiB');
      c.refuses('TAR_HEADER_TOO_LARGE', () => read(tarXz([{ name: 'PaxHeader', type: 'x', sizeField: bytesOf('00000200001\0') }])), 'pax header of 64 KiB + 1');
      c.refuses('TAR_TYPE', () => read(tarXz([{ name: '././@LongLink', type: 'L', data: bytesOf('m.pt\0') }, { name: 'x', data: pt }])), 'a small GNU longname');
      c.accepts(() => read(tarXz([pax(paxRecord('path', 'long/name.pt')), { name: 'x', data: pt }])), 'pax path=long/name.pt');
    },
  },
  {
    n: 12, name: 'ambiguous model', needs: ['xz'],
    check(c) {
      c.refuses('TAR_AMBIGUOUS', () => read(tarXz([{ name: 'model.pt', data: tinyPt() }, { name: 'model.pt', data: tinyPt() }])), 'model.pt twice');
      c.refuses('TAR_AMBIGUOUS', () => read(tarXz([{ name: 'a.pt', data: tinyPt() }, { name: 'b.pth', data: tinyPt() }])), 'a.pt and b.pth');
    },
  },
  {
    n: 13, name: 'flood or truncation', needs: ['xz'],
    policy: 'A tar without its zero-block trailer is accepted when it ends exactly at a header boundary (GNU tar reads it too). The xz layer decodes the whole stream before the tar is read (nothing unverified is parsed), so a member flood costs at most maxDecompressedBytes of memory; the member cap then refuses it at the 65th header.',
    check(c) {
      const header = tarHeader({ name: 'd/', type: '5' });
      const flood = new Uint8Array(100_000 * 512);
      for (let i = 0; i < 100_000; i++) flood.set(header, i * 512);
      const packed = xzCompress(flood);
      c.t.ok(packed.length < 100_000, `10^5 members in ${packed.length} bytes of xz`);
      const t0 = performance.now();
      c.refuses('TAR_TOO_MANY_ENTRIES', () => read(packed), '10^5 empty members');
      c.t.ok(performance.now() - t0 < 5000, `refused in ${(performance.now() - t0).toFixed(0)} ms`);
      c.refuses('DECOMPRESSED_TOO_LARGE', () => read(packed, EDGE_LIMITS.maxDecompressedBytes > flood.length ? { maxDecompressedBytes: 2 ** 20 } : EDGE_LIMITS), 'the same under a 1 MiB cap');
      const tar = writeTar([{ name: 'm.pt', data: randomPt() }]);
      c.refuses('TAR_TRUNCATED', () => read(xzCompress(tar.subarray(0, 512 + 4000))), 'the tar ends inside the .pt');
      c.accepts(() => read(xzCompress(writeTar([{ name: 'm.pt', data: tinyPt() }], false))), 'no zero-block trailer (policy)');
    },
  },

  // ---------------- zip (.pt) ----------------
  {
    n: 14, name: 'legacy torch formats', needs: ['xz'],
    check(c) {
      c.refuses('PT_LEGACY_UNSUPPORTED', () => read(bytesOf('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.')), 'magic-number pickle stream');
      c.refuses('PT_LEGACY_UNSUPPORTED', () => read(bytesOf('\x80\x02}q\x00.')), 'a bare pickle');
      c.refuses('PT_LEGACY_UNSUPPORTED', () => read(tarXz([{ name: 'sys_info', data: bytesOf('x') }, { name: 'pickle', data: bytesOf('x') }, { name: 'storages', data: bytesOf('x') }, { name: 'tensors', data: bytesOf('x') }])), 'legacy tar checkpoint');
      c.refuses('PT_LEGACY_UNSUPPORTED', () => read(tarXz([{ name: 'm.pt', data: bytesOf('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.') }])), 'legacy stream inside .tar.xz');
    },
  },
  {
    n: 15, name: 'TorchScript archive',
    check(c) {
      const empty = new PickleWriter().proto().emptyDict().stop().bytes();
      c.refuses('PT_TORCHSCRIPT', () => read(torchZip(empty, {}, { extra: [{ name: 'archive/constants.pkl', data: empty }] })), 'constants.pkl');
      c.refuses('PT_TORCHSCRIPT', () => read(torchZip(empty, {}, { extra: [{ name: 'archive/code/__torch__/m.py', data: bytesOf('def f(): pass') }] })), 'code/');
    },
  },
  {
    n: 16, name: 'prefix violations',
    check(c) {
      const empty = new PickleWriter().proto().emptyDict().stop().bytes();
      c.refuses('ZIP_LAYOUT', () => read(writeZip([{ name: 'data.pkl', data: empty }, { name: 'version', data: bytesOf('3\n') }])), 'data.pkl at the root');
      c.refuses('ZIP_LAYOUT', () => read(torchZip(empty, {}, { extra: [{ name: 'b/data/0', data: f32Bytes([1]) }] })), 'a/data.pkl with b/data/0');
    },
  },
  {
    n: 17, name: 'EOCD abuse',
    policy: 'Junk prepended without fixing offsets is not a zip at byte 0 (the loader says UNKNOWN_FORMAT; the zip layer ZIP_CD as offsets no longer meet); a consistent polyglot whose first local header is not at 0 is ZIP_EOCD.',
    check(c) {
      const good = tinyPt();
      c.refuses('ZIP_EOCD', () => read(good.subarray(0, good.length - 22)), 'no EOCD');
      const commented = writeZip([{ name: 'a/x', data: bytesOf('x') }], { comment: bytesOf('short') });
      c.refuses('ZIP_EOCD', () => read(commented.subarray(0, commented.length - 2)), 'comment length past EOF');
      const fake = writeZip([{ name: 'a/x', data: bytesOf('x') }]).subarray(-22);
      c.refuses('ZIP_EOCD', () => read(writeZip([{ name: 'a/x', data: bytesOf('x') }], { comment: concat(bytesOf('ab'), fake) })), 'a fake EOCD in the comment');
      c.refuses('UNKNOWN_FORMAT', () => read(concat(bytesOf('#!/bin/sh\n'), good)), 'junk prepended (loader)');
      c.refuses('ZIP_CD', () => readZip(concat(bytesOf('#!/bin/sh\n'), good), DEFAULT_LIMITS), 'junk prepended (zip layer)');
      c.refuses('ZIP_EOCD', () => readZip(prependConsistently(good, bytesOf('GIF89a polyglot')), DEFAULT_LIMITS), 'consistent polyglot');
      const pad = new Uint8Array(70_000);
      c.refuses('ZIP_EOCD', () => read(concat(good.subarray(0, good.length - 22), good.subarray(-22), pad)), 'EOCD more than 65,557 bytes from the end');
    },
  },
  {
    n: 18, name: 'central-directory lies',
    policy: '65,535 declared entries is the zip64 marker: without a zip64 locator it is ZIP_RANGE; any other impossible count is ZIP_CD, before any per-entry allocation.',
    check(c) {
      const one = [{ name: 'a/x', data: bytesOf('x') }];
      c.refuses('ZIP_CD', () => read(writeZip(one, { eocd: { cdOffset: 1000 } })), 'CD offset past the file');
      c.refuses('ZIP_CD', () => read(writeZip(one, { eocd: { cdSize: 100_000 } })), 'CD size past the file');
      c.refuses('ZIP_CD', () => read(writeZip(one, { eocd: { entries: 65_534 } })), '65,534 entries in a tiny file');
      c.refuses('ZIP_RANGE', () => read(writeZip(one, { eocd: { entries: 65_535 } })), '65,535 entries (the zip64 marker)');
    },
  },
  {
    n: 19, name: 'overlapping entries',
    policy: 'A second central record at an existing local header fails the local/central name check first (ZIP_HEADER_MISMATCH), or the duplicate-name check if it reuses the name (ZIP_DUPLICATE); data that runs into the central directory is ZIP_RANGE. Entries whose data ranges overlap are ZIP_OVERLAP.',
    check(c) {
      const inner = writeZip([{ name: 'a/b', data: bytesOf('BBBB') }]).subarray(0, 30 + 3 + 4);
      c.refuses('ZIP_OVERLAP', () => read(writeZip([{ name: 'a/a', data: inner }], { extraCentral: [{ name: 'a/b', size: 4, crc: crc32(bytesOf('BBBB')), localOffset: 33 }] })), 'an entry inside another (Fifield)');
      c.refuses('ZIP_HEADER_MISMATCH', () => read(writeZip([{ name: 'a/x', data: bytesOf('x') }], { extraCentral: [{ name: 'a/y', size: 1, crc: crc32(bytesOf('x')), localOffset: 0 }] })), 'two records, one local header');
      c.refuses('ZIP_DUPLICATE', () => read(writeZip([{ name: 'a/x', data: bytesOf('x') }], { extraCentral: [{ name: 'a/x', size: 1, crc: crc32(bytesOf('x')), localOffset: 0 }] })), 'two records, one local header, one name');
      const intoCd = writeZip([{ name: 'a/x', data: bytesOf('xyz') }]);
      const dv = new DataView(intoCd.buffer);
      const cd = dv.getUint32(intoCd.length - 6, true);
      dv.setUint32(cd + 20, 40, true); dv.setUint32(cd + 24, 40, true); // central sizes reach into the CD
      c.refuses('ZIP_RANGE', () => read(intoCd), 'data overlapping the central directory');
    },
  },
  {
    n: 20, name: 'duplicate names',
    check(c) {
      c.refuses('ZIP_DUPLICATE', () => read(writeZip([{ name: 'archive/data.pkl', data: bytesOf('\x80\x02}.') }, { name: 'archive/data.pkl', data: bytesOf('\x80\x02].') }])), 'archive/data.pkl twice');
    },
  },
  {
    n: 21, name: 'local/central mismatch',
    check(c) {
      c.refuses('ZIP_HEADER_MISMATCH', () => read(writeZip([{ name: 'a/x', data: bytesOf('x'), localName: 'a/z' }])), 'names differ');
      const method = writeZip([{ name: 'a/x', data: bytesOf('xyz') }]);
      new DataView(method.buffer).setUint16(8, 8, true);
      c.refuses('ZIP_HEADER_MISMATCH', () => read(method), 'methods differ');
      const size = writeZip([{ name: 'a/x', data: bytesOf('xyz') }]);
      new DataView(size.buffer).setUint32(22, 2, true);
      c.refuses('ZIP_HEADER_MISMATCH', () => read(size), 'sizes differ');
    },
  },
  {
    n: 22, name: 'compressed entries',
    policy: 'Only STORED entries are read (PyTorch writes nothing else): DEFLATE is refused before a byte is inflated, so a 40 GB inflation is never started.',
    check(c) {
      const deflated = deflateSync(new Uint8Array(1 << 20));
      c.refuses('ZIP_METHOD', () => read(torchZip(bytesOf('\x80\x02}.'), {}, { extra: [{ name: 'archive/data/0', data: deflated, method: 8 }] })), 'DEFLATE data/0');
    },
  },
  {
    n: 23, name: 'encryption and data descriptors',
    policy: 'Bit 3 with zero local sizes is what PyTorch itself writes, so it is accepted; the descriptor after the data must then agree with the central directory (ZIP_HEADER_MISMATCH otherwise). Encryption (bit 0, bit 6, bit 13, method 99) is ZIP_UNSUPPORTED.',
    check(c) {
      c.refuses('ZIP_UNSUPPORTED', () => read(writeZip([{ name: 'a/x', data: bytesOf('x'), flags: 1 }])), 'flag bit 0');
      c.refuses('ZIP_UNSUPPORTED', () => read(writeZip([{ name: 'a/x', data: bytesOf('x'), method: 99 }])), 'method 99');
      c.accepts(() => read(tinyPt()), 'bit 3 with zero local sizes (as torch.save writes)');
      const lying = writeZip([{ name: 'a/x', data: bytesOf('xyz'), descriptor: true }]);
      lying[30 + 3 + 3 + 8] ^= 1;
      c.refuses('ZIP_HEADER_MISMATCH', () => read(lying), 'a data descriptor that disagrees');
    },
  },
  {
    n: 24, name: 'ZIP64 lies',
    check(c) {
      const good = tinyPt();
      c.accepts(() => read(toZip64(good)), 'a valid zip64 end record');
      c.refuses('ZIP_RANGE', () => read(toZip64(good, { cdOffset: 2n ** 63n })), 'CD offset 2^63');
      c.refuses('ZIP_RANGE', () => read(toZip64(good, { recordOffset: 2n ** 40n })), 'zip64 record offset past EOF');
      c.refuses('ZIP_RANGE', () => read(toZip64(good, { signature: 0x12345678 })), 'locator pointing at no zip64 record');
      c.refuses('ZIP_RANGE', () => read(zip64EntrySize(2n ** 63n)), 'entry size 2^63');
    },
  },
  {
    n: 25, name: 'CRC mismatch',
    check(c) {
      const z = torchZip(bytesOf('\x80\x02}.'));
      c.refuses('ZIP_CRC', () => read(flip(z, 30 + 16 + 2, 1)), 'a data.pkl byte edited');
      c.refuses('ZIP_HEADER_MISMATCH', () => read(writeZip([{ name: 'archive/data.pkl', data: bytesOf('\x80\x02}.'), crc: 0x12345678 }, { name: 'archive/version', data: bytesOf('3\n') }])), 'only the central CRC edited: the local header disagrees first');
    },
  },
  {
    n: 26, name: 'bad names',
    check(c) {
      for (const name of ['a/x\0y', 'a\\x', 'a/../x', '/a/x', 'a/' + 'n'.repeat(1100)]) c.refuses('ZIP_NAME', () => read(writeZip([{ name, data: bytesOf('x') }])), JSON.stringify(name.slice(0, 12)));
      c.refuses('ZIP_NAME', () => read(writeZip([{ name: Uint8Array.from([0x61, 0x2f, 0xff]), data: bytesOf('x') }])), 'invalid UTF-8');
    },
  },
  {
    n: 27, name: 'missing records',
    check(c) {
      const empty = new PickleWriter().proto().emptyDict().stop().bytes();
      c.refuses('PT_MISSING_RECORD', () => read(writeZip([{ name: 'archive/version', data: bytesOf('3\n') }])), 'no data.pkl');
      c.refuses('PT_MISSING_RECORD', () => read(writeZip([{ name: 'archive/data.pkl', data: empty }])), 'no version');
      c.refuses('PT_MISSING_RECORD', () => read(torchZip(empty, {}, { version: '3.5' })), 'non-integer version');
      c.refuses('PT_BYTEORDER', () => read(torchZip(empty, {}, { extra: [{ name: 'archive/byteorder', data: bytesOf('big') }] })), 'byteorder big');
    },
  },

  // ---------------- pickle ----------------
  {
    n: 28, name: 'classic RCE',
    check(c) {
      const e = c.refuses('PICKLE_GLOBAL', () => read(pkl('\x80\x02cos\nsystem\n(X\x02\x00\x00\x00idtR.')), 'os.system');
      c.t.equal(e?.where.offset, 2, 'at byte 2');
      c.t.match(e?.message ?? '', /os\.system/, 'names os.system');
    },
  },
  {
    n: 29, name: 'denylist corpus',
    check(c) {
      for (const [module, name] of PICKLE_DENYLIST) {
        c.refuses('PICKLE_GLOBAL', () => read(pkl(new PickleWriter().proto().global(module, name).mark().str('id').tuple().reduce().stop().bytes())), `${module}.${name}`);
      }
    },
  },
  {
    n: 30, name: 'near-miss names',
    check(c) {
      for (const line of ['torch._utils\n_rebuild_tensor_v2 \n', 'torch._utils\n_rebuild_tensor_v2\r\n', 'collections\nOrderedDict\x00\n', 'torch\nFloatStorage.x\n']) {
        c.refuses('PICKLE_GLOBAL', () => read(pkl(new PickleWriter().proto().raw(`c${line}`).emptyTuple().reduce().stop().bytes())), JSON.stringify(line));
      }
    },
  },
  {
    n: 31, name: 'STACK_GLOBAL via memo',
    check(c) {
      c.refuses('PICKLE_OPCODE', () => read(pkl(new PickleWriter().proto().str('os').put(0).str('system').put(1).get(0).get(1).raw([0x93]).stop().bytes())), 'picklescan malicious11');
      c.refuses('PICKLE_OPCODE', () => read(pkl("\x80\x02S'os'\np0\nS'system'\np1\n\x93.")), 'GHSA-9gvj STRING variant');
    },
  },
  {
    n: 32, name: 'other code opcodes',
    check(c) {
      const ops: [string, string][] = [['INST', '(ios\nsystem\nX\x02\x00\x00\x00id.'], ['OBJ', '(N)o.'], ['NEWOBJ_EX', '\x92.'], ['EXT1', '\x82\x01.'], ['EXT2', '\x83\x01\x00.'],
        ['EXT4', '\x84\x01\x00\x00\x00.'], ['PERSID', 'P0\n.'], ['FRAME', '\x95\x00\x00\x00\x00\x00\x00\x00\x00.'], ['MEMOIZE', ']\x94.']];
      for (const [name, body] of ops) {
        const e = c.refuses('PICKLE_OPCODE', () => read(pkl(`\x80\x02${body}`)), name);
        c.t.match(e?.message ?? '', new RegExp(name), `names ${name}`);
      }
    },
  },
  {
    n: 33, name: 'allowlisted callable, bad args',
    check(c) {
      c.refuses('PICKLE_ARGS', () => read(onePt(rebuild((w) => w.str('storage').int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict()))), 'string storage');
      c.refuses('PICKLE_ARGS', () => read(onePt(rebuild((w) => { w.storage('0', 'FloatStorage', 4).int(0).intTuple([4]); }))), 'arity 3');
      c.refuses('PICKLE_ARGS', () => read(onePt(rebuild((w) => { stdArgs(w).bool(false).orderedDict().none().none().none(); }))), 'arity 9');
      c.refuses('PICKLE_ARGS', () => read(onePt(rebuild((w) => { stdArgs(w).int(5).orderedDict(); }))), 'requires_grad = 5');
      c.refuses('PICKLE_ARGS', () => read(onePt(rebuild((w) => { stdArgs(w).bool(false).emptyDict(); }))), 'backward_hooks not an OrderedDict');
      c.refuses('PICKLE_ARGS', () => read(onePt((w) => w.global('torch', 'Size').mark().str('a').tuple().tupleN(1).reduce())), 'torch.Size of strings');
      c.refuses('PICKLE_ARGS', () => read(onePt((w) => w.global('collections', 'OrderedDict').mark().none().none().none().none().none().tuple().reduce())), 'OrderedDict with 5 args');
    },
  },
  {
    n: 34, name: 'BUILD on the wrong type',
    check(c) {
      c.refuses('PICKLE_BUILD', () => read(pkl('\x80\x02)}b.')), 'BUILD on a tuple');
      c.refuses('PICKLE_BUILD', () => read(onePt((w) => w.global('torch', 'Size').intTuple([2]).tupleN(1).reduce().emptyDict().build())), 'BUILD on a torch.Size');
      c.refuses('PICKLE_BUILD', () => read(onePt((w) => w.dense(denseView).emptyDict().build())), 'BUILD on a rebuilt tensor');
      c.accepts(() => read(pkl(new PickleWriter().proto().orderedDict().emptyDict().build().stop().bytes())), 'BUILD on an OrderedDict (_metadata)');
    },
  },
  {
    n: 35, name: 'container type confusion',
    check(c) {
      for (const [label, p] of [['SETITEM on a list', '\x80\x02]K\x01K\x02s.'], ['SETITEM on a tuple', '\x80\x02)K\x01K\x02s.'], ['SETITEMS on a list', '\x80\x02](K\x01K\x02u.'],
        ['APPEND on a dict', '\x80\x02}K\x01a.'], ['APPENDS on a dict', '\x80\x02}(K\x01e.']]) c.refuses('PICKLE_TYPE', () => read(pkl(p)), label);
      c.refuses('PICKLE_TYPE', () => read(onePt((w) => w.dense(denseView).str('k').int(1).setitem())), 'SETITEM on a tensor');
    },
  },
  {
    n: 36, name: 'memo abuse',
    policy: 'LONG_BINPUT 2^32 − 1 is legal and sizes nothing (the memo is a Map with a slot cap); the pickle is then refused for what it holds (a list, not a state dict).',
    check(c) {
      c.refuses('PICKLE_MEMO', () => read(pkl('\x80\x02h\x05.')), 'BINGET of an unset slot');
      const before = process.memoryUsage().arrayBuffers;
      c.refuses('PICKLE_TYPE', () => read(pkl('\x80\x02]r\xff\xff\xff\xff.')), 'LONG_BINPUT 2^32 − 1');
      c.t.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, 'no memo array sized by the index');
      c.refuses('PICKLE_MEMO', () => read(pkl(`\x80\x02N${'q\x00r\x01\x00\x00\x00r\x02\x00\x00\x00'}.`), { maxPickleMemo: 2 }), 'memo slot cap');
    },
  },
  {
    n: 37, name: 'stack underflow',
    check(c) {
      for (const [label, p] of [['R.', '\x80\x02R.'], ['t. without MARK', '\x80\x02K\x01t.'], ['TUPLE3 with two items', '\x80\x02K\x01K\x02\x87.'], ['u without MARK', '\x80\x02}u.']]) {
        c.refuses('PICKLE_STACK', () => read(pkl(p)), label);
      }
    },
  },
  {
    n: 38, name: 'truncation',
    check(c) {
      c.refuses('PICKLE_TRUNCATED', () => read(pkl('\x80\x02X\xff\xff\xff\xffabc')), 'BINUNICODE 0xFFFFFFFF with 3 bytes left');
      c.refuses('PICKLE_TRUNCATED', () => read(pkl('\x80\x02J\x01\x02')), 'EOF inside BININT');
      c.refuses('PICKLE_TRUNCATED', () => read(pkl('\x80\x02}')), 'no STOP');
    },
  },
  {
    n: 39, name: 'PROTO games',
    check(c) {
      c.refuses('PICKLE_PROTO', () => read(pkl('}\x80\x02.')), 'PROTO not first');
      c.refuses('PICKLE_PROTO', () => read(pkl('\x80\x02\x80\x02}.')), 'two PROTOs');
      c.refuses('PICKLE_PROTO', () => read(pkl('\x80\x05}.')), 'PROTO 5');
    },
  },
  {
    n: 40, name: 'trailing or leftover data',
    check(c) {
      c.refuses('PICKLE_TRAILING', () => read(pkl('\x80\x02}.\x80\x02cos\nsystem\n.')), 'two pickles (malicious6)');
      c.refuses('PICKLE_TRAILING', () => read(pkl('\x80\x02}}.')), 'two items at STOP');
      c.refuses('PICKLE_TRAILING', () => read(pkl('\x80\x02(}.')), 'an open MARK at STOP');
    },
  },
  {
    n: 41, name: 'nesting and op floods',
    check(c) {
      c.refuses('PICKLE_DEPTH', () => read(pkl(`\x80\x02${'('.repeat(1_000_000)}.`)), '10^6 MARKs');
      const nested = new PickleWriter().proto().emptyList().put(0);
      for (let i = 0; i < 10_000; i++) nested.emptyList().get(0).append().put(0);
      c.refuses('PICKLE_DEPTH', () => read(pkl(nested.stop().bytes())), 'lists nested 10^4 deep through the memo');
      const big = new Uint8Array(50 * 10 ** 6);
      for (let i = 2; i < big.length; i += 2) { big[i] = 0x4e; big[i + 1] = 0x30; }
      big.set([0x80, 0x02]);
      const t0 = performance.now();
      c.refuses('PICKLE_TOO_LARGE', () => read(pkl(big)), '50 MB of N0');
      c.t.ok(performance.now() - t0 < 3000, `refused in ${(performance.now() - t0).toFixed(0)} ms (CRC included)`);
    },
  },
  {
    n: 42, name: 'integer range',
    policy: 'Integers beyond int64 are PICKLE_INT_RANGE; an int64 used as a dimension is then checked by the tensor layer: above 2^31 − 1 SHAPE_OVERFLOW, negative TENSOR_GEOMETRY.',
    check(c) {
      c.refuses('PICKLE_INT_RANGE', () => read(pkl(`\x80\x02\x8a\xff${'\x01'.repeat(255)}.`)), 'LONG1 of 255 bytes');
      c.refuses('SHAPE_OVERFLOW', () => read(tinyPt({ size: [2, 2n ** 60n], stride: [0, 0] })), 'a 2^60 dimension');
      c.refuses('TENSOR_GEOMETRY', () => read(tinyPt({ size: [-2, 2], stride: [2, 1] })), 'a negative BININT size');
    },
  },
  {
    n: 43, name: 'bad UTF-8',
    policy: 'Strings must be strict UTF-8; CPython pickles with surrogatepass, so a lone surrogate torch would load is refused here (no state-dict key needs one).',
    check(c) {
      c.refuses('PICKLE_UTF8', () => read(pkl('\x80\x02X\x01\x00\x00\x00\xff.')), 'BINUNICODE \\xff');
      c.refuses('PICKLE_UTF8', () => read(pkl('\x80\x02X\x03\x00\x00\x00\xed\xa0\x80.')), 'a lone surrogate');
    },
  },
  {
    n: 44, name: 'persistent-id abuse',
    policy: 'Storage types outside the allowlist (QUInt8Storage, EvilStorage) are refused at their GLOBAL opcode (PICKLE_GLOBAL), before the persistent id is built; DoubleStorage is supported (rounded to float32).',
    check(c) {
      const persid = (pid: (w: PickleWriter) => void) => rebuild((w) => { pid(w); w.binpersid().int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict(); });
      c.refuses('PICKLE_PERSID', () => read(onePt(persid((w) => w.str('storage')))), 'pid not a tuple');
      c.refuses('PICKLE_PERSID', () => read(onePt(persid((w) => w.mark().str('module').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple()))), 'pid[0] ≠ "storage"');
      c.refuses('PICKLE_GLOBAL', () => read(onePt((w) => w.dense({ ...denseView, type: 'QUInt8Storage' }))), 'QUInt8Storage');
      c.refuses('PICKLE_GLOBAL', () => read(onePt((w) => w.dense({ ...denseView, type: 'EvilStorage' }))), 'torch.EvilStorage');
      c.accepts(() => read(tinyPt({ type: 'DoubleStorage' }, { 0: new Uint8Array(Float64Array.from([1, 0, 0, 2]).buffer) })), 'DoubleStorage');
      for (const key of ['../0', '0/../x', '7']) c.refuses('PICKLE_PERSID', () => read(tinyPt({ key })), `key ${JSON.stringify(key)}`);
      c.refuses('PICKLE_PERSID', () => read(onePt(rebuild((w) => { w.storage('0', 'FloatStorage', 4, 'evil'); w.int(0).intTuple([4]).intTuple([1]).bool(false).orderedDict(); }))), 'location "evil"');
    },
  },
  {
    n: 45, name: 'storage aliasing conflict',
    check(c) {
      c.refuses('PT_STORAGE_CONFLICT', () => read(torchZip(statePickle([['a', (w) => w.dense(denseView)], ['b', (w) => w.dense({ ...denseView, type: 'HalfStorage', numel: 8 })]]), storage4)), 'float32 ×4 and float16 ×8');
      c.refuses('PT_STORAGE_CONFLICT', () => read(torchZip(statePickle([['a', (w) => w.dense(denseView)], ['b', (w) => w.dense({ ...denseView, numel: 5 })]]), storage4)), 'two numels');
    },
  },

  // ---------------- tensor / shape semantics ----------------
  {
    n: 46, name: 'numel overflow',
    check(c) {
      c.refuses('SHAPE_OVERFLOW', () => read(tinyPt({ size: [2, 2n ** 62n], stride: [0, 0] })), '(2, 2^62)');
      c.refuses('SHAPE_OVERFLOW', () => read(tinyPt({ size: [2, 2n ** 63n - 1n], stride: [0, 0] })), '(2, 9223372036854775807)');
      c.refuses('SHAPE_OVERFLOW', () => read(tinyPt({ size: [2 ** 31 - 1, 2 ** 31 - 1, 4], stride: [0, 0, 0] })), 'a product beyond 2^53');
    },
  },
  {
    n: 47, name: 'declared vs actual storage',
    check(c) {
      c.refuses('STORAGE_SIZE', () => read(tinyPt({ numel: 1000 }, { 0: f32Bytes([1]) })), 'numel 1000 over 4 bytes');
      c.refuses('STORAGE_SIZE', () => read(tinyPt({ numel: 1 })), 'numel 1 over 16 bytes');
    },
  },
  {
    n: 48, name: 'view out of bounds',
    check(c) {
      c.refuses('TENSOR_OOB', () => read(tinyPt({ numel: 12, size: [3, 4], stride: [255, 1] }, { 0: f32Bytes(new Array(12).fill(1)) })), 'size (3,4) stride (255,1) over 12');
      c.refuses('TENSOR_OOB', () => read(tinyPt({ offset: 999 })), 'offset 999');
    },
  },
  {
    n: 49, name: 'malformed geometry',
    policy: 'Zero and permuted strides are materialised (read in row-major order), not refused.',
    check(c) {
      c.refuses('TENSOR_GEOMETRY', () => read(tinyPt({ size: [2, 2], stride: [1] })), 'len(size) ≠ len(stride)');
      c.refuses('TENSOR_GEOMETRY', () => read(tinyPt({ size: [2, 2], stride: [-2, 1] })), 'negative stride');
      c.refuses('TENSOR_GEOMETRY', () => read(tinyPt({ size: Array(9).fill(1), stride: Array(9).fill(1) })), 'rank 9');
      const storage = { 0: f32Bytes([9, 1, 2, 3, 4, 0, 6]) };
      const permuted = c.accepts(() => read(tinyPt({ numel: 7, offset: 1, size: [2, 3], stride: [1, 2] }, storage)).get('w')!, 'permuted strides');
      c.t.same([...(permuted?.values ?? [])], [1, 3, 2, 4, 6], 'permuted: row-major values');
      const zero = c.accepts(() => read(tinyPt({ numel: 7, offset: 3, size: [3, 2], stride: [0, 1] }, storage)).get('w')!, 'zero stride');
      c.t.same([...(zero?.values ?? [])], [3, 4, 3, 4, 3, 4], 'zero stride: repeated values');
    },
  },
  {
    n: 50, name: 'spec mismatch',
    policy: 'A key set twice in the pickle is refused by the pickle layer (PICKLE_DUPLICATE_KEY). The structure is checked after the coefficients are read, whose allocation is bounded by the stored elements (maxTotalParameters), and before any dense weight exists.',
    check(c) {
      const load = (dict: ReturnType<typeof unetDict>) => loadModel(writeCheckpoint(dict), { xz });
      c.accepts(() => load(unetDict()), 'the valid width-2 UNet');
      const missing = unetDict(); missing.delete('down2.maxpool_conv.1.double_conv.3.weight');
      const e = c.refuses('MODEL_SPEC', () => load(missing), 'a missing key');
      c.t.match(e?.message ?? '', /down2\.maxpool_conv\.1\.double_conv\.3\.weight/, 'names the key');
      const extra = unetDict(); extra.set('evil.weight', { ...extra.get('outc.conv.weight')! });
      c.refuses('MODEL_SPEC', () => load(extra), 'an extra key');
      const rank3 = unetDict(); const w0 = rank3.get('inc.double_conv.0.weight')!;
      const idx3 = new Int32Array(w0.values.length * 3);
      for (let k = 0; k < w0.values.length; k++) idx3.set([w0.indices[k * 4], w0.indices[k * 4 + 1], w0.indices[k * 4 + 2] * 3 + w0.indices[k * 4 + 3]], k * 3);
      rank3.set('inc.double_conv.0.weight', { ...w0, shape: [2, 3, 9], indices: idx3 });
      c.refuses('MODEL_SPEC', () => load(rank3), 'conv weight [2,3,9] instead of [2,3,3,3]');
      const concat2 = unetDict(); const u = concat2.get('up1.conv.double_conv.0.weight')!;
      concat2.set('up1.conv.double_conv.0.weight', { ...u, shape: [u.shape[0], u.shape[1] + 1, 3, 3] });
      c.refuses('MODEL_SPEC', () => load(concat2), 'skip-concat channels off by one');
      c.refuses('MODEL_SPEC', () => loadModel(onePt((w) => w.dense({ ...denseView, type: 'LongStorage', numel: 2, size: [2], stride: [1] }), { 0: i64Bytes([1, 2]) }), { xz }), 'LongStorage values');
      c.refuses('PICKLE_DUPLICATE_KEY', () => read(torchZip(statePickle([['w', (w) => w.dense(denseView)], ['w', (w) => w.dense(denseView)]]), storage4)), 'a key twice');
    },
  },
  {
    n: 51, name: 'sparse tensors',
    check(c) {
      const idx: ViewSpec = { key: '0', type: 'LongStorage', numel: 4, size: [2, 2], stride: [2, 1] };
      const val: ViewSpec = { key: '1', type: 'FloatStorage', numel: 2, size: [2], stride: [1] };
      const sparse = (indices: number[], o: { idx?: Partial<ViewSpec>; val?: Partial<ViewSpec>; layout?: string } = {}) =>
        read(onePt((w) => w.sparse({ ...idx, ...o.idx }, { ...val, ...o.val }, [3, 5], o.layout), { 0: i64Bytes(indices), 1: f32Bytes([1, 2]) }));
      c.accepts(() => sparse([2, 0, 4, 1]), 'valid');
      c.refuses('SPARSE_INVALID', () => sparse([3, 0, 4, 1]), 'index outside the size');
      c.refuses('SPARSE_INVALID', () => read(onePt((w) => w.sparse({ ...idx, type: 'FloatStorage' }, val, [3, 5]), { 0: f32Bytes([0, 0, 0, 0]), 1: f32Bytes([1, 2]) })), 'index dtype float');
      c.refuses('SPARSE_INVALID', () => sparse([2, 0, 4, 1], { val: { size: [1] } }), 'nnz mismatch');
      c.refuses('SPARSE_INVALID', () => sparse([2, 0, 4, 1], { layout: 'torch.sparse_csr' }), 'layout sparse_csr');
    },
  },
  {
    n: 52, name: 'degenerate shapes',
    policy: '[0,3] tensors and rank-0 scalars read fine (and a UNet cannot contain them: MODEL_SPEC). Images below 16×16 are INPUT_TOO_SMALL. NaN/Inf weights are not checked: they propagate to the logits (no finite-check flag yet).',
    async check(c) {
      c.accepts(() => read(tinyPt({ size: [0, 3], stride: [3, 1] })), 'a [0,3] tensor');
      c.accepts(() => read(tinyPt({ size: [], stride: [] })), 'a rank-0 scalar');
      const model = loadModel(writeCheckpoint(unetDict()), { xz });
      const engine = await createEngine('reference', model);
      for (const [w, h] of [[1, 1], [15, 64], [64, 8]]) {
        await c.refusesAsync('INPUT_TOO_SMALL', () => engine.run(new Float32Array(3 * w * h), w, h), `${w}×${h} image`);
      }
      await c.refusesAsync('IMAGE_DIMENSIONS', () => engine.run(new Float32Array(0), 0, 0), '0×0 image');
      c.refuses('INPUT_TOO_SMALL', () => imageToTensor({ data: new Uint8Array(3), width: 1, height: 1, channels: 3 }, 3), '1×1 through imageToTensor');
    },
  },

  // ---------------- packed format ----------------
  {
    n: 53, name: 'header lies',
    policy: 'The format is little-endian only (no endianness flag to lie about), and its tensor count is a u16 (no 2^31 or negative counts): a count larger than the tensors present runs out of bytes (PACK_TENSOR). A bad magic is not a .frq to the loader (UNKNOWN_FORMAT); the packed reader says PACK_HEADER.',
    check(c) {
      c.accepts(() => read(craftFrq({ body: FRQ_X })), 'the well-formed base case');
      c.refuses('UNKNOWN_FORMAT', () => read(craftFrq({ body: FRQ_X, magic: [0x89, 0x46, 0x52, 0x52] })), 'bad magic (loader)');
      c.refuses('PACK_HEADER', () => readPacked(craftFrq({ body: FRQ_X, magic: [0x89, 0x46, 0x52, 0x52] })), 'bad magic (packed reader)');
      c.refuses('PACK_HEADER', () => read(craftFrq({ body: FRQ_X, version: 2 })), 'version 2');
      c.refuses('PACK_HEADER', () => read(craftFrq({ body: FRQ_X, layout: 7 })), 'layout 7');
      c.refuses('PACK_HEADER', () => read(craftFrq({ body: FRQ_X, length: 0xffffffff })), 'declared length past the file');
      c.refuses('PACK_HEADER', () => read(craftFrq({ body: FRQ_X, length: 17 * 2 ** 20 }), { maxInputBytes: 16 * 2 ** 20 }), 'declared length past the input cap');
      c.refuses('PACK_HEADER', () => read(craftFrq({ body: FRQ_X, count: 0 })), 'tensor count 0');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: FRQ_X, count: 65_535 })), 'tensor count 65,535 with one tensor');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x28, ...frqVarint(500), 0x78] })), 'name length past EOF (ncnn #6902)');
    },
  },
  {
    n: 54, name: 'offset games',
    policy: 'A .frq file has no offset table: tensors follow each other and every count is checked against the bytes left before anything is read or allocated, so offsets cannot point out of the file, overlap, leave gaps or be misaligned. Counts that run past the end are PACK_OFFSETS.',
    check(c) {
      c.refuses('PACK_OFFSETS', () => read(craftFrq({ body: [0x28, ...frqName('x'), 1, 4, 2, ...frqHalf(1)] })), 'values past the end');
      c.refuses('PACK_OFFSETS', () => read(craftFrq({ body: [0x29, ...frqName('x'), 1, 100, 50, 0, 0, 0] })), 'explicit positions past the end');
      c.refuses('PACK_OFFSETS', () => read(craftFrq({ body: [0x28, ...frqName('x'), 1, ...frqVarint(1_000_000), ...frqVarint(1_000_000)] })), '10^6 values declared in a 20-byte file');
    },
  },
  {
    n: 55, name: 'trailing bytes',
    check(c) {
      c.refuses('PACK_TRAILING', () => read(concat(craftFrq({ body: FRQ_X }), Uint8Array.of(0))), 'one byte after the declared end');
      c.refuses('PACK_TRAILING', () => read(craftFrq({ body: [...FRQ_X, 0] })), 'one byte after the last tensor, inside the declared length');
      c.refuses('PACK_TRAILING', () => read(concat(craftFrq({ body: FRQ_X }), writeZip([{ name: 'a/x', data: bytesOf('x') }]).subarray(-22))), 'a zip end record appended (a polyglot)');
    },
  },
  {
    n: 56, name: 'invalid entries',
    policy: 'There is no "layer index" field: positions are zig-zag counts or gap-coded linear indices; a count or index beyond the tensor is PACK_INDEX. A byte count that does not match numel·itemsize shows as running past the end (PACK_OFFSETS) or as leftover bytes (PACK_TRAILING).',
    check(c) {
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x38, ...FRQ_X.slice(1)] })), 'unknown dtype code');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x28 | 0x40, ...FRQ_X.slice(1)] })), 'reserved code bits');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x28, ...frqName('x'), 3, ...frqVarint(2 ** 31 - 1), ...frqVarint(2 ** 31 - 1), ...frqVarint(2 ** 31 - 1), 0] })), 'a shape product beyond 2^53');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [...FRQ_X, ...FRQ_X], count: 2 })), 'a duplicate name');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x28, 0, 1, 4, 2, ...frqHalf(1), ...frqHalf(2)] })), 'an empty name');
      c.refuses('PACK_TENSOR', () => read(craftFrq({ body: [0x28, 2, 0xc3, 0x28, 1, 4, 2, ...frqHalf(1), ...frqHalf(2)] })), 'a name that is not UTF-8');
      c.refuses('PACK_INDEX', () => read(craftFrq({ body: [0x28, ...frqName('x'), 1, 4, 5, ...frqHalf(1)] })), 'a position count over numel');
      c.refuses('PACK_INDEX', () => read(craftFrq({ body: [0x29, ...frqName('x'), 1, 4, 1, 9, ...frqHalf(1)] })), 'an explicit position outside the tensor');
    },
  },
  {
    n: 57, name: 'checksum',
    check(c) {
      const packed = writePacked(unetDict());
      c.t.equal(packed[5], 1, 'the width-2 UNet packs with the UNet template');
      c.refuses('PACK_CHECKSUM', () => read(flip(packed, packed.length >> 1, 1)), 'one payload byte flipped');
      c.refuses('PACK_CHECKSUM', () => read(flip(packed, packed.length - 1, 1)), 'the CRC itself flipped');
      const again = c.accepts(() => writePacked(read(packed)), 'pack(unpack(x))');
      c.t.ok(again !== undefined && Buffer.from(again).equals(Buffer.from(packed)), 'byte-identical');
      c.accepts(() => loadModel(packed, { xz }), 'loads as a UNet');
    },
  },

  // ---------------- PNG / image ----------------
  {
    n: 58, name: 'dimension bomb',
    check(c) {
      for (const [w, h] of [[20000, 20000], [60000, 60000]]) {
        const bomb = png(ihdr({ width: w, height: h, colorType: 6 }), chunk('IDAT', deflateSync(new Uint8Array(4))), IEND);
        c.t.ok(bomb.length < 70, `${w}×${h} RGBA in ${bomb.length} bytes`);
        c.refusesPng('IMAGE_TOO_LARGE', bomb, `${w}×${h}`);
      }
      c.refusesPng('IMAGE_DIMENSIONS', png(ihdr({ width: 0, height: 10 }), chunk('IDAT', deflateSync(new Uint8Array(1))), IEND), 'width 0');
      c.refusesPng('IMAGE_DIMENSIONS', png(ihdr({ width: 10, height: 0 }), chunk('IDAT', deflateSync(new Uint8Array(1))), IEND), 'height 0');
    },
  },
  {
    n: 59, name: 'interlaced IDAT bomb',
    policy: 'The catalogue\'s 1 GB of zeros is scaled to 64 MiB here to keep the test fast; the inflate stops at the exact Adam7 size + 1 byte either way.',
    check(c) {
      const bomb = png(ihdr({ width: 16, height: 16, colorType: 6, interlace: 1 }), chunk('IDAT', deflateSync(new Uint8Array(64 * 2 ** 20))), IEND);
      const before = process.memoryUsage().arrayBuffers;
      const t0 = performance.now();
      c.refusesPng('IMAGE_DATA', bomb, `16×16 Adam7, 64 MiB of zeros in ${bomb.length} bytes`);
      c.t.ok(performance.now() - t0 < 2000, `refused in ${(performance.now() - t0).toFixed(0)} ms`);
      c.t.ok(process.memoryUsage().arrayBuffers - before < 8 * 2 ** 20, 'memory bounded');
    },
  },
  {
    n: 60, name: 'truncated IDAT',
    check(c) {
      c.refusesPng('IMAGE_TRUNCATED', png(ihdr({ width: 64, height: 64, colorType: 6 }), chunk('IDAT', deflateSync(new Uint8Array(100))), IEND), '64×64 RGBA inflating to 100 bytes');
    },
  },
  {
    n: 61, name: 'CRC errors',
    check(c) {
      const good = png(...validRgb());
      c.refusesPng('PNG_CRC', flip(good, 17, 1), 'an IHDR byte flipped (xhdn0g08)');
      c.refusesPng('PNG_CRC', flip(good, 33 + 10, 0x40), 'an IDAT byte flipped (xcsn0g01)');
    },
  },
  {
    n: 62, name: 'illegal colour type / bit depth',
    check(c) {
      for (const [colorType, depth] of [[2, 1], [2, 2], [2, 4], [3, 16], [4, 1], [4, 2], [4, 4], [6, 1], [6, 2], [6, 4]]) {
        c.refusesPng('PNG_HEADER', png(ihdr({ width: 4, height: 3, colorType, depth }), chunk('IDAT', deflateSync(new Uint8Array(64))), IEND), `type ${colorType} depth ${depth}`);
      }
    },
  },
  {
    n: 63, name: 'palette faults',
    check(c) {
      const h = ihdr({ width: 2, height: 2, colorType: 3, depth: 8 });
      const idat = chunk('IDAT', deflateSync(Uint8Array.from([0, 0, 1, 0, 1, 0])));
      const plte = chunk('PLTE', [255, 0, 0, 0, 255, 0]);
      c.refusesPng('PNG_PALETTE', png(h, idat, IEND), 'type 3 without PLTE');
      c.refusesPng('PNG_PALETTE', png(h, chunk('PLTE', [1, 2, 3, 4]), idat, IEND), 'PLTE length % 3 ≠ 0');
      c.refusesPng('PNG_PALETTE', png(h, chunk('PLTE', new Array(257 * 3).fill(7)), idat, IEND), '257 entries');
      c.refusesPng('PNG_PALETTE', png(h, plte, chunk('IDAT', deflateSync(Uint8Array.from([0, 0, 2, 0, 1, 0]))), IEND), 'pixel index ≥ palette size');
      c.refusesPng('PNG_PALETTE', png(h, plte, chunk('tRNS', [1, 2, 3]), idat, IEND), 'tRNS longer than PLTE');
    },
  },
  {
    n: 64, name: 'chunk structure',
    check(c) {
      const [h, idat] = validRgb();
      c.refusesPng('PNG_STRUCTURE', png(h, Uint8Array.from([...be32(2 ** 31), ...bytesOf('tEXt'), 1, 2, 3, 4])), 'length ≥ 2^31');
      c.refusesPng('PNG_STRUCTURE', png(h, Uint8Array.from([...be32(1000), ...bytesOf('tEXt'), 1, 2, 3]), idat, IEND), 'length past EOF');
      c.refusesPng('PNG_STRUCTURE', png(h, idat), 'no IEND');
      c.refusesPng('PNG_STRUCTURE', cat(png(h, idat, IEND), [0]), 'data after IEND');
      c.refusesPng('PNG_STRUCTURE', png(h, h, idat, IEND), 'second IHDR');
      c.refusesPng('PNG_STRUCTURE', png(h, chunk('IDAT', idat.subarray(8, 12)), chunk('tEXt', [65, 0, 66]), chunk('IDAT', idat.subarray(12, idat.length - 4)), IEND), 'IDAT not consecutive');
      c.refusesPng('PNG_STRUCTURE', png(h, chunk('CRIT', [1, 2, 3]), idat, IEND), 'unknown critical chunk');
    },
  },
  {
    n: 65, name: 'PngSuite',
    policy: 'PngSuite is not vendored: its 14 x*.png faults are rebuilt here from their descriptions, and the basn/basi variants are generated (every legal type and depth, with and without Adam7 and tRNS) and compared with pngjs.',
    check(c) {
      const grey1 = png(ihdr({ width: 32, height: 32, colorType: 0, depth: 1 }), chunk('IDAT', deflateSync(zeroRows(32, 32, 1))), IEND);
      const grey4 = png(ihdr({ width: 32, height: 32, colorType: 0, depth: 4 }), chunk('IDAT', deflateSync(zeroRows(32, 32, 4))), IEND);
      const grey8 = png(ihdr({ width: 32, height: 32, colorType: 0, depth: 8 }), chunk('IDAT', deflateSync(zeroRows(32, 32, 8))), IEND);
      const rgb8 = png(ihdr({ width: 32, height: 32, colorType: 2, depth: 8 }), chunk('IDAT', deflateSync(zeroRows(32, 32, 24))), IEND);
      const withSig = (bytes: Uint8Array, at: number, value: number) => { const b = bytes.slice(); b[at] = value; return b; };
      const header = (bytes: Uint8Array, at: number, value: number) => fixCrcs(withSig(bytes, at, value));
      const xfiles: [string, Uint8Array, ErrorCode][] = [
        ['xs1n0g01 signature byte 1', withSig(grey1, 1, 0x51), 'NOT_PNG'],
        ['xs2n0g01 signature byte 2', withSig(grey1, 2, 0x4f), 'NOT_PNG'],
        ['xs4n0g01 signature byte 4', withSig(grey1, 4, 0x0e), 'NOT_PNG'],
        ['xs7n0g01 signature byte 7', withSig(grey1, 7, 0x0b), 'NOT_PNG'],
        ['xcrn0g04 added CR bytes', cat(SIG.slice(0, 4), [0x0d, 0x0d, 0x0a, 0x1a, 0x0a], grey4.subarray(8)), 'NOT_PNG'],
        ['xlfn0g04 added LF bytes', cat(SIG.slice(0, 5), [0x0a, 0x0a, 0x1a, 0x0a], grey4.subarray(8)), 'NOT_PNG'],
        ['xhdn0g08 incorrect IHDR checksum', withSig(grey8, 29, grey8[29] ^ 1), 'PNG_CRC'],
        ['xc1n0g08 colour type 1', header(grey8, 25, 1), 'PNG_HEADER'],
        ['xc9n2c08 colour type 9', header(rgb8, 25, 9), 'PNG_HEADER'],
        ['xd0n2c08 bit depth 0', header(rgb8, 24, 0), 'PNG_HEADER'],
        ['xd3n2c08 bit depth 3', header(rgb8, 24, 3), 'PNG_HEADER'],
        ['xd9n2c08 bit depth 99', header(rgb8, 24, 99), 'PNG_HEADER'],
        ['xdtn0g01 missing IDAT', png(grey1.subarray(8, 33), IEND), 'PNG_STRUCTURE'],
        ['xcsn0g01 incorrect IDAT checksum', withSig(grey1, grey1.length - 12 - 1, grey1[grey1.length - 13] ^ 1), 'PNG_CRC'],
      ];
      for (const [name, bytes, code] of xfiles) c.refusesPng(code, bytes, name);
      let n = 0;
      for (const [colorType, depth] of [[0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [2, 8], [2, 16], [3, 1], [3, 2], [3, 4], [3, 8], [4, 8], [4, 16], [6, 8], [6, 16]]) {
        for (const interlace of [0, 1]) {
          const trns = colorType !== 4 && colorType !== 6;
          const k = makePngCase(9, 11, colorType, depth, interlace, trns && interlace === 1, 100 + n++);
          const ours = c.accepts(() => decodePng(k.png), k.name);
          c.t.same(ours && Array.from(ours.data), k.expected.data, `${k.name}: the samples written`);
          const theirs = pngjs.PNG.sync.read(Buffer.from(k.png), { skipRescale: true });
          c.t.equal(theirs.width, 9, `${k.name}: pngjs reads it too`);
        }
      }
    },
  },
  {
    n: 66, name: 'not a PNG, or odd formats',
    check(c) {
      const cases: [string, Uint8Array][] = [
        ['JPEG', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1])],
        ['GIF', bytesOf('GIF89a\x01\x00\x01\x00\x00\x00\x00;')],
        ['HTML', bytesOf('<!doctype html><html><body>404</body></html>')],
        ['empty', new Uint8Array(0)],
        ['7 bytes', Uint8Array.from(SIG.slice(0, 7))],
      ];
      for (const [label, bytes] of cases) c.refusesPng('NOT_PNG', bytes, label);
      // Golden model inputs: 16-bit grey, grey+alpha, palette+tRNS.
      const g16 = decodePng(png(ihdr({ width: 16, height: 16, colorType: 0, depth: 16 }), chunk('IDAT', deflateSync(Uint8Array.from({ length: 16 * 33 }, (_, i) => (i % 33 === 0 ? 0 : i % 33 === 1 ? 0x80 : 0)))), IEND));
      c.t.equal(imageToTensor(g16, 3)[0], Math.fround(0x8000 / 65535), '16-bit grey: sample / 65535, repeated to RGB');
      c.t.equal(imageToTensor(g16, 3)[256], Math.fround(0x8000 / 65535), '16-bit grey: channel 1 is the grey too');
      const ga = decodePng(png(ihdr({ width: 16, height: 16, colorType: 4, depth: 8 }), chunk('IDAT', deflateSync(Uint8Array.from({ length: 16 * 33 }, (_, i) => (i % 33 === 0 ? 0 : i % 2 ? 200 : 10)))), IEND));
      c.t.same([ga.channels, imageToTensor(ga, 3)[0]], [2, Math.fround(200 / 255)], 'grey+alpha: alpha dropped');
      const pal = decodePng(png(ihdr({ width: 16, height: 16, colorType: 3, depth: 8 }), chunk('PLTE', [10, 20, 30]), chunk('tRNS', [0]), chunk('IDAT', deflateSync(new Uint8Array(16 * 17))), IEND));
      const x = imageToTensor(pal, 3);
      c.t.same([pal.channels, x[0], x[256], x[512]], [4, Math.fround(10 / 255), Math.fround(20 / 255), Math.fround(30 / 255)], 'palette+tRNS: RGB from the palette, alpha dropped');
    },
  },

  // ---------------- CLI / filesystem ----------------
  {
    n: 67, name: 'special files', needs: ['cli'],
    check(c) {
      const w = cliWorkspace();
      writeFileSync(join(w.inputs, 'a.png'), w.goodPng);
      execFileSync('mkfifo', [join(w.inputs, 'fifo.png')]);
      symlinkSync('/dev/zero', join(w.inputs, 'zero.png'));
      const r = freqreg(['segment', w.inputs, '/dev/stdin', '--model', w.model, '--out', w.out, '--threads', '1'], { input: 'not a png' });
      c.t.equal(r.code, 1, 'exit 1: some inputs failed');
      c.t.match(r.stdout, /fifo\.png: .*FILE_NOT_REGULAR/, 'a FIFO (does not block)');
      c.t.match(r.stdout, /zero\.png: .*FILE_NOT_REGULAR/, 'a link to /dev/zero (never read)');
      c.t.match(r.stdout, /\/dev\/stdin: .*FILE_NOT_REGULAR/, '/dev/stdin');
      c.t.same(readdirSync(w.out), ['a-mask.png'], 'the good image is done');
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
  {
    n: 68, name: 'symlink loops', needs: ['cli'],
    policy: 'Folders are not descended into, and links to folders are refused as not regular files, so no link can make the walk recurse.',
    check(c) {
      const w = cliWorkspace();
      writeFileSync(join(w.inputs, 'a.png'), w.goodPng);
      symlinkSync('..', join(w.inputs, 'loop.png'));
      symlinkSync('/', join(w.inputs, 'root.png'));
      symlinkSync('self.png', join(w.inputs, 'self.png'));
      const t0 = performance.now();
      const r = freqreg(['segment', w.inputs, join(w.inputs, 'loop.png'), '--model', w.model, '--out', w.out, '--threads', '1']);
      c.t.equal(r.code, 1, 'exit 1');
      c.t.match(r.stdout, /loop\.png: .*FILE_NOT_REGULAR/, 'a link to ..');
      c.t.match(r.stdout, /root\.png: .*FILE_NOT_REGULAR/, 'a link to /');
      c.t.match(r.stdout, /self\.png: .*FILE_READ/, 'a link to itself (ELOOP)');
      c.t.match(r.stdout, /1 of 5 images segmented/, 'the good image is done, each link once');
      c.t.ok(performance.now() - t0 < 60_000, 'no recursion');
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
  {
    n: 69, name: 'output path escape and collision', needs: ['cli'],
    policy: 'Mask names are the input\'s base name with separators, control characters and Windows-reserved characters replaced by "_", so they never leave --out; names equal up to case are refused (OUTPUT_PATH) rather than uniquified.',
    check(c) {
      const w = cliWorkspace();
      for (const name of ['a.png', 'A.PNG', 'new\nline.png', '..png', 'x\\..\\y.png']) writeFileSync(join(w.inputs, name), w.goodPng);
      const r = freqreg(['segment', w.inputs, '--model', w.model, '--out', w.out, '--threads', '1']);
      c.t.equal(r.code, 1, 'exit 1');
      const outs = readdirSync(w.out).sort();
      c.t.equal(outs.length, 4, `four masks: ${outs.join(', ')}`);
      c.t.ok(outs.every((n) => /^[^/\\\n]+-mask\.png$/.test(n)), 'every mask name is plain');
      c.t.ok(outs.includes('new_line-mask.png') && outs.includes('x_.._y-mask.png'), 'separators and newlines replaced');
      c.t.match(r.stdout, /OUTPUT_PATH/, 'a.png and A.PNG: the second is refused');
      c.t.same(listTree(w.dir).filter((p) => !p.startsWith('in') && !p.startsWith('out')), ['model.pt'], 'nothing written outside --out');
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
  {
    n: 70, name: 'overwrite and crash safety', needs: ['cli'],
    policy: '--out may be the input folder: masks are new "-mask.png" files there, and in the --out folder such files are an earlier run\'s output, listed as skipped, never taken as inputs (no "x-mask-mask.png"); --overwrite may replace them. A file named as an input is never replaced, even with --overwrite. A kill mid-write is not simulated; masks are written to a temporary name and renamed, and no temporary file is left behind.',
    check(c) {
      const w = cliWorkspace();
      writeFileSync(join(w.inputs, 'x.png'), w.goodPng);
      const run = (args: string[]) => freqreg(['segment', ...args, '--model', w.model, '--out', w.inputs, '--threads', '1']);
      c.t.equal(run([w.inputs]).code, 0, 'first run into the input folder: exit 0');
      const before = Object.fromEntries(readdirSync(w.inputs).map((n) => [n, sha(join(w.inputs, n))]));
      const again = run([w.inputs]);
      c.t.equal(again.code, 3, 'second run: its only input refused, exit 3');
      c.t.match(again.stdout, /x\.png: .*OUTPUT_EXISTS/, 'an existing output without --overwrite');
      c.t.match(again.stdout, /x-mask\.png: a mask in the --out folder/, 'the first run\'s mask is listed as skipped, not taken as an input');
      for (const [n, h] of Object.entries(before)) c.t.equal(sha(join(w.inputs, n)), h, `${n} untouched`);
      c.t.equal(run([w.inputs, '--overwrite']).code, 0, 'with --overwrite: the mask is replaced, exit 0');
      c.t.notOk(existsSync(join(w.inputs, 'x-mask-mask.png')), 'no mask of a mask');
      const named = run([join(w.inputs, 'x.png'), join(w.inputs, 'x-mask.png'), '--overwrite']);
      c.t.equal(named.code, 1, 'x-mask.png named as an input: exit 1');
      c.t.match(named.stdout, /x\.png: .*would replace the input.*OUTPUT_PATH/, 'x.png\'s mask would replace the input x-mask.png, even with --overwrite');
      c.t.equal(readdirSync(w.inputs).filter((n) => n.endsWith('.tmp')).length, 0, 'no temporary files left');
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
  {
    n: 71, name: 'races and permissions', needs: ['cli'],
    policy: 'EACCES is checked only when not running as root (root reads a mode-000 file).',
    check(c) {
      const w = cliWorkspace();
      writeFileSync(join(w.inputs, 'a.png'), w.goodPng);
      mkdirSync(join(w.inputs, 'dir.png'));
      writeFileSync(join(w.inputs, 'locked.png'), w.goodPng);
      chmodSync(join(w.inputs, 'locked.png'), 0);
      const r = freqreg(['segment', w.inputs, join(w.inputs, 'deleted.png'), '--model', w.model, '--out', w.out, '--threads', '1']);
      c.t.equal(r.code, 1, 'exit 1');
      c.t.match(r.stdout, /dir\.png: .*FILE_NOT_REGULAR/, 'EISDIR: a folder named dir.png');
      c.t.match(r.stdout, /deleted\.png: .*FILE_READ/, 'a file gone before it is read');
      if (!IS_ROOT) c.t.match(r.stdout, /locked\.png: .*FILE_READ/, 'EACCES');
      c.t.ok(readdirSync(w.out).includes('a-mask.png'), 'the good image is still done');
      c.t.match(r.stdout, /images segmented, \d+ failed:/, 'a summary');
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
  {
    n: 72, name: 'scale and timeouts', needs: ['cli'],
    policy: 'Names are read with fs.opendir and sorted in memory (Linux names are ≤ 255 bytes); long names are shortened to a 100-character stem. The per-image budget is enforced by terminating the image worker.',
    check(c) {
      const w = cliWorkspace();
      writeFileSync(join(w.inputs, 'a.png'), w.goodPng);
      const rand = rng(5);
      writeFileSync(join(w.inputs, 'b-slow.png'), encodeRgbPng(Uint8Array.from({ length: 1024 * 1024 * 3 }, () => Math.floor(rand() * 256)), 1024, 1024));
      writeFileSync(join(w.inputs, 'c.png'), w.goodPng);
      writeFileSync(join(w.inputs, `${'n'.repeat(240)}.png`), w.goodPng);
      for (let i = 0; i < 300; i++) writeFileSync(join(w.inputs, `junk${String(i).padStart(3, '0')}.png`), bytesOf('not a png'));
      const t0 = performance.now();
      const r = freqreg(['segment', w.inputs, '--model', w.model, '--out', w.out, '--engine', 'reference', '--threads', '1', '--timeout', '1.5']);
      const seconds = (performance.now() - t0) / 1000;
      c.t.equal(r.code, 1, 'exit 1');
      c.t.match(r.stdout, /b-slow\.png: .*TIMEOUT/, 'the slow image is stopped and reported');
      const outs = readdirSync(w.out);
      c.t.ok(outs.includes('a-mask.png') && outs.includes('c-mask.png'), 'the images before and after it are done');
      c.t.ok(outs.includes(`${'n'.repeat(100)}-mask.png`), 'a 240-character name gives a 100-character stem');
      c.t.match(r.stdout, /3 of 304 images segmented, 301 failed/, 'summary');
      c.t.ok(seconds < 60, `all in ${seconds.toFixed(1)} s`);
      rmSync(w.dir, { recursive: true, force: true });
    },
  },
];

// ---------------------------------------------------------------------------------------------

t.test('the table covers cases 1–72 once each, in order', async (t) => {
  t.same(CASES.map((c) => c.n), Array.from({ length: 72 }, (_, i) => i + 1));
});

for (const k of CASES) {
  const missing = (k.needs ?? []).filter((n) => (n === 'xz' ? !HAS_XZ : !HAS_DIST));
  const skip = missing.length ? `needs ${missing.map((n) => (n === 'xz' ? 'the xz command' : 'npm run build')).join(' and ')}` : false;
  t.test(`#${k.n} ${k.name}`, { todo: k.pending ?? false, skip }, async (t) => {
    if (k.pending) return;
    if (k.policy) t.comment(`policy: ${k.policy}`);
    await k.check(new Checker(t));
  });
}
