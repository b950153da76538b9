/**
 * A small ONNX writer: a graph described in plain objects → the bytes of an ONNX `ModelProto`
 * (protocol buffers, proto3 wire format). Only what a dense convolutional graph needs: nodes with
 * int, ints, float and string attributes, float32 and int64 initializers, inputs and outputs with
 * fixed or symbolic dimensions. Field numbers are those of onnx/onnx.proto (see: onnx/onnx.proto3,
 * IR version 7 = opset 13).
 *
 * Large tensors are never copied into one growing buffer: every message is a list of chunks with
 * its byte length known, and the model's bytes are assembled once at the end.
 */

/** An attribute value: integer (INT), integer list (INTS), float (FLOAT) or string (STRING). */
export type OnnxAttribute = { i: number } | { ints: readonly number[] } | { f: number } | { s: string };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  attributes?: Record<string, OnnxAttribute>;
}

export type OnnxTensor =
  | { name: string; type: 'float32'; dims: readonly number[]; data: Float32Array }
  | { name: string; type: 'int64'; dims: readonly number[]; data: readonly number[] };

/** A graph input or output: element type and dimensions (a string is a symbolic dimension). */
export interface OnnxValueInfo {
  name: string;
  type: 'float32' | 'int64';
  dims: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  doc?: string;
}

export interface OnnxModelInfo {
  producer: string;
  producerVersion: string;
  /** Default-domain operator set version. */
  opset: number;
  /** `metadata_props` key → value. */
  metadata?: Record<string, string>;
}

/** IR version 7 goes with opset 13 (onnx/docs/Versioning.md). */
export const ONNX_IR_VERSION = 7;
/** TensorProto.DataType values. */
const DATA_TYPE = { float32: 1, int64: 7 } as const;
/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

/** A message under construction: byte chunks and their total length. */
class Message {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.length += this.scratch.length;
    this.scratch = [];
  }

  /** Varint of a non-negative integer below 2^53 or a negative int64 (two's complement, 10 bytes). */
  private varint(v: number): void {
    if (!Number.isInteger(v)) throw new RangeError(`protobuf varint must be an integer, got ${v}`);
    if (v < 0) {
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) { this.scratch.push(Number(big & 0x7fn) | 0x80); big >>= 7n; }
      this.scratch.push(Number(big));
      return;
    }
    while (v >= 0x80) { this.scratch.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
    this.scratch.push(v);
  }

  private key(field: number, wire: 0 | 1 | 2 | 5): void { this.varint(field * 8 + wire); }

  int(field: number, v: number): this { this.key(field, 0); this.varint(v); return this; }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2);
    this.varint(data.length);
    this.flush();
    this.chunks.push(data);
    this.length += data.length;
    return this;
  }

  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }

  /** Packed repeated varints. */
  packed(field: number, values: readonly number[]): this {
    const m = new Message();
    for (const v of values) m.varint(v);
    return this.message(field, m);
  }

  message(field: number, m: Message): this {
    m.flush();
    this.key(field, 2);
    this.varint(m.length);
    this.flush();
    this.chunks.push(...m.chunks);
    this.length += m.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

/** TensorProto: dims = 1, data_type = 2, int64_data = 7, name = 8, raw_data = 9 (little-endian). */
function tensorProto(t: OnnxTensor): Message {
  const m = new Message().packed(1, t.dims).int(2, DATA_TYPE[t.type]).string(8, t.name);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) throw new RangeError(`ONNX tensor ${t.name}: ${t.data.length} values for dims [${t.dims}]`);
  if (t.type === 'int64') return m.packed(7, t.data);
  let raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (!littleEndian()) {
    raw = new Uint8Array(t.data.byteLength);
    const view = new DataView(raw.buffer);
    t.data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return m.bytes(9, raw);
}

function littleEndian(): boolean { return new Uint8Array(Uint16Array.of(1).buffer)[0] === 1; }

/** AttributeProto: name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20. */
function attributeProto(name: string, a: OnnxAttribute): Message {
  const m = new Message().string(1, name);
  if ('i' in a) return m.int(3, a.i).int(20, ATTRIBUTE_TYPE.INT);
  if ('f' in a) return m.float(2, a.f).int(20, ATTRIBUTE_TYPE.FLOAT);
  if ('s' in a) return m.string(4, a.s).int(20, ATTRIBUTE_TYPE.STRING);
  // Repeated int64 in proto2 files is unpacked by default but parsers accept the packed form.
  return m.packed(8, a.ints).int(20, ATTRIBUTE_TYPE.INTS);
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5. */
function nodeProto(n: OnnxNode): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  if (n.name) m.string(3, n.name);
  m.string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.message(5, attributeProto(k, v));
  return m;
}

/**
 * ValueInfoProto: name = 1, type = 2 → TypeProto.tensor_type = 1 → elem_type = 1, shape = 2 →
 * TensorShapeProto.dim = 1 → dim_value = 1 | dim_param = 2.
 */
function valueInfoProto(v: OnnxValueInfo): Message {
  const shape = new Message();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensor = new Message().int(1, DATA_TYPE[v.type]).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensor));
}

/** GraphProto: node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12. */
function graphProto(g: OnnxGraph): Message {
  const m = new Message();
  for (const n of g.nodes) m.message(1, nodeProto(n));
  m.string(2, g.name);
  for (const t of g.initializers) m.message(5, tensorProto(t));
  if (g.doc) m.string(10, g.doc);
  for (const i of g.inputs) m.message(11, valueInfoProto(i));
  for (const o of g.outputs) m.message(12, valueInfoProto(o));
  return m;
}

/**
 * ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
 * opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2), metadata_props = 14
 * (StringStringEntryProto: key = 1, value = 2).
 */
export function encodeOnnxModel(graph: OnnxGraph, info: OnnxModelInfo): Uint8Array {
  const m = new Message()
    .int(1, ONNX_IR_VERSION)
    .string(2, info.producer)
    .string(3, info.producerVersion)
    .message(7, graphProto(graph))
    .message(8, new Message().string(1, '').int(2, info.opset));
  for (const [k, v] of Object.entries(info.metadata ?? {})) m.message(14, new Message().string(1, k).string(2, v));
  return m.finish();
}
