/**
 * The packed model format `.frq` (docs/format.md is the specification; this file and the document
 * must agree field by field). One writer, one reader, mirroring each other:
 *
 *   fixed header (12 bytes)  magic "\x89FRQ", version, layout, tensor count, file length
 *   [layout 1: inChannels, width, classes]            the UNet template gives names and shapes
 *   tensor × count           code byte, [name, rank, dims], [N], [positions], values
 *   CRC-32 (4 bytes)         over every byte before it
 *
 * Positions are "the first N ranks of the zig-zag order" where that is exact (every upstream layer),
 * "all positions" for full tensors, else explicit gap-coded linear indices. Values are float16 where
 * that is exact for every value of the tensor, else float32 (bit patterns kept).
 *
 * The writer's choices are a function of the coefficients alone, and the reader refuses a file the
 * writer would not have written (non-minimal varints, a wasteful mode, float32 values that fit in
 * float16), so pack(read(x)) is byte-identical to x for every file read() accepts.
 *
 * Reading is bounded: the header, the declared length and the checksum are checked before the
 * body is parsed, and every count is checked against the bytes left before anything is allocated.
 */
import { fail, type ErrorCode } from '../errors.js';
import { type CoeffTensor, type Dtype, UNET_DEPTH, unetKeys } from '../model.js';
import { DEFAULT_LIMITS, type Limits, MAX_TENSOR_DIM } from './limits.js';
import { decodeUtf8Strict, quoteName } from './names.js';
import { crc32 } from './zip.js';

/** "\x89FRQ": the high bit catches 7-bit channels; no other format freqreg reads starts with it. */
export const FRQ_MAGIC: readonly number[] = [0x89, 0x46, 0x52, 0x51];
export const FRQ_VERSION = 1;
/** magic 4 + version 1 + layout 1 + count 2 + length 4. */
export const FRQ_FIXED_HEADER_BYTES = 12;
export const FRQ_CHECKSUM_BYTES = 4;
/** The smallest well-formed file: fixed header and checksum. */
export const FRQ_MIN_BYTES = FRQ_FIXED_HEADER_BYTES + FRQ_CHECKSUM_BYTES;
/** Longest tensor name, in UTF-8 bytes (layout 0). */
export const FRQ_MAX_NAME_BYTES = 1024;
/** Varints carry at most 53 bits (Number.MAX_SAFE_INTEGER), so at most 8 bytes. */
const MAX_VARINT_BYTES = 8;
const MAX_TENSORS = 0xffff;
const MAX_FILE_BYTES = 0xffffffff;

/** Header byte 5. */
export const FRQ_LAYOUT = { generic: 0, unet: 1 } as const;
export type FrqLayout = keyof typeof FRQ_LAYOUT;

/** Tensor code byte, bits 0–1. */
export const FRQ_POSITIONS = { zigzag: 0, explicit: 1, full: 2 } as const;
export type PositionMode = keyof typeof FRQ_POSITIONS;
const POSITION_MODES: readonly PositionMode[] = ['zigzag', 'explicit', 'full'];
/** Tensor code byte, bit 2: how values are stored. */
type ValueEncoding = 'float16' | 'float32';
/** Tensor code byte, bits 3–4: the dtype of the source checkpoint's storage. */
const DTYPE_CODES: readonly Dtype[] = ['float16', 'float32', 'float64'];
const CODE = { positionsMask: 0x03, float32Values: 0x04, dtypeShift: 3, dtypeMask: 0x18, sparse: 0x20, reserved: 0xc0 } as const;

// ---------- the zig-zag order ----------

/**
 * Visits the first `count` positions of the zig-zag order of `shape` (fewer if the tensor has
 * fewer). The order sorts positions by (i_0 + … + i_{r-1}, i_0, i_1, …, i_{r-1}) ascending: it
 * is the upstream `ZIdx2Int(getZIdx_4d(shape))` evaluated exactly, since the key
 * Σ_k (i_k + i_k / Π_{j≤k} (D_j + 1)) is the index sum plus a mixed-radix fraction in [0, 1) whose
 * most significant digit is i_0 (docs/format.md, "Zig-zag order"). `position` is reused between
 * calls; `visit` returning false stops the walk. O(rank) per position, whatever the shape.
 */
