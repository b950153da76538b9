/**
 * PNG without a runtime: header and chunk checks, unfiltering, Adam7 and sample unpacking, and the
 * chunk writer. Only zlib is left to the caller (`Inflate` / `Deflate`), so this file runs in
 * browsers and workers; `src/node/png.ts` plugs in `node:zlib`.
 *
 * Everything a decoder could be tricked by is checked here, before any byte is inflated: the
 * signature, IHDR (length, CRC, dimensions against limits, legal colour type / bit depth pairs),
 * every chunk's length and CRC, chunk order, PLTE and tRNS. The inflated length must then equal
 * the exact size IHDR implies (see: PNG spec, 3rd ed., §7–§8 and §11).
 */
import { fail } from '../errors.js';

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Limits of the image decoders, PNG and JPEG alike (the name predates JPEG). */
export interface PngLimits {
  /** Widest image accepted (pixels). */
  maxWidth: number;
  /** Tallest image accepted (pixels). */
  maxHeight: number;
  /** Largest width × height accepted. */
  maxPixels: number;
  /**
   * JPEG only: the decoder's working memory (coefficient blocks, component planes and output, as
   * jpeg-js counts them), computed from the frame header before decoding: about 18 bytes per
   * pixel for a 4:4:4 photo, 10.5 for 4:2:0, 8 for greyscale.
   */
  maxJpegDecoderBytes: number;
}

/** See docs/bad-inputs.md "Resource limits": W, H ≤ 16,384 and ≤ 64 Mpx. */
export const DEFAULT_PNG_LIMITS: Readonly<PngLimits> = Object.freeze({
  maxWidth: 16384,
  maxHeight: 16384,
  maxPixels: 2 ** 26,
  maxJpegDecoderBytes: 1536 * 2 ** 20, // a 64 Mpx 4:4:4 JPEG needs about 1.1 GiB
});

/** Edge runtimes (workerd: 128 MiB per isolate): W, H ≤ 8,192 and ≤ 4 Mpx (16 MiB as RGBA). */
export const EDGE_PNG_LIMITS: Readonly<PngLimits> = Object.freeze({
  maxWidth: 8192,
  maxHeight: 8192,
  maxPixels: 2 ** 22,
  maxJpegDecoderBytes: 48 * 2 ** 20, // a 4 Mpx 4:2:0 photo needs about 42 MiB
});

/** Image limits under the name that says what they are. */
export type ImageLimits = PngLimits;
export const DEFAULT_IMAGE_LIMITS = DEFAULT_PNG_LIMITS;
export const EDGE_IMAGE_LIMITS = EDGE_PNG_LIMITS;

/** Hard ceiling on the inflated (filtered) image data, whatever the limits: 2 GiB − 1. */
export const MAX_RAW_BYTES = 2 ** 31 - 1;

export type PngColorType = 0 | 2 | 3 | 4 | 6;
export type PngBitDepth = 1 | 2 | 4 | 8 | 16;

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: PngBitDepth;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: PngColorType;
  interlaced: boolean;
  /** Channels `decodePng` returns: palette expands to 3 (4 with tRNS); tRNS adds alpha to grey and RGB. */
  channels: 1 | 2 | 3 | 4;
}

/** A decoded PNG: samples as stored (1/2/4-bit scaled to 8-bit), interleaved, row-major. */
export interface DecodedPng {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** 8 (Uint8Array) or 16 (Uint16Array). */
  bitDepth: 8 | 16;
}

