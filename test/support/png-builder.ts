/**
 * A test-side PNG writer for crafted and random PNGs (chunk writer with node:zlib's CRC, bit
 * packer, all five filters, Adam7 split), independent of src/image/png.ts so the decoder is not
 * checked against itself. The same construction as test/image.test.ts, shared here by the
 * catalogue and fuzz tests.
 */
import { crc32 as zcrc32, deflateSync } from 'node:zlib';
import { rng } from '../helpers.js';

export const SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function chunk(type: string, data: ArrayLike<number> = []): Uint8Array {
  const body = Uint8Array.from([...type].map((c) => c.charCodeAt(0)).concat(Array.from(data)));
  return Uint8Array.from([...be32(data.length), ...body, ...be32(zcrc32(body))]);
}

export interface Ihdr { width: number; height: number; depth?: number; colorType?: number; compression?: number; filter?: number; interlace?: number }

export function ihdr(h: Ihdr): Uint8Array {
  return chunk('IHDR', [...be32(h.width), ...be32(h.height), h.depth ?? 8, h.colorType ?? 2, h.compression ?? 0, h.filter ?? 0, h.interlace ?? 0]);
}

export const IEND = chunk('IEND');

/** A PNG from chunks after the signature. */
export function png(...chunks: Uint8Array[]): Uint8Array {
  return cat(SIG, ...chunks);
}

/** Raw (filter byte 0) scanlines of zeros for a non-interlaced image. */
export function zeroRows(width: number, height: number, bitsPerPixel: number): Uint8Array {
  return new Uint8Array(height * (1 + Math.ceil((width * bitsPerPixel) / 8)));
}

/** A valid all-black RGB PNG's chunks (IHDR, IDAT, IEND), for mutating. */
export function validRgb(width = 4, height = 3): Uint8Array[] {
  return [ihdr({ width, height }), chunk('IDAT', deflateSync(zeroRows(width, height, 24))), IEND];
}

/** Rewrites every complete chunk's CRC in place, so mutations reach the checks behind it. */
export function fixCrcs(bytes: Uint8Array): Uint8Array {
  for (let pos = 8; pos + 12 <= bytes.length;) {
    const len = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
    if (pos + 12 + len > bytes.length) break;
    bytes.set(be32(zcrc32(bytes.subarray(pos + 4, pos + 8 + len))), pos + 8 + len);
    pos += 12 + len;
  }
  return bytes;
}

/** Chunks of a PNG as [type, data] pairs (no checks: test input only). */
export function splitChunks(bytes: Uint8Array): { type: string; data: Uint8Array }[] {
  const out: { type: string; data: Uint8Array }[] = [];
  for (let pos = 8; pos + 12 <= bytes.length;) {
    const len = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
    if (pos + 12 + len > bytes.length) break;
    out.push({ type: String.fromCharCode(...bytes.subarray(pos + 4, pos + 8)), data: bytes.slice(pos + 8, pos + 8 + len) });
    pos += 12 + len;
  }
  return out;
}

const STORED: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** Filters one row (encoder direction) with filter type f, given the unfiltered previous row. */
function filterRow(f: number, row: Uint8Array, prev: Uint8Array | undefined, bpp: number): number[] {
  const out = [f];
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0, c = prev && i >= bpp ? prev[i - bpp] : 0;
    let pred = 0;
    if (f === 1) pred = a;
    if (f === 2) pred = b;
    if (f === 3) pred = Math.floor((a + b) / 2);
    if (f === 4) {
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out.push((row[i] - pred + 256) % 256);
  }
  return out;
}

export interface PngCase {
  name: string;
  png: Uint8Array;
  /** The samples decodePng must return. */
  expected: { data: number[]; channels: number; bitDepth: 8 | 16 };
}