export function forEachZigzag(shape: readonly number[], count: number, visit: (position: Int32Array) => boolean | void): number {
  const rank = shape.length;
  const position = new Int32Array(rank);
  if (count <= 0 || shape.some((d) => d === 0)) return 0;
  // maxTail[k] = Σ_{j≥k} (D_j − 1): the largest index sum axes k… can hold.
  const maxTail = new Float64Array(rank + 1);
  for (let k = rank - 1; k >= 0; k--) maxTail[k] = maxTail[k + 1] + shape[k] - 1;
  /** Lexicographically smallest tail from axis `from` with index sum `sum`: fill from the back. */
  const fillTail = (from: number, sum: number): void => {
    for (let k = rank - 1; k >= from; k--) {
      const v = Math.min(shape[k] - 1, sum);
      position[k] = v;
      sum -= v;
    }
  };
  let level = 0;
  let visited = 0;
  for (;;) {
    const more = visit(position);
    if (++visited === count || more === false) return visited;
    // Next position with the same sum: the rightmost axis that can grow by one unit taken from its tail.
    let tail = rank > 0 ? position[rank - 1] : 0;
    let axis = rank - 2;
    for (; axis >= 0; axis--) {
      if (tail >= 1 && position[axis] < shape[axis] - 1) break;
      tail += position[axis];
    }
    if (axis >= 0) {
      position[axis]++;
      fillTail(axis + 1, tail - 1);
    } else {
      if (++level > maxTail[0]) return visited;
      fillTail(0, level);
    }
  }
}

// ---------- float16 ----------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bits of a float32 bit pattern if the conversion is exact (NaN never is), else -1. */
export function exactHalfBits(floatBits: number): number {
  const sign = (floatBits >>> 16) & 0x8000;
  const exponent = (floatBits >>> 23) & 0xff;
  const mantissa = floatBits & 0x7fffff;
  if (exponent === 0) return mantissa === 0 ? sign : -1; // float32 subnormals are below float16's range
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : -1;
  const e = exponent - 127;
  if (e >= -14 && e <= 15) return (mantissa & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mantissa >>> 13) : -1;
  if (e >= -24 && e < -14) {
    // float16 subnormal: value = m · 2^-24 with m = (1.mantissa) · 2^(e + 24).
    const full = 0x800000 | mantissa, shift = -(e + 1);
    return (full & ((1 << shift) - 1)) === 0 ? sign | (full >>> shift) : -1;
  }
  return -1;
}

/** IEEE binary16 bits → the float32 bit pattern of the same value (exact). */
export function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  f32[0] = mantissa * 2 ** -24; // exact: a float16 subnormal is a normal float32
  return (sign | u32[0]) >>> 0;
}

function floatBitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

// ---------- varints (unsigned LEB128, minimal, ≤ 2^53 − 1) ----------

function varintBytes(v: number): number {
  let n = 1;
  while (v >= 128) { v = Math.floor(v / 128); n++; }
  return n;
}

class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number): void { this.room(1); this.buf[this.length++] = v; }
  u16(v: number): void { this.u8(v & 0xff); this.u8(v >>> 8); }
  u32(v: number): void { this.u16(v & 0xffff); this.u16(v >>> 16); }
  varint(v: number): void {
    while (v >= 128) { this.u8((v % 128) | 0x80); v = Math.floor(v / 128); }
    this.u8(v);
  }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.length); this.length += b.length; }
  patchU32(at: number, v: number): void { new DataView(this.buf.buffer).setUint32(at, v, true); }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

