/**
 * A test-only xz writer (xz file format 1.2.1, tukaani.org/xz/xz-file-format.txt): one stream,
 * one block, LZMA2 with uncompressed chunks only. No compression, but every field is real, so
 * the decoder reads these files as it reads `xz -c` output, and no `xz` binary is needed. Options
 * reach the fields the catalogue abuses: the check type, the dictionary size, the index.
 *
 * The checksums come from test/support/checksums.ts (bit by bit), not from the product's code.
 */
import { createHash } from 'node:crypto';
import { crc32Bitwise, crc64Bitwise } from './checksums.js';

export type XzCheck = 'none' | 'crc32' | 'crc64' | 'sha256';
const CHECK_ID: Record<XzCheck, number> = { none: 0x00, crc32: 0x01, crc64: 0x04, sha256: 0x0a };

export interface XzOptions {
  check?: XzCheck;
  /** LZMA2 dictionary-size byte (§5.3.1: 40 = 4 GiB − 1; 32 = 256 MiB); default 0 (4 KiB). */
  dictionaryByte?: number;
  /** Replace the uncompressed size the index declares. */
  indexUncompressed?: number;
}

const LZMA2_MAX_CHUNK = 1 << 16;

function u32le(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
  out.push(v);
  return out;
}

function padTo4(a: number[]): void { while (a.length % 4) a.push(0); }

function checkBytes(check: XzCheck, data: Uint8Array): number[] {
  switch (check) {
    case 'none': return [];
    case 'crc32': return u32le(crc32Bitwise(data));
    case 'crc64': { const c = crc64Bitwise(data); return [...u32le(Number(c & 0xffffffffn)), ...u32le(Number(c >> 32n))]; }
    case 'sha256': return [...createHash('sha256').update(data).digest()];
  }
}

/** `data` as one xz stream of one block of uncompressed LZMA2 chunks. */
export function xzStored(data: Uint8Array, opts: XzOptions = {}): Uint8Array {
  const check = opts.check ?? 'crc64';
  const flags = [0x00, CHECK_ID[check]];
  const head: number[] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...flags, ...u32le(crc32Bitwise(Uint8Array.from(flags)))];

  // Block header (§3.1): size, flags (one filter, no sizes), LZMA2 filter flags, padding, CRC32.
  const header: number[] = [0, 0x00, 0x21, 0x01, opts.dictionaryByte ?? 0];
  padTo4(header);
  header[0] = (header.length + 4) / 4 - 1;
  header.push(...u32le(crc32Bitwise(Uint8Array.from(header))));

  // LZMA2 (§5.3.1 and xz-embedded's dec_lzma2): 0x01 = uncompressed chunk with a dictionary reset,
  // 0x02 = uncompressed chunk, then the size − 1 big-endian; 0x00 ends the data.
  const chunks = Math.ceil(data.length / LZMA2_MAX_CHUNK);
  const body = new Uint8Array(data.length + 3 * chunks + 1);
  let at = 0;
  for (let from = 0; from < data.length; from += LZMA2_MAX_CHUNK) {
    const n = Math.min(LZMA2_MAX_CHUNK, data.length - from);
    body.set([from === 0 ? 0x01 : 0x02, ((n - 1) >> 8) & 0xff, (n - 1) & 0xff], at);
    body.set(data.subarray(from, from + n), at + 3);
    at += 3 + n;
  }
  body[at] = 0x00; // end of LZMA2 data
  const checkField = checkBytes(check, data);
  const unpadded = header.length + body.length + checkField.length;
  const blockPadding = new Array((4 - ((header.length + body.length) % 4)) % 4).fill(0);

  // Index (§4): indicator, record count, (unpadded size, uncompressed size), padding, CRC32.
  const tail: number[] = [...blockPadding, ...checkField];
  const index = [0x00, ...varint(1), ...varint(unpadded), ...varint(opts.indexUncompressed ?? data.length)];
  padTo4(index);
  index.push(...u32le(crc32Bitwise(Uint8Array.from(index))));
  tail.push(...index);

  // Footer (§2.1.2): CRC32 of (backward size, flags), backward size, flags, "YZ".
  const backward = [...u32le(index.length / 4 - 1), ...flags];
  tail.push(...u32le(crc32Bitwise(Uint8Array.from(backward))), ...backward, 0x59, 0x5a);
  const out = new Uint8Array(head.length + header.length + body.length + tail.length);
  out.set(head, 0);
  out.set(header, head.length);
  out.set(body, head.length + header.length);
  out.set(tail, head.length + header.length + body.length);
  return out;
}