/** Legal (colour type, bit depth) pairs (PNG spec Table 11.1). */
export const LEGAL_PAIRS: readonly [number, number][] = [
  [0, 1], [0, 2], [0, 4], [0, 8], [0, 16], [2, 8], [2, 16], [3, 1], [3, 2], [3, 4], [3, 8], [4, 8], [4, 16], [6, 8], [6, 16],
];

/**
 * A random valid PNG of the given kind, all filter types used, IDAT split in two, an ancillary
 * chunk before IDAT, and the samples it decodes to.
 */
export function makePngCase(width: number, height: number, colorType: number, depth: number, interlace: number, trns: boolean, seed: number): PngCase {
  const rand = rng(seed);
  const sp = STORED[colorType];
  const maxSample = 2 ** depth - 1;
  const paletteEntries = colorType === 3 ? 1 + Math.floor(rand() * Math.min(2 ** depth, 256)) : 0;
  const samples = Array.from({ length: width * height * sp }, () => Math.floor(rand() * ((colorType === 3 ? paletteEntries - 1 : maxSample) + 1)));
  const palette = Array.from({ length: paletteEntries * 3 }, () => Math.floor(rand() * 256));
  const paletteAlpha = trns && colorType === 3 ? Array.from({ length: Math.max(1, paletteEntries - 1) }, () => Math.floor(rand() * 256)) : [];
  const key = trns && colorType !== 3 ? samples.slice(0, sp) : undefined; // pixel 0 is transparent

  const channels = colorType === 3 ? (trns ? 4 : 3) : sp + (key ? 1 : 0);
  const outDepth: 8 | 16 = depth === 16 ? 16 : 8;
  const scale = depth < 8 ? 255 / maxSample : 1;
  const data: number[] = [];
  for (let p = 0; p < width * height; p++) {
    const px = samples.slice(p * sp, p * sp + sp);
    if (colorType === 3) {
      data.push(...palette.slice(px[0] * 3, px[0] * 3 + 3));
      if (trns) data.push(px[0] < paletteAlpha.length ? paletteAlpha[px[0]] : 255);
    } else {
      data.push(...px.map((v) => v * scale));
      if (key) data.push(px.every((v, c) => v === key[c]) ? 0 : 2 ** outDepth - 1);
    }
  }

  const bitsPerPixel = sp * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const raw: number[] = [];
  let filterType = 0;
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes) {
    const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (!pw || !ph) continue;
    let prev: Uint8Array | undefined;
    for (let y = 0; y < ph; y++) {
      const row = new Uint8Array(Math.ceil((pw * bitsPerPixel) / 8));
      let bit = 0;
      for (let x = 0; x < pw; x++) {
        const p = (y0 + y * dy) * width + x0 + x * dx;
        for (let c = 0; c < sp; c++) {
          const v = samples[p * sp + c];
          if (depth === 16) { row[bit >> 3] = v >> 8; row[(bit >> 3) + 1] = v & 255; }
          else if (depth === 8) row[bit >> 3] = v;
          else row[bit >> 3] |= v << (8 - depth - (bit & 7));
          bit += depth;
        }
      }
      raw.push(...filterRow(filterType, row, prev, bpp));
      filterType = (filterType + 1) % 5;
      prev = row;
    }
  }
  const z = deflateSync(Uint8Array.from(raw));
  const half = z.length >> 1;
  const chunks = [ihdr({ width, height, depth, colorType, interlace }), chunk('tEXt', [...Buffer.from('Comment\0made by png-builder.ts')])];
  if (colorType === 3) chunks.push(chunk('PLTE', palette));
  if (trns) chunks.push(chunk('tRNS', colorType === 3 ? paletteAlpha : key!.flatMap((v) => [v >> 8, v & 255])));
  chunks.push(chunk('IDAT', z.subarray(0, half)), chunk('IDAT', z.subarray(half)), IEND);
  const name = `type ${colorType} depth ${depth}${trns ? ' +tRNS' : ''}${interlace ? ' Adam7' : ''} ${width}×${height}`;
  return { name, png: png(...chunks), expected: { data, channels, bitDepth: outDepth } };
}