/** Reads the body [pos, end); every read names the error code that a short read raises. */
class Cursor {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, public pos: number, readonly end: number) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  left(): number { return this.end - this.pos; }
  need(n: number, code: ErrorCode, what: string, tensor?: string): void {
    if (n > this.left()) fail('packed', code, `${what} needs ${n} bytes, ${this.left()} left before the checksum`, { offset: this.pos, tensor });
  }
  u8(code: ErrorCode, what: string, tensor?: string): number {
    this.need(1, code, what, tensor);
    return this.bytes[this.pos++];
  }
  varint(code: ErrorCode, what: string, tensor?: string): number {
    const start = this.pos;
    let value = 0, scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.u8(code, what, tensor);
      value += (b & 0x7f) * scale;
      if (!(b & 0x80)) {
        if (b === 0 && i > 0) fail('packed', code, `${what} is a non-minimal varint`, { offset: start, tensor });
        if (value > Number.MAX_SAFE_INTEGER) fail('packed', code, `${what} ${value} is beyond 2^53 - 1`, { offset: start, tensor });
        return value;
      }
      scale *= 128;
    }
    fail('packed', code, `${what} is a varint longer than ${MAX_VARINT_BYTES} bytes`, { offset: start, tensor });
  }
}

// ---------- shapes and the UNet template ----------

/** Element count of a shape, or a description of why it is invalid. */
function numelOf(shape: readonly number[]): number | string {
  let numel = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_TENSOR_DIM) return `dimension ${d} is not an integer in 0…2^31 - 1`;
    numel *= d;
    if (numel > Number.MAX_SAFE_INTEGER) return `[${shape}] has more than 2^53 - 1 elements`;
  }
  return numel;
}

export interface UnetParams { inChannels: number; width: number; classes: number }

/**
 * Names and shapes of the UNet's 23 weights in state-dict order, as src/model.ts buildModel()
 * checks them (its twin: keep the two in step).
 */
export function unetTemplate(p: UnetParams): { name: string; shape: number[] }[] {
  const shapes: number[][] = [[p.width, p.inChannels, 3, 3], [p.width, p.width, 3, 3]];
  for (let k = 1; k <= UNET_DEPTH; k++) shapes.push([p.width << k, p.width << (k - 1), 3, 3], [p.width << k, p.width << k, 3, 3]);
  for (let k = 1; k <= UNET_DEPTH; k++) {
    const c = p.width << (UNET_DEPTH - k + 1);
    shapes.push([c, c / 2, 2, 2], [c / 2, c, 3, 3], [c / 2, c / 2, 3, 3]);
  }
  shapes.push([p.classes, p.width, 1, 1]);
  return unetKeys().map((name, i) => ({ name, shape: shapes[i] }));
}

/** Why the template parameters are out of range, or undefined. */
function unetParamsProblem(p: UnetParams): string | undefined {
  for (const [what, v] of Object.entries(p)) if (!(v >= 1 && v <= MAX_TENSOR_DIM)) return `${what} ${v} is not in 1…2^31 - 1`;
  if (p.width * 2 ** UNET_DEPTH > MAX_TENSOR_DIM) return `width ${p.width} · 2^${UNET_DEPTH} channels is beyond 2^31 - 1`;
  return undefined;
}

/** The template parameters if the state dict is exactly the UNet template (names, order, shapes). */
function matchUnet(tensors: ReadonlyMap<string, CoeffTensor>): UnetParams | undefined {
  const first = tensors.get('inc.double_conv.0.weight'), last = tensors.get('outc.conv.weight');
  if (!first || !last || first.shape.length !== 4 || last.shape.length !== 4) return undefined;
  const params = { inChannels: first.shape[1], width: first.shape[0], classes: last.shape[0] };
  if (unetParamsProblem(params)) return undefined;
  const template = unetTemplate(params);
  const entries = [...tensors];
  if (entries.length !== template.length) return undefined;
  for (let i = 0; i < template.length; i++) {
    const [name, t] = entries[i];
    if (name !== template[i].name || t.shape.length !== 4 || t.shape.some((d, a) => d !== template[i].shape[a])) return undefined;
  }
  return params;
}

// ---------- the writer's plan for one tensor ----------

interface TensorPlan {
  mode: PositionMode;
  encoding: ValueEncoding;
  /** Positions stored (full: numel). */
  count: number;
  /** explicit: ascending linear indices. */
  linear?: Float64Array;
  /** Values in storage order, as float32 bit patterns. */
  bits: Uint32Array;
}

