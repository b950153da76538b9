/**
 * Coefficient tensors → a PyTorch zip checkpoint, laid out as torch.save (PyTorch 1.13) lays out the
 * upstream `unet_fr.pt` that `model2File` wrote: so `torch.load` and the upstream `file2Model`
 * read it, and so does src/formats/torch.ts (the mirror of this file).
 *
 * Records, all STORED, each local header padded with an "FB" extra field so the data starts on a
 * 64-byte boundary, general-purpose bits 3 and 11, CRC and sizes in a data descriptor, as PyTorch's
 * miniz writer does:
 *   <prefix>/data.pkl        protocol-2 pickle of a dict name → tensor, in state-dict order
 *   <prefix>/data/<key>      one little-endian storage per key "0", "1", … (in key string order)
 *   <prefix>/version         "3\n"
 * A sparse tensor is `torch._utils._rebuild_sparse_tensor(_get_layout('torch.sparse_coo'),
 * (indices, values, torch.Size(shape)))` with int64 indices (rank, nnz) and values (nnz), positions
 * sorted row-major (coalesced, as `Tensor.to_sparse()` gives them); a dense one is
 * `_rebuild_tensor_v2` over a contiguous storage with the zeros filled in. Storage dtypes follow
 * each tensor's source dtype (HalfStorage, FloatStorage, DoubleStorage).
 */
import { fail } from '../errors.js';
import type { CoeffTensor, Dtype } from '../model.js';
import { exactHalfBits } from './packed.js';
import { crc32 } from './zip.js';

export interface TorchWriteOptions {
  /** The records' folder (default `archive`, as in the upstream file). */
  prefix?: string;
}

const STORAGE: Record<Dtype | 'int64', { type: string; itemBytes: number }> = {
  float16: { type: 'HalfStorage', itemBytes: 2 },
  float32: { type: 'FloatStorage', itemBytes: 4 },
  float64: { type: 'DoubleStorage', itemBytes: 8 },
  int64: { type: 'LongStorage', itemBytes: 8 },
};

/** torch.serialization's record alignment (kFieldAlignment in caffe2/serialize/inline_container.cc). */
const FIELD_ALIGNMENT = 64;
const FORMAT_VERSION = '3\n';
const U32_MAX = 0xffffffff;

// ---------- pickle (protocol 2, the opcodes torch.save uses) ----------

const utf8 = new TextEncoder();

