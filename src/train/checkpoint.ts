/**
 * The training checkpoint: everything a run needs to go on exactly where it stopped.
 *
 *   magic "\x89FRT" (4) | version u8 | 3 zero bytes | header length u32 LE | header (UTF-8 JSON)
 *   | arrays, each as the header lists them: float64 LE or uint32 LE | CRC-32 u32 LE of all before
 *
 * The header holds the scalars (step, epoch, rng state, options, history); the arrays hold the
 * coefficients, the Adam moments, the best model so far and the epoch's order. The reader checks
 * the magic, version, total length and CRC before parsing, and every array's length against the
 * bytes left before allocating.
 */
import { fail } from '../errors.js';
import { crc32 } from '../formats/zip.js';

export const CHECKPOINT_MAGIC: readonly number[] = [0x89, 0x46, 0x52, 0x54];
export const CHECKPOINT_VERSION = 1;
const FIXED_BYTES = 12;
const CRC_BYTES = 4;
/** The JSON header's largest size (a long run's history of every step fits many times). */
export const MAX_HEADER_BYTES = 64 * 2 ** 20;

export type ArrayKind = 'f64' | 'u32';
export type NamedArray = { name: string; data: Float64Array } | { name: string; data: Uint32Array };

interface ArrayEntry { name: string; kind: ArrayKind; length: number }

/** Writes a header object and named arrays as checkpoint bytes. */
export function writeCheckpoint(header: object, arrays: readonly NamedArray[]): Uint8Array {
  const entries: ArrayEntry[] = arrays.map((a) => ({ name: a.name, kind: a.data instanceof Float64Array ? 'f64' : 'u32', length: a.data.length }));
  const json = new TextEncoder().encode(JSON.stringify({ header, arrays: entries }));
  const body = arrays.reduce((n, a) => n + a.data.length * (a.data instanceof Float64Array ? 8 : 4), 0);
  const out = new Uint8Array(FIXED_BYTES + json.length + body + CRC_BYTES);
  const view = new DataView(out.buffer);
  out.set(CHECKPOINT_MAGIC, 0);
  out[4] = CHECKPOINT_VERSION;
  view.setUint32(8, json.length, true);
  out.set(json, FIXED_BYTES);
  let at = FIXED_BYTES + json.length;
  for (const a of arrays) {
    if (a.data instanceof Float64Array) for (const x of a.data) { view.setFloat64(at, x, true); at += 8; }
    else for (const x of a.data) { view.setUint32(at, x, true); at += 4; }
  }
  view.setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

/** Reads checkpoint bytes back into the header object and the named arrays. */
export function readCheckpointBytes(bytes: Uint8Array): { header: Record<string, unknown>; arrays: Map<string, Float64Array | Uint32Array> } {
  const bad = (detail: string, offset?: number): never => fail('train', 'CHECKPOINT_HEADER', detail, offset === undefined ? {} : { offset });
  if (bytes.length < FIXED_BYTES + CRC_BYTES) bad(`${bytes.length} bytes is shorter than a checkpoint`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== CHECKPOINT_MAGIC[i]) bad('not a freqreg training checkpoint (magic)', i);
  if (bytes[4] !== CHECKPOINT_VERSION) bad(`version ${bytes[4]}; this freqreg reads version ${CHECKPOINT_VERSION}`, 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - CRC_BYTES;
  if (view.getUint32(end, true) !== crc32(bytes.subarray(0, end))) fail('train', 'CHECKPOINT_CHECKSUM', 'the checkpoint is damaged (CRC-32 mismatch)', { offset: end });
  const jsonLength = view.getUint32(8, true);
  if (jsonLength > MAX_HEADER_BYTES || FIXED_BYTES + jsonLength > end) bad(`header of ${jsonLength} bytes does not fit`, 8);
  let parsed: { header?: unknown; arrays?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED_BYTES, FIXED_BYTES + jsonLength)));
  } catch {
    return bad('header is not UTF-8 JSON', FIXED_BYTES);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.header !== 'object' || parsed.header === null || !Array.isArray(parsed.arrays)) {
    bad('header lacks its fields', FIXED_BYTES);
  }
  const arrays = new Map<string, Float64Array | Uint32Array>();
  let at = FIXED_BYTES + jsonLength;
  for (const e of parsed.arrays as ArrayEntry[]) {
    if (typeof e?.name !== 'string' || (e.kind !== 'f64' && e.kind !== 'u32') || !Number.isInteger(e.length) || e.length < 0) bad('bad array entry', at);
    const item = e.kind === 'f64' ? 8 : 4;
    if (e.length * item > end - at) bad(`array ${e.name} of ${e.length} values runs past the end`, at);
    if (arrays.has(e.name)) bad(`array ${e.name} appears twice`, at);
    const data = e.kind === 'f64' ? new Float64Array(e.length) : new Uint32Array(e.length);
    for (let k = 0; k < e.length; k++, at += item) data[k] = e.kind === 'f64' ? view.getFloat64(at, true) : view.getUint32(at, true);
    arrays.set(e.name, data);
  }
  if (at !== end) bad(`${end - at} bytes after the last array`, at);
  return { header: parsed.header as Record<string, unknown>, arrays };
}