/** An image to encode: 8-bit (Uint8Array / Uint8ClampedArray) or 16-bit (Uint16Array) samples. */
export interface EncodableImage {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** zlib inflate of `data`, stopping (by throwing or by returning more) once output passes `maxOutputLength`. */
export type Inflate = (data: Uint8Array, maxOutputLength: number) => Uint8Array;
/** zlib deflate (RFC 1950 stream, header and Adler-32 included). */
export type Deflate = (data: Uint8Array) => Uint8Array;

/** Legal bit depths per colour type (PNG spec Table 11.1). */
const LEGAL_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Samples per pixel as stored in the scanlines. */
const STORED_SAMPLES: Record<PngColorType, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: [x0, y0, dx, dy] (PNG spec §8.2). */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

const MAX_CHUNK_LENGTH = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// CRC-32 (ISO 3309, as PNG §D.2 and zlib)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `bytes[start, end)`. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function chunkName(b: Uint8Array, o: number): string {
  return String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// ---------------------------------------------------------------------------------------------
// Structure

/** Everything the decoder needs, found by `readPngLayout`. */
export interface PngLayout {
  info: PngInfo;
  /** PLTE as RGB triples (colour type 3 only). */
  palette?: Uint8Array;
  /** tRNS: palette alphas (type 3) or the transparent key as raw big-endian samples (types 0 and 2). */
  transparency?: Uint8Array;
  /** [offset, length] of each IDAT's data, in order. */
  idat: [number, number][];
  idatBytes: number;
  /** Exact length of the inflated, still filtered image data. */
  rawBytes: number;
}

/** Resolves partial limits against the defaults; refuses non-positive or non-integer ones. */
export function resolvePngLimits(limits?: Partial<PngLimits>): PngLimits {
  const out = { ...DEFAULT_PNG_LIMITS, ...limits };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 1) fail('png', 'USAGE', `limit ${k} = ${v} must be a positive integer`);
  }
  return out;
}

/** What a non-PNG file looks like, for the error message. */
function sniff(b: Uint8Array): string {
  if (b.length === 0) return 'the file is empty';
  if (b[0] === 0xff && b[1] === 0xd8) return 'it looks like a JPEG';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'it looks like a GIF';
  if (b[0] === 0x42 && b[1] === 0x4d) return 'it looks like a BMP';
  const head = String.fromCharCode(...b.subarray(0, 64)).trimStart().toLowerCase();
  if (head.startsWith('<')) return 'it looks like HTML or XML';
  return '';
}

/** Bytes of one filtered scanline of `width` pixels, filter byte excluded. */
function rowBytes(width: number, bitsPerPixel: number): number {
  return Math.ceil((width * bitsPerPixel) / 8);
}

/** Inflated size of the image data: every (pass) row plus its filter byte. */
function rawSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  if (!interlaced) return height * (1 + rowBytes(width, bitsPerPixel));
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (pw > 0 && ph > 0) total += ph * (1 + rowBytes(pw, bitsPerPixel));
  }
  return total;
}

/**
 * Checks the whole chunk structure and returns where the image data is. Refuses, in this order:
 * a wrong signature (NOT_PNG); a bad IHDR (PNG_HEADER, PNG_CRC, IMAGE_DIMENSIONS, IMAGE_TOO_LARGE);
 * then, walking the chunks, lengths past the end or chunks out of order (PNG_STRUCTURE), CRC
 * mismatches (PNG_CRC) and palette faults (PNG_PALETTE).
 */
