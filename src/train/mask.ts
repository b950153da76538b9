/**
 * Masks for training: class index per pixel from a PNG or GIF file. A palette image (GIF, PNG
 * colour type 3) gives its palette indices; a grey image (or an RGB one whose channels agree)
 * gives its levels as class indices when every level is below the class count, or 0/1 when its
 * levels are only 0 and full scale (255, or 65535 at 16 bits). Anything else is refused: colour
 * (NOT_A_MASK), many grey levels, as a photo has (NOT_A_MASK), or a level that is no class
 * (MASK_CLASS).
 */
import { fail } from '../errors.js';
import { decodeGif, isGif } from '../image/gif.js';
import { decodePng } from '../image/png-fflate.js';
import type { PngLimits } from '../image/png.js';

export interface MaskClasses {
  width: number;
  height: number;
  /** (height × width) class index per pixel. */
  classes: Uint8Array;
}

/** More distinct grey levels than this and the image is a picture, not a mask. */
export const MAX_MASK_LEVELS = 16;

/** Class indices from the bytes of a PNG or GIF mask, each below `classCount`. */
export function decodeMask(bytes: Uint8Array, classCount: number, limits?: Partial<PngLimits>): MaskClasses {
  if (isGif(bytes)) {
    const gif = decodeGif(bytes, limits);
    checkIndices(gif.indices, classCount, 'palette index');
    return { width: gif.width, height: gif.height, classes: gif.indices };
  }
  const png = decodePng(bytes, limits, { paletteIndices: true });
  const { width, height, channels } = png;
  const pixels = width * height;
  // Palette PNGs come back as 1 channel of indices; tell them from grey by their colour type.
  const paletteImage = channels === 1 && png.data instanceof Uint8Array && isPalettePng(bytes);
  const grey = new Uint16Array(pixels);
  const colourChannels = channels >= 3 ? 3 : 1;
  for (let p = 0; p < pixels; p++) {
    const v = png.data[p * channels];
    if (colourChannels === 3 && (png.data[p * channels + 1] !== v || png.data[p * channels + 2] !== v)) {
      fail('image', 'NOT_A_MASK', `pixel (${p % width}, ${Math.floor(p / width)}) is coloured; a mask is grey levels or palette indices`);
    }
    grey[p] = v;
  }
  if (paletteImage) {
    checkIndices(grey, classCount, 'palette index');
    return { width, height, classes: Uint8Array.from(grey) };
  }
  return { width, height, classes: greyToClasses(grey, png.bitDepth === 16 ? 65535 : 255, classCount) };
}

/** The PNG's colour type (byte 25 of the file, in IHDR) is 3. */
function isPalettePng(bytes: Uint8Array): boolean {
  return bytes.length > 25 && bytes[25] === 3;
}

function checkIndices(indices: ArrayLike<number>, classCount: number, what: string): void {
  for (let p = 0; p < indices.length; p++) {
    if (indices[p] >= classCount) fail('image', 'MASK_CLASS', `${what} ${indices[p]} at pixel ${p}; classes are 0…${classCount - 1}`);
  }
}

/** Grey levels as classes: indices when all are below `classCount`, else 0 / full scale as 0 / 1. */
export function greyToClasses(grey: ArrayLike<number>, fullScale: number, classCount: number): Uint8Array {
  const levels = new Set<number>();
  for (let p = 0; p < grey.length && levels.size <= MAX_MASK_LEVELS; p++) levels.add(grey[p]);
  if (levels.size > MAX_MASK_LEVELS) {
    fail('image', 'NOT_A_MASK', `more than ${MAX_MASK_LEVELS} grey levels; a mask has 0 and ${fullScale}, or class indices`);
  }
  const out = new Uint8Array(grey.length);
  const sorted = [...levels].sort((a, b) => a - b);
  if (sorted[sorted.length - 1] < classCount) {
    for (let p = 0; p < grey.length; p++) out[p] = grey[p];
    return out;
  }
  if (sorted.every((v) => v === 0 || v === fullScale)) {
    for (let p = 0; p < grey.length; p++) out[p] = grey[p] === 0 ? 0 : 1;
    return out;
  }
  const bad = sorted.find((v) => v >= classCount && v !== fullScale) ?? sorted[sorted.length - 1];
  return fail('image', 'MASK_CLASS', `grey level ${bad}: neither a class (0…${classCount - 1}) nor a 0/${fullScale} mask`);
}
