/**
 * PNG decode and encode in Node: `src/image/png.ts` with `node:zlib` plugged in.
 *
 * Why not pngjs for decoding: it always returns RGBA8 (not the samples as stored), has no size
 * cap, and on a short IDAT returns uninitialised memory (docs/bad-inputs.md §58–60). Here the
 * inflate is bounded by `maxOutputLength` = the exact size IHDR implies + 1, and the length must
 * match exactly before a pixel is read. pngjs stays the independent oracle in the tests.
 */
import { inflateSync, deflateSync } from 'node:zlib';
import { fail, FreqregError } from '../errors.js';
import {
  decodePngWith, encodePngWith, inspectPng, type DecodedPng, type EncodableImage, type PngLimits,
} from '../image/png.js';

export { inspectPng, DEFAULT_PNG_LIMITS } from '../image/png.js';
export type { DecodedPng, EncodableImage, PngInfo, PngLimits } from '../image/png.js';

/** `node:zlib` inflate, its errors mapped to freqreg codes. */
function inflateBounded(data: Uint8Array, maxOutputLength: number): Uint8Array {
  try {
    return inflateSync(data, { maxOutputLength });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') fail('png', 'IMAGE_DATA', `image data inflates past ${maxOutputLength - 1} bytes, the size IHDR implies`);
    if (code === 'Z_BUF_ERROR') fail('png', 'IMAGE_TRUNCATED', 'the zlib stream in IDAT ends early');
    fail('png', 'PNG_DATA', `zlib: ${(e as Error).message}`);
  }
}

/**
 * Decodes any valid PNG (1–16 bit; grey, grey+alpha, RGB, RGBA, palette; tRNS; Adam7) to samples
 * as stored: Uint8Array (1/2/4/8-bit, low depths scaled to 0–255) or Uint16Array (16-bit),
 * channels 1–4. Limits default to W, H ≤ 16,384 and ≤ 2^26 pixels. Throws only FreqregError.
 */
export function decodePng(bytes: Uint8Array, limits?: Partial<PngLimits>): DecodedPng {
  try {
    return decodePngWith(bytes, inflateBounded, limits);
  } catch (e) {
    if (e instanceof FreqregError) throw e;
    // A bug or an allocation failure: still a coded error, never a bare RangeError.
    throw new FreqregError('png', 'PNG_DATA', `decoder failed: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** Encodes an 8- or 16-bit image with 1–4 channels (grey, grey+alpha, RGB, RGBA). */
export function encodePng(image: EncodableImage): Uint8Array {
  return encodePngWith(image, (raw) => deflateSync(raw));
}

/** An 8-bit grey PNG of `width × height` samples (a mask as 0/255 from `maskToGrey`). */
export function encodeGreyPng(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ data, width, height, channels: 1 });
}

/** An 8-bit RGB PNG from interleaved RGB samples. */
export function encodeRgbPng(data: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ data, width, height, channels: 3 });
}