function refuse(detail: string, tensor: string): never {
  fail('packed', 'PACK_TENSOR', detail, { tensor });
}

/**
 * The canonical encoding of one tensor: the smallest of full, zig-zag and explicit storage that
 * is exact (ties in that order), values as float16 if every stored value converts exactly.
 * A dense source keeps only its non-zeros, so zeros may be filled in; a sparse one keeps exactly
 * its stored positions, explicit zeros included.
 */
function planTensor(name: string, t: CoeffTensor, rankLimit: number): TensorPlan {
  const rank = t.shape.length;
  if (rank > rankLimit) refuse(`rank ${rank}; the format allows ${rankLimit}`, name);
  const numel = numelOf(t.shape);
  if (typeof numel === 'string') refuse(numel, name);
  const nnz = t.values.length;
  if (t.indices.length !== nnz * rank) refuse(`${t.indices.length} indices for ${nnz} values of rank ${rank}`, name);
  if (!DTYPE_CODES.includes(t.dtype)) refuse(`dtype ${t.dtype} cannot be packed`, name);

  // Row-major linear index of every stored value, sorted (no Map: layers may hold over 2^24 values).
  const strides = new Float64Array(rank);
  for (let a = rank - 1, s = 1; a >= 0; a--) { strides[a] = s; s *= t.shape[a]; }
  let stored = 0;
  for (let k = 0; k < nnz; k++) if (t.sparse || t.values[k] !== 0) stored++; // a dense source holds its non-zeros only
  let linear = new Float64Array(stored);
  let valueIndex = new Uint32Array(stored);
  for (let k = 0, j = 0; k < nnz; k++) if (t.sparse || t.values[k] !== 0) valueIndex[j++] = k;
  let ascending = true;
  for (let j = 0; j < stored; j++) {
    const k = valueIndex[j];
    let l = 0;
    for (let a = 0; a < rank; a++) {
      const i = t.indices[k * rank + a];
      if (!(i >= 0 && i < t.shape[a])) refuse(`index ${i} on axis ${a} of value ${k} is outside [0, ${t.shape[a]})`, name);
      l += i * strides[a];
    }
    linear[j] = l;
    if (j > 0 && l <= linear[j - 1]) ascending = false;
  }
  if (!ascending) {
    const order = Uint32Array.from(linear.keys()).sort((x, y) => linear[x] - linear[y]);
    linear = Float64Array.from(order, (j) => linear[j]);
    valueIndex = Uint32Array.from(order, (j) => valueIndex[j]);
    for (let j = 1; j < stored; j++) if (linear[j] === linear[j - 1]) refuse(`value ${valueIndex[j]} repeats a position`, name);
  }
  /** Position of linear index l among the stored ones, or -1. */
  const find = (l: number): number => {
    let lo = 0, hi = stored - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (linear[mid] === l) return mid;
      if (linear[mid] < l) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  };

  const src = floatBitsOf(t.values);
  let encoding: ValueEncoding = 'float16';
  for (const k of valueIndex) if (exactHalfBits(src[k]) < 0) { encoding = 'float32'; break; }
  const item = encoding === 'float16' ? 2 : 4;

  let explicitBytes = varintBytes(stored) + stored * item;
  for (let j = 0; j < stored; j++) explicitBytes += varintBytes(j === 0 ? linear[0] : linear[j] - linear[j - 1] - 1);
  const fullOk = !t.sparse || stored === numel;
  let best: { mode: PositionMode; bytes: number; count: number } = fullOk
    ? { mode: 'full', bytes: numel * item, count: numel }
    : { mode: 'explicit', bytes: explicitBytes, count: stored };
  if (fullOk && explicitBytes < best.bytes) best = { mode: 'explicit', bytes: explicitBytes, count: stored };

  // Zig-zag: the shortest prefix of the order holding every stored position (sparse: exactly
  // them). It costs at least 1 + N·item bytes, so a prefix longer than that bound cannot win.
  const zigzagLimit = t.sparse ? stored : Math.floor((best.bytes - 1) / item);
  let covered = 0, prefix = 0, exact = stored <= zigzagLimit;
  if (exact && stored > 0) {
    forEachZigzag(t.shape, zigzagLimit, (p) => {
      let l = 0;
      for (let a = 0; a < rank; a++) l += p[a] * strides[a];
      prefix++;
      if (find(l) >= 0) covered++;
      else if (t.sparse) exact = false;
      return exact && covered < stored;
    });
  }
  if (exact && covered === stored) {
    const bytes = varintBytes(prefix) + prefix * item;
    if (bytes < best.bytes || (bytes === best.bytes && best.mode === 'explicit')) best = { mode: 'zigzag', bytes, count: prefix };
  }

  // Values in the chosen order; positions a dense source does not hold are zeros.
  const bits = new Uint32Array(best.count);
  if (best.mode === 'full') {
    for (let j = 0; j < stored; j++) bits[linear[j]] = src[valueIndex[j]];
  } else if (best.mode === 'explicit') {
    for (let j = 0; j < stored; j++) bits[j] = src[valueIndex[j]];
  } else {
    let n = 0;
    forEachZigzag(t.shape, best.count, (p) => {
      let l = 0;
      for (let a = 0; a < rank; a++) l += p[a] * strides[a];
      const j = find(l);
      bits[n++] = j < 0 ? 0 : src[valueIndex[j]];
    });
  }
  return { mode: best.mode, encoding, count: best.count, linear: best.mode === 'explicit' ? linear : undefined, bits };
}