export function readPngLayout(bytes: Uint8Array, limits?: Partial<PngLimits>): PngLayout {
  const lim = resolvePngLimits(limits);
  // Signature
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== PNG_SIGNATURE[i]) {
      const what = sniff(bytes);
      const got = i < bytes.length ? `is ${bytes[i]}` : 'is missing';
      fail('png', 'NOT_PNG', `wrong PNG signature: byte ${i} ${got}, should be ${PNG_SIGNATURE[i]}${what ? ` (${what})` : ''}`, { offset: i });
    }
  }
  // IHDR: 8 length + type, 13 data, 4 CRC
  if (bytes.length < 8 + 8 || chunkName(bytes, 12) !== 'IHDR') {
    fail('png', 'PNG_HEADER', 'the first chunk must be IHDR', { offset: 8 });
  }
  if (u32(bytes, 8) !== 13) fail('png', 'PNG_HEADER', `IHDR length is ${u32(bytes, 8)}, should be 13`, { offset: 8 });
  if (bytes.length < 33) fail('png', 'PNG_HEADER', `file ends inside IHDR (${bytes.length} bytes)`, { offset: bytes.length });
  if (crc32(bytes, 12, 29) !== u32(bytes, 29)) fail('png', 'PNG_CRC', 'IHDR CRC mismatch', { offset: 29 });
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  const bitDepth = bytes[24];
  const colorType = bytes[25];
  if (!(colorType in LEGAL_DEPTHS)) fail('png', 'PNG_HEADER', `colour type ${colorType} is not 0, 2, 3, 4 or 6`, { offset: 25 });
  if (!LEGAL_DEPTHS[colorType].includes(bitDepth)) {
    fail('png', 'PNG_HEADER', `bit depth ${bitDepth} is not allowed with colour type ${colorType} (allowed: ${LEGAL_DEPTHS[colorType].join(', ')})`, { offset: 24 });
  }
  if (bytes[26] !== 0) fail('png', 'PNG_HEADER', `compression method ${bytes[26]}, should be 0`, { offset: 26 });
  if (bytes[27] !== 0) fail('png', 'PNG_HEADER', `filter method ${bytes[27]}, should be 0`, { offset: 27 });
  if (bytes[28] > 1) fail('png', 'PNG_HEADER', `interlace method ${bytes[28]}, should be 0 or 1`, { offset: 28 });
  if (width === 0 || height === 0 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) {
    fail('png', 'IMAGE_DIMENSIONS', `${width}×${height}: width and height must be 1 to 2^31−1`, { offset: 16 });
  }
  if (width > lim.maxWidth || height > lim.maxHeight) {
    fail('png', 'IMAGE_TOO_LARGE', `${width}×${height} exceeds the ${lim.maxWidth}×${lim.maxHeight} limit`, { offset: 16 });
  }
  if (width * height > lim.maxPixels) {
    fail('png', 'IMAGE_TOO_LARGE', `${width}×${height} is ${width * height} pixels, the limit is ${lim.maxPixels}`, { offset: 16 });
  }
  const ct = colorType as PngColorType;
  const interlaced = bytes[28] === 1;
  const bitsPerPixel = STORED_SAMPLES[ct] * bitDepth;
  const rawBytes = rawSize(width, height, bitsPerPixel, interlaced);
  if (rawBytes > MAX_RAW_BYTES) fail('png', 'IMAGE_TOO_LARGE', `${rawBytes} bytes of image data, the limit is ${MAX_RAW_BYTES}`, { offset: 16 });

  // Chunks
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: [number, number][] = [];
  let idatBytes = 0;
  let idatState: 'before' | 'in' | 'after' = 'before';
  let pos = 33;
  for (;;) {
    if (pos === bytes.length) fail('png', 'PNG_STRUCTURE', 'file ends without IEND', { offset: pos });
    if (pos + 12 > bytes.length) fail('png', 'PNG_STRUCTURE', `file ends inside a chunk header (${bytes.length - pos} bytes left)`, { offset: pos });
    const length = u32(bytes, pos);
    if (!isLetter(bytes[pos + 4]) || !isLetter(bytes[pos + 5]) || !isLetter(bytes[pos + 6]) || !isLetter(bytes[pos + 7])) {
      fail('png', 'PNG_STRUCTURE', `chunk type bytes ${Array.from(bytes.subarray(pos + 4, pos + 8)).join(',')} are not four letters`, { offset: pos + 4 });
    }
    const type = chunkName(bytes, pos + 4);
    if (length > MAX_CHUNK_LENGTH) fail('png', 'PNG_STRUCTURE', `chunk ${type} length ${length} exceeds 2^31−1`, { offset: pos });
    if (length > bytes.length - pos - 12) {
      fail('png', 'PNG_STRUCTURE', `chunk ${type} declares ${length} bytes, only ${bytes.length - pos - 12} remain`, { offset: pos });
    }
    const data = pos + 8;
    const end = data + length;
    if (crc32(bytes, pos + 4, end) !== u32(bytes, end)) fail('png', 'PNG_CRC', `chunk ${type} CRC mismatch`, { offset: end });
    if (type !== 'IDAT' && idatState === 'in') idatState = 'after';
    switch (type) {
      case 'IHDR':
        fail('png', 'PNG_STRUCTURE', 'second IHDR', { offset: pos });
      case 'PLTE': {
        if (ct === 0 || ct === 4) fail('png', 'PNG_PALETTE', `PLTE is not allowed with colour type ${ct}`, { offset: pos });
        if (palette) fail('png', 'PNG_STRUCTURE', 'second PLTE', { offset: pos });
        if (idatState !== 'before') fail('png', 'PNG_STRUCTURE', 'PLTE after IDAT', { offset: pos });
        if (transparency) fail('png', 'PNG_PALETTE', 'PLTE after tRNS', { offset: pos });
        const entries = length / 3;
        if (length === 0 || length % 3 !== 0 || entries > 256) {
          fail('png', 'PNG_PALETTE', `PLTE length ${length} is not 3 × (1 to 256) entries`, { offset: pos });
        }
        if (ct === 3 && entries > 1 << bitDepth) {
          fail('png', 'PNG_PALETTE', `${entries} palette entries do not fit bit depth ${bitDepth}`, { offset: pos });
        }
        palette = bytes.subarray(data, end);
        break;
      }
      case 'tRNS': {
        if (ct === 4 || ct === 6) fail('png', 'PNG_STRUCTURE', `tRNS is not allowed with colour type ${ct} (it has alpha)`, { offset: pos });
        if (transparency) fail('png', 'PNG_STRUCTURE', 'second tRNS', { offset: pos });
        if (idatState !== 'before') fail('png', 'PNG_STRUCTURE', 'tRNS after IDAT', { offset: pos });
        if (ct === 3) {
          if (!palette) fail('png', 'PNG_PALETTE', 'tRNS before PLTE', { offset: pos });
          if (length > palette.length / 3) fail('png', 'PNG_PALETTE', `tRNS has ${length} alphas for ${palette.length / 3} palette entries`, { offset: pos });
        } else if (length !== (ct === 0 ? 2 : 6)) {
          fail('png', 'PNG_STRUCTURE', `tRNS length ${length}, should be ${ct === 0 ? 2 : 6} for colour type ${ct}`, { offset: pos });
        }
        transparency = bytes.subarray(data, end);
        break;
      }
      case 'IDAT':
        if (idatState === 'after') fail('png', 'PNG_STRUCTURE', 'IDAT chunks are not consecutive', { offset: pos });
        if (ct === 3 && !palette) fail('png', 'PNG_PALETTE', 'colour type 3 without a PLTE before IDAT', { offset: pos });
        idatState = 'in';
        idat.push([data, length]);
        idatBytes += length;
        break;
      case 'IEND':
        if (length !== 0) fail('png', 'PNG_STRUCTURE', `IEND length ${length}, should be 0`, { offset: pos });
        if (idat.length === 0) fail('png', 'PNG_STRUCTURE', 'no IDAT chunk', { offset: pos });
        if (end + 4 !== bytes.length) fail('png', 'PNG_STRUCTURE', `${bytes.length - end - 4} bytes after IEND`, { offset: end + 4 });
        return {
          info: { width, height, bitDepth: bitDepth as PngBitDepth, colorType: ct, interlaced, channels: decodedChannels(ct, transparency !== undefined) },
          palette, transparency, idat, idatBytes, rawBytes,
        };
      default:
        // Bit 5 of the first byte clear: critical, and we do not know it.
        if ((bytes[pos + 4] & 0x20) === 0) fail('png', 'PNG_STRUCTURE', `unknown critical chunk ${type}`, { offset: pos });
    }
    pos = end + 4;
  }
}