class Pickler {
  private out: number[] = [];
  private raw(...bytes: number[]): this { for (const b of bytes) this.out.push(b); return this; }
  private u32(v: number): this { return this.raw(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  proto(): this { return this.raw(0x80, 2); }
  mark(): this { return this.raw(0x28); }
  stop(): this { return this.raw(0x2e); }
  emptyDict(): this { return this.raw(0x7d); }
  emptyTuple(): this { return this.raw(0x29); }
  tuple(): this { return this.raw(0x74); }
  tuple1(): this { return this.raw(0x85); }
  tuple2(): this { return this.raw(0x86); }
  tuple3(): this { return this.raw(0x87); }
  reduce(): this { return this.raw(0x52); }
  setitems(): this { return this.raw(0x75); }
  binpersid(): this { return this.raw(0x51); }
  newFalse(): this { return this.raw(0x89); }
  global(module: string, name: string): this {
    for (const c of `c${module}\n${name}\n`) this.raw(c.charCodeAt(0));
    return this;
  }
  str(s: string): this {
    const b = utf8.encode(s);
    this.raw(0x58).u32(b.length);
    for (const x of b) this.raw(x);
    return this;
  }
  /** BININT1 / BININT2 / BININT, LONG1 beyond 32 bits (non-negative integers only). */
  int(v: number): this {
    if (v < 0x100) return this.raw(0x4b, v);
    if (v < 0x10000) return this.raw(0x4d, v & 0xff, v >>> 8);
    if (v < 0x80000000) return this.raw(0x4a).u32(v);
    const bytes: number[] = [];
    for (let x = BigInt(v); x > 0n; x >>= 8n) bytes.push(Number(x & 0xffn));
    if (bytes[bytes.length - 1] & 0x80) bytes.push(0);
    return this.raw(0x8a, bytes.length, ...bytes);
  }
  intTuple(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

/** Contiguous strides as torch computes them (a size-0 axis counts as 1). */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let a = shape.length - 1, s = 1; a >= 0; a--) { strides[a] = s; s *= Math.max(shape[a], 1); }
  return strides;
}

interface StorageRecord { key: string; bytes: Uint8Array }

/** `_rebuild_tensor_v2(('storage', <type>, key, 'cpu', numel), 0, size, stride, False, OrderedDict())`. */
function pickleView(p: Pickler, storageType: string, key: string, numel: number, size: readonly number[]): void {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().binpersid();
  p.int(0).intTuple(size).intTuple(contiguousStrides(size)).newFalse().global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
}

/** Float values as a storage of the given dtype (float16 only for values exactly representable). */
function floatStorage(values: Float32Array, dtype: Dtype, name: string): Uint8Array {
  const { itemBytes } = STORAGE[dtype];
  const out = new Uint8Array(values.length * itemBytes);
  const dv = new DataView(out.buffer);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let k = 0; k < values.length; k++) {
    if (dtype === 'float32') dv.setUint32(k * 4, bits[k], true);
    else if (dtype === 'float64') dv.setFloat64(k * 8, values[k], true);
    else {
      const half = Number.isNaN(values[k]) ? 0x7e00 : exactHalfBits(bits[k]);
      if (half < 0) fail('torch', 'SPARSE_INVALID', `value ${values[k]} of a float16 tensor is not a float16`, { tensor: name });
      dv.setUint16(k * 2, half, true);
    }
  }
  return out;
}

/** Positions sorted row-major, as (order of value indices, row-major linear index of each). */
function rowMajorOrder(t: CoeffTensor): number[] {
  const rank = t.shape.length;
  const linear = new Float64Array(t.values.length);
  for (let k = 0; k < t.values.length; k++) {
    let l = 0;
    for (let a = 0; a < rank; a++) l = l * t.shape[a] + t.indices[k * rank + a];
    linear[k] = l;
  }
  return Array.from(linear.keys()).sort((x, y) => linear[x] - linear[y]);
}

function pickleTensor(p: Pickler, name: string, t: CoeffTensor, storages: StorageRecord[]): void {
  const rank = t.shape.length;
  const nextKey = (): string => String(storages.length);
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (!t.sparse) {
    // Dense: the full tensor, zeros filled in.
    const dense = new Float32Array(numel);
    for (let k = 0; k < t.values.length; k++) {
      let l = 0;
      for (let a = 0; a < rank; a++) l = l * t.shape[a] + t.indices[k * rank + a];
      dense[l] = t.values[k];
    }
    const key = nextKey();
    storages.push({ key, bytes: floatStorage(dense, t.dtype, name) });
    pickleView(p, STORAGE[t.dtype].type, key, numel, t.shape);
    return;
  }
  const order = rowMajorOrder(t);
  const nnz = order.length;
  const indices = new BigInt64Array(rank * nnz); // (rank, nnz)
  const values = new Float32Array(nnz);
  order.forEach((k, n) => {
    for (let a = 0; a < rank; a++) indices[a * nnz + n] = BigInt(t.indices[k * rank + a]);
    values[n] = t.values[k];
  });
  p.global('torch._utils', '_rebuild_sparse_tensor');
  p.global('torch.serialization', '_get_layout').str('torch.sparse_coo').tuple1().reduce();
  const indicesKey = nextKey();
  storages.push({ key: indicesKey, bytes: new Uint8Array(indices.buffer) });
  pickleView(p, STORAGE.int64.type, indicesKey, rank * nnz, [rank, nnz]);
  const valuesKey = nextKey();
  storages.push({ key: valuesKey, bytes: floatStorage(values, t.dtype, name) });
  pickleView(p, STORAGE[t.dtype].type, valuesKey, nnz, [nnz]);
  p.global('torch', 'Size').intTuple(t.shape).tuple1().reduce();
  p.tuple3().tuple2().reduce();
}

// ---------- zip (STORED, PyTorch's layout) ----------

function u16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function u32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

const FLAGS = 0x0808; // bit 3: sizes in a data descriptor; bit 11: UTF-8 names
const LOCAL_BYTES = 30;
const PADDING_HEADER_BYTES = 4; // "FB" + u16 size

function writeStoredZip(records: { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: number[] = [];
  let offset = 0;
  for (const { name, data } of records) {
    const nameBytes = utf8.encode(name);
    const headerEnd = offset + LOCAL_BYTES + nameBytes.length + PADDING_HEADER_BYTES;
    const padding = (FIELD_ALIGNMENT - (headerEnd % FIELD_ALIGNMENT)) % FIELD_ALIGNMENT;
    const crc = crc32(data);
    const local = Uint8Array.from([
      ...u32(0x04034b50), ...u16(0), ...u16(FLAGS), ...u16(0), ...u16(0), ...u16(0),
      ...u32(0), ...u32(0), ...u32(0), ...u16(nameBytes.length), ...u16(PADDING_HEADER_BYTES + padding),
      ...nameBytes, 0x46, 0x42, ...u16(padding), ...new Array<number>(padding).fill(0x5a),
    ]);
    const descriptor = Uint8Array.from([...u32(0x08074b50), ...u32(crc), ...u32(data.length), ...u32(data.length)]);
    central.push(
      ...u32(0x02014b50), ...u16(0), ...u16(0), ...u16(FLAGS), ...u16(0), ...u16(0), ...u16(0),
      ...u32(crc), ...u32(data.length), ...u32(data.length), ...u16(nameBytes.length), ...u16(0), ...u16(0),
      ...u16(0), ...u16(0), ...u32(0), ...u32(offset), ...nameBytes,
    );
    parts.push(local, data, descriptor);
    offset += local.length + data.length + descriptor.length;
    if (offset > U32_MAX) fail('torch', 'MODEL_TOO_LARGE', `checkpoint past 4 GiB; zip64 output is not supported`, { entry: name });
  }
  const eocd = [
    ...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(records.length), ...u16(records.length),
    ...u32(central.length), ...u32(offset), ...u16(0),
  ];
  if (records.length > 0xffff) fail('torch', 'MODEL_TOO_LARGE', `${records.length} records; zip64 output is not supported`);
  parts.push(Uint8Array.from(central), Uint8Array.from(eocd));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A PyTorch checkpoint (`torch.load`-able zip) of the state dict, in its order. */
export function writeTorchZip(tensors: ReadonlyMap<string, CoeffTensor>, opts: TorchWriteOptions = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix) || prefix === '.' || prefix === '..') fail('torch', 'ZIP_NAME', `record folder ${JSON.stringify(prefix)} is not a plain name`);
  const p = new Pickler().proto().emptyDict().mark();
  const storages: StorageRecord[] = [];
  for (const [name, t] of tensors) {
    p.str(name);
    pickleTensor(p, name, t, storages);
  }
  const pickle = p.setitems().stop().bytes();
  // torch.save writes the storages in sorted key order ("0", "1", "10", "11", …, "2", …).
  const sorted = [...storages].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return writeStoredZip([
    { name: `${prefix}/data.pkl`, data: pickle },
    ...sorted.map((s) => ({ name: `${prefix}/data/${s.key}`, data: s.bytes })),
    { name: `${prefix}/version`, data: utf8.encode(FORMAT_VERSION) },
  ]);
}
