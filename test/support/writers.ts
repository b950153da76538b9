/**
 * Test-only writers for crafting hostile checkpoints without Python: a protocol-2 pickle builder,
 * a STORED zip writer (torch layout, optional data descriptors) and a ustar writer.
 */
import { crc32Bitwise as crc32 } from './checksums.js';

const enc = new TextEncoder();
export const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function u16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }
function u32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

// ---------------- pickle ----------------

export type StorageTypeName = 'FloatStorage' | 'HalfStorage' | 'DoubleStorage' | 'LongStorage' | string;

export interface ViewSpec { key: string; type: StorageTypeName; numel: number | bigint; offset?: number | bigint; size: (number | bigint)[]; stride: (number | bigint)[] }

/** Emits pickle opcodes; method names follow CPython's opcode names. */
export class PickleWriter {
  private out: number[] = [];
  raw(bytes: number[] | string | Uint8Array): this {
    if (typeof bytes === 'string') for (let i = 0; i < bytes.length; i++) this.out.push(bytes.charCodeAt(i));
    else this.out.push(...bytes);
    return this;
  }
  proto(v = 2): this { return this.raw([0x80, v]); }
  stop(): this { return this.raw('.'); }
  mark(): this { return this.raw('('); }
  emptyDict(): this { return this.raw('}'); }
  emptyList(): this { return this.raw(']'); }
  emptyTuple(): this { return this.raw(')'); }
  none(): this { return this.raw('N'); }
  bool(b: boolean): this { return this.raw([b ? 0x88 : 0x89]); }
  tuple(): this { return this.raw('t'); }
  tupleN(n: 1 | 2 | 3): this { return this.raw([0x84 + n]); }
  reduce(): this { return this.raw('R'); }
  binpersid(): this { return this.raw('Q'); }
  setitem(): this { return this.raw('s'); }
  setitems(): this { return this.raw('u'); }
  append(): this { return this.raw('a'); }
  appends(): this { return this.raw('e'); }
  build(): this { return this.raw('b'); }
  put(i: number): this { return i < 256 ? this.raw([0x71, i]) : this.raw([0x72, ...u32(i)]); }
  get(i: number): this { return i < 256 ? this.raw([0x68, i]) : this.raw([0x6a, ...u32(i)]); }
  global(module: string, name: string): this { return this.raw(`c${module}\n${name}\n`); }
  str(s: string): this { const b = enc.encode(s); return this.raw([0x58, ...u32(b.length)]).raw(b); }
  int(v: number | bigint): this {
    const n = BigInt(v);
    if (n >= 0n && n < 256n) return this.raw([0x4b, Number(n)]);
    if (n >= 0n && n < 65536n) return this.raw([0x4d, ...u16(Number(n))]);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) return this.raw([0x4a, ...u32(Number(BigInt.asUintN(32, n)))]);
    const bytes: number[] = [];
    let x = n;
    do { bytes.push(Number(BigInt.asUintN(8, x))); x >>= 8n; } while (!(x === 0n && (bytes[bytes.length - 1] & 0x80) === 0) && !(x === -1n && (bytes[bytes.length - 1] & 0x80) !== 0));
    return this.raw([0x8a, bytes.length, ...bytes]);
  }
  intTuple(values: (number | bigint)[]): this { this.mark(); for (const v of values) this.int(v); return this.tuple(); }
  /** ('storage', torch.<type>, key, 'cpu', numel) BINPERSID */
  storage(key: string, type: StorageTypeName, numel: number | bigint, location = 'cpu'): this {
    return this.mark().str('storage').global('torch', type).str(key).str(location).int(numel).tuple().binpersid();
  }
  orderedDict(): this { return this.global('collections', 'OrderedDict').emptyTuple().reduce(); }
  /** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
  dense(v: ViewSpec): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark().storage(v.key, v.type, v.numel).int(v.offset ?? 0).intTuple(v.size).intTuple(v.stride).bool(false).orderedDict().tuple();
    return this.reduce();
  }
  /** torch._utils._rebuild_sparse_tensor(_get_layout('torch.sparse_coo'), (indices, values, torch.Size(size))) */
  sparse(indices: ViewSpec, values: ViewSpec, size: (number | bigint)[], layout = 'torch.sparse_coo'): this {
    this.global('torch._utils', '_rebuild_sparse_tensor').global('torch.serialization', '_get_layout').str(layout).tupleN(1).reduce();
    this.dense(indices).dense(values).global('torch', 'Size').intTuple(size).tupleN(1).reduce().tupleN(3).tupleN(2);
    return this.reduce();
  }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

/** PROTO 2, EMPTY_DICT, MARK, (key, tensor)…, SETITEMS, STOP — the shape torch.save writes. */
export function statePickle(entries: [string, (w: PickleWriter) => void][]): Uint8Array {
  const w = new PickleWriter().proto().emptyDict().mark();
  for (const [name, tensor] of entries) { w.str(name); tensor(w); }
  return w.setitems().stop().bytes();
}

// ---------------- zip ----------------