function tensorCode(t: CoeffTensor, plan: TensorPlan): number {
  return FRQ_POSITIONS[plan.mode] | (plan.encoding === 'float32' ? CODE.float32Values : 0)
    | (DTYPE_CODES.indexOf(t.dtype) << CODE.dtypeShift) | (t.sparse ? CODE.sparse : 0);
}

// ---------- writer ----------

const utf8 = new TextEncoder();

/**
 * Packs a state dict of coefficient tensors (in its order) into the canonical `.frq` bytes.
 * Fails with PACK_TENSOR for what the format cannot hold (rank over 8, a name over 1,024 bytes…).
 */
export function writePacked(tensors: ReadonlyMap<string, CoeffTensor>): Uint8Array {
  if (tensors.size === 0 || tensors.size > MAX_TENSORS) fail('packed', 'PACK_HEADER', `${tensors.size} tensors; the format holds 1…${MAX_TENSORS}`);
  const unet = matchUnet(tensors);
  const w = new ByteWriter();
  // Fixed header; the length is patched in at the end.
  for (const b of FRQ_MAGIC) w.u8(b);
  w.u8(FRQ_VERSION);
  w.u8(unet ? FRQ_LAYOUT.unet : FRQ_LAYOUT.generic);
  w.u16(tensors.size);
  w.u32(0);
  if (unet) {
    w.varint(unet.inChannels);
    w.varint(unet.width);
    w.varint(unet.classes);
  }
  for (const [name, t] of tensors) {
    const plan = planTensor(name, t, DEFAULT_LIMITS.maxTensorRank);
    w.u8(tensorCode(t, plan));
    if (!unet) {
      const nameBytes = utf8.encode(name);
      if (nameBytes.length === 0 || nameBytes.length > FRQ_MAX_NAME_BYTES) refuse(`name of ${nameBytes.length} bytes; the format holds 1…${FRQ_MAX_NAME_BYTES}`, name);
      w.varint(nameBytes.length);
      w.bytes(nameBytes);
      w.u8(t.shape.length);
      for (const d of t.shape) w.varint(d);
    }
    if (plan.mode !== 'full') w.varint(plan.count);
    if (plan.linear) {
      for (let k = 0; k < plan.linear.length; k++) w.varint(k === 0 ? plan.linear[0] : plan.linear[k] - plan.linear[k - 1] - 1);
    }
    if (plan.encoding === 'float16') for (const b of plan.bits) w.u16(exactHalfBits(b));
    else for (const b of plan.bits) w.u32(b);
  }
  const length = w.length + FRQ_CHECKSUM_BYTES;
  if (length > MAX_FILE_BYTES) fail('packed', 'PACK_HEADER', `${length} bytes; the format holds at most ${MAX_FILE_BYTES}`);
  w.patchU32(8, length);
  const body = w.result();
  w.u32(crc32(body));
  return w.result();
}

