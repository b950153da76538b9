/**
 * PNG decode and encode in Node: `src/image/png.ts` with `node:zlib` plugged in.
 *
 * Why not pngjs for decoding: it always returns RGBA8 (not the samples as stored), has no size
 * cap, and on a short IDAT returns uninitialised memory (docs/bad-inputs.md §58–60). Here the
 * inflate is bounded by `maxOutputLength` = the exact size IHDR implies + 1, and the length must
 * match exactly before a pixel is read. pngjs stays the independent oracle in the tests.
 */
import { constants as zlibConstants, deflateSync, inflateRawSync } from 'node:zlib';
import { fail, toFreqregError } from '../errors.js';
import {
  decodePngWith, encodePngWith, inspectPng, type DecodedPng, type EncodableImage, type PngLimits,
} from '../image/png.js';

import { decodeImageWith, type DecodedImage } from '../image/decode.js';

export { inspectPng, DEFAULT_PNG_LIMITS } from '../image/png.js';
export type { DecodedPng, EncodableImage, PngInfo, PngLimits } from '../image/png.js';

/**
 * `node:zlib` inflate, its errors mapped to freqreg codes. The zlib wrapper is read here exactly
 * as the portable decoder (src/image/png-fflate.ts, fflate) reads it — header checked, raw
 * deflate inflated, Adler-32 taken from the last four bytes — so the two decoders accept and
 * refuse the same files (the fuzz suite checks that they agree; see
 * test/fixtures/malformed/png/).
 */
function inflateBounded(data: Uint8Array, maxOutputLength: number): Uint8Array {
  if (data.length < 2) fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
  const cmf = data[0], flg = data[1];
  if ((cmf & 15) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) fail('png', 'PNG_DATA', 'zlib: invalid zlib header');
  if (flg & 32) fail('png', 'PNG_DATA', 'zlib: preset dictionaries are not allowed in PNG');
  let out: Uint8Array;
  try {
    out = inflateRawSync(data.subarray(2, Math.max(2, data.length - 4)), { maxOutputLength });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') fail('png', 'IMAGE_DATA', `image data inflates past ${maxOutputLength - 1} bytes, the size IHDR implies`);
    if (code === 'Z_BUF_ERROR') fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
    fail('png', 'PNG_DATA', `zlib: ${(e as Error).message}`);
  }
  if (out.length < maxOutputLength) {
    const at = data.length - 4;
    const stored = ((data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]) >>> 0;
    if (stored !== adler32(out)) fail('png', 'PNG_DATA', 'zlib: incorrect data check (Adler-32)');
  }
  return out;
}

/** Adler-32 (RFC 1950 §8.2). */
function adler32(bytes: Uint8Array): number {
  const MOD = 65521;
  const NMAX = 5552; // largest n with 255·n·(n+1)/2 + (n+1)·(MOD−1) < 2^32 (zlib's adler32.c)
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length;) {
    const end = Math.min(i + NMAX, bytes.length);
    for (; i < end; i++) { a += bytes[i]; b += a; }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Decodes any valid PNG (1–16 bit; grey, grey+alpha, RGB, RGBA, palette; tRNS; Adam7) to samples
 * as stored: Uint8Array (1/2/4/8-bit, low depths scaled to 0–255) or Uint16Array (16-bit),
 * channels 1–4. Limits default to W, H ≤ 16,384 and ≤ 2^26 pixels. Throws only FreqregError.
 */
export function decodePng(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedPng {
  if (!(bytes instanceof Uint8Array)) fail('png', 'NOT_PNG', `expected the file's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  try {
    return decodePngWith(bytes, inflateBounded, limits);
  } catch (e) {
    // A bug or an allocation failure: still a coded error (INTERNAL, OUT_OF_MEMORY), never a bare RangeError.
    throw toFreqregError(e, 'png');
  }
}

/** A PNG (node:zlib) or a JPEG, by its first bytes (src/image/decode.ts). Throws only FreqregError. */
export function decodeImage(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedImage {
  return decodeImageWith(bytes, decodePng, limits);
}

/** Encodes an 8- or 16-bit image with 1–4 channels (grey, grey+alpha, RGB, RGBA). */
export function encodePng(image: EncodableImage): Uint8Array {
  return encodePngWith(image, (raw) => deflateSync(raw));
}

/**
 * An 8-bit grey PNG of `width × height` samples, made for masks (0/255 from `maskToGrey`): rows
 * unfiltered and deflated run-length (959×640: about 0.5 ms and 2 KB, against 14 ms and 2.8 KB
 * with the adaptive filters); any grey image is encoded exactly, if less tightly than a photograph
 * would be by `encodePng`.
 */
export function encodeGreyPng(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePngWith({ data, width, height, channels: 1 }, (raw) => deflateSync(raw, { strategy: zlibConstants.Z_RLE }), 'none');
}

/** An 8-bit RGB PNG from interleaved RGB samples. */
export function encodeRgbPng(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ data, width, height, channels: 3 });
}
