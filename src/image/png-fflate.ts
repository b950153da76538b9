/**
 * PNG decode and encode for every runtime: `src/image/png.ts` with fflate's synchronous zlib
 * plugged in (pure JS, ~8 KB of it bundled; no Node built-ins). Browsers and edge workers use this;
 * Node's entry keeps `node:zlib` (src/node/png.ts), which is faster. Both give the same pixels.
 *
 * Why fflate and not the platform's DecompressionStream: that API is asynchronous only, the rest
 * of the decoder and the engines' inputs are synchronous, and fflate is already a dependency.
 * Why not fast-png: it is fflate plus its own decoder; ours (png.ts) checks more before inflating.
 *
 * fflate does not verify the zlib Adler-32 trailer; `inflateBounded` does, so a corrupt stream is
 * refused here as it is by node:zlib.
 */
import { unzlibSync, zlibSync } from 'fflate';
import { fail, FreqregError } from '../errors.js';
import { decodePngWith, encodePngWith, type DecodeOptions, type DecodedPng, type EncodableImage, type PngLimits } from './png.js';
import { decodeImageWith, type DecodedImage } from './decode.js';

/** fflate's error codes (FlateErrorCode) that mean "the stream ends early". */
const FLATE_UNEXPECTED_EOF = 0;

/** Adler-32 (RFC 1950 §8.2) of `bytes`. */
export function adler32(bytes: Uint8Array): number {
  const MOD = 65521;
  const NMAX = 5552; // largest n such that 255·n·(n+1)/2 + (n+1)·(MOD−1) < 2^32 (zlib's adler32.c)
  let a = 1, b = 0;
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + NMAX, bytes.length);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** fflate inflate of a zlib stream, writing at most `maxOutputLength` bytes (more is cut there, which png.ts refuses). */
function inflateBounded(data: Uint8Array, maxOutputLength: number): Uint8Array {
  // As node:zlib (src/node/png.ts): an IDAT too short for the zlib header has ended early.
  if (data.length < 2) fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
  let out: Uint8Array;
  try {
    out = unzlibSync(data, { out: new Uint8Array(maxOutputLength) });
  } catch (e) {
    if ((e as { code?: number }).code === FLATE_UNEXPECTED_EOF) fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
    fail('png', 'PNG_DATA', `zlib: ${(e as Error).message}`);
  }
  if (out.length < maxOutputLength) {
    // fflate reads no trailer; check it as zlib does. Its 4 bytes end the stream (PNG allows nothing after).
    if (data.length < 6) fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
    const at = data.length - 4;
    const stored = ((data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]) >>> 0;
    if (stored !== adler32(out)) fail('png', 'PNG_DATA', 'zlib: incorrect data check (Adler-32)');
  }
  return out;
}

/**
 * Decodes any valid PNG to samples as stored (see `decodePngWith`): Uint8Array or Uint16Array,
 * channels 1–4. Throws only FreqregError.
 */
export function decodePng(bytes: Uint8Array, limits?: Partial<PngLimits>, options?: DecodeOptions): DecodedPng {
  try {
    return decodePngWith(bytes, inflateBounded, limits, options);
  } catch (e) {
    if (e instanceof FreqregError) throw e;
    throw new FreqregError('png', 'PNG_DATA', `decoder failed: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** Encodes an 8- or 16-bit image with 1–4 channels (grey, grey+alpha, RGB, RGBA). */
export function encodePng(image: EncodableImage): Uint8Array {
  return encodePngWith(image, (raw) => zlibSync(raw, { level: 6 }));
}

/** A PNG or a JPEG, by its first bytes (src/image/decode.ts), with fflate for PNG. Throws only FreqregError. */
export function decodeImage(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedImage {
  return decodeImageWith(bytes, decodePng, limits);
}