// ---------- reader ----------

export interface PackedHeader {
  version: number;
  layout: FrqLayout;
  tensors: number;
  /** Declared file length, checksum included. */
  length: number;
}

/** Checks the fixed header, the declared length and the checksum; the body is not parsed. */
export function readPackedHeader(bytes: Uint8Array, limits: Pick<Limits, 'maxInputBytes'> = DEFAULT_LIMITS): PackedHeader {
  for (let i = 0; i < FRQ_MAGIC.length; i++) {
    if (i >= bytes.length) fail('packed', 'PACK_HEADER', `file of ${bytes.length} bytes ends inside the magic`, { offset: bytes.length });
    if (bytes[i] !== FRQ_MAGIC[i]) fail('packed', 'PACK_HEADER', `bad magic: byte ${i} is 0x${bytes[i].toString(16).padStart(2, '0')}, expected 0x${FRQ_MAGIC[i].toString(16)}`, { offset: i });
  }
  if (bytes.length < FRQ_MIN_BYTES) fail('packed', 'PACK_HEADER', `file of ${bytes.length} bytes is shorter than the ${FRQ_MIN_BYTES}-byte minimum`, { offset: bytes.length });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[4];
  if (version !== FRQ_VERSION) fail('packed', 'PACK_HEADER', `version ${version}; this reader knows version ${FRQ_VERSION}`, { offset: 4 });
  const layoutCode = bytes[5];
  const layout = (Object.keys(FRQ_LAYOUT) as FrqLayout[]).find((k) => FRQ_LAYOUT[k] === layoutCode);
  if (layout === undefined) fail('packed', 'PACK_HEADER', `layout ${layoutCode}; expected 0 (generic) or 1 (unet)`, { offset: 5 });
  const tensors = dv.getUint16(6, true);
  if (tensors === 0) fail('packed', 'PACK_HEADER', 'tensor count is 0', { offset: 6 });
  const length = dv.getUint32(8, true);
  if (length < FRQ_MIN_BYTES) fail('packed', 'PACK_HEADER', `declared length ${length} is shorter than the ${FRQ_MIN_BYTES}-byte minimum`, { offset: 8 });
  if (length > limits.maxInputBytes) fail('packed', 'PACK_HEADER', `declared length ${length}; the cap is ${limits.maxInputBytes}`, { offset: 8 });
  if (bytes.length < length) fail('packed', 'PACK_HEADER', `truncated: ${bytes.length} bytes, the header declares ${length}`, { offset: bytes.length });
  if (bytes.length > length) fail('packed', 'PACK_TRAILING', `${bytes.length - length} bytes after the declared end of the file`, { offset: length });
  const stored = dv.getUint32(length - FRQ_CHECKSUM_BYTES, true);
  const actual = crc32(bytes.subarray(0, length - FRQ_CHECKSUM_BYTES));
  if (stored !== actual) {
    fail('packed', 'PACK_CHECKSUM', `CRC-32 of the file is ${actual.toString(16).padStart(8, '0')}, the file says ${stored.toString(16).padStart(8, '0')}`, { offset: length - FRQ_CHECKSUM_BYTES });
  }
  return { version, layout, tensors, length };
}

function decodeCode(code: number, at: number, tensor?: string): { mode: PositionMode; encoding: ValueEncoding; dtype: Dtype; sparse: boolean } {
  const where = { offset: at, tensor };
  if (code & CODE.reserved) fail('packed', 'PACK_TENSOR', `code 0x${code.toString(16)} sets reserved bits 6–7`, where);
  const mode = POSITION_MODES[code & CODE.positionsMask];
  if (mode === undefined) fail('packed', 'PACK_TENSOR', `position mode ${code & CODE.positionsMask} is unknown`, where);
  const dtype = DTYPE_CODES[(code & CODE.dtypeMask) >> CODE.dtypeShift];
  if (dtype === undefined) fail('packed', 'PACK_TENSOR', `dtype code ${(code & CODE.dtypeMask) >> CODE.dtypeShift} is unknown`, where);
  return { mode, encoding: code & CODE.float32Values ? 'float32' : 'float16', dtype, sparse: (code & CODE.sparse) !== 0 };
}

