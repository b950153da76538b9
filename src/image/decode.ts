/**
 * One entry for photos: `decodeImageWith` picks the decoder from the file's first bytes (PNG
 * signature or JPEG SOI), never from a name or a MIME type. Both decoders check sizes against the
 * same limits before allocating, and both return `{ data, width, height, channels, bitDepth }`.
 */
import { fail } from '../errors.js';
import { decodeJpeg } from './jpeg.js';
import type { DecodedPng, PngLimits } from './png.js';
import { describeBytes } from '../formats/magic.js';
import { imageFormatOf } from './sniff.js';

/** A decoded photo: samples interleaved, row-major; 8-bit (Uint8Array) or 16-bit (Uint16Array, PNG only). */
export type DecodedImage = DecodedPng;

/** Decodes a PNG (with the given PNG decoder: node:zlib or fflate) or a JPEG; anything else is IMAGE_FORMAT. */
export function decodeImageWith(
  bytes: Uint8Array,
  decodePng: (bytes: Uint8Array, limits?: Partial<PngLimits>) => DecodedPng,
  limits?: Partial<PngLimits>,
): DecodedImage {
  if (!(bytes instanceof Uint8Array)) fail('image', 'IMAGE_FORMAT', `expected the file's bytes as a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const format = imageFormatOf(bytes);
  if (format === 'png') return decodePng(bytes, limits);
  if (format === 'jpeg') return decodeJpeg(bytes, limits);
  fail('image', 'IMAGE_FORMAT', `neither a PNG nor a JPEG signature at byte 0: ${describeBytes(bytes)}`, { offset: 0 });
}