function decodedChannels(ct: PngColorType, trns: boolean): 1 | 2 | 3 | 4 {
  switch (ct) {
    case 0: return trns ? 2 : 1;
    case 2: return trns ? 4 : 3;
    case 3: return trns ? 4 : 3;
    case 4: return 2;
    case 6: return 4;
  }
}

/**
 * Validates a PNG's structure without inflating anything (see `readPngLayout` for what is
 * refused) and returns its header.
 */
export function inspectPng(bytes: Uint8Array, limits?: Partial<PngLimits>): PngInfo {
  return readPngLayout(bytes, limits).info;
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  /** A palette image (colour type 3) comes back as its indices, 1 channel, not as colours (a mask's classes). */
  paletteIndices?: boolean;
}

/**
 * Decodes a PNG with the given zlib inflate. Samples come back as stored: 8- or 16-bit, 1/2/4-bit
 * grey scaled to 8-bit (×255, ×85, ×17), palette expanded to RGB (RGBA with tRNS), and a tRNS key
 * on grey or RGB turned into an alpha channel (0 where the pixel equals the key, else opaque).
 */
export function decodePngWith(bytes: Uint8Array, inflate: Inflate, limits?: Partial<PngLimits>, options: DecodeOptions = {}): DecodedPng {
  const layout = readPngLayout(bytes, limits);
  const compressed = new Uint8Array(layout.idatBytes);
  let at = 0;
  for (const [offset, length] of layout.idat) {
    compressed.set(bytes.subarray(offset, offset + length), at);
    at += length;
  }
  const raw = inflate(compressed, layout.rawBytes + 1);
  if (raw.length > layout.rawBytes) fail('png', 'IMAGE_DATA', `image data inflates past the ${layout.rawBytes} bytes IHDR implies`);
  if (raw.length < layout.rawBytes) fail('png', 'IMAGE_TRUNCATED', `image data inflates to ${raw.length} bytes, IHDR implies ${layout.rawBytes}`);
  return unpackRaw(raw, layout, options.paletteIndices === true);
}