export interface ZipSpecEntry {
  name: string | Uint8Array;
  data: Uint8Array;
  method?: number;
  flags?: number;
  /** Write CRC/sizes after the data (bit 3), as PyTorch does. */
  descriptor?: boolean;
  /** Name written in the local header, if different. */
  localName?: string;
  /** CRC written in the central directory, if different. */
  crc?: number;
}

export interface ZipOptions {
  comment?: Uint8Array;
  /** Extra central records pointing at arbitrary local offsets. */
  extraCentral?: { name: string; size: number; crc: number; localOffset: number }[];
  /** Override the EOCD's entry count / CD size / CD offset. */
  eocd?: { entries?: number; cdSize?: number; cdOffset?: number };
}

function centralRecord(name: Uint8Array, flags: number, method: number, crc: number, size: number, localOffset: number): Uint8Array {
  return concat(Uint8Array.from([...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(flags), ...u16(method), 0, 0, 0, 0,
    ...u32(crc), ...u32(size), ...u32(size), ...u16(name.length), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...u32(localOffset)]), name);
}

export function localHeader(name: Uint8Array, flags: number, method: number, crc: number, size: number): Uint8Array {
  return concat(Uint8Array.from([...u32(0x04034b50), ...u16(20), ...u16(flags), ...u16(method), 0, 0, 0, 0,
    ...u32(crc), ...u32(size), ...u32(size), ...u16(name.length), 0, 0]), name);
}

export function writeZip(entries: ZipSpecEntry[], opts: ZipOptions = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = typeof e.name === 'string' ? enc.encode(e.name) : e.name;
    const localName = e.localName !== undefined ? enc.encode(e.localName) : name;
    const flags = (e.flags ?? 0) | (e.descriptor ? 8 : 0);
    const method = e.method ?? 0;
    const crc = crc32(e.data);
    const local = e.descriptor ? localHeader(localName, flags, method, 0, 0) : localHeader(localName, flags, method, crc, e.data.length);
    const descriptor = e.descriptor ? Uint8Array.from([...u32(0x08074b50), ...u32(crc), ...u32(e.data.length), ...u32(e.data.length)]) : new Uint8Array(0);
    centrals.push(centralRecord(name, flags, method, e.crc ?? crc, e.data.length, offset));
    locals.push(local, e.data, descriptor);
    offset += local.length + e.data.length + descriptor.length;
  }
  for (const x of opts.extraCentral ?? []) centrals.push(centralRecord(enc.encode(x.name), 0, 0, x.crc, x.size, x.localOffset));
  const cd = concat(...centrals);
  const comment = opts.comment ?? new Uint8Array(0);
  const eocd = Uint8Array.from([...u32(0x06054b50), 0, 0, 0, 0, ...u16(opts.eocd?.entries ?? centrals.length), ...u16(opts.eocd?.entries ?? centrals.length),
    ...u32(opts.eocd?.cdSize ?? cd.length), ...u32(opts.eocd?.cdOffset ?? offset), ...u16(comment.length)]);
  return concat(...locals, cd, eocd, comment);
}

/** A torch-layout checkpoint: <prefix>/data.pkl, <prefix>/data/<key>…, <prefix>/version. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array> = {}, opts: { prefix?: string; version?: string; extra?: ZipSpecEntry[] } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  return writeZip([
    { name: `${prefix}/data.pkl`, data: pickle, descriptor: true },
    ...Object.entries(storages).map(([key, data]) => ({ name: `${prefix}/data/${key}`, data, descriptor: true })),
    { name: `${prefix}/version`, data: bytesOf(opts.version ?? '3\n'), descriptor: true },
    ...(opts.extra ?? []),
  ]);
}

export function f32Bytes(values: number[]): Uint8Array { return new Uint8Array(Float32Array.from(values).buffer); }
export function i64Bytes(values: number[]): Uint8Array { return new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer); }

// ---------------- tar ----------------

export interface TarSpecMember {
  name: string;
  data?: Uint8Array;
  type?: string;
  /** Raw 12-byte size field, for size-abuse cases. */
  sizeField?: Uint8Array;
  /** Raw 100-byte name field. */
  nameField?: Uint8Array;
}

export function tarHeader(m: TarSpecMember): Uint8Array {
  const h = new Uint8Array(512);
  h.set(m.nameField ?? enc.encode(m.name).subarray(0, 100), 0);
  h.set(bytesOf('0000644\0'), 100);
  h.set(bytesOf('0000000\0'), 108);
  h.set(bytesOf('0000000\0'), 116);
  h.set(m.sizeField ?? bytesOf(`${(m.data?.length ?? 0).toString(8).padStart(11, '0')}\0`), 124);
  h.set(bytesOf('00000000000\0'), 136);
  h[156] = (m.type ?? '0').charCodeAt(0);
  h.set(bytesOf('ustar\0' + '00'), 257);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  h.set(bytesOf(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return h;
}

export function writeTar(members: TarSpecMember[], trailer = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(tarHeader(m));
    const data = m.data ?? new Uint8Array(0);
    parts.push(data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  if (trailer) parts.push(new Uint8Array(1024));
  return concat(...parts);
}

export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = body.length + 1;
  while (`${n}${body}`.length !== n) n++;
  return `${n}${body}`;
}