/**
 * Reads a `.frq` file into coefficient tensors, in file order. Positions come back in row-major
 * order whatever the storage mode (as a coalesced PyTorch sparse tensor holds them, so a packed
 * upstream model reads back array-for-array identical to the original); sparse tensors with every
 * stored position, dense ones with their non-zeros only, as src/formats/torch.ts reads them.
 */
export function readPacked(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): Map<string, CoeffTensor> {
  const header = readPackedHeader(bytes, limits);
  const r = new Cursor(bytes, FRQ_FIXED_HEADER_BYTES, header.length - FRQ_CHECKSUM_BYTES);

  let template: { name: string; shape: number[] }[] | undefined;
  if (header.layout === 'unet') {
    const at = r.pos;
    const params = {
      inChannels: r.varint('PACK_HEADER', 'input channels'),
      width: r.varint('PACK_HEADER', 'width'),
      classes: r.varint('PACK_HEADER', 'classes'),
    };
    const problem = unetParamsProblem(params);
    if (problem) fail('packed', 'PACK_HEADER', `UNet template: ${problem}`, { offset: at });
    template = unetTemplate(params);
    if (header.tensors !== template.length) fail('packed', 'PACK_HEADER', `layout unet holds ${template.length} tensors, the header says ${header.tensors}`, { offset: 6 });
  }

  const out = new Map<string, CoeffTensor>();
  let elements = 0;
  for (let i = 0; i < header.tensors; i++) {
    const start = r.pos;
    const code = r.u8('PACK_TENSOR', `tensor ${i} code`, template?.[i].name);
    let name: string, shape: number[];
    if (template) {
      ({ name, shape } = template[i]);
    } else {
      const nameLength = r.varint('PACK_TENSOR', `tensor ${i} name length`);
      if (nameLength === 0 || nameLength > FRQ_MAX_NAME_BYTES) fail('packed', 'PACK_TENSOR', `tensor ${i} name of ${nameLength} bytes; allowed 1…${FRQ_MAX_NAME_BYTES}`, { offset: r.pos });
      r.need(nameLength, 'PACK_TENSOR', `tensor ${i} name`);
      const decoded = decodeUtf8Strict(bytes.subarray(r.pos, r.pos + nameLength));
      if (decoded === undefined) fail('packed', 'PACK_TENSOR', `tensor ${i} name is not valid UTF-8`, { offset: r.pos });
      if (out.has(decoded)) fail('packed', 'PACK_TENSOR', `name ${quoteName(decoded)} appears twice`, { offset: r.pos, tensor: decoded });
      name = decoded;
      r.pos += nameLength;
      const rank = r.u8('PACK_TENSOR', 'rank', name);
      if (rank > limits.maxTensorRank) fail('packed', 'PACK_TENSOR', `rank ${rank}; the cap is ${limits.maxTensorRank}`, { offset: r.pos - 1, tensor: name });
      shape = [];
      for (let a = 0; a < rank; a++) shape.push(r.varint('PACK_TENSOR', `dimension ${a}`, name));
    }
    const where = { offset: start, tensor: name };
    const { mode, encoding, dtype, sparse } = decodeCode(code, start, name);
    const numel = numelOf(shape);
    if (typeof numel === 'string') fail('packed', 'PACK_TENSOR', numel, where);
    const rank = shape.length;

    const count = mode === 'full' ? numel : r.varint('PACK_TENSOR', 'position count', name);
    if (count > numel) fail('packed', 'PACK_INDEX', `${count} positions in a tensor of ${numel} elements`, where);
    const item = encoding === 'float16' ? 2 : 4;
    // Bounds before any allocation: the bytes must be there, and the decoded size within limits.
    r.need(count * (item + (mode === 'explicit' ? 1 : 0)), 'PACK_OFFSETS', `${count} ${mode} positions of ${encoding}`, name);
    elements += count;
    if (elements > limits.maxTotalParameters) fail('model', 'MODEL_TOO_LARGE', `more than ${limits.maxTotalParameters} stored elements`, where);
    if (count * Math.max(rank, 1) * 4 > limits.maxTensorBytes) fail('packed', 'PACK_TENSOR', `${count} positions of rank ${rank} exceed the ${limits.maxTensorBytes}-byte tensor cap`, where);

    const indices = new Int32Array(count * rank);
    /** zig-zag: storage order → row-major output slot (positions come out row-major in every mode). */
    let slotOf: Uint32Array | undefined;
    if (mode === 'zigzag') {
      const positions = new Int32Array(count * rank), linear = new Float64Array(count);
      let n = 0;
      forEachZigzag(shape, count, (p) => {
        positions.set(p, n * rank);
        let l = 0;
        for (let a = 0; a < rank; a++) l = l * shape[a] + p[a];
        linear[n++] = l;
      });
      const order = Uint32Array.from(linear.keys()).sort((x, y) => linear[x] - linear[y]);
      slotOf = new Uint32Array(count);
      order.forEach((k, slot) => {
        slotOf![k] = slot;
        indices.set(positions.subarray(k * rank, k * rank + rank), slot * rank);
      });
    } else {
      let linear = -1;
      for (let k = 0; k < count; k++) {
        if (mode === 'full') {
          linear = k;
        } else {
          const at = r.pos;
          linear += r.varint('PACK_INDEX', `position ${k}`, name) + 1;
          if (linear >= numel) fail('packed', 'PACK_INDEX', `position ${k} is linear index ${linear}, outside [0, ${numel})`, { offset: at, tensor: name });
        }
        for (let a = rank - 1, rest = linear; a >= 0; a--) {
          indices[k * rank + a] = rest % shape[a];
          rest = Math.floor(rest / shape[a]);
        }
      }
    }
    r.need(count * item, 'PACK_OFFSETS', `${count} ${encoding} values`, name);
    const values = new Float32Array(count);
    const bits = floatBitsOf(values);
    for (let k = 0; k < count; k++) {
      bits[slotOf ? slotOf[k] : k] = item === 2 ? halfBitsToFloatBits(r.dv.getUint16(r.pos + 2 * k, true)) : r.dv.getUint32(r.pos + 4 * k, true);
    }
    r.pos += count * item;

    const tensor = sparse ? { shape, indices, values, dtype, sparse } : dropZeros(shape, indices, values, dtype);
    // Canonical form: the writer, given these coefficients, must choose exactly this encoding.
    const plan = planTensor(name, tensor, limits.maxTensorRank);
    if (plan.mode !== mode || plan.count !== count || plan.encoding !== encoding) {
      fail('packed', 'PACK_TENSOR', `not canonical: stored as ${count} ${mode} ${encoding}, the writer stores these coefficients as ${plan.count} ${plan.mode} ${plan.encoding}`, where);
    }
    out.set(name, tensor);
  }
  if (r.pos !== r.end) fail('packed', 'PACK_TRAILING', `${r.end - r.pos} bytes after the last tensor`, { offset: r.pos });
  if (!template && matchUnet(out)) fail('packed', 'PACK_HEADER', 'not canonical: layout generic for a state dict that is the UNet template', { offset: 5 });
  return out;
}

/** A dense source's tensor as src/formats/torch.ts gives it: non-zeros only. */
function dropZeros(shape: number[], indices: Int32Array, values: Float32Array, dtype: Dtype): CoeffTensor {
  const rank = shape.length;
  let nnz = 0;
  for (const v of values) if (v !== 0) nnz++;
  const keptIndices = new Int32Array(nnz * rank), keptValues = new Float32Array(nnz);
  const from = floatBitsOf(values), to = floatBitsOf(keptValues);
  for (let k = 0, n = 0; k < values.length; k++) {
    if (values[k] === 0) continue;
    keptIndices.set(indices.subarray(k * rank, k * rank + rank), n * rank);
    to[n++] = from[k];
  }
  return { shape, indices: keptIndices, values: keptValues, dtype, sparse: false };
}