/**
 * Reverses the per-row filters in place (PNG spec §9). `bpp` is bytes per complete pixel, at least 1.
 * Each filter's loop handles the row's first pixel (no left neighbour) and the first row (no row
 * above: zeros) apart, so the inner loops carry no per-byte tests.
 */
function unfilterInPlace(raw: Uint8Array, start: number, rows: number, stride: number, bpp: number): void {
  let prev = -1; // start of the previous row's data, -1 for the first row (all zeros)
  for (let y = 0; y < rows; y++) {
    const f = raw[start + y * (stride + 1)];
    const cur = start + y * (stride + 1) + 1;
    const lead = Math.min(bpp, stride); // bytes of the first pixel
    switch (f) {
      case 0:
        break;
      case 1: // Sub: + left
        for (let i = bpp; i < stride; i++) raw[cur + i] += raw[cur + i - bpp];
        break;
      case 2: // Up: + above
        if (prev >= 0) for (let i = 0; i < stride; i++) raw[cur + i] += raw[prev + i];
        break;
      case 3: // Average: + ⌊(left + above) / 2⌋
        if (prev < 0) {
          for (let i = bpp; i < stride; i++) raw[cur + i] += raw[cur + i - bpp] >> 1;
        } else {
          for (let i = 0; i < lead; i++) raw[cur + i] += raw[prev + i] >> 1;
          for (let i = bpp; i < stride; i++) raw[cur + i] += (raw[cur + i - bpp] + raw[prev + i]) >> 1;
        }
        break;
      case 4: // Paeth: + whichever of left, above, upper left is nearest to left + above − upper left
        if (prev < 0) {
          // above and upper left are 0: the predictor is left
          for (let i = bpp; i < stride; i++) raw[cur + i] += raw[cur + i - bpp];
        } else {
          // first pixel: left and upper left are 0, the predictor is above
          for (let i = 0; i < lead; i++) raw[cur + i] += raw[prev + i];
          for (let i = bpp; i < stride; i++) {
            const a = raw[cur + i - bpp], b = raw[prev + i], c = raw[prev + i - bpp];
            const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
            raw[cur + i] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          }
        }
        break;
      default:
        fail('png', 'PNG_DATA', `row ${y} has filter type ${f}, should be 0 to 4`);
    }
    prev = cur;
  }
}

