/** Crafting `.frq` files from raw parts for the packed-format tests (layout in docs/format.md). */
import { FRQ_MAGIC } from '../../src/formats/packed.js';
import { crc32Bitwise as crc32 } from './checksums.js';

/** LEB128 varint of v, padded with continuation bytes to at least `minBytes` (non-canonical when padded). */
export function frqVarint(v: number, minBytes = 1): number[] {
  const out: number[] = [];
  do { out.push(v % 128); v = Math.floor(v / 128); } while (v > 0);
  while (out.length < minBytes) out.push(0);
  for (let i = 0; i < out.length - 1; i++) out[i] |= 0x80;
  return out;
}

/** A file from raw parts: fixed header (length filled in unless given), body, CRC-32 over the rest. */
export function craftFrq(o: { body: number[]; layout?: number; count?: number; version?: number; length?: number; magic?: readonly number[] }): Uint8Array {
  const bytes = new Uint8Array(12 + o.body.length + 4);
  const dv = new DataView(bytes.buffer);
  bytes.set(o.magic ?? FRQ_MAGIC, 0);
  bytes[4] = o.version ?? 1;
  bytes[5] = o.layout ?? 0;
  dv.setUint16(6, o.count ?? 1, true);
  dv.setUint32(8, o.length ?? bytes.length, true);
  bytes.set(o.body, 12);
  dv.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}