function unpackRaw(raw: Uint8Array, layout: PngLayout, paletteIndices: boolean): DecodedPng {
  const { width, height, bitDepth, colorType, interlaced } = layout.info;
  const indices = paletteIndices && colorType === 3;
  const channels = indices ? 1 : layout.info.channels;
  const depth = bitDepth;
  const stored = STORED_SAMPLES[colorType];
  const bitsPerPixel = stored * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const outDepth: 8 | 16 = depth === 16 ? 16 : 8;
  const out = outDepth === 16 ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  const mask = (1 << depth) - 1;
  const scale = depth < 8 ? 255 / mask : 1; // 1/2/4-bit grey to 8-bit: ×255, ×85, ×17 (exact)
  const opaque = outDepth === 16 ? 0xffff : 0xff;

  // Sample i of the row starting at r, as stored.
  const sample =
    depth === 16 ? (r: number, i: number) => (raw[r + 2 * i] << 8) | raw[r + 2 * i + 1]
    : depth === 8 ? (r: number, i: number) => raw[r + i]
    : (r: number, i: number) => (raw[r + ((i * depth) >> 3)] >> (8 - depth - ((i * depth) & 7))) & mask;

  const palette = layout.palette;
  const trns = layout.transparency;
  const paletteEntries = palette ? palette.length / 3 : 0;
  // tRNS key for grey / RGB: raw samples (2 bytes each, big-endian)
  const key = colorType !== 3 && trns ? Array.from({ length: trns.length / 2 }, (_, k) => (trns[2 * k] << 8) | trns[2 * k + 1]) : undefined;

  const passes = interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const);
  let start = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const ph = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (pw === 0 || ph === 0) continue;
    const stride = rowBytes(pw, bitsPerPixel);
    unfilterInPlace(raw, start, ph, stride, bpp);
    for (let y = 0; y < ph; y++) {
      const r = start + y * (stride + 1) + 1;
      const oy = y0 + y * dy;
      if (depth === 8 && dx === 1 && colorType !== 3 && !key) {
        out.set(raw.subarray(r, r + stride), oy * width * channels); // fast path: bytes as they are
        continue;
      }
      for (let x = 0; x < pw; x++) {
        let o = (oy * width + x0 + x * dx) * channels;
        if (colorType === 3) {
          const index = sample(r, x);
          if (index >= paletteEntries) fail('png', 'PNG_PALETTE', `pixel (${x0 + x * dx}, ${oy}) uses palette index ${index} of ${paletteEntries}`);
          if (indices) {
            out[o] = index;
            continue;
          }
          out[o++] = palette![3 * index];
          out[o++] = palette![3 * index + 1];
          out[o++] = palette![3 * index + 2];
          if (trns) out[o] = index < trns.length ? trns[index] : 255;
        } else {
          let isKey = key !== undefined;
          for (let c = 0; c < stored; c++) {
            const v = sample(r, x * stored + c);
            if (isKey && v !== key![c]) isKey = false;
            out[o++] = depth < 8 ? v * scale : v;
          }
          if (key) out[o] = isKey ? 0 : opaque;
        }
      }
    }
    start += ph * (stride + 1);
  }
  return { data: out, width, height, channels, bitDepth: outDepth };
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Bytes of one PNG chunk: length, type, data, CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  if (!/^[A-Za-z]{4}$/.test(type)) throw new TypeError(`chunk type ${JSON.stringify(type)} is not four letters`);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** The 13 bytes of IHDR data. */
export function ihdrData(width: number, height: number, bitDepth: number, colorType: number, interlace = 0): Uint8Array {
  const out = new Uint8Array(13);
  const view = new DataView(out.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  out[8] = bitDepth;
  out[9] = colorType;
  out[12] = interlace;
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The filtered rows, filter byte first: `adaptive`, each row with the filter whose output has the
 * smallest sum of absolute signed bytes (the libpng heuristic); `none`, every row as it is.
 */
function filterRows(bytesIn: Uint8Array, height: number, stride: number, bpp: number, filter: RowFilter): Uint8Array {
  const raw = new Uint8Array(height * (stride + 1));
  if (filter === 'none') {
    for (let y = 0; y < height; y++) raw.set(bytesIn.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
    return raw;
  }
  const trial = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const cur = y * stride;
    const prev = y > 0 ? cur - stride : -1;
    let bestScore = Infinity;
    for (let f = 0; f <= 4; f++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= bpp ? bytesIn[cur + i - bpp] : 0;
        const b = prev >= 0 ? bytesIn[prev + i] : 0;
        const c = i >= bpp && prev >= 0 ? bytesIn[prev + i - bpp] : 0;
        let pred = 0;
        if (f === 1) pred = a;
        else if (f === 2) pred = b;
        else if (f === 3) pred = (a + b) >> 1;
        else if (f === 4) {
          const p = a + b - c;
          const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        }
        const v = (bytesIn[cur + i] - pred) & 0xff;
        trial[i] = v;
        score += v < 128 ? v : 256 - v;
        if (score >= bestScore) break;
      }
      if (score < bestScore) {
        bestScore = score;
        raw[y * (stride + 1)] = f;
        raw.set(trial, y * (stride + 1) + 1);
      }
    }
  }
  return raw;
}

/**
 * How rows are filtered before deflate: `adaptive` tries the five PNG filters on each row and keeps
 * the smallest (photographs); `none` leaves rows as they are (masks: long runs of one value, which
 * a run-length deflate packs better and about thirty times faster).
 */
export type RowFilter = 'adaptive' | 'none';

/**
 * Encodes an 8- or 16-bit image (channels 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA), not interlaced,
 * one IDAT, with the given zlib deflate.
 */
export function encodePngWith(image: EncodableImage, deflate: Deflate, filter: RowFilter = 'adaptive'): Uint8Array {
  const { data, width, height, channels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) {
    fail('png', 'IMAGE_DIMENSIONS', `${width}×${height}: width and height must be 1 to 2^31−1`);
  }
  if (![1, 2, 3, 4].includes(channels)) fail('png', 'IMAGE_DIMENSIONS', `${channels} channels, should be 1 to 4`);
  if (data.length !== width * height * channels) {
    fail('png', 'IMAGE_DIMENSIONS', `${data.length} samples do not fit ${width}×${height} with ${channels} channels`);
  }
  const depth = data instanceof Uint16Array ? 16 : 8;
  const stride = width * channels * (depth / 8);
  if (height * (stride + 1) > MAX_RAW_BYTES) fail('png', 'IMAGE_TOO_LARGE', `${width}×${height}×${channels} exceeds ${MAX_RAW_BYTES} bytes`);
  let bytesIn: Uint8Array;
  if (depth === 16) {
    bytesIn = new Uint8Array(data.length * 2);
    for (let i = 0; i < data.length; i++) {
      bytesIn[2 * i] = data[i] >> 8;
      bytesIn[2 * i + 1] = data[i] & 0xff;
    }
  } else {
    bytesIn = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  }
  const colorType = [0, 0, 4, 2, 6][channels];
  const raw = filterRows(bytesIn, height, stride, channels * (depth / 8), filter);
  const idat = deflate(raw);
  const parts: Uint8Array[] = [PNG_SIGNATURE, pngChunk('IHDR', ihdrData(width, height, depth, colorType))];
  const IDAT_PIECE = 1 << 20; // 1 MiB IDAT chunks, well under the 2^31−1 chunk limit
  for (let at = 0; at < idat.length || at === 0; at += IDAT_PIECE) parts.push(pngChunk('IDAT', idat.subarray(at, at + IDAT_PIECE)));
  parts.push(pngChunk('IEND', new Uint8Array(0)));
  return concatBytes(parts);
}
